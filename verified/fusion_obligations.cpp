// F1-F6: models of core/fusion.cpp and core/fixed.cpp, mirroring the code line by line.
//
// Encodings, chosen for tractability, all exact for the code's widths:
// - unbounded Ints plus a check of every intermediate against its C++ width (class Widths) for
//   everything that multiplies, divides or sorts: bit-blasted 64-bit division by a variable did not
//   finish in minutes, and sorting networks over bv64 timed out at m = 6, while the Int model with
//   width checks is the same function whenever no check fires, and every negation includes "some
//   check fires";
// - bit-vectors of the C++ width for log2's normalisation shift and exp2's final rounding.
// Hard steps are split into blocks of one file: a lemma block (distributivity, one floor's bound,
// sorting facts) is proved on its own, later blocks assert instances of it; and where a block
// only needs those facts it works over abstract values constrained by them (see abstract_floors),
// which is sound because the real values are among them.
#include <z3++.h>

#include <array>

#include "core/fixed.hpp"
#include "core/fusion.hpp"
#include "verified/engine.hpp"
#include "verified/models.hpp"

namespace bf::verified {
namespace detail {
namespace {

constexpr unsigned m_max = 7;
constexpr unsigned vocab = 2;  // the vocabulary of the distribution models (reduced from 49,152)
constexpr std::uint32_t U = core::fusion::weight_unit;
constexpr std::uint32_t P31 = core::fusion::prob_unit;

std::string m_label(unsigned m) { return "m=" + std::to_string(m); }

z3::expr ival(z3::context& c, std::int64_t v) { return c.int_val(v); }

std::vector<z3::expr> int_vars(z3::context& c, const std::string& prefix, unsigned count) {
  std::vector<z3::expr> v;
  for (unsigned i = 0; i < count; ++i) v.push_back(c.int_const((prefix + std::to_string(i)).c_str()));
  return v;
}

z3::expr sum(const std::vector<z3::expr>& terms) {
  z3::expr s = terms.at(0);
  for (std::size_t i = 1; i < terms.size(); ++i) s = s + terms[i];
  return s;
}

// (x0 + .. + xk) * y = x0*y + .. + xk*y as an assertion about the given terms.
z3::expr distributes(const std::vector<z3::expr>& xs, const z3::expr& y) {
  std::vector<z3::expr> products;
  for (const z3::expr& x : xs) products.push_back(x * y);
  return sum(xs) * y == sum(products);
}

BlockSpec distributivity_lemma(unsigned k) {
  return {"lemma: distributivity of * over a sum of " + std::to_string(k) + " Int terms",
          [k](z3::context& c) {
            Block b;
            const std::vector<z3::expr> xs = int_vars(c, "x", k);
            b.assertions.push_back(!distributes(xs, c.int_const("y")));
            return b;
          }};
}

// ---------------------------------------------------------------------------------------------
// normalise_to_unit (fusion.cpp): values[i] := floor(values[i] * unit / total) (uint64 product,
// uint32 store), then unit - sum (uint64, cast to uint32) added to the heaviest (ties: smallest key).

struct Normalised {
  z3::expr floor_sum;
  z3::expr lemma;                // the distributivity instance the sum bound needs
  std::vector<z3::expr> floors;  // before the deficit
  std::vector<z3::expr> out;     // after
  std::vector<z3::expr> holder;  // Bool per position
};

// First half: the floors and their sum (named), plus the distributivity instance that bounds the sum.
Normalised normalise_floors(Widths& w, const std::vector<z3::expr>& values, const z3::expr& total,
                            std::uint32_t unit, const std::string& mutant, const std::string& prefix) {
  z3::context& c = total.ctx();
  const z3::expr u = ival(c, unit);
  Normalised n{c.int_val(0), c.bool_val(true), {}, {}, {}};
  for (std::size_t i = 0; i < values.size(); ++i) {
    const z3::expr product = mutant == "32-bit-product" ? w.u32(values[i] * u) : w.u64(values[i] * u);
    // Unsigned division: Int div is the floor for non-negative operands.
    n.floors.push_back(w.u32(w.define(prefix + "floor" + std::to_string(i), product / total)));
  }
  n.floor_sum = w.u64(w.define(prefix + "floor_sum", sum(n.floors)));
  std::vector<z3::expr> products;
  for (const z3::expr& f : n.floors) products.push_back(f * total);
  n.lemma = n.floor_sum * total == sum(products);
  return n;
}

// Second half: unit - sum (uint64, cast to uint32) added to the heaviest floor (ties: smallest key).
void normalise_deficit(Widths& w, Normalised& n, const std::vector<z3::expr>& keys, std::uint32_t unit,
                       const std::string& mutant) {
  z3::context& c = n.floor_sum.ctx();
  const z3::expr u = ival(c, unit);
  // heaviest(): best = 0; replace when strictly larger, or equal with a smaller key.
  z3::expr best = ival(c, 0), best_value = n.floors[0], best_key = keys[0];
  for (std::size_t i = 1; i < n.floors.size(); ++i) {
    z3::expr better = n.floors[i] > best_value || (n.floors[i] == best_value && keys[i] < best_key);
    if (mutant == "ties-by-position") better = n.floors[i] > best_value;
    if (mutant == "deficit-to-first-position") better = c.bool_val(false);
    best = z3::ite(better, ival(c, static_cast<std::int64_t>(i)), best);
    best_value = z3::ite(better, n.floors[i], best_value);
    best_key = z3::ite(better, keys[i], best_key);
  }
  const z3::expr deficit = w.u32(w.u64(u - n.floor_sum));
  n.out.clear();
  n.holder.clear();
  for (std::size_t i = 0; i < n.floors.size(); ++i) {
    const z3::expr is_holder = best == ival(c, static_cast<std::int64_t>(i));
    n.holder.push_back(is_holder);
    if (mutant == "no-deficit") {
      n.out.push_back(n.floors[i]);
    } else {
      n.out.push_back(z3::ite(is_holder, w.u32(n.floors[i] + deficit, is_holder), n.floors[i]));
    }
  }
}

// The deficit step alone, over floors given as free uint32 constants that satisfy what the floor
// block proved (each <= unit, unit - m < sum <= unit). Dropping the divisions keeps this linear, and it is
// sound: the step is checked for every such floor vector, the real one included.
Normalised abstract_floors(z3::context& c, unsigned m, std::uint32_t unit, const std::string& prefix,
                           std::vector<z3::expr>& asserts) {
  Normalised n{c.int_const((prefix + "floor_sum").c_str()), c.bool_val(true), {}, {}, {}};
  n.floors = int_vars(c, prefix + "floor", m);
  for (const z3::expr& f : n.floors) asserts.push_back(f >= 0 && f <= ival(c, unit));
  asserts.push_back(n.floor_sum == sum(n.floors) && n.floor_sum <= ival(c, unit) &&
                    n.floor_sum > ival(c, static_cast<std::int64_t>(unit) - static_cast<std::int64_t>(m)));
  return n;
}

struct Members {
  std::vector<z3::expr> rep, worker;
};

// m members: reputations uint32 > 0, worker indices < 64 and distinct.
Members members_domain(z3::context& c, unsigned m, const std::string& prefix, std::vector<z3::expr>& asserts) {
  Members mem{int_vars(c, prefix + "rep", m), int_vars(c, prefix + "worker", m)};
  for (unsigned i = 0; i < m; ++i) {
    asserts.push_back(mem.rep[i] >= 1 && mem.rep[i] < pow2(c, 32));
    asserts.push_back(mem.worker[i] >= 0 && mem.worker[i] < 64);
    for (unsigned j = 0; j < i; ++j) asserts.push_back(mem.worker[i] != mem.worker[j]);
  }
  return mem;
}

// weights_from_reputation: total in uint64, then normalise_to_unit with worker keys.
Normalised weights_expr(Widths& w, const Members& mem, const std::string& mutant, const std::string& prefix = "") {
  const z3::expr raw_total = sum(mem.rep);
  const z3::expr named_total = w.define(prefix + "total", raw_total);
  const z3::expr total = mutant == "uint32-total" ? w.u32(named_total) : w.u64(named_total);
  Normalised n = normalise_floors(w, mem.rep, total, U, mutant, prefix);
  normalise_deficit(w, n, mem.worker, U, mutant);
  return n;
}

// fuse_mean for one token position t: weighted = sum w_i p_i[t] (uint64), out[t] = weighted / 2^24.
struct MeanOut {
  std::vector<z3::expr> floors, out;
};

MeanOut fuse_mean_expr(Widths& w, const std::vector<z3::expr>& weights,
                       const std::vector<std::vector<z3::expr>>& dists, const std::string& mutant) {
  z3::context& c = weights.at(0).ctx();
  const std::size_t v = dists.at(0).size();
  const z3::expr divisor = ival(c, mutant == "mean-divides-by-2^23" ? U / 2 : U);
  MeanOut r;
  for (std::size_t t = 0; t < v; ++t) {
    std::vector<z3::expr> terms;
    for (std::size_t i = 0; i < weights.size(); ++i) terms.push_back(w.u64(weights[i] * dists[i][t]));
    const z3::expr weighted = w.define("weighted" + std::to_string(t), w.u64(sum(terms)));
    r.floors.push_back(w.define("out_floor" + std::to_string(t), w.u32(weighted / divisor)));
  }
  // The deficit step: heaviest entry, ties to the lowest t.
  const z3::expr floor_sum = w.u64(sum(r.floors));
  z3::expr best = ival(c, 0), best_value = r.floors[0];
  for (std::size_t t = 1; t < v; ++t) {
    const z3::expr better = r.floors[t] > best_value;  // equal: the lower t keeps it
    best = z3::ite(better, ival(c, static_cast<std::int64_t>(t)), best);
    best_value = z3::ite(better, r.floors[t], best_value);
  }
  const z3::expr deficit = w.u32(w.u64(ival(c, P31) - floor_sum));
  for (std::size_t t = 0; t < v; ++t) {
    const z3::expr is_holder = best == ival(c, static_cast<std::int64_t>(t));
    r.out.push_back(mutant == "no-deficit" ? r.floors[t]
                                           : z3::ite(is_holder, w.u32(r.floors[t] + deficit, is_holder), r.floors[t]));
  }
  return r;
}

// m weights (uint32, summing to 2^24 in uint64) and m distributions of `vocab` uint32 entries
// summing to 2^31: fuse_mean's checked preconditions.
struct MeanInputs {
  std::vector<z3::expr> weights;
  std::vector<std::vector<z3::expr>> dists;
  std::vector<z3::expr> lemmas;
};

MeanInputs mean_domain(Widths& w, z3::context& c, unsigned m, std::vector<z3::expr>& asserts) {
  MeanInputs in{int_vars(c, "w", m), {}, {}};
  for (unsigned i = 0; i < m; ++i) {
    asserts.push_back(in.weights[i] >= 0 && in.weights[i] < pow2(c, 32));
    std::string prefix = "p";  // appended, not operator+: g++ 12 warns falsely (-Wrestrict) on "p" + s
    prefix.append(std::to_string(i)).append("_");
    in.dists.push_back(int_vars(c, prefix, vocab));
    for (const z3::expr& p : in.dists[i]) asserts.push_back(p >= 0 && p < pow2(c, 32));
    const z3::expr mass = w.define("mass" + std::to_string(i), sum(in.dists[i]));
    asserts.push_back(mass == ival(c, P31));
    // Lemma instance: w_i * mass_i = sum_t w_i * p_i[t].
    std::vector<z3::expr> products;
    for (const z3::expr& p : in.dists[i]) products.push_back(in.weights[i] * p);
    in.lemmas.push_back(in.weights[i] * mass == sum(products));
  }
  asserts.push_back(sum(in.weights) == ival(c, U));
  return in;
}

// ---------------------------------------------------------------------------------------------
// Sorting and the numeric rules.

// Odd-even transposition sort: m rounds of compare-exchange sort any m inputs. The code uses
// std::sort; a sorted sequence is unique, so any correct sort gives the same order statistics.
std::vector<z3::expr> sorted_expr(std::vector<z3::expr> x) {
  const std::size_t m = x.size();
  for (std::size_t round = 0; round < m; ++round) {
    for (std::size_t i = round % 2; i + 1 < m; i += 2) {
      const z3::expr lo = z3::ite(x[i + 1] < x[i], x[i + 1], x[i]);  // signed for bit-vectors
      const z3::expr hi = z3::ite(x[i + 1] < x[i], x[i], x[i + 1]);
      x[i] = lo;
      x[i + 1] = hi;
    }
  }
  return x;
}

// Wraps an Int to int64 two's complement (models the mutants' overflow).
z3::expr wrap_s64(const z3::expr& e) {
  z3::context& c = e.ctx();
  return z3::mod(e + pow2(c, 63), pow2(c, 64)) - pow2(c, 63);
}

// fuse_median over int64 values as Ints: floor_mean_of_two(sorted[(m-1)/2], sorted[m/2]), i.e.
// (a >> 1) + (b >> 1) + (a & b & 1): >> 1 is floor division by 2 (Int div), the low bit of a
// two's complement value is its Euclidean remainder mod 2; the int64 sum is width-checked.
z3::expr median_expr(Widths& w, const std::vector<z3::expr>& x, const std::string& mutant) {
  z3::context& c = x.at(0).ctx();
  const std::vector<z3::expr> s = sorted_expr(x);
  const std::size_t m = s.size();
  const z3::expr lower = s[(m - 1) / 2], upper = s[m / 2];
  if (mutant == "naive-midpoint") return wrap_s64(lower + upper) / 2;  // (a + b) >> 1, wrapping
  const z3::expr both_odd = z3::ite(z3::mod(lower, 2) == 1 && z3::mod(upper, 2) == 1, ival(c, 1), ival(c, 0));
  return w.s64(w.s64(lower / 2 + upper / 2) + both_odd);
}

// fuse_trimmed_mean over Ints with int128 / int64 checks: sum of the kept values, then the
// code's floor_div (truncating / and %, minus one for a negative inexact quotient).
z3::expr trimmed_mean_sorted(Widths& w, const std::vector<z3::expr>& s, unsigned trim, const std::string& mutant) {
  z3::context& c = s.at(0).ctx();
  z3::expr total = ival(c, 0);
  for (std::size_t i = trim; i + trim < s.size(); ++i) {
    total = mutant == "int64-sum" ? wrap_s64(total + s[i]) : w.s128(total + s[i]);
  }
  const z3::expr count = ival(c, static_cast<std::int64_t>(s.size() - 2 * trim));
  // C++ / truncates towards zero; Z3's div is floor for a positive divisor.
  const z3::expr truncated = z3::ite(total >= 0, total / count, -((-total) / count));
  const z3::expr remainder = total - truncated * count;
  const z3::expr floored = z3::ite(remainder != 0 && total < 0, truncated - 1, truncated);
  return w.s64(floored);
}

z3::expr trimmed_mean_expr(Widths& w, const std::vector<z3::expr>& x, unsigned trim, const std::string& mutant) {
  return trimmed_mean_sorted(w, sorted_expr(x), trim, mutant);
}

// What the order-statistics block proves about sorting x and x2 = x with input 0 raised to
// x2[0] >= x[0]: the sums are kept and no order statistic goes down. The lowered case is the same
// statement with x and x2 exchanged, so one direction is proved and both are used.
// Sorting facts: s is sorted, int64, and has x's sum (the same lemma for any input vector).
std::vector<z3::expr> sort_shape_parts(const std::vector<z3::expr>& x, const std::vector<z3::expr>& s) {
  std::vector<z3::expr> parts = {sum(s) == sum(x) && in_signed(s[0], 64)};
  for (std::size_t k = 1; k < s.size(); ++k) parts.push_back(s[k - 1] <= s[k] && in_signed(s[k], 64));
  return parts;
}

std::vector<z3::expr> order_statistics_parts(const std::vector<z3::expr>& x, const std::vector<z3::expr>& x2,
                                             const std::vector<z3::expr>& s, const std::vector<z3::expr>& s2) {
  std::vector<z3::expr> parts = sort_shape_parts(x, s);
  for (const z3::expr& p : sort_shape_parts(x2, s2)) parts.push_back(p);
  for (std::size_t k = 0; k < s.size(); ++k) parts.push_back(z3::implies(x2[0] >= x[0], s2[k] >= s[k]));
  return parts;
}

z3::expr order_statistics_up(const std::vector<z3::expr>& x, const std::vector<z3::expr>& x2,
                             const std::vector<z3::expr>& s, const std::vector<z3::expr>& s2) {
  z3::expr all = x.at(0).ctx().bool_val(true);
  for (const z3::expr& p : order_statistics_parts(x, x2, s, s2)) all = all && p;
  return all;
}

// Honest-range negation: the result is below every honest value, or above every honest value.
z3::expr outside_honest(const z3::expr& result, const std::vector<z3::expr>& x, const std::vector<z3::expr>& byz) {
  z3::expr_vector below(result.ctx()), above(result.ctx());
  for (std::size_t i = 0; i < x.size(); ++i) {
    below.push_back(byz[i] || result < x[i]);
    above.push_back(byz[i] || result > x[i]);
  }
  return z3::mk_and(below) || z3::mk_and(above);
}

std::vector<z3::expr> bool_vars(z3::context& c, const std::string& prefix, unsigned count) {
  std::vector<z3::expr> v;
  for (unsigned i = 0; i < count; ++i) v.push_back(c.bool_const((prefix + std::to_string(i)).c_str()));
  return v;
}

z3::expr at_most(const std::vector<z3::expr>& bools, unsigned k) {
  z3::expr_vector v(bools.at(0).ctx());
  for (const z3::expr& b : bools) v.push_back(b);
  return z3::atmost(v, k);
}

std::vector<z3::expr> s64_domain(z3::context& c, const std::string& prefix, unsigned m, std::vector<z3::expr>& asserts) {
  std::vector<z3::expr> x = int_vars(c, prefix, m);
  for (const z3::expr& v : x) asserts.push_back(in_signed(v, 64));
  return x;
}

// Reports constants under their own names.
void report_all(Block& b, const std::vector<z3::expr>& xs) {
  for (const z3::expr& x : xs) b.report.push_back({x.to_string(), x});
}

// Reports computed terms as name0, name1, ...
void report_named(Block& b, const std::string& name, const std::vector<z3::expr>& xs) {
  for (std::size_t i = 0; i < xs.size(); ++i) b.report.push_back({name + std::to_string(i), xs[i]});
}

// ---------------------------------------------------------------------------------------------
// fixed.cpp: exp2's Q62 fraction product and final rounding, log2's normalisation and squaring.

constexpr std::array<std::uint64_t, 16> root_q62 = {
    0x5a827999fcef3242, 0x4c1bf828c6dc54b8, 0x45cae0f1f545eb73, 0x42d561b3e6243d8a,
    0x4166c34c5615d0ec, 0x40b268f9de0183ba, 0x4058f6a7ecccd5b6, 0x402c6be96af2fb58,
    0x4016321b687027a8, 0x400b18178ba33b14, 0x40058bce410147e8, 0x4002c5d7bff71daf,
    0x400162e807ee7e5b, 0x4000b1730df6a524, 0x400058b9497b8152, 0x40002c5c955dd701,
};

// bits[k-1] is fraction bit 2^-k (k = 1..16). Each step multiplies by factor = root or exactly
// 1.0 (2^62) in 128 bits and shifts right by 62; product * ite(bit, root, 2^62) is written as
// ite(bit, product * root, product * 2^62) (the same value) so the arithmetic stays linear.
z3::expr exp2_fraction_expr(Widths& w, const std::vector<z3::expr>& bits) {
  z3::context& c = bits.at(0).ctx();
  z3::expr product = pow2(c, 62);
  for (std::size_t k = 0; k < 16; ++k) {
    const z3::expr root = c.int_val(static_cast<std::uint64_t>(root_q62[k]));
    const z3::expr wide = w.u128(z3::ite(bits[k], product * root, product * pow2(c, 62)));
    product = w.u64(wide / pow2(c, 62));
  }
  return product;
}

// exp2_q31's last step in bv64: (power + 2^(shift-1)) >> shift with shift = 31 - integer.
z3::expr exp2_round_expr(const z3::expr& power, const z3::expr& integer64) {
  z3::context& c = power.ctx();
  const z3::expr shift = c.bv_val(31, 64) - integer64;
  const z3::expr half = z3::shl(c.bv_val(1, 64), shift - c.bv_val(1, 64));
  return z3::lshr(power + half, shift);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

namespace {

// Adds a model's definitions and width checks to a block; bad: the negated property.
void finish(Block& b, const Widths& w, const z3::expr& bad) {
  for (const z3::expr& d : w.definitions()) b.assertions.push_back(d);
  b.assertions.push_back(w.any_overflow() || bad);
}

std::vector<z3::expr> changed_copy(const std::vector<z3::expr>& x, const z3::expr& y) {
  std::vector<z3::expr> x2 = x;
  x2[0] = y;  // the rules sort first, so which position changes does not matter
  return x2;
}

z3::expr abs_int(const z3::expr& e) { return z3::ite(e < 0, -e, e); }

// The weights' floor block: products, total and floors fit, each floor <= U, their sum <= U.
BlockSpec weight_floors_block(unsigned m, const std::string& mutant, bool lower) {
  return {"weights_from_reputation floors, " + m_label(m) +
              (lower ? ": sum > 2^24 - m" : ": each <= 2^24, sum <= 2^24, widths"),
          [m, mutant, lower](z3::context& c) {
            Block b;
            std::vector<z3::expr> unused;  // worker indices play no part in the floors
            const Members mem = members_domain(c, m, "", unused);
            for (const z3::expr& r : mem.rep) b.assertions.push_back(r >= 1 && r < pow2(c, 32));
            Widths w(c);
            const z3::expr named_total = w.define("total", sum(mem.rep));
            const z3::expr total = mutant == "uint32-total" ? w.u32(named_total) : w.u64(named_total);
            const Normalised n = normalise_floors(w, mem.rep, total, U, mutant, "");
            b.assertions.push_back(n.lemma);  // an instance of the distributivity block for m terms
            // Instances of the single-floor block (its premise rep_i <= total holds here).
            for (const z3::expr& f : n.floors) b.assertions.push_back(f <= ival(c, U));
            finish(b, w, lower ? n.floor_sum <= ival(c, static_cast<std::int64_t>(U) - m) : n.floor_sum > ival(c, U));
            report_all(b, mem.rep);
            report_named(b, "floor", n.floors);
            return b;
          }};
}

// One floor: 1 <= rep <= total < 2^64 gives floor(rep * 2^24 / total) <= 2^24.
BlockSpec single_floor_block() {
  return {"lemma: one weight floor, 1 <= rep < 2^32, rep <= total < 2^64: floor(rep * 2^24 / total) <= 2^24",
          [](z3::context& c) {
            Block b;
            const z3::expr rep = c.int_const("rep"), total = c.int_const("total");
            b.assertions.push_back(rep >= 1 && rep < pow2(c, 32) && total >= rep && total < pow2(c, 64));
            b.assertions.push_back((rep * ival(c, U)) / total > ival(c, U));
            b.report = {{"rep", rep}, {"total", total}};
            return b;
          }};
}

// The weights' deficit block over abstract floors (see abstract_floors).
BlockSpec weight_deficit_block(unsigned m, const std::string& mutant, bool check_simplex) {
  return {"weights_from_reputation deficit step, " + m_label(m) + " (floors as proved by the floor block)",
          [m, mutant, check_simplex](z3::context& c) {
            Block b;
            Normalised n = abstract_floors(c, m, U, "", b.assertions);
            const std::vector<z3::expr> worker = int_vars(c, "worker", m);
            for (unsigned i = 0; i < m; ++i) {
              b.assertions.push_back(worker[i] >= 0 && worker[i] < 64);
              for (unsigned j = 0; j < i; ++j) b.assertions.push_back(worker[i] != worker[j]);
            }
            Widths w(c);
            normalise_deficit(w, n, worker, U, mutant);
            z3::expr_vector bad(c);
            bad.push_back(c.bool_val(false));
            if (check_simplex) {
              bad.push_back(sum(n.out) != ival(c, U));
              for (const z3::expr& x : n.out) bad.push_back(x > ival(c, U) || x < 0);
            }
            finish(b, w, z3::mk_or(bad));
            report_named(b, "floor", n.floors);
            report_all(b, worker);
            report_named(b, "weight", n.out);
            return b;
          }};
}

}  // namespace

static std::vector<BlockSpec> f1_blocks(const std::string& mutant) {
  std::vector<BlockSpec> blocks;
  for (unsigned k = 2; k <= m_max; ++k) blocks.push_back(distributivity_lemma(k));
  blocks.push_back(single_floor_block());
  for (unsigned m = 1; m <= m_max; ++m) {
    blocks.push_back(weight_floors_block(m, mutant, false));
    blocks.push_back(weight_floors_block(m, mutant, true));
    blocks.push_back(weight_deficit_block(m, mutant, true));
  }
  for (unsigned m = 1; m <= m_max; ++m) {
    blocks.push_back({"fuse_mean, vocabulary 2, " + m_label(m), [m, mutant](z3::context& c) {
      Block b;
      Widths w(c);
      const MeanInputs in = mean_domain(w, c, m, b.assertions);
      const MeanOut r = fuse_mean_expr(w, in.weights, in.dists, mutant);
      for (const z3::expr& l : in.lemmas) b.assertions.push_back(l);
      z3::expr_vector bad(c);
      bad.push_back(sum(r.out) != ival(c, P31));
      for (const z3::expr& x : r.out) bad.push_back(x > ival(c, P31) || x < 0);
      finish(b, w, z3::mk_or(bad));
      report_all(b, in.weights);
      for (const auto& d : in.dists) report_all(b, d);
      report_named(b, "out", r.out);
      return b;
    }});
  }
  return blocks;
}

ObligationResult check_f1(const std::string& mutant) {
  return run_blocks("F1", mutant, f1_blocks);
}

static std::vector<BlockSpec> f2_blocks(const std::string& mutant) {
  std::vector<BlockSpec> blocks;
  for (unsigned m = 1; m <= m_max; ++m) {
    blocks.push_back({"fuse_median, " + m_label(m) + ", at most " + std::to_string((m - 1) / 2) + " Byzantine",
                      [m, mutant](z3::context& c) {
                        Block b;
                        const std::vector<z3::expr> x = s64_domain(c, "x", m, b.assertions);
                        const std::vector<z3::expr> byz = bool_vars(c, "byz", m);
                        b.assertions.push_back(at_most(byz, (m - 1) / 2));
                        Widths w(c);
                        const z3::expr med = median_expr(w, x, mutant);
                        finish(b, w, outside_honest(med, x, byz));
                        report_all(b, x);
                        report_all(b, byz);
                        b.report.push_back({"median", med});
                        return b;
                      }});
  }
  for (unsigned m = 1; m <= m_max; ++m) {
    for (unsigned trim = 0; 2 * trim < m; ++trim) {
      blocks.push_back({"fuse_trimmed_mean, " + m_label(m) + ", trim=" + std::to_string(trim) + ", at most " +
                            std::to_string(trim) + " Byzantine",
                        [m, trim, mutant](z3::context& c) {
                          Block b;
                          const std::vector<z3::expr> x = s64_domain(c, "x", m, b.assertions);
                          const std::vector<z3::expr> byz = bool_vars(c, "byz", m);
                          b.assertions.push_back(at_most(byz, trim));
                          Widths w(c);
                          const z3::expr mean = trimmed_mean_expr(w, x, mutant == "mean" ? 0 : trim, mutant);
                          finish(b, w, outside_honest(mean, x, byz));
                          report_all(b, x);
                          report_all(b, byz);
                          b.report.push_back({"trimmed_mean", mean});
                          return b;
                        }});
    }
  }
  return blocks;
}

ObligationResult check_f2(const std::string& mutant) {
  return run_blocks("F2", mutant, f2_blocks);
}

static std::vector<BlockSpec> f3_blocks(const std::string& mutant) {
  std::vector<BlockSpec> blocks;
  for (unsigned m = 1; m <= m_max; ++m) {
    blocks.push_back({"fuse_median, " + m_label(m) + ", input 0 changed to y", [m, mutant](z3::context& c) {
      Block b;
      const std::vector<z3::expr> x = s64_domain(c, "x", m, b.assertions);
      const z3::expr y = c.int_const("y");
      b.assertions.push_back(in_signed(y, 64));
      Widths w(c);
      const z3::expr a = median_expr(w, x, mutant), a2 = median_expr(w, changed_copy(x, y), mutant);
      finish(b, w, abs_int(a2 - a) > abs_int(y - x[0]));
      report_all(b, x);
      b.report.push_back({"y", y});
      b.report.push_back({"median_before", a});
      b.report.push_back({"median_after", a2});
      return b;
    }});
  }
  for (unsigned m = 1; m <= m_max; ++m) {
    for (unsigned part = 0; part < m; ++part) {
      const std::string what = part == 0 ? "the sort keeps the sum and int64"
                                          : "the sort's output has s[" + std::to_string(part - 1) + "] <= s[" +
                                                std::to_string(part) + "]";
      blocks.push_back({"sorting, " + m_label(m) + ": " + what, [m, part](z3::context& c) {
                          Block b;
                          const std::vector<z3::expr> x = s64_domain(c, "x", m, b.assertions);
                          b.assertions.push_back(!sort_shape_parts(x, sorted_expr(x))[part]);
                          report_all(b, x);
                          return b;
                        }});
    }
    for (unsigned k = 0; k < m; ++k) {
      blocks.push_back({"order statistics, " + m_label(m) + ": raising input 0 does not lower order statistic " +
                            std::to_string(k),
                        [m, k](z3::context& c) {
                          Block b;
                          const std::vector<z3::expr> x = s64_domain(c, "x", m, b.assertions);
                          const z3::expr y = c.int_const("y");
                          b.assertions.push_back(in_signed(y, 64));
                          const std::vector<z3::expr> x2 = changed_copy(x, y);
                          const std::vector<z3::expr> s = sorted_expr(x), s2 = sorted_expr(x2);
                          b.assertions.push_back(!z3::implies(y >= x[0], s2[k] >= s[k]));
                          report_all(b, x);
                          b.report.push_back({"y", y});
                          return b;
                        }});
    }
    for (unsigned trim = 0; 2 * trim < m; ++trim) {
      blocks.push_back({"fuse_trimmed_mean, " + m_label(m) + ", trim=" + std::to_string(trim) +
                            ", input 0 changed (uses the order-statistics block)",
                        [m, trim, mutant](z3::context& c) {
                          Block b;
                          const std::vector<z3::expr> x = s64_domain(c, "x", m, b.assertions);
                          const z3::expr y = c.int_const("y");
                          b.assertions.push_back(in_signed(y, 64));
                          const std::vector<z3::expr> x2 = changed_copy(x, y);
                          // The sorted sequences are abstract here: any s, s2 with the proved facts
                          // (both directions), which includes the real sorted ones.
                          const std::vector<z3::expr> s = int_vars(c, "sorted", m);
                          const std::vector<z3::expr> s2 = int_vars(c, "sorted_after", m);
                          b.assertions.push_back(order_statistics_up(x, x2, s, s2));
                          b.assertions.push_back(order_statistics_up(x2, x, s2, s));
                          Widths w(c);
                          const z3::expr a = trimmed_mean_sorted(w, s, trim, mutant);
                          const z3::expr a2 = trimmed_mean_sorted(w, s2, trim, mutant);
                          const z3::expr k = ival(c, static_cast<std::int64_t>(m - 2 * trim));
                          const z3::expr bound = (abs_int(y - x[0]) + k - 1) / k;  // ceil(|d| / k)
                          finish(b, w, abs_int(a2 - a) > bound);
                          report_all(b, x);
                          b.report.push_back({"y", y});
                          b.report.push_back({"mean_before", a});
                          b.report.push_back({"mean_after", a2});
                          return b;
                        }});
    }
  }
  return blocks;
}

ObligationResult check_f3(const std::string& mutant) {
  return run_blocks("F3", mutant, f3_blocks);
}

static std::vector<BlockSpec> f4_blocks(const std::string& mutant) {
  std::vector<BlockSpec> blocks;
  for (unsigned k = 2; k <= m_max; ++k) blocks.push_back(distributivity_lemma(k));
  for (unsigned m = 1; m <= m_max; ++m) {
    blocks.push_back({"fuse_median, " + m_label(m) + ", all inputs v", [m, mutant](z3::context& c) {
      Block b;
      const z3::expr v = c.int_const("v");
      b.assertions.push_back(in_signed(v, 64));
      Widths w(c);
      const z3::expr med = median_expr(w, std::vector<z3::expr>(m, v), mutant);
      finish(b, w, med != v);
      b.report = {{"v", v}, {"median", med}};
      return b;
    }});
    for (unsigned trim = 0; 2 * trim < m; ++trim) {
      blocks.push_back({"fuse_trimmed_mean, " + m_label(m) + ", trim=" + std::to_string(trim) + ", all inputs v",
                        [m, trim, mutant](z3::context& c) {
                          Block b;
                          const z3::expr v = c.int_const("v");
                          b.assertions.push_back(in_signed(v, 64));
                          Widths w(c);
                          const z3::expr mean = trimmed_mean_expr(w, std::vector<z3::expr>(m, v), trim, mutant);
                          finish(b, w, mean != v);
                          b.report = {{"v", v}, {"trimmed_mean", mean}};
                          return b;
                        }});
    }
    blocks.push_back({"fuse_mean, vocabulary 2, " + m_label(m) + ", every distribution p", [m, mutant](z3::context& c) {
      Block b;
      Widths w(c);
      const MeanInputs common = mean_domain(w, c, 1, b.assertions);  // its weight w0 is unused
      const std::vector<z3::expr>& p = common.dists[0];
      const std::vector<z3::expr> weights = int_vars(c, "weight", m);
      for (const z3::expr& x : weights) b.assertions.push_back(x >= 0 && x < pow2(c, 32));
      const z3::expr total = w.define("weight_sum", sum(weights));
      b.assertions.push_back(total == ival(c, U));
      const MeanOut r = fuse_mean_expr(w, weights, std::vector<std::vector<z3::expr>>(m, p), mutant);
      for (const z3::expr& pt : p) {
        std::vector<z3::expr> products;
        for (const z3::expr& x : weights) products.push_back(x * pt);
        b.assertions.push_back(total * pt == sum(products));  // lemma instance
      }
      z3::expr_vector bad(c);
      for (unsigned t = 0; t < vocab; ++t) bad.push_back(r.out[t] != p[t]);
      finish(b, w, z3::mk_or(bad));
      report_all(b, weights);
      report_all(b, p);
      report_named(b, "out", r.out);
      return b;
    }});
  }
  return blocks;
}

ObligationResult check_f4(const std::string& mutant) {
  return run_blocks("F4", mutant, f4_blocks);
}

static std::vector<BlockSpec> f5_blocks(const std::string& mutant) {
  // Each floor is the same function of (reputation_i, total) and total is a sum, so exchanging two
  // members exchanges their floors (the block checks the total; the floors' elementwise form is the
  // model's structure). The deficit step is then checked over abstract floors, which covers every
  // reputation vector (see abstract_floors). The transpositions (0 k) generate every permutation.
  std::vector<BlockSpec> blocks;
  for (unsigned m = 2; m <= m_max; ++m) {
    for (unsigned k = 1; k < m; ++k) {
      blocks.push_back({"weights_from_reputation, " + m_label(m) + ", members 0 and " + std::to_string(k) + " exchanged",
                        [m, k, mutant](z3::context& c) {
        Block b;
        const auto swap = [&](std::vector<z3::expr> v) {
          std::swap(v[0], v[k]);
          return v;
        };
        const std::vector<z3::expr> rep = int_vars(c, "rep", m);
        for (const z3::expr& r : rep) b.assertions.push_back(r >= 1 && r < pow2(c, 32));
        Normalised n = abstract_floors(c, m, U, "", b.assertions);
        const std::vector<z3::expr> worker = int_vars(c, "worker", m);
        for (unsigned t = 0; t < m; ++t) {
          b.assertions.push_back(worker[t] >= 0 && worker[t] < 64);
          for (unsigned j = 0; j < t; ++j) b.assertions.push_back(worker[t] != worker[j]);
        }
        Normalised n2{n.floor_sum, c.bool_val(true), swap(n.floors), {}, {}};
        Widths w(c);
        normalise_deficit(w, n, worker, U, mutant);
        normalise_deficit(w, n2, swap(worker), U, mutant);
        // Worker worker[t] sits at position t before and at swap(t) after.
        const std::vector<z3::expr> back = swap(n2.out);
        z3::expr_vector bad(c);
        bad.push_back(sum(swap(rep)) != sum(rep));
        for (unsigned t = 0; t < m; ++t) bad.push_back(n.out[t] != back[t]);
        finish(b, w, z3::mk_or(bad));
        report_named(b, "floor", n.floors);
        report_all(b, worker);
        report_named(b, "weight", n.out);
        report_named(b, "weight_after_exchange", back);
        return b;
      }});
    }
  }
  return blocks;
}

ObligationResult check_f5(const std::string& mutant) {
  return run_blocks("F5", mutant, f5_blocks);
}

static std::vector<BlockSpec> f6_blocks(const std::string& mutant) {
  std::vector<BlockSpec> blocks;
  for (unsigned k = 2; k <= m_max; ++k) blocks.push_back(distributivity_lemma(k));
  blocks.push_back(single_floor_block());
  for (unsigned m = 1; m <= m_max; ++m) {
    blocks.push_back(weight_floors_block(m, mutant, false));
    blocks.push_back(weight_floors_block(m, mutant, true));
    blocks.push_back(weight_deficit_block(m, mutant, false));
    blocks.push_back({"fuse_mean, vocabulary 2, " + m_label(m), [m, mutant](z3::context& c) {
      Block b;
      Widths w(c);
      const MeanInputs in = mean_domain(w, c, m, b.assertions);
      (void)fuse_mean_expr(w, in.weights, in.dists, mutant);
      for (const z3::expr& l : in.lemmas) b.assertions.push_back(l);
      finish(b, w, c.bool_val(false));
      report_all(b, in.weights);
      return b;
    }});
    blocks.push_back({"fuse_median, " + m_label(m), [m, mutant](z3::context& c) {
      Block b;
      const std::vector<z3::expr> x = s64_domain(c, "x", m, b.assertions);
      Widths w(c);
      (void)median_expr(w, x, mutant);
      finish(b, w, c.bool_val(false));
      report_all(b, x);
      return b;
    }});
    for (unsigned trim = 0; 2 * trim < m; ++trim) {
      blocks.push_back({"fuse_trimmed_mean, " + m_label(m) + ", trim=" + std::to_string(trim),
                        [m, trim, mutant](z3::context& c) {
                          Block b;
                          const std::vector<z3::expr> x = s64_domain(c, "x", m, b.assertions);
                          Widths w(c);
                          (void)trimmed_mean_expr(w, x, trim, mutant);
                          finish(b, w, c.bool_val(false));
                          report_all(b, x);
                          return b;
                        }});
    }
  }
  blocks.push_back({"log2_q16 normalisation: p << (31 - exponent) in [2^31, 2^32), no bit lost", [](z3::context& c) {
    Block b;
    const z3::expr p = c.bv_const("p", 64), e = c.bv_const("exponent", 64);
    b.assertions.push_back(z3::uge(p, c.bv_val(1, 64)) && z3::ule(p, c.bv_val(core::fixed::prob_one, 64)));
    b.assertions.push_back(z3::ule(e, c.bv_val(31, 64)) && z3::lshr(p, e) == c.bv_val(1, 64));  // bit_width - 1
    const z3::expr mantissa = z3::shl(p, c.bv_val(31, 64) - e);
    b.assertions.push_back(z3::ult(mantissa, c.bv_val(std::uint64_t{1} << 31, 64)) ||
                           z3::uge(mantissa, c.bv_val(std::uint64_t{1} << 32, 64)) ||
                           z3::lshr(mantissa, c.bv_val(31, 64) - e) != p);
    b.report = {{"p", p}, {"exponent", e}, {"mantissa", mantissa}};
    return b;
  }});
  blocks.push_back({"log2_q16 squaring step (induction over the 18 iterations)", [mutant](z3::context& c) {
    Block b;
    const z3::expr mant = c.int_const("mantissa");
    b.assertions.push_back(mant >= pow2(c, 31) && mant < pow2(c, 32));
    Widths w(c);
    const z3::expr square = w.u64(mant * mant);
    // mantissa = (m * m) >> 31; top = mantissa >> 32; mantissa >>= top (the code is branch-free).
    const z3::expr next = mutant == "log2-no-shift" ? square : square / pow2(c, 31);
    const z3::expr top = next / pow2(c, 32);
    const z3::expr after = z3::ite(top == 0, next, next / 2);
    finish(b, w, top > 1 || after < pow2(c, 31) || after >= pow2(c, 32));
    b.report = {{"mantissa", mant}, {"top", top}, {"after", after}};
    return b;
  }});
  blocks.push_back({"exp2_q31 Q62 product over every 16-bit fraction", [](z3::context& c) {
    Block b;
    const std::vector<z3::expr> bits = bool_vars(c, "bit", 16);
    Widths w(c);
    const z3::expr product = exp2_fraction_expr(w, bits);
    z3::expr none = c.bool_val(true);
    for (const z3::expr& bit : bits) none = none && !bit;
    finish(b, w, product < pow2(c, 62) || product >= pow2(c, 63) || (none && product != pow2(c, 62)));
    report_all(b, bits);
    b.report.push_back({"product", product});
    return b;
  }});
  blocks.push_back({"exp2_q31 final rounding: no overflow, result in [1, 2^31] (uses the product block)",
                    [mutant](z3::context& c) {
                      Block b;
                      const z3::expr x = c.bv_const("x", 32);
                      const z3::expr power = c.bv_const("power_q62", 64);
                      b.assertions.push_back(x >= c.bv_val(core::fixed::log2_min, 32) && x <= c.bv_val(0, 32));
                      const z3::expr integer = z3::ashr(x, c.bv_val(16, 32));
                      const z3::expr fraction = x - integer * c.bv_val(core::fixed::log_one, 32);
                      // What the product block proved.
                      b.assertions.push_back(z3::uge(power, c.bv_val(std::uint64_t{1} << 62, 64)) &&
                                             z3::ult(power, c.bv_val(std::uint64_t{1} << 63, 64)));
                      b.assertions.push_back(z3::implies(fraction == c.bv_val(0, 32),
                                                         power == c.bv_val(std::uint64_t{1} << 62, 64)));
                      const z3::expr integer64 = z3::sext(integer, 32);
                      const z3::expr result = exp2_round_expr(power, integer64);
                      const z3::expr shift = c.bv_val(31, 64) - integer64;
                      const z3::expr half = z3::shl(c.bv_val(1, 64), shift - c.bv_val(1, 64));
                      const z3::expr carry = z3::zext(power, 1) + z3::zext(half, 1);
                      b.assertions.push_back(z3::uge(carry, c.bv_val("18446744073709551616", 65)) ||
                                             z3::ult(result, c.bv_val(1, 64)) ||
                                             z3::ugt(result, c.bv_val(core::fixed::prob_one, 64)));
                      b.report = {{"x", x, true}, {"power_q62", power}, {"result", result}};
                      return b;
                    }});
  return blocks;
}

ObligationResult check_f6(const std::string& mutant) {
  return run_blocks("F6", mutant, f6_blocks);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Concrete evaluation of the same terms, for the differential tests.

namespace model {
namespace {
std::optional<std::uint64_t> as_u64(const z3::expr& e) {
  const z3::expr s = e.simplify();
  std::uint64_t v = 0;
  if (s.is_numeral_u64(v)) return v;
  return std::nullopt;
}
std::optional<std::int64_t> as_i64(const z3::expr& e) {
  const z3::expr s = e.simplify();
  std::int64_t v = 0;
  if (s.is_numeral_i64(v)) return v;
  return std::nullopt;
}
bool fired(const detail::Widths& w) { return w.any_overflow().simplify().is_true(); }
}  // namespace

std::optional<std::vector<std::uint32_t>> weights_from_reputation(const std::vector<MemberIn>& members) {
  z3::context c;
  detail::Members mem;
  for (const MemberIn& m : members) {
    mem.rep.push_back(c.int_val(m.reputation));
    mem.worker.push_back(c.int_val(m.worker));
  }
  detail::Widths w(c, false);
  const detail::Normalised n = detail::weights_expr(w, mem, "");
  if (fired(w)) return std::nullopt;
  std::vector<std::uint32_t> out;
  for (const z3::expr& e : n.out) out.push_back(static_cast<std::uint32_t>(as_u64(e).value()));
  return out;
}

std::optional<std::vector<std::uint32_t>> fuse_mean(const std::vector<std::uint32_t>& weights,
                                                    const std::vector<std::vector<std::uint32_t>>& dists) {
  z3::context c;
  std::vector<z3::expr> w;
  std::vector<std::vector<z3::expr>> d;
  for (std::uint32_t x : weights) w.push_back(c.int_val(x));
  for (const auto& dist : dists) {
    d.emplace_back();
    for (std::uint32_t p : dist) d.back().push_back(c.int_val(p));
  }
  detail::Widths widths(c, false);
  const detail::MeanOut r = detail::fuse_mean_expr(widths, w, d, "");
  if (fired(widths)) return std::nullopt;
  std::vector<std::uint32_t> out;
  for (const z3::expr& e : r.out) out.push_back(static_cast<std::uint32_t>(as_u64(e).value()));
  return out;
}

std::optional<std::int64_t> fuse_median(const std::vector<std::int64_t>& values) {
  z3::context c;
  std::vector<z3::expr> x;
  for (std::int64_t v : values) x.push_back(c.int_val(v));
  detail::Widths w(c, false);
  const z3::expr med = detail::median_expr(w, x, "");
  if (fired(w)) return std::nullopt;
  return as_i64(med);
}

std::optional<std::int64_t> fuse_trimmed_mean(const std::vector<std::int64_t>& values, std::uint32_t trim) {
  z3::context c;
  std::vector<z3::expr> x;
  for (std::int64_t v : values) x.push_back(c.int_val(v));
  detail::Widths w(c, false);
  const z3::expr mean = detail::trimmed_mean_expr(w, x, trim, "");
  if (fired(w)) return std::nullopt;
  return as_i64(mean);
}

std::uint32_t exp2_q31(std::int32_t x) {
  z3::context c;
  const std::int32_t integer = x >> 16;
  const std::uint32_t fraction = static_cast<std::uint32_t>(x - integer * core::fixed::log_one);
  std::vector<z3::expr> bits;
  for (unsigned k = 1; k <= 16; ++k) bits.push_back(c.bool_val(((fraction >> (16 - k)) & 1u) != 0));
  detail::Widths w(c, false);
  const std::uint64_t power = as_u64(detail::exp2_fraction_expr(w, bits)).value();
  const z3::expr result = detail::exp2_round_expr(
      c.bv_val(power, 64), c.bv_val(static_cast<std::uint64_t>(static_cast<std::int64_t>(integer)), 64));
  return static_cast<std::uint32_t>(as_u64(result).value());
}

}  // namespace model
}  // namespace bf::verified
