#include "core/tally.hpp"

#include <gtest/gtest.h>

#include "core/quorum.hpp"

namespace bf::core {
namespace {

AnswerId answer(std::uint8_t k) {
  AnswerId a{};
  a[0] = k;
  a[31] = static_cast<std::uint8_t>(0xA0 + k);
  return a;
}

Membership membership(std::uint32_t n, std::uint32_t f) {
  const auto m = make_membership(n, f);
  EXPECT_TRUE(m.ok());
  return *m;
}

RoundStatus open(std::uint32_t reachable) { return RoundStatus{0, 3, reachable, false}; }
RoundStatus closed(std::uint32_t reachable, std::uint32_t round = 0) { return RoundStatus{round, 3, reachable, true}; }

TEST(Tally, RecordsFirstAnswers) {
  Tally t(4);
  EXPECT_EQ(t.workers(), 4u);
  EXPECT_EQ(t.record(0, answer(1)).status, RecordStatus::recorded);
  EXPECT_EQ(t.record(1, answer(1)).status, RecordStatus::recorded);
  EXPECT_EQ(t.record(2, answer(2)).status, RecordStatus::recorded);
  EXPECT_EQ(t.responders(), 0b0111u);
  EXPECT_EQ(t.equivocators(), 0u);
  ASSERT_EQ(t.clusters(), 2u);
  EXPECT_EQ(t.cluster_answer(0), answer(1));
  EXPECT_EQ(t.cluster_signers(0), 0b0011u);
  EXPECT_EQ(t.cluster_answer(1), answer(2));
  EXPECT_EQ(t.cluster_signers(1), 0b0100u);
  EXPECT_FALSE(t.record(3, answer(1)).evidence.has_value());
}

TEST(Tally, DuplicateIsIgnored) {
  Tally t(4);
  ASSERT_EQ(t.record(2, answer(5)).status, RecordStatus::recorded);
  const RecordResult again = t.record(2, answer(5));
  EXPECT_EQ(again.status, RecordStatus::duplicate);
  EXPECT_FALSE(again.evidence.has_value());
  EXPECT_EQ(t.clusters(), 1u);
  EXPECT_EQ(t.cluster_signers(0), 0b0100u);
  EXPECT_EQ(signer_count(t.responders()), 1u);
}

TEST(Tally, EquivocationWithdrawsTheVoteAndReturnsEvidence) {
  Tally t(4);
  ASSERT_EQ(t.record(0, answer(1)).status, RecordStatus::recorded);
  ASSERT_EQ(t.record(3, answer(1)).status, RecordStatus::recorded);
  const RecordResult r = t.record(3, answer(2));
  EXPECT_EQ(r.status, RecordStatus::equivocation);
  ASSERT_TRUE(r.evidence.has_value());
  EXPECT_EQ(r.evidence->worker, 3u);
  EXPECT_EQ(r.evidence->first, answer(1));
  EXPECT_EQ(r.evidence->second, answer(2));
  EXPECT_EQ(t.equivocators(), 0b1000u);
  EXPECT_EQ(t.responders(), 0b0001u);
  EXPECT_EQ(t.cluster_signers(0), 0b0001u);  // worker 3's vote for answer 1 is withdrawn
  EXPECT_EQ(t.clusters(), 1u);               // and its second answer opens no cluster
}

TEST(Tally, IsolatedWorkerIsIgnoredAfterwards) {
  Tally t(4);
  (void)t.record(1, answer(1));
  ASSERT_EQ(t.record(1, answer(2)).status, RecordStatus::equivocation);
  for (const std::uint8_t k : {std::uint8_t{1}, std::uint8_t{2}, std::uint8_t{3}}) {
    const RecordResult r = t.record(1, answer(k));
    EXPECT_EQ(r.status, RecordStatus::ignored_isolated);
    EXPECT_FALSE(r.evidence.has_value());
  }
  EXPECT_EQ(t.responders(), 0u);
  EXPECT_EQ(t.equivocators(), 0b0010u);
  EXPECT_FALSE(t.largest_cluster().has_value());  // only an emptied cluster is left
}

TEST(Tally, LargestClusterTiesGoToTheSmallerAnswerId) {
  // Answer 9 arrives first; 4 ties it later; the smaller id wins whatever the arrival order.
  Tally t(6);
  (void)t.record(0, answer(9));
  (void)t.record(1, answer(9));
  (void)t.record(2, answer(4));
  (void)t.record(3, answer(4));
  ASSERT_TRUE(t.largest_cluster().has_value());
  EXPECT_EQ(t.cluster_answer(*t.largest_cluster()), answer(4));
  (void)t.record(4, answer(9));
  EXPECT_EQ(t.cluster_answer(*t.largest_cluster()), answer(9));  // strictly larger now

  Tally u(6);
  (void)u.record(2, answer(4));
  (void)u.record(3, answer(4));
  (void)u.record(0, answer(9));
  (void)u.record(1, answer(9));
  EXPECT_EQ(u.cluster_answer(*u.largest_cluster()), answer(4));
  EXPECT_FALSE(Tally(3).largest_cluster().has_value());
}

TEST(Decide, DecidedWithQDistinctSigners) {
  const Membership m = membership(4, 1);  // q = 3
  Tally t(4);
  (void)t.record(0, answer(7));
  (void)t.record(1, answer(7));
  EXPECT_EQ(decide(t, m, open(4)).outcome, Outcome::pending);
  (void)t.record(1, answer(7));  // a duplicate does not count twice
  EXPECT_EQ(decide(t, m, open(4)).outcome, Outcome::pending);
  (void)t.record(3, answer(7));
  const Decision d = decide(t, m, open(4));
  EXPECT_EQ(d.outcome, Outcome::decided);
  EXPECT_EQ(d.answer, answer(7));
  EXPECT_EQ(d.signers, 0b1011u);
  EXPECT_EQ(d.support, 3u);
  // Decided even when the deadline has passed or the round is the last.
  EXPECT_EQ(decide(t, m, RoundStatus{2, 3, 4, true}).outcome, Outcome::decided);
}

TEST(Decide, PendingWhileReachableWorkersHaveNotAnswered) {
  const Membership m = membership(7, 2);  // q = 5
  Tally t(7);
  for (WorkerIndex w = 0; w < 4; ++w) (void)t.record(w, answer(1));
  (void)t.record(4, answer(2));
  const Decision d = decide(t, m, open(7));
  EXPECT_EQ(d.outcome, Outcome::pending);
  EXPECT_EQ(d.support, 4u);
}

TEST(Decide, NeedDebateWhenTheRoundClosesWithoutDecision) {
  const Membership m = membership(4, 1);  // q = 3
  Tally t(4);
  (void)t.record(0, answer(1));
  (void)t.record(1, answer(1));
  (void)t.record(2, answer(2));
  (void)t.record(3, answer(2));
  // Every reachable worker answered: the round is over before the deadline.
  const Decision d = decide(t, m, open(4));
  EXPECT_EQ(d.outcome, Outcome::need_debate);
  EXPECT_EQ(d.support, 2u);
  EXPECT_EQ(decide(t, m, RoundStatus{1, 3, 4, true}).outcome, Outcome::need_debate);
}

TEST(Decide, NoConsensusOnTheLastRound) {
  const Membership m = membership(4, 1);
  Tally t(4);
  (void)t.record(0, answer(1));
  (void)t.record(1, answer(1));
  (void)t.record(2, answer(2));
  (void)t.record(3, answer(3));
  EXPECT_EQ(decide(t, m, RoundStatus{2, 3, 4, true}).outcome, Outcome::no_consensus);
  EXPECT_EQ(decide(t, m, RoundStatus{0, 1, 4, false}).outcome, Outcome::no_consensus);  // R = 1
  EXPECT_EQ(decide(t, m, RoundStatus{1, 3, 4, true}).outcome, Outcome::need_debate);
}

TEST(Decide, NoQuorumWhenFewerThanQAreReachable) {
  const Membership m = membership(7, 2);  // q = 5
  Tally t(7);
  for (WorkerIndex w = 0; w < 4; ++w) (void)t.record(w, answer(1));
  // Four reachable and all four agree: still no quorum, before and after the deadline.
  EXPECT_EQ(decide(t, m, open(4)).outcome, Outcome::no_quorum);
  EXPECT_EQ(decide(t, m, closed(4)).outcome, Outcome::no_quorum);
  EXPECT_EQ(decide(Tally(7), m, open(0)).outcome, Outcome::no_quorum);
}

TEST(Decide, NoQuorumWhenFewerThanQAnsweredByTheDeadline) {
  const Membership m = membership(7, 2);  // q = 5
  Tally t(7);
  for (WorkerIndex w = 0; w < 4; ++w) (void)t.record(w, answer(static_cast<std::uint8_t>(w % 2)));
  EXPECT_EQ(decide(t, m, open(7)).outcome, Outcome::pending);
  EXPECT_EQ(decide(t, m, closed(7)).outcome, Outcome::no_quorum);
  // Equivocators' withdrawn votes do not make up the count.
  (void)t.record(4, answer(1));
  (void)t.record(4, answer(0));
  (void)t.record(5, answer(1));
  (void)t.record(5, answer(0));
  (void)t.record(6, answer(2));
  EXPECT_EQ(signer_count(t.responders()), 5u);
  EXPECT_EQ(decide(t, m, closed(7)).outcome, Outcome::need_debate);
  Tally u(7);
  for (WorkerIndex w = 0; w < 4; ++w) (void)u.record(w, answer(1));
  (void)u.record(4, answer(1));
  (void)u.record(4, answer(2));
  (void)u.record(5, answer(1));
  (void)u.record(5, answer(2));
  (void)u.record(6, answer(1));
  // 4 and 5 were withdrawn from answer 1, yet 0-3 and 6 still make 5 = q.
  EXPECT_EQ(decide(u, m, closed(7)).outcome, Outcome::decided);
  Tally v(7);
  for (WorkerIndex w = 0; w < 3; ++w) (void)v.record(w, answer(1));
  for (const WorkerIndex w : {3u, 4u, 5u, 6u}) {
    (void)v.record(w, answer(1));
    (void)v.record(w, answer(2));
  }
  // Everyone answered (so the round is over), but only 3 votes count: fail closed.
  EXPECT_EQ(decide(v, m, open(7)).outcome, Outcome::no_quorum);
}

// The seed's scenario C: n = 4, f = 1 (q = 3) and a partition cuts two workers off. The seed's
// head continued with "f = 0"; Butterfly keeps the membership it was given and fails closed,
// however much the two remaining workers agree, until a signed membership change.
TEST(Decide, PartitionScenarioCFailsClosed) {
  const Membership m = membership(4, 1);
  ASSERT_EQ(m.q, 3u);
  Tally t(4);
  (void)t.record(0, answer(1));
  (void)t.record(1, answer(1));
  const Decision before = decide(t, m, open(2));
  EXPECT_EQ(before.outcome, Outcome::no_quorum);
  EXPECT_EQ(before.support, 2u);
  EXPECT_EQ(decide(t, m, closed(2)).outcome, Outcome::no_quorum);
  // Not knowing the partition yet: the head waits, then fails closed at the deadline.
  EXPECT_EQ(decide(t, m, open(4)).outcome, Outcome::pending);
  EXPECT_EQ(decide(t, m, closed(4)).outcome, Outcome::no_quorum);
  for (std::uint32_t round = 0; round < 3; ++round) {
    EXPECT_EQ(decide(t, m, closed(2, round)).outcome, Outcome::no_quorum) << "round " << round;
  }
}

TEST(Decide, OutcomeNames) {
  EXPECT_STREQ(outcome_name(Outcome::pending), "pending");
  EXPECT_STREQ(outcome_name(Outcome::decided), "decided");
  EXPECT_STREQ(outcome_name(Outcome::need_debate), "need-debate");
  EXPECT_STREQ(outcome_name(Outcome::no_consensus), "no-consensus");
  EXPECT_STREQ(outcome_name(Outcome::no_quorum), "no-quorum");
}

TEST(Decide, SixtyFourWorkers) {
  const Membership m = membership(64, 21);  // q = max(43, 43) = 43
  ASSERT_EQ(m.q, 43u);
  Tally t(64);
  for (WorkerIndex w = 0; w < 42; ++w) (void)t.record(w, answer(1));
  EXPECT_EQ(decide(t, m, open(64)).outcome, Outcome::pending);
  (void)t.record(63, answer(1));
  const Decision d = decide(t, m, open(64));
  EXPECT_EQ(d.outcome, Outcome::decided);
  EXPECT_EQ(d.support, 43u);
  EXPECT_NE(d.signers & (SignerMask{1} << 63), 0u);
}

}  // namespace
}  // namespace bf::core
