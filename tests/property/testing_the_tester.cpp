// Testing the tester (DESIGN.md): the safety checker used by Q2_at_most_one_answer_decides
// (conflicting_quorums / clusters_at_quorum in support.hpp) must report a violation when the
// protocol's assumptions are broken: the seed's quorum 2f+1 at n = 6, f = 1, or f+1 equivocators
// under the safe quorum. Each test searches every small scenario deterministically and asserts
// that a violation is found, and that the same search under the safe rule / within f finds none,
// so the checker is neither blind nor trigger-happy.
#include <gtest/gtest.h>

#include "core/quorum.hpp"
#include "core/tally.hpp"
#include "tests/property/support.hpp"

namespace bf::test {
namespace {

using core::Decision;
using core::Membership;
using core::Outcome;
using core::QuorumRule;
using core::RoundStatus;
using core::signer_count;
using core::Tally;

const AnswerId kA = answer_id(0);
const AnswerId kB = answer_id(1);

// Every round of n workers in which each honest worker signs at most one of {A, B} and each worker
// in `byzantine` signs any subset of {A, B}; returns the conflicts the checker reports at quorum q.
std::vector<Conflict> search_conflicts(std::uint32_t n, SignerMask byzantine, std::uint32_t q) {
  std::vector<Conflict> found;
  const std::vector<WorkerIndex> honest = members_of(all_workers(n) & ~byzantine);
  const std::vector<WorkerIndex> bad = members_of(byzantine);
  std::uint64_t honest_cases = 1;
  for (std::size_t i = 0; i < honest.size(); ++i) honest_cases *= 3;  // silent, A, B
  const std::uint64_t byzantine_cases = std::uint64_t{1} << (2 * bad.size());  // subset of {A, B} each
  for (std::uint64_t h = 0; h < honest_cases; ++h) {
    for (std::uint64_t b = 0; b < byzantine_cases; ++b) {
      std::vector<Signed> signatures;
      std::uint64_t code = h;
      for (const WorkerIndex w : honest) {
        if (code % 3 == 1) signatures.push_back({w, kA});
        if (code % 3 == 2) signatures.push_back({w, kB});
        code /= 3;
      }
      for (std::size_t i = 0; i < bad.size(); ++i) {
        if (((b >> (2 * i)) & 1u) != 0) signatures.push_back({bad[i], kA});
        if (((b >> (2 * i)) & 2u) != 0) signatures.push_back({bad[i], kB});
      }
      if (const auto conflict = conflicting_quorums(signatures, q)) found.push_back(*conflict);
    }
  }
  return found;
}

// The seed's rule at n = 6, f = 1 gives q = 3; 2q - f = 5 <= 6, so one Byzantine worker signing
// both answers completes two disjoint honest pairs into two quorums. Two certificates, for A and
// for B, each carry three valid signatures; their signer sets share only the Byzantine worker
// (Q1's f+1 overlap fails too). The checker must find this; under the safe q = 4 it must not.
TEST(TestingTheTester, SeedQuorumAtSixAdmitsTwoDecisions) {
  const auto seed = core::make_membership(6, 1, QuorumRule::seed_2f_plus_1, /*allow_unsafe_rule=*/true);
  ASSERT_TRUE(seed.ok());
  ASSERT_EQ(seed->q, 3u);
  const auto safe = core::make_membership(6, 1);
  ASSERT_TRUE(safe.ok());
  ASSERT_EQ(safe->q, 4u);
  const SignerMask byzantine = bit(5);

  const std::vector<Conflict> found = search_conflicts(6, byzantine, seed->q);
  ASSERT_FALSE(found.empty()) << "the checker missed the seed rule's double decision at n = 6";
  bool with_equivocation = false;
  bool without_equivocation = false;
  for (const Conflict& c : found) {
    EXPECT_NE(c.first, c.second);
    EXPECT_GE(signer_count(c.first_signers), seed->q);
    EXPECT_GE(signer_count(c.second_signers), seed->q);
    const SignerMask both = c.first_signers & c.second_signers;
    EXPECT_EQ(both & ~byzantine, 0u);  // honest workers sign once: only the Byzantine is in both
    // Two quorums sharing fewer than f+1 workers: Q1 is broken as well as Q2.
    EXPECT_LT(signer_count(both), seed->f + 1);
    with_equivocation = with_equivocation || both == byzantine;
    without_equivocation = without_equivocation || both == 0;
  }
  // The Byzantine worker signing both answers completes two honest pairs into two quorums
  // (2q - f = 5 <= n) ...
  EXPECT_TRUE(with_equivocation) << "no conflict found that needs the equivocator";
  // ... and at n = 6 even a 3/3 split without any equivocation gives two quorums (2q = n).
  EXPECT_TRUE(without_equivocation);
  EXPECT_TRUE(search_conflicts(6, byzantine, safe->q).empty()) << "false alarm under the safe rule";

  // The smallest witness, through the real tally and decide(): two views of the same round (two
  // certificates an auditor checks separately) decide different answers under the seed rule.
  const std::vector<Signed> view_a = {{0, kA}, {1, kA}, {5, kA}};
  const std::vector<Signed> view_b = {{2, kB}, {3, kB}, {5, kB}};
  std::vector<Signed> all = view_a;
  all.insert(all.end(), view_b.begin(), view_b.end());
  const auto conflict = conflicting_quorums(all, seed->q);
  ASSERT_TRUE(conflict.has_value());
  EXPECT_EQ(conflict->first_signers & conflict->second_signers, bit(5));
  EXPECT_FALSE(conflicting_quorums(all, safe->q).has_value());

  auto decide_view = [](const Membership& m, const std::vector<Signed>& view) {
    Tally t(m.n);
    for (const Signed& s : view) EXPECT_EQ(t.record(s.worker, s.answer).status, core::RecordStatus::recorded);
    return core::decide(t, m, RoundStatus{0, 3, m.n, false});
  };
  const Decision seed_a = decide_view(*seed, view_a);
  const Decision seed_b = decide_view(*seed, view_b);
  ASSERT_EQ(seed_a.outcome, Outcome::decided);
  ASSERT_EQ(seed_b.outcome, Outcome::decided);
  EXPECT_NE(seed_a.answer, seed_b.answer);  // the violation the checker reports
  EXPECT_NE(decide_view(*safe, view_a).outcome, Outcome::decided);
  EXPECT_NE(decide_view(*safe, view_b).outcome, Outcome::decided);
}

// Under the seed rule at n = 6 two clusters can stand at q in one tally even without
// equivocation (2q = n), so the decision depends on arrival order: the tally-level check of Q2
// (clusters_at_quorum <= 1) reports it.
TEST(TestingTheTester, SeedQuorumAtSixDecidesByArrivalOrder) {
  const auto seed = core::make_membership(6, 1, QuorumRule::seed_2f_plus_1, /*allow_unsafe_rule=*/true);
  ASSERT_TRUE(seed.ok());
  const std::vector<Signed> a_first = {{0, kA}, {1, kA}, {2, kA}, {3, kB}, {4, kB}, {5, kB}};
  const std::vector<Signed> b_first = {{3, kB}, {4, kB}, {5, kB}, {0, kA}, {1, kA}, {2, kA}};
  auto first_decision = [&](const std::vector<Signed>& order) {
    Tally t(seed->n);
    for (const Signed& s : order) {
      (void)t.record(s.worker, s.answer);
      const Decision d = core::decide(t, *seed, RoundStatus{0, 3, seed->n, false});
      if (d.outcome == Outcome::decided) return d.answer;
    }
    return AnswerId{};
  };
  EXPECT_EQ(first_decision(a_first), kA);
  EXPECT_EQ(first_decision(b_first), kB);

  Tally t(seed->n);
  for (const Signed& s : a_first) (void)t.record(s.worker, s.answer);
  EXPECT_EQ(clusters_at_quorum(t, seed->q), 2u) << "the tally-level check missed two clusters at q";
  // Under the safe rule the same round reaches no quorum at all: 3 < q = 4.
  EXPECT_EQ(clusters_at_quorum(t, core::quorum_safe(6, 1)), 0u);
}

// With the safe rule the guarantee is for at most f Byzantine workers: f+1 equivocators at
// n = 4, f = 1 (q = 3) make two quorums (one honest worker each plus both equivocators), and the
// checker must say so. With f equivocators the exhaustive search finds nothing.
TEST(TestingTheTester, FPlusOneEquivocatorsBreakTheSafeQuorum) {
  const auto m = core::make_membership(4, 1);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->q, 3u);
  const std::vector<Conflict> too_many = search_conflicts(4, bit(2) | bit(3), m->q);
  ASSERT_FALSE(too_many.empty()) << "the checker missed f+1 equivocators";
  for (const Conflict& c : too_many) EXPECT_EQ(c.first_signers & c.second_signers, bit(2) | bit(3));
  EXPECT_TRUE(search_conflicts(4, bit(3), m->q).empty());

  // The same holds at every safe membership up to n = 9 with its largest f: f Byzantine workers
  // never produce a conflict, f+1 (when honest workers remain to split) do.
  for (std::uint32_t n = 4; n <= 9; ++n) {
    const std::uint32_t f = core::faults_max(n);
    const std::uint32_t q = core::quorum_safe(n, f);
    SignerMask f_byzantine = 0;
    for (std::uint32_t i = 0; i < f; ++i) f_byzantine |= bit(n - 1 - i);
    EXPECT_TRUE(search_conflicts(n, f_byzantine, q).empty()) << "n=" << n;
    // q + q - (f+1) <= n: two quorums sharing the f+1 Byzantine workers fit in n.
    const bool breakable = 2 * q <= n + f + 1;
    const auto more = search_conflicts(n, f_byzantine | bit(n - 1 - f), q);
    EXPECT_EQ(!more.empty(), breakable) << "n=" << n;
  }
}

}  // namespace
}  // namespace bf::test
