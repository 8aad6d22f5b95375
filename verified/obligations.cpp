// The obligation registry, dispatch, block runner and proof emitter.
//
// Emitted files: each block of an obligation becomes one self-contained SMT-LIB script segment
// (declarations, assertions, (check-sat)), separated by (reset), so `z3 ID.smt2` prints one line
// per block and every line must be `unsat`. (reset) rather than push/pop keeps z3 in its
// non-incremental mode, which is the one the C++ check uses and is much faster on these queries.
#include "verified/obligations.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "verified/certificate_obligation.hpp"
#include "verified/engine.hpp"

namespace bf::verified {

const std::vector<Obligation>& obligations() {
  static const std::vector<Obligation> list = {
      Obligation{"Q1", "quorum_intersection",
                 "for all Int n >= 1, f >= 0 with 3f < n and q = max(2f+1, (n+f) div 2 + 1): "
                 "2q - n >= f+1; and C++ core::quorum_safe equals that formula (and passes "
                 "quorum_is_safe) for every n <= 1000, 3f < n"},
      Obligation{"Q2", "unique_decision",
                 "for all Int n, f (3f < n) and every split of the n workers into honest/Byzantine "
                 "and signed-A/signed-B/both/neither (Venn-region counts, at most f Byzantine, only "
                 "Byzantine workers sign both): two different answers never both reach q(n,f)"},
      Obligation{"Q3", "honest_liveness",
                 "for all Int n >= 1, f >= 0 with 3f < n: q(n,f) <= n - f, so the n-f honest "
                 "workers alone reach the quorum"},
      Obligation{"F1", "weights_simplex",
                 "weights_from_reputation, m = 1..7 members, any uint32 reputations > 0, distinct "
                 "worker indices < 64: every weight in [0, 2^24] and the weights sum exactly to 2^24; "
                 "fuse_mean, m = 1..7 distributions over a vocabulary reduced to 2 entries, any "
                 "uint32 weights summing to 2^24: every entry in [0, 2^31], sum exactly 2^31. Exact "
                 "integer models with every C++ width checked"},
      Obligation{"F2", "numeric_within_honest_range",
                 "m = 1..7 int64 values of which at most (m-1)/2 (median) or at most trim (trimmed "
                 "mean, every trim with 2 trim < m) are Byzantine: fuse_median and "
                 "fuse_trimmed_mean lie within [min honest, max honest]. Exact integer models with "
                 "the int64/int128 widths checked"},
      Obligation{"F3", "lipschitz",
                 "m = 1..7 int64 values, one input changed by d: fuse_median moves by at most |d|, "
                 "fuse_trimmed_mean (every trim with 2 trim < m) by at most ceil(|d| / (m - 2 trim)). "
                 "Exact integer models with widths checked; fuse_mean's bound is not covered here"},
      Obligation{"F4", "unanimity",
                 "m = 1..7 equal inputs v (any int64): fuse_median and fuse_trimmed_mean (every "
                 "trim) return v; fuse_mean over a vocabulary reduced to 2 entries, any uint32 "
                 "weights summing to 2^24: returns the common distribution exactly"},
      Obligation{"F5", "permutation_invariance",
                 "weights_from_reputation, m = 2..7, any uint32 reputations > 0, distinct worker "
                 "indices < 64: exchanging members 0 and k (with their worker indices) gives every "
                 "worker the same weight, deficit holder included; these transpositions generate "
                 "every permutation. The numeric rules sort first (order-free by construction)"},
      Obligation{"F6", "no_overflow",
                 "no intermediate leaves its C++ width, for every in-domain input: "
                 "weights_from_reputation (m = 1..7, any uint32 reputations > 0), fuse_mean (m = "
                 "1..7, vocabulary reduced to 2), fuse_median's floor midpoint and "
                 "fuse_trimmed_mean's int128 sum and int64 result (m = 1..7, any int64), log2_q16's "
                 "normalisation and squaring step (inductive: mantissa stays in [2^31, 2^32), square "
                 "< 2^64), exp2_q31's Q62 product chain (all 2^16 fractions) and final rounding "
                 "(result in [1, 2^31])"},
      Obligation{"R1", "reputation_bounded",
                 "reputation_update in 32-bit bit-vectors: for every value in [100000, 1000000] "
                 "and every event the result stays in [100000, 1000000]; with the start value "
                 "1000000 in range this covers every event sequence by induction (per worker, so "
                 "the cluster size does not matter)"},
      Obligation{"R2", "equivocation_isolates",
                 "reputation_update (32-bit bit-vectors): equivocation always yields isolated and "
                 "not eligible, and isolation is sticky under every event; Tally::record (64-bit "
                 "signer masks, any worker < 64): an equivocating worker's vote is withdrawn from "
                 "its cluster and the responders and it is marked an equivocator, an equivocator "
                 "stays one and is never counted again, responders and equivocators stay disjoint"},
      Obligation{"C1", "certificate_decision",
                 "for every n <= 7 and f with 3f < n, q = quorum_safe(n, f), every single-round "
                 "answer pattern, claimed signer set S and answer d: the auditor's decision check "
                 "(d answered, |S| >= q, S is exactly d's signers) accepts iff core decide decides "
                 "d with signers S. Soundness against byte changes is the C1 property test"},
  };
  return list;
}

namespace {

const std::map<std::string, std::vector<std::string>>& mutant_table() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"Q1", {"seed-2f+1", "no-plus-one"}},
      {"Q2", {"seed-2f+1", "no-plus-one"}},
      {"Q3", {"3f+1", "unanimous-n"}},
      {"F1", {"no-deficit", "uint32-total"}},
      {"F2", {"mean", "naive-midpoint"}},
      {"F3", {"naive-midpoint", "int64-sum"}},
      {"F4", {"naive-midpoint", "int64-sum", "mean-divides-by-2^23"}},
      {"F5", {"deficit-to-first-position", "ties-by-position"}},
      {"F6", {"32-bit-product", "log2-no-shift"}},
      {"R1", {"no-floor", "agree-plus-one"}},
      {"R2", {"equivocation-as-disagree", "tally-keeps-vote"}},
      {"C1", certificate_decision_mutants()},
  };
  return table;
}

std::string known_ids() {
  std::string s;
  for (const Obligation& o : obligations()) s += (s.empty() ? "" : ", ") + o.id;
  return s;
}

std::string format_value(const z3::expr& v, bool is_signed) {
  if (v.is_bv()) {
    std::uint64_t u = 0;
    if (v.get_sort().bv_size() <= 64 && v.is_numeral_u64(u)) {
      const unsigned width = v.get_sort().bv_size();
      if (is_signed && width > 0 && width <= 64) {
        std::int64_t s = 0;
        if (width == 64) {
          s = static_cast<std::int64_t>(u);
        } else {
          const std::uint64_t sign = std::uint64_t{1} << (width - 1);
          s = (u & sign) != 0 ? static_cast<std::int64_t>(u) - static_cast<std::int64_t>(sign << 1)
                              : static_cast<std::int64_t>(u);
        }
        return std::to_string(s);
      }
      return std::to_string(u);
    }
    return v.get_decimal_string(0);
  }
  if (v.is_bool()) return v.is_true() ? "true" : "false";
  if (v.is_numeral()) return v.get_decimal_string(0);
  return v.to_string();
}

std::string sha256_hex(const std::string& data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace

std::vector<std::string> mutants(const std::string& id) {
  const auto it = mutant_table().find(id);
  if (it == mutant_table().end()) {
    throw std::invalid_argument("unknown obligation id '" + id + "'; known: " + known_ids());
  }
  return it->second;
}

ObligationResult check(const std::string& id, const std::string& mutant) {
  const std::vector<std::string> known = mutants(id);  // throws for an unknown id
  if (!mutant.empty() && std::find(known.begin(), known.end(), mutant) == known.end()) {
    std::string list;
    for (const std::string& m : known) list += (list.empty() ? "" : ", ") + m;
    throw std::invalid_argument("unknown mutant '" + mutant + "' for " + id + "; known: " + list);
  }
  using Fn = ObligationResult (*)(const std::string&);
  static const std::map<std::string, Fn> table = {
      {"Q1", detail::check_q1}, {"Q2", detail::check_q2}, {"Q3", detail::check_q3},
      {"F1", detail::check_f1}, {"F2", detail::check_f2}, {"F3", detail::check_f3},
      {"F4", detail::check_f4}, {"F5", detail::check_f5}, {"F6", detail::check_f6},
      {"R1", detail::check_r1}, {"R2", detail::check_r2},
      {"C1", check_certificate_decision},
  };
  try {
    return table.at(id)(mutant);
  } catch (const z3::exception& e) {
    const Obligation& o = detail::obligation(id);
    return ObligationResult{o.id, o.name, mutant, Verdict::unknown,
                            std::string("z3 error: ") + e.msg(), ""};
  }
}

void emit(const std::filesystem::path& dir, const std::vector<ObligationResult>& results) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, std::string>> manifest;
  for (const ObligationResult& r : results) {
    const std::string file = r.id + ".smt2";
    std::ofstream out(dir / file, std::ios::binary | std::ios::trunc);
    out << r.smt2;
    if (!out) throw std::runtime_error("cannot write " + (dir / file).string());
    manifest.emplace_back(file, sha256_hex(r.smt2));
  }
  std::sort(manifest.begin(), manifest.end());
  std::ofstream out(dir / "MANIFEST", std::ios::binary | std::ios::trunc);
  for (const auto& [file, digest] : manifest) out << digest << "  " << file << "\n";
  if (!out) throw std::runtime_error("cannot write " + (dir / "MANIFEST").string());
}

namespace detail {

const Obligation& obligation(const std::string& id) {
  for (const Obligation& o : obligations()) {
    if (o.id == id) return o;
  }
  throw std::invalid_argument("unknown obligation id '" + id + "'; known: " + known_ids());
}

// Per-block solver timeout: 120 s, or BF_VERIFIED_TIMEOUT_MS (a slow machine, or a quick dry run).
unsigned timeout_ms() {
  const char* env = std::getenv("BF_VERIFIED_TIMEOUT_MS");
  if (env != nullptr) {
    const unsigned long v = std::strtoul(env, nullptr, 10);
    if (v > 0 && v < 3'600'000) return static_cast<unsigned>(v);
  }
  return 120000u;
}

namespace {
thread_local bool text_only = false;  // smt2_text(): build the blocks, solve nothing

struct BuiltBlock {
  std::string text;
  std::unique_ptr<z3::context> context;
  std::unique_ptr<z3::solver> solver;
  Block block;
};

BuiltBlock build_block(const BlockSpec& spec) {
  auto context = std::make_unique<z3::context>();
  Block block = spec.build(*context);
  auto solver = std::make_unique<z3::solver>(*context);
  for (const z3::expr& a : block.assertions) solver->add(a);
  std::string text = solver->to_smt2();
  return {std::move(text), std::move(context), std::move(solver), std::move(block)};
}
}  // namespace

ObligationResult run_blocks(const std::string& id, const std::string& mutant, const BlockList& make) {
  const Obligation& o = obligation(id);
  ObligationResult result{o.id, o.name, mutant, Verdict::proved, "", ""};
  const std::vector<BlockSpec> blocks = make(mutant);
  const std::vector<BlockSpec> real = mutant.empty() ? std::vector<BlockSpec>{} : make("");
  std::ostringstream text;
  text << "; Butterfly proof obligation " << o.id << " " << o.name
       << (mutant.empty() ? "" : " (MUTANT " + mutant + ")") << "\n";
  text << "; " << o.statement << "\n";
  text << "; " << blocks.size() << " blocks separated by (reset); each (check-sat) states one negated "
       << "case and must print unsat. A block marked 'uses' assumes facts proved by the named earlier\n"
       << "; blocks of this file (lemma instances), so the file as a whole is the proof.\n";
  text << "; Generated by verified/ (z3++); re-check with: z3 " << o.id << ".smt2\n";

  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const BlockSpec& spec = blocks[i];
    BuiltBlock built = build_block(spec);
    if (i > 0) text << "(reset)\n";
    text << "; block " << (i + 1) << ": " << spec.label << "\n" << built.text;
    if (text_only || result.verdict != Verdict::proved) continue;  // text only
    if (i < real.size() && real[i].label == spec.label && build_block(real[i]).text == built.text) continue;
    z3::solver& s = *built.solver;
    z3::params p(*built.context);
    p.set("timeout", timeout_ms());
    s.set(p);
    switch (s.check()) {
      case z3::unsat: break;
      case z3::sat: {
        const z3::model model = s.get_model();
        std::string ce = spec.label + ":";
        for (const Report& r : built.block.report) {
          ce += " " + r.name + " = " + format_value(model.eval(r.value, true), r.is_signed) + ",";
        }
        if (!ce.empty() && ce.back() == ',') ce.pop_back();
        result.verdict = Verdict::failed;
        result.counterexample = ce;
        break;
      }
      case z3::unknown:
        result.verdict = Verdict::unknown;
        result.counterexample = spec.label + ": z3 answered unknown (" + s.reason_unknown() + ")";
        break;
    }
  }
  result.smt2 = text.str();
  return result;
}

std::string smt2_text(const std::string& id, const std::string& mutant) {
  struct Reset {
    ~Reset() { text_only = false; }
  } reset;
  text_only = true;
  return check(id, mutant).smt2;
}

z3::expr pow2(z3::context& c, unsigned k) {
  if (k < 63) return c.int_val(static_cast<std::int64_t>(std::int64_t{1} << k));
  return (pow2(c, k - 62) * c.int_val(static_cast<std::int64_t>(std::int64_t{1} << 62))).simplify();
}

z3::expr in_unsigned(const z3::expr& e, unsigned bits) {
  return e >= 0 && e < pow2(e.ctx(), bits);
}

z3::expr in_signed(const z3::expr& e, unsigned bits) {
  return e >= -pow2(e.ctx(), bits - 1) && e < pow2(e.ctx(), bits - 1);
}

z3::expr Widths::fits(const z3::expr& e, const z3::expr& ok, const z3::expr& when) {
  violations_.push_back(when && !ok);
  return e;
}

z3::expr Widths::u32(const z3::expr& e, const z3::expr& when) {
  return fits(e, in_unsigned(e, 32), when);
}

z3::expr Widths::u64(const z3::expr& e, const z3::expr& when) {
  return fits(e, in_unsigned(e, 64), when);
}

z3::expr Widths::define(const std::string& name, const z3::expr& e) {
  if (!symbolic_) return e;
  const z3::expr k = c_->constant(name.c_str(), e.get_sort());
  definitions_.push_back(k == e);
  return k;
}

z3::expr Widths::any_overflow() const {
  z3::expr_vector v(*c_);
  for (const z3::expr& e : violations_) v.push_back(e);
  return v.empty() ? c_->bool_val(false) : z3::mk_or(v);
}

}  // namespace detail
}  // namespace bf::verified
