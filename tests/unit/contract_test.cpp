// Contracts (core/contract.hpp): every test links bf_core_checked, where a violated BF_REQUIRE /
// BF_ENSURE / BF_INVARIANT prints the invariant ID, the condition and the site, then aborts.
#include "core/contract.hpp"

#include <gtest/gtest.h>

#include "core/quorum.hpp"
#include "core/reputation.hpp"
#include "core/tally.hpp"

#if !defined(BUTTERFLY_CONTRACTS)
#error "tests must be built against bf_core_checked, with contracts on"
#endif

namespace bf::core {
namespace {

AnswerId some_answer() {
  AnswerId a{};
  a[0] = 1;
  return a;
}

TEST(ContractDeathTest, RecordWithAWorkerOutOfRangeNamesQ2) {
  EXPECT_DEATH(
      {
        Tally t(4);
        (void)t.record(4, some_answer());
      },
      "precondition Q2 violated: w < workers_ \\(.*core/tally\\.cpp:[0-9]+\\)");
  EXPECT_DEATH(
      {
        Tally t(64);
        (void)t.record(64, some_answer());
      },
      "precondition Q2 violated");
}

TEST(ContractDeathTest, TallyCapacityNamesQ2) {
  EXPECT_DEATH({ Tally t(0); }, "precondition Q2 violated: workers >= 1");
  EXPECT_DEATH({ Tally t(limits::workers_max + 1); }, "precondition Q2 violated");
}

TEST(ContractDeathTest, DecideWithAnotherMembershipOrRoundNamesQ2) {
  const auto m = make_membership(4, 1);
  ASSERT_TRUE(m.ok());
  EXPECT_DEATH({ (void)decide(Tally(5), *m, RoundStatus{0, 3, 4, false}); },
               "precondition Q2 violated: tally.workers\\(\\) == m.n");
  EXPECT_DEATH({ (void)decide(Tally(4), *m, RoundStatus{3, 3, 4, false}); },
               "precondition Q2 violated: status.round < status.rounds_max");
  EXPECT_DEATH({ (void)decide(Tally(4), *m, RoundStatus{0, 3, 5, false}); }, "precondition Q2 violated");
}

TEST(ContractDeathTest, ReputationOutsideItsBoundsNamesR1) {
  EXPECT_DEATH({ (void)reputation_update(Reputation{0, false}, ReputationEvent::agree); },
               "precondition R1 violated");
  EXPECT_DEATH({ (void)reputation_update(Reputation{ReputationParams::one + 1, false}, ReputationEvent::disagree); },
               "precondition R1 violated");
}

TEST(ContractDeathTest, ContractFailedPrintsKindIdConditionAndSite) {
  EXPECT_DEATH(contract_failed("invariant", "Q1", "2q > n + f", "core/x.cpp", 7),
               "^butterfly: invariant Q1 violated: 2q > n \\+ f \\(core/x\\.cpp:7\\)");
}

// In range, nothing fires: the contracts do not reject valid calls.
TEST(Contract, ValidCallsPass) {
  Tally t(4);
  EXPECT_EQ(t.record(3, some_answer()).status, RecordStatus::recorded);
  const auto m = make_membership(4, 1);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(decide(t, *m, RoundStatus{2, 3, 4, true}).outcome, Outcome::no_quorum);
  EXPECT_EQ(reputation_update(Reputation{ReputationParams::floor, false}, ReputationEvent::timeout).value,
            ReputationParams::floor);
}

}  // namespace
}  // namespace bf::core
