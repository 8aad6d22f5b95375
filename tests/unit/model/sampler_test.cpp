#include <gtest/gtest.h>

#include <map>

#include "model/sampler.hpp"

namespace bf::model {
namespace {

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
  Sampler s(SamplerConfig{});
  const float logits[] = {0.5F, 2.0F, -1.0F, 2.0F};
  EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, SameSeedSameTokensOtherSeedDiffers) {
  std::vector<float> logits(50);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i % 7) * 0.3F;
  const auto run = [&](std::uint64_t seed) {
    Sampler s(SamplerConfig{1.0F, 0, 1.0F, seed});
    std::vector<std::int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(logits));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, SeedAloneDeterminesStream) {
  // The seed alone determines the stream.
  Rng a(0), b(0);
  EXPECT_EQ(a.next(), b.next());
  Rng r(1);
  const std::uint64_t first = r.next();
  Rng r2(1);
  EXPECT_EQ(r2.next(), first);
  EXPECT_NE(Rng(2).next(), first);
}

TEST(Sampler, TopKOneIsGreedyAndTopPCutsTheTail) {
  const float logits[] = {1.0F, 3.0F, 2.9F, -5.0F};
  Sampler k1(SamplerConfig{1.0F, 1, 1.0F, 9});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(k1.sample(logits), 1);
  // p(1) ~ 0.50, p(2) ~ 0.45: top_p 0.4 keeps only token 1.
  Sampler p(SamplerConfig{1.0F, 0, 0.4F, 9});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.sample(logits), 1);
  // top_k 2 never yields tokens 0 or 3, and yields both 1 and 2.
  Sampler k2(SamplerConfig{1.0F, 2, 1.0F, 5});
  std::map<std::int32_t, int> seen;
  for (int i = 0; i < 200; ++i) ++seen[k2.sample(logits)];
  EXPECT_EQ(seen.count(0), 0U);
  EXPECT_EQ(seen.count(3), 0U);
  EXPECT_GT(seen[1], 50);
  EXPECT_GT(seen[2], 50);
}

TEST(Sampler, ValidateRejectsOutOfRange) {
  EXPECT_FALSE(validate(SamplerConfig{-1.0F, 0, 1.0F, 0}).ok());
  EXPECT_FALSE(validate(SamplerConfig{1.0F, 0, 0.0F, 0}).ok());
  EXPECT_FALSE(validate(SamplerConfig{1.0F, 0, 1.5F, 0}).ok());
  EXPECT_FALSE(validate(SamplerConfig{1.0F, sampler_top_k_max + 1, 1.0F, 0}).ok());
  EXPECT_TRUE(validate(SamplerConfig{0.7F, sampler_top_k_max, 0.9F, 0}).ok());
}

TEST(TopKQ31, SumsToExactly2Pow31DeficitToLargest) {
  std::vector<float> logits(1000);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 7919) % 1000) / 100.0F;
  for (const std::size_t k : {1U, 2U, 3U, 10U, 40U, 1000U, 5000U}) {
    const auto d = top_k_q31(logits, k);
    ASSERT_EQ(d.size(), std::min<std::size_t>(k, 1000));
    std::uint64_t sum = 0;
    for (const auto& e : d) sum += e.q31;
    EXPECT_EQ(sum, std::uint64_t{q31_one}) << k;
    for (std::size_t i = 1; i < d.size(); ++i) EXPECT_GE(d[i - 1].q31, d[i].q31);
    EXPECT_EQ(d[0].token, static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
  }
  const float two[] = {0.0F, 0.0F};
  const auto even = top_k_q31(two, 2);
  EXPECT_EQ(even[0].token, 0);
  EXPECT_EQ(even[0].q31, 1U << 30);
  EXPECT_EQ(even[1].q31, 1U << 30);
  EXPECT_TRUE(top_k_q31({}, 3).empty());
}

}  // namespace
}  // namespace bf::model
