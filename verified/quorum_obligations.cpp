// Q1-Q3 over unbounded integers (every n, f with 3f < n), the exhaustive cross-check of the C++
// quorum_safe, and the concrete two-quorum counterexample search used by `butterfly quorum table`.
#include <z3++.h>

#include <algorithm>

#include "core/quorum.hpp"
#include "verified/engine.hpp"

namespace bf::verified {
namespace detail {
namespace {

struct QuorumVars {
  z3::expr n, f, q;
};

// n, f, q with the domain and the quorum rule (the real formula or a mutant) asserted.
QuorumVars quorum_vars(z3::context& c, const std::string& mutant, std::vector<z3::expr>& asserts) {
  const z3::expr n = c.int_const("n");
  const z3::expr f = c.int_const("f");
  const z3::expr q = c.int_const("q");
  asserts.push_back(n >= 1 && f >= 0 && 3 * f < n);
  const z3::expr honesty = 2 * f + 1;
  const z3::expr uniqueness = (n + f) / 2 + 1;  // Int div: floor for a positive divisor
  z3::expr rule = z3::ite(honesty > uniqueness, honesty, uniqueness);
  if (mutant == "seed-2f+1") rule = honesty;
  if (mutant == "no-plus-one") rule = z3::ite(honesty > (n + f) / 2, honesty, (n + f) / 2);
  if (mutant == "3f+1") rule = 3 * f + 1;
  if (mutant == "unanimous-n") rule = n;
  asserts.push_back(q == rule);
  return {n, f, q};
}

// Every n <= 1000 and f with 3f < n: the C++ constexpr rule is the formula and passes its own
// safety predicate. Returns "" or the first mismatch.
std::string cross_check_cpp_quorum() {
  for (std::uint32_t n = 1; n <= 1000; ++n) {
    for (std::uint32_t f = 0; 3 * f < n; ++f) {
      const std::uint32_t formula = std::max(2 * f + 1, (n + f) / 2 + 1);
      const std::uint32_t q = core::quorum_safe(n, f);
      if (q != formula || !core::quorum_is_safe(n, f, q) || 2 * q < n + f + 1 || q + f > n) {
        return "C++ core::quorum_safe: n = " + std::to_string(n) + ", f = " + std::to_string(f) +
               ", q = " + std::to_string(q) + ", formula = " + std::to_string(formula);
      }
    }
  }
  return "";
}

}  // namespace

static std::vector<BlockSpec> q1_blocks(const std::string& mutant) {
  return {{"all n >= 1, f >= 0, 3f < n", [mutant](z3::context& c) {
                                      Block b;
                                      const QuorumVars v = quorum_vars(c, mutant, b.assertions);
                                      b.assertions.push_back(2 * v.q - v.n < v.f + 1);
                                      b.report = {{"n", v.n}, {"f", v.f}, {"q", v.q}};
                                      return b;
                                    }}};
}

ObligationResult check_q1(const std::string& mutant) {
  ObligationResult r = run_blocks("Q1", mutant, q1_blocks);
  if (mutant.empty() && r.verdict == Verdict::proved) {
    const std::string mismatch = cross_check_cpp_quorum();
    if (!mismatch.empty()) {
      r.verdict = Verdict::failed;
      r.counterexample = mismatch;
    }
  }
  return r;
}

static std::vector<BlockSpec> q2_blocks(const std::string& mutant) {
  std::vector<BlockSpec> blocks = {
      {"all n >= 1, f >= 0, 3f < n; Venn regions of honest/Byzantine x A/B", [mutant](z3::context& c) {
         Block b;
         const QuorumVars v = quorum_vars(c, mutant, b.assertions);
         // Honest workers sign at most one answer: regions A only, B only, neither.
         // Byzantine workers may sign A only, B only, both (equivocation) or neither.
         const z3::expr ha = c.int_const("honest_a"), hb = c.int_const("honest_b"),
                        hn = c.int_const("honest_none");
         const z3::expr ya = c.int_const("byz_a"), yb = c.int_const("byz_b"),
                        yab = c.int_const("byz_both"), yn = c.int_const("byz_none");
         for (const z3::expr& x : {ha, hb, hn, ya, yb, yab, yn}) b.assertions.push_back(x >= 0);
         b.assertions.push_back(ha + hb + hn + ya + yb + yab + yn == v.n);
         b.assertions.push_back(ya + yb + yab + yn <= v.f);
         // Negated Q2: both answers reach q.
         b.assertions.push_back(ha + ya + yab >= v.q);
         b.assertions.push_back(hb + yb + yab >= v.q);
         b.report = {{"n", v.n},        {"f", v.f},        {"q", v.q},         {"honest_a", ha},
                     {"honest_b", hb},  {"byz_both", yab}, {"byz_a", ya},      {"byz_b", yb},
                     {"honest_none", hn}, {"byz_none", yn}};
         return b;
       }}};
  return blocks;
}

ObligationResult check_q2(const std::string& mutant) {
  return run_blocks("Q2", mutant, q2_blocks);
}

static std::vector<BlockSpec> q3_blocks(const std::string& mutant) {
  std::vector<BlockSpec> blocks = {{"all n >= 1, f >= 0, 3f < n", [mutant](z3::context& c) {
                                      Block b;
                                      const QuorumVars v = quorum_vars(c, mutant, b.assertions);
                                      b.assertions.push_back(v.q > v.n - v.f);
                                      b.report = {{"n", v.n}, {"f", v.f}, {"q", v.q}};
                                      return b;
                                    }}};
  return blocks;
}

ObligationResult check_q3(const std::string& mutant) {
  return run_blocks("Q3", mutant, q3_blocks);
}

}  // namespace detail

std::optional<QuorumCounterexample> quorum_counterexample(std::uint32_t n, std::uint32_t f,
                                                          std::uint32_t q) {
  if (n == 0 || n > 1024) return std::nullopt;
  z3::context c;
  z3::solver s(c);
  z3::expr_vector in_a(c), in_b(c), byz(c);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    in_a.push_back(c.bool_const(("a" + k).c_str()));
    in_b.push_back(c.bool_const(("b" + k).c_str()));
    byz.push_back(c.bool_const(("byz" + k).c_str()));
    // Only Byzantine workers sign both answers (honest ones sign one); without loss of
    // generality a Byzantine worker signs both.
    s.add(byz[static_cast<int>(i)] == (in_a[static_cast<int>(i)] && in_b[static_cast<int>(i)]));
  }
  // Symmetry breaking: workers are interchangeable, so order them byzantine, then A only, then
  // B only, then neither. It keeps the unsat cases (safe q) fast for every n.
  for (std::uint32_t i = 0; i + 1 < n; ++i) {
    const int a = static_cast<int>(i), b = a + 1;
    s.add(z3::implies(byz[b], byz[a]));
    s.add(z3::implies(in_a[b], in_a[a]));
    s.add(z3::implies(in_a[b] || in_b[b], in_a[a] || in_b[a]));
  }
  s.add(z3::atmost(byz, f));
  s.add(z3::atleast(in_a, q));
  s.add(z3::atleast(in_b, q));
  if (s.check() != z3::sat) return std::nullopt;
  const z3::model m = s.get_model();
  QuorumCounterexample ce;
  ce.n = n;
  ce.f = f;
  ce.q = q;
  for (std::uint32_t i = 0; i < n; ++i) {
    const bool a = m.eval(in_a[static_cast<int>(i)], true).is_true();
    const bool b = m.eval(in_b[static_cast<int>(i)], true).is_true();
    if (a && b) ce.byzantine.push_back(i);
    else if (a) ce.honest_a.push_back(i);
    else if (b) ce.honest_b.push_back(i);
  }
  return ce;
}

}  // namespace bf::verified
