// The Z3 obligations: one per invariant ID of spec/invariants.md (and more where useful).
//
// Each obligation is built with the z3++ API as "the negation of the property is unsat": PROVED
// means unsat, FAILED means sat with a counterexample read from the model. Obligations for the
// fixed-point fusion and reputation code model the exact integer arithmetic of core/ in
// bit-vectors (overflow included). A mutant replaces the modelled function by a named wrong
// variant (the seed's 2f+1 quorum, weights that do not renormalise, reputation without a floor...)
// so the mutation test can show each obligation is able to fail.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace bf::verified {

enum class Verdict { proved, failed, unknown };
const char* verdict_name(Verdict v) noexcept;

struct Obligation {
  std::string id;         // invariant ID: "Q1" ... "R2"
  std::string name;       // obligation name, as in spec/invariants.md
  std::string statement;  // one line, what is proved and for which domain
};

struct ObligationResult {
  std::string id;
  std::string name;
  std::string mutant;          // "" for the real code
  Verdict verdict = Verdict::unknown;
  std::string counterexample;  // human-readable model when failed; reason when unknown
  std::string smt2;            // the SMT-LIB text of the obligation (negated property + check-sat)
};

// All obligations in spec order.
const std::vector<Obligation>& obligations();

// The named wrong variants available for an obligation (at least one per ID).
std::vector<std::string> mutants(const std::string& id);

// Checks one obligation against the real code (mutant empty) or a mutant.
// Throws std::invalid_argument naming the known IDs / mutants for an unknown one.
ObligationResult check(const std::string& id, const std::string& mutant = "");

// Writes <dir>/<ID>.smt2 for every result and <dir>/MANIFEST ("<sha256>  <ID>.smt2" lines, sorted).
void emit(const std::filesystem::path& dir, const std::vector<ObligationResult>& results);

// Two conflicting quorums under quorum q for (n, f), found by Z3, when they exist: answer A signed by
// honest_a plus byzantine, answer B by honest_b plus byzantine, each reaching q.
struct QuorumCounterexample {
  std::uint32_t n = 0, f = 0, q = 0;
  std::vector<std::uint32_t> byzantine, honest_a, honest_b;  // worker indices
};
std::optional<QuorumCounterexample> quorum_counterexample(std::uint32_t n, std::uint32_t f,
                                                          std::uint32_t q);

}  // namespace bf::verified
