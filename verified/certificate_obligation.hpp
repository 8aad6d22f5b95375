// C1's Z3 leg (proposed; the lead registers it): the auditor's decision check agrees with core's
// decide. Kept out of obligations() until spec/invariants.md lists C1, so the leg checker stays green.
#pragma once

#include <string>
#include <vector>

#include "verified/obligations.hpp"

namespace bf::verified {

// The obligation's proposed name in spec/invariants.md.
inline constexpr const char* certificate_decision_name = "certificate_decision";

// Mutants: "seed-2f+1" (the auditor checks q = 2f+1), "no-size-check" (it forgets |S| >= q),
// "subset-cluster" (it accepts any agreeing subset instead of every signer of the answer).
std::vector<std::string> certificate_decision_mutants();

// For every n <= 7 and f with 3f < n, with q = quorum_safe(n, f): for all single-round answers
// (each worker silent or answering one of n values), a claimed cluster S (an n-bit signer set) and
// answer d, the auditor accepts (d answered, |S| >= q, S is exactly the set of workers answering d)
// iff core decide decides d with signers S (d's cluster has >= q signers and is the largest).
// PROVED: unsat for every (n, f). Throws std::invalid_argument for an unknown mutant.
ObligationResult check_certificate_decision(const std::string& mutant = "");

}  // namespace bf::verified
