#include "verified/certificate_obligation.hpp"

#include <z3++.h>

#include <algorithm>
#include <stdexcept>

#include "core/quorum.hpp"

namespace bf::verified {

std::vector<std::string> certificate_decision_mutants() {
  return {"seed-2f+1", "no-size-check", "subset-cluster"};
}

ObligationResult check_certificate_decision(const std::string& mutant) {
  const auto known = certificate_decision_mutants();
  if (!mutant.empty() && std::find(known.begin(), known.end(), mutant) == known.end()) {
    throw std::invalid_argument("unknown mutant '" + mutant +
                                "' for C1; known: seed-2f+1, no-size-check, subset-cluster");
  }
  ObligationResult out{"C1", certificate_decision_name, mutant, Verdict::proved, "", ""};
  out.smt2 = "; C1 certificate_decision: the auditor's cluster check agrees with core decide, n <= 7\n";
  for (unsigned n = 1; n <= 7; ++n) {
    for (unsigned f = 0; 3 * f < n; ++f) {
      // Each (n, f) in its own context so its SMT-LIB text depends only on itself.
      z3::context c;
      z3::solver s(c);
      const unsigned q = mutant == "seed-2f+1" ? core::quorum_seed(n, f) : core::quorum_safe(n, f);
      std::vector<z3::expr> ans;
      for (unsigned i = 0; i < n; ++i) {
        ans.push_back(c.int_const(("answer_" + std::to_string(i)).c_str()));
        s.add(ans.back() >= 0 && ans.back() <= static_cast<int>(n));  // 0: no answer
      }
      const z3::expr d = c.int_const("claimed_answer");
      const z3::expr signers = c.bv_const("claimed_signers", n);
      auto count = [&](const z3::expr& v) {
        z3::expr sum = c.int_val(0);
        for (unsigned i = 0; i < n; ++i) sum = sum + z3::ite(ans[i] == v && v != 0, c.int_val(1), c.int_val(0));
        return sum;
      };
      auto in_s = [&](unsigned i) { return signers.extract(i, i) == c.bv_val(1, 1); };
      z3::expr size = c.int_val(0);
      z3::expr exact = c.bool_val(true);   // S = {i : answer_i = d}
      z3::expr agrees = c.bool_val(true);  // every member of S answered d
      for (unsigned i = 0; i < n; ++i) {
        size = size + z3::ite(in_s(i), c.int_val(1), c.int_val(0));
        exact = exact && (in_s(i) == (ans[i] == d));
        agrees = agrees && z3::implies(in_s(i), ans[i] == d);
      }
      const int qi = static_cast<int>(q);
      z3::expr auditor = d >= 1 && d <= static_cast<int>(n) && exact && size >= qi;
      if (mutant == "no-size-check") auditor = d >= 1 && d <= static_cast<int>(n) && exact;
      if (mutant == "subset-cluster") auditor = d >= 1 && d <= static_cast<int>(n) && agrees && size >= qi;
      // core decide: the largest cluster (ties to the smaller answer, as AnswerId order) decides
      // when it has >= q signers; its signers are every worker that answered it.
      z3::expr largest = count(d) >= qi;
      for (int v = 1; v <= static_cast<int>(n); ++v) {
        const z3::expr cv = count(c.int_val(v));
        largest = largest && z3::implies(c.int_val(v) != d, cv < count(d) || (cv == count(d) && d < v));
      }
      const z3::expr decide = d >= 1 && d <= static_cast<int>(n) && largest && exact;
      s.add(auditor != decide);  // negated property
      out.smt2 += "; n = " + std::to_string(n) + ", f = " + std::to_string(f) + ", q = " + std::to_string(q) +
                  "\n(push)\n" + s.to_smt2() + "(pop)\n";
      const z3::check_result r = s.check();
      if (r == z3::sat && out.verdict == Verdict::proved) {
        const z3::model m = s.get_model();
        std::string cx = "n = " + std::to_string(n) + ", f = " + std::to_string(f) + ", q = " +
                         std::to_string(q) + ", answers =";
        for (unsigned i = 0; i < n; ++i) cx += " " + m.eval(ans[i], true).to_string();
        cx += ", claimed answer " + m.eval(d, true).to_string() + ", signers " +
              m.eval(signers, true).to_string() + ": the auditor " +
              (m.eval(auditor, true).is_true() ? "accepts" : "rejects") + " but decide " +
              (m.eval(decide, true).is_true() ? "agrees" : "does not");
        out.verdict = Verdict::failed;
        out.counterexample = cx;
      } else if (r == z3::unknown && out.verdict == Verdict::proved) {
        out.verdict = Verdict::unknown;
        out.counterexample = "z3 returned unknown at n = " + std::to_string(n) + ", f = " + std::to_string(f);
      }
    }
  }
  return out;
}

}  // namespace bf::verified
