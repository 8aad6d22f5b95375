// The deterministic simulator (runtime/sim.*): a seed range passes, the same seed replays the
// same run, and the checker catches runs outside the fault bound (testing the tester).
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/sim.hpp"

namespace bf::runtime::sim {
namespace {

bool has(const RunResult& r, const std::string& property) {
  return std::any_of(r.violations.begin(), r.violations.end(),
                     [&](const Violation& v) { return v.property == property; });
}

std::string report(const RunResult& r) {
  std::string out = "seed " + std::to_string(r.seed) + ":";
  for (const auto& v : r.violations) out += "\n  " + v.property + ": " + v.detail;
  return out;
}

// Small enough for the sanitizer pass; `butterfly sim run --seeds 10000` (ctest sim.seeds) runs more.
TEST(Sim, SeedsWithinTheFaultBoundPass) {
  std::uint32_t decided = 0;
  for (std::uint64_t seed = 1; seed <= 150; ++seed) {
    const Scenario s = scenario_for_seed(seed);
    ASSERT_LE(faulty_count(s), s.f);
    const RunResult r = run(s);
    EXPECT_TRUE(r.ok()) << describe(s) << "\n" << report(r);
    decided += r.decided;
  }
  EXPECT_GT(decided, 150U);  // the runs do reach decisions, not only fail closed
}

TEST(Sim, ASeedReplaysExactly) {
  Scenario s = scenario_for_seed(4242);
  s.trace = true;
  const RunResult a = run(s), b = run(s);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_FALSE(a.trace.empty());
  EXPECT_EQ(a.messages, b.messages);
}

Scenario calm(std::uint32_t n, std::uint32_t f, std::uint64_t seed) {
  Scenario s;
  s.seed = seed;
  s.n = n;
  s.f = f;
  s.kinds.assign(n, ByzantineKind::none);
  s.crashes.assign(n, false);
  return s;
}

TEST(Sim, FPlusOneColludersAreReportedWithTheirSeed) {
  Scenario s = calm(4, 1, 77);
  s.kinds[1] = s.kinds[3] = ByzantineKind::collude;  // f + 1 = 2
  const RunResult r = run(s);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.seed, 77U);
  // Two colluders cannot reach q = 3 on their own, so nothing wrong is certified; the honest
  // answer cannot be decided either, which the liveness check (relative to f) reports.
  EXPECT_TRUE(has(r, "liveness")) << report(r);
  EXPECT_FALSE(has(r, "certified-wrong-decided")) << report(r);
  // At n = 4 a wrong answer needs q = 3 signers: three colluders get it certified, and the
  // checker says so.
  s.kinds[2] = ByzantineKind::collude;
  const RunResult r3 = run(s);
  EXPECT_TRUE(has(r3, "certified-wrong-decided")) << report(r3);
}

TEST(Sim, TheSeedQuorumAtSixIsCaughtAndTheSafeOneIsNot) {
  // n = 6, f = 1: honest workers split 3 / 2 and one Byzantine worker signs both answers. With
  // the seed's q = 2f+1 = 3 both answers reach a quorum; with the safe q = 4 neither pair can.
  Scenario s = calm(6, 1, 606);
  s.split_honest = true;
  s.kinds[5] = ByzantineKind::equivocate;
  s.unsafe_seed_quorum = true;
  const RunResult unsafe = run(s);
  EXPECT_TRUE(has(unsafe, "conflicting-quorums")) << report(unsafe);
  s.unsafe_seed_quorum = false;
  const RunResult safe = run(s);
  EXPECT_TRUE(safe.ok()) << report(safe);
}

TEST(Sim, HealthyClusterDecidesEveryQuery) {
  for (std::uint32_t n : {4U, 7U}) {
    Scenario s = calm(n, (n - 1) / 3, n);
    s.queries = 4;
    const RunResult r = run(s);
    EXPECT_TRUE(r.ok()) << report(r);
    EXPECT_EQ(r.decided, 4U);
  }
}

}  // namespace
}  // namespace bf::runtime::sim
