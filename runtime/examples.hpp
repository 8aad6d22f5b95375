// The example cluster and certificates behind spec/certificate.md's test vectors, tests and
// bf_cert_tool: four keyed workers (alpha, bravo, charlie, delta; delta is Byzantine) and a head,
// all from fixed seeds, so every byte is reproducible (Ed25519 signatures are deterministic).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/producer.hpp"

namespace bf::runtime {

struct ExampleFile {
  std::string name;  // e.g. "000001.cert", "000003.equivocation"
  std::string title;  // what it shows, for the spec
  Bytes bytes;
};

struct Examples {
  Membership membership;
  std::vector<Seed> worker_seeds;  // by worker index
  Seed head_seed{};
  std::vector<ExampleFile> log;  // certificates 000001..000005 in chain order, evidence after its certificate
};

struct ExampleOptions {
  // Certificate 000005's task check expects "sat" for its unsat formula: well-formed and signed,
  // but `cert verify --z3` must FAIL "task 0".
  bool wrong_task_expectation = false;
};

// Certificate 000005's task check: the formula of its decided text answer "unsat".
inline constexpr const char* example_task_formula = "(declare-const x Int) (assert (and (> x 2) (< x 2)))";

// Worker i's seed is 32 bytes of value i+1; the head's is 32 bytes of 0x7f.
// invariants: the IDs and proof digests to name in each certificate (empty for the spec vectors).
Result<Examples> make_examples(const std::vector<core::cert::InvariantRef>& invariants = {},
                               const ExampleOptions& options = {});

// The spec's test-vector section (markdown), generated from make_examples().
std::string spec_vectors(const Examples& examples);

}  // namespace bf::runtime
