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

}  // namespace
}  // namespace bf::core
