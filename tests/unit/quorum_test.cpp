#include "core/quorum.hpp"

#include <gtest/gtest.h>

namespace bf::core {
namespace {

TEST(Quorum, SafeQuorumMatchesTheFormulaForSeedRows) {
  // n, f from the seed's table (section 4.2) with the safe q beside the seed's 2f+1.
  struct Row { std::uint32_t n, f, seed_q, safe_q; bool seed_safe; };
  const Row rows[] = {{3, 0, 1, 2, false}, {4, 1, 3, 3, true},  {5, 1, 3, 4, false},
                      {6, 1, 3, 4, false}, {7, 2, 5, 5, true},  {10, 3, 7, 7, true},
                      {13, 4, 9, 9, true}};
  for (const Row& r : rows) {
    EXPECT_EQ(quorum_seed(r.n, r.f), r.seed_q) << "n=" << r.n;
    EXPECT_EQ(quorum_safe(r.n, r.f), r.safe_q) << "n=" << r.n;
    EXPECT_EQ(quorum_is_safe(r.n, r.f, r.seed_q), r.seed_safe) << "n=" << r.n;
    EXPECT_TRUE(quorum_is_safe(r.n, r.f, r.safe_q)) << "n=" << r.n;
  }
}

TEST(Quorum, MembershipRejectsTooManyFaults) {
  const auto m = make_membership(6, 2);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, Errc::invalid_membership);
  EXPECT_NE(m.error().message.find("3f < n"), std::string::npos) << m.error().message;
}

TEST(Quorum, MembershipRejectsZeroAndOversizedGroups) {
  EXPECT_EQ(make_membership(0, 0).error().code, Errc::invalid_membership);
  EXPECT_EQ(make_membership(65, 1).error().code, Errc::too_many_workers);
  EXPECT_TRUE(make_membership(64, 21).ok());
}

TEST(Quorum, SeedRuleIsRefusedWhereUnsafeUnlessAskedFor) {
  const auto refused = make_membership(6, 1, QuorumRule::seed_2f_plus_1);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("q = 4"), std::string::npos) << refused.error().message;
  const auto allowed = make_membership(6, 1, QuorumRule::seed_2f_plus_1, /*allow_unsafe_rule=*/true);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->q, 3u);
  EXPECT_TRUE(make_membership(4, 1, QuorumRule::seed_2f_plus_1).ok());  // safe at n = 3f+1
}

// The formula against a brute-force search for every n <= 1000 and every tolerable f: the safe q
// is the smallest q with q >= 2f+1 (a quorum holds f+1 honest workers) and 2q - n >= f+1 (two
// quorums share an honest worker, so no equivocated pair reaches q twice), and it is live
// (q <= n - f).
TEST(Quorum, SafeFormulaMatchesBruteForceUpTo1000) {
  for (std::uint32_t n = 1; n <= 1000; ++n) {
    EXPECT_EQ(faults_max(n), (n - 1) / 3) << "n=" << n;
    for (std::uint32_t f = 0; 3 * f < n; ++f) {
      std::uint32_t smallest = 0;
      for (std::uint32_t q = 1; q <= n && smallest == 0; ++q) {
        const bool honest_majority_inside = q >= 2 * f + 1;
        const bool unique = 2 * q >= n + f + 1;
        if (honest_majority_inside && unique) smallest = q;
      }
      ASSERT_NE(smallest, 0u) << "n=" << n << " f=" << f;
      ASSERT_EQ(quorum_safe(n, f), smallest) << "n=" << n << " f=" << f;
      ASSERT_LE(smallest + f, n) << "Q3 liveness, n=" << n << " f=" << f;
      ASSERT_TRUE(quorum_is_safe(n, f, smallest));
      ASSERT_FALSE(quorum_is_safe(n, f, smallest - 1)) << "n=" << n << " f=" << f;
      // The seed's 2f+1 is safe exactly at n = 3f+1.
      ASSERT_EQ(quorum_is_safe(n, f, quorum_seed(n, f)), n == 3 * f + 1) << "n=" << n << " f=" << f;
    }
  }
}

TEST(Quorum, MembershipForEveryGroupUpTo64) {
  for (std::uint32_t n = 1; n <= 64; ++n) {
    for (std::uint32_t f = 0; f <= 22; ++f) {
      const auto m = make_membership(n, f);
      ASSERT_EQ(m.ok(), 3 * f < n) << "n=" << n << " f=" << f;
      if (m.ok()) {
        EXPECT_EQ(m->n, n);
        EXPECT_EQ(m->f, f);
        EXPECT_EQ(m->q, quorum_safe(n, f));
        EXPECT_EQ(m->rule, QuorumRule::safe);
      } else {
        EXPECT_EQ(m.error().code, Errc::invalid_membership);
      }
      const auto seed = make_membership(n, f, QuorumRule::seed_2f_plus_1);
      EXPECT_EQ(seed.ok(), 3 * f < n && n == 3 * f + 1) << "n=" << n << " f=" << f;
    }
  }
}

TEST(Quorum, RuleNames) {
  EXPECT_STREQ(quorum_rule_name(QuorumRule::safe), "safe");
  EXPECT_STREQ(quorum_rule_name(QuorumRule::seed_2f_plus_1), "seed-2f+1");
}

}  // namespace
}  // namespace bf::core
