// The deterministic simulator (spec/consensus.md, "Simulator"): HeadLogic and n WorkerLogic on a
// virtual clock and a seeded network (delay, drop, reorder, duplicate, partition until a heal
// time), with seeded faults (crash and restart, Byzantine kinds). A seed fixes everything, so a
// failure replays exactly with `butterfly sim run --start SEED --seeds 1`.
//
// After every step the checker tests the safety properties; at the end, liveness. Its guarantees
// are relative to the fault bound: with at most f faulty workers nothing may be violated; a
// scenario with more (tests use this to test the tester) reports what actually broke.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/worker_logic.hpp"

namespace bf::runtime::sim {

struct Scenario {
  std::uint64_t seed = 0;
  std::uint32_t n = 4;
  std::uint32_t f = 1;
  std::vector<ByzantineKind> kinds;  // per worker; none for honest
  std::vector<bool> crashes;         // per worker: crashes once and restarts (counts as faulty)
  std::uint32_t queries = 2;
  bool debate = false;               // queries in debate mode (else vote)
  bool numeric = true;               // numeric agreement (else exact)
  bool split_honest = false;         // honest workers disagree: some give the collusion answer
  bool unsafe_seed_quorum = false;   // the head decides with 2f+1 (testing the tester)
  double drop = 0.0;                 // per-message drop probability before the heal
  double duplicate = 0.0;            // per-message duplicate probability (always)
  Millis delay_max = 20;             // one-way delay is uniform in [1, delay_max]
  std::uint64_t partitioned = 0;     // workers cut off from the head until the heal
  Millis heal_at = 0;                // from here on: no drops, no partition
  Millis round_timeout = 500;
  bool trace = false;                // record every event in RunResult::trace
};

// The faulty workers the scenario has (Byzantine kinds other than none, plus crashes).
std::uint32_t faulty_count(const Scenario& s);

// A random scenario for a seed: n in {4, 7}, up to f faulty workers of random kinds.
Scenario scenario_for_seed(std::uint64_t seed);

struct Violation {
  std::string property;  // "conflicting-quorums", "certificate", "chain", "isolation",
                         // "certified-wrong-decided", "liveness", "duplicate-done"
  std::string detail;
};

struct RunResult {
  std::uint64_t seed = 0;
  std::vector<Violation> violations;
  std::uint32_t decided = 0, no_consensus = 0, no_quorum = 0, errors = 0;
  std::uint32_t certificates = 0;
  std::uint32_t isolations = 0;
  std::uint64_t messages = 0;
  Millis end_time = 0;
  std::vector<std::string> trace;  // with Scenario::trace: one line per event, in order
  [[nodiscard]] bool ok() const { return violations.empty(); }
};

RunResult run(const Scenario& scenario);

// One line naming the scenario (n, f, faults, network), for failure reports.
std::string describe(const Scenario& s);

}  // namespace bf::runtime::sim
