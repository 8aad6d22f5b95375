// Internal machinery shared by the obligation files: an obligation is a list of blocks, each one
// negated case (one cluster size m, one lemma...) built in its own z3::context so that its SMT-LIB
// text depends on nothing but its own construction (CI diffs the text byte for byte).
#pragma once

#include <z3++.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "verified/obligations.hpp"

namespace bf::verified::detail {

// A value to print in a counterexample. Bit-vectors print unsigned unless is_signed.
struct Report {
  std::string name;
  z3::expr value;
  bool is_signed = false;
};

// One negated case: preconditions plus the negated property. Unsat means the case is proved.
struct Block {
  std::vector<z3::expr> assertions;
  std::vector<Report> report;
};

struct BlockSpec {
  std::string label;                               // e.g. "m=3"; printed in the file and the counterexample
  std::function<Block(z3::context&)> build;
};

using BlockList = std::function<std::vector<BlockSpec>(const std::string& mutant)>;

// Builds every block of make(mutant) (text first, so solving never perturbs the text), then
// solves them in order: the first sat block gives FAILED with its counterexample, any unknown gives
// UNKNOWN. For a mutant, blocks whose text equals the real code's block are not solved again: the
// real obligation proves them, and the mutant's verdict comes from the blocks it changes.
ObligationResult run_blocks(const std::string& id, const std::string& mutant, const BlockList& make);

const Obligation& obligation(const std::string& id);

// The SMT-LIB text check(id, mutant) would produce, without solving (tests of determinism).
std::string smt2_text(const std::string& id, const std::string& mutant = "");

// Int helpers for the exact-width integer models: constants 2^k and range predicates.
z3::expr pow2(z3::context& c, unsigned k);
z3::expr in_unsigned(const z3::expr& e, unsigned bits);  // 0 <= e < 2^bits
z3::expr in_signed(const z3::expr& e, unsigned bits);    // -2^(bits-1) <= e < 2^(bits-1)

// Collects "this intermediate left its C++ width" conditions of an integer model. A model of the
// code in unbounded Ints plus these checks is exactly the code's fixed-width arithmetic as long as
// no check fires, and each obligation's negation includes "some check fires", so a proof covers
// overflow too (that is F6; the others carry the checks so that they never assume it).
class Widths {
 public:
  // symbolic: name intermediates with define() (proofs); otherwise keep the terms (evaluation).
  explicit Widths(z3::context& c, bool symbolic = true) : c_(&c), symbolic_(symbolic) {}
  // A named intermediate: a fresh constant `name` with the definition name = e recorded, so the
  // rewriter cannot expand it (the distributivity lemmas are stated over such names).
  z3::expr define(const std::string& name, const z3::expr& e);
  const std::vector<z3::expr>& definitions() const { return definitions_; }
  z3::expr u32(const z3::expr& e, const z3::expr& when);
  z3::expr u32(const z3::expr& e) { return u32(e, c_->bool_val(true)); }
  z3::expr u64(const z3::expr& e, const z3::expr& when);
  z3::expr u64(const z3::expr& e) { return u64(e, c_->bool_val(true)); }
  z3::expr s64(const z3::expr& e) { return fits(e, in_signed(e, 64), c_->bool_val(true)); }
  z3::expr s128(const z3::expr& e) { return fits(e, in_signed(e, 128), c_->bool_val(true)); }
  z3::expr u128(const z3::expr& e) { return fits(e, in_unsigned(e, 128), c_->bool_val(true)); }
  // True when some recorded intermediate is out of its width.
  z3::expr any_overflow() const;

 private:
  z3::expr fits(const z3::expr& e, const z3::expr& ok, const z3::expr& when);
  z3::context* c_;
  bool symbolic_;
  std::vector<z3::expr> violations_;
  std::vector<z3::expr> definitions_;
};

// Obligation bodies, one per file.
ObligationResult check_q1(const std::string& mutant);
ObligationResult check_q2(const std::string& mutant);
ObligationResult check_q3(const std::string& mutant);
ObligationResult check_r1(const std::string& mutant);
ObligationResult check_r2(const std::string& mutant);
ObligationResult check_f1(const std::string& mutant);
ObligationResult check_f2(const std::string& mutant);
ObligationResult check_f3(const std::string& mutant);
ObligationResult check_f4(const std::string& mutant);
ObligationResult check_f5(const std::string& mutant);
ObligationResult check_f6(const std::string& mutant);

}  // namespace bf::verified::detail
