#include "core/reputation.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace bf::core {
namespace {

using P = ReputationParams;

// The sequence documented in reputation.hpp: from 1.0, six disagreements in a row exclude a worker.
TEST(Reputation, SixDisagreementsFromOneExclude) {
  const std::vector<std::uint32_t> expected = {775'000, 606'250, 479'688, 384'766, 313'575, 260'182};
  Reputation r;
  EXPECT_EQ(r.value, P::one);
  EXPECT_FALSE(r.isolated);
  EXPECT_TRUE(reputation_eligible(r));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    r = reputation_update(r, ReputationEvent::disagree);
    EXPECT_EQ(r.value, expected[i]) << "after " << i + 1 << " disagreements";
    EXPECT_FALSE(r.isolated);
    // Eligible through the fifth (0.314 >= 0.3), excluded at the sixth (0.260 < 0.3).
    EXPECT_EQ(reputation_eligible(r), i + 1 < 6) << "after " << i + 1 << " disagreements";
  }
}

TEST(Reputation, AgreeMovesOneSixteenthTowardsOne) {
  EXPECT_EQ(reputation_update(Reputation{P::floor, false}, ReputationEvent::agree).value, 156'250u);
  EXPECT_EQ(reputation_update(Reputation{260'182, false}, ReputationEvent::agree).value, 306'420u);
  // (1'000'000 - 999'990) / 16 rounds down to 0: the value stays, never overshoots.
  EXPECT_EQ(reputation_update(Reputation{999'990, false}, ReputationEvent::agree).value, 999'990u);
  // Recovery re-admits an excluded (not isolated) worker.
  Reputation r{260'182, false};
  EXPECT_FALSE(reputation_eligible(r));
  r = reputation_update(r, ReputationEvent::agree);
  EXPECT_TRUE(reputation_eligible(r));
}

TEST(Reputation, TimeoutMovesOneEighthTowardsTheFloor) {
  EXPECT_EQ(reputation_update(Reputation{}, ReputationEvent::timeout).value, 887'500u);
  EXPECT_EQ(reputation_update(Reputation{887'500, false}, ReputationEvent::timeout).value, 789'063u);
  EXPECT_EQ(reputation_update(Reputation{P::floor + 7, false}, ReputationEvent::timeout).value, P::floor + 7);
}

TEST(Reputation, FloorAndCeilingHold) {
  Reputation low{P::floor, false};
  for (const auto e : {ReputationEvent::disagree, ReputationEvent::timeout}) {
    EXPECT_EQ(reputation_update(low, e).value, P::floor);
  }
  Reputation high{P::one, false};
  EXPECT_EQ(reputation_update(high, ReputationEvent::agree).value, P::one);
  Reputation r;
  for (int i = 0; i < 1000; ++i) r = reputation_update(r, ReputationEvent::disagree);
  EXPECT_GE(r.value, P::floor);
  EXPECT_LT(r.value, P::floor + 4);  // converges to the floor without crossing it
  for (int i = 0; i < 1000; ++i) r = reputation_update(r, ReputationEvent::agree);
  EXPECT_LE(r.value, P::one);
  EXPECT_GT(r.value, P::one - 16);
}

TEST(Reputation, EquivocationIsolatesAtOnceAndForGood) {
  Reputation r;
  r = reputation_update(r, ReputationEvent::equivocate);
  EXPECT_EQ(r.value, P::floor);
  EXPECT_TRUE(r.isolated);
  EXPECT_FALSE(reputation_eligible(r));
  for (int i = 0; i < 200; ++i) r = reputation_update(r, ReputationEvent::agree);
  EXPECT_TRUE(r.isolated);  // sticky: only a signed membership change readmits
  EXPECT_GT(r.value, P::exclude_below);
  EXPECT_FALSE(reputation_eligible(r));
}

TEST(Reputation, EventNames) {
  EXPECT_STREQ(reputation_event_name(ReputationEvent::agree), "agree");
  EXPECT_STREQ(reputation_event_name(ReputationEvent::disagree), "disagree");
  EXPECT_STREQ(reputation_event_name(ReputationEvent::timeout), "timeout");
  EXPECT_STREQ(reputation_event_name(ReputationEvent::equivocate), "equivocate");
}

}  // namespace
}  // namespace bf::core
