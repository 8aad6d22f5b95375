// The CPU side of gpu/: the references every kernel is compared with, and the device fusion
// arithmetic (gpu/fusion_math.hpp) run on the CPU against core::fusion bit for bit. Runs on every
// machine, GPU or not, and under the sanitizers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/fixed.hpp"
#include "core/fusion.hpp"
#include "gpu/fusion_math.hpp"
#include "gpu/reference.hpp"
#include "fusion_inputs.hpp"

namespace bf::gpu {
namespace {

namespace fm = fusion_math;

TEST(GpuReference, Bf16RoundsToNearestEven) {
  EXPECT_EQ(ref::to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(ref::to_bf16(-2.0f), 0xc000);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(ref::to_bf16(1.00390625f), 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
  EXPECT_EQ(ref::to_bf16(1.01171875f), 0x3f82);
  EXPECT_EQ(ref::to_bf16(1.0f + 1.0f / 128 + 1.0f / 1024), 0x3f81);  // below half: down
  EXPECT_TRUE(std::isnan(ref::from_bf16(ref::to_bf16(NAN))));
  EXPECT_EQ(ref::from_bf16(ref::to_bf16(INFINITY)), INFINITY);
  EXPECT_EQ(ref::from_bf16(0x3f80), 1.0f);
}

TEST(GpuReference, Log2MatchesCoreFixed) {
  // Every p below 2^20 (all short mantissas), the top of the range, and random p.
  for (std::uint32_t p = 1; p <= (1u << 20); ++p) ASSERT_EQ(fm::log2_q16(p), core::fixed::log2_q16(p)) << p;
  for (std::uint32_t p = (1u << 31) - 4096; p <= (1u << 31); ++p) {
    ASSERT_EQ(fm::log2_q16(p), core::fixed::log2_q16(p)) << p;
  }
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint32_t> any(1, 1u << 31);
  for (int i = 0; i < 1'000'000; ++i) {
    const std::uint32_t p = any(rng);
    ASSERT_EQ(fm::log2_q16(p), core::fixed::log2_q16(p)) << p;
  }
}

TEST(GpuReference, Exp2MatchesCoreFixedOnItsWholeDomain) {
  for (std::int32_t x = core::fixed::log2_min; x <= 0; ++x) {
    ASSERT_EQ(fm::exp2_q31(x), core::fixed::exp2_q31(x)) << x;
  }
  EXPECT_EQ(fm::exp2_q31(core::fixed::log2_min - 5), core::fixed::exp2_q31(core::fixed::log2_min));
}

TEST(GpuReference, HeavierIsOrderFree) {
  const fm::Heaviest a{5, 3};
  const fm::Heaviest b{5, 1};
  const fm::Heaviest c{4, 0};
  EXPECT_EQ(fm::heavier(a, b).index, 1u);
  EXPECT_EQ(fm::heavier(b, a).index, 1u);
  EXPECT_EQ(fm::heavier(c, a).index, 3u);
  EXPECT_EQ(fm::heavier(fm::heavier(a, b), c).index, fm::heavier(a, fm::heavier(b, c)).index);
}

// The device path's arithmetic, run on the CPU, against core::fusion on random valid inputs.
void expect_fusion_matches_core(std::uint64_t seed, std::size_t n, std::size_t vocabulary) {
  std::mt19937_64 rng(seed);
  const test::FusionInputs in = test::random_inputs(rng, n, vocabulary);
  ASSERT_EQ(in.weights.size(), n);
  const auto rows = in.rows();

  std::vector<std::uint32_t> core_mean(vocabulary);
  std::vector<std::uint32_t> gpu_mean(vocabulary);
  ASSERT_TRUE(core::fusion::fuse_mean(in.weights, rows, core_mean).ok());
  ASSERT_EQ(ref::fuse_mean_emulated(in.weights, in.distributions, gpu_mean), 0u);
  ASSERT_EQ(gpu_mean, core_mean) << "fuse_mean seed " << seed << " n " << n << " vocabulary " << vocabulary;

  std::vector<std::uint32_t> core_sctt(vocabulary);
  std::vector<std::int32_t> scratch(vocabulary);
  std::vector<std::uint32_t> gpu_sctt(vocabulary);
  ASSERT_TRUE(core::fusion::fuse_sctt(in.weights, rows, core_sctt, scratch).ok());
  ASSERT_EQ(ref::fuse_sctt_emulated(in.weights, in.distributions, gpu_sctt), 0u);
  ASSERT_EQ(gpu_sctt, core_sctt) << "fuse_sctt seed " << seed << " n " << n << " vocabulary " << vocabulary;
}

TEST(GpuReference, FusionEmulationEqualsCoreBitForBit) {
  std::mt19937_64 pick(2024);
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const std::size_t n = 1 + pick() % 64;
    const std::size_t vocabulary = 1 + pick() % 700;
    expect_fusion_matches_core(seed, n, vocabulary);
  }
  expect_fusion_matches_core(9001, 64, 1);  // one token: everything is the deficit's
  expect_fusion_matches_core(9002, 4, 49152);  // SmolLM2's vocabulary
}

TEST(GpuReference, FusionEmulationReturnsUnanimousInputsUnchanged) {
  std::mt19937_64 rng(5);
  test::FusionInputs in = test::random_inputs(rng, 5, 300);
  for (std::size_t i = 1; i < 5; ++i) {
    std::copy(in.distributions.begin(), in.distributions.begin() + 300, in.distributions.begin() + i * 300);
  }
  std::vector<std::uint32_t> out(300);
  ASSERT_EQ(ref::fuse_sctt_emulated(in.weights, in.distributions, out), 0u);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), in.distributions.begin()));
  ASSERT_EQ(ref::fuse_mean_emulated(in.weights, in.distributions, out), 0u);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), in.distributions.begin()));
}

TEST(GpuReference, FusionEmulationReportsInvalidInputs) {
  std::mt19937_64 rng(11);
  test::FusionInputs in = test::random_inputs(rng, 3, 50);
  std::vector<std::uint32_t> out(50);
  std::vector<std::uint32_t> heavy = in.weights;
  heavy[0] += 1;
  EXPECT_EQ(ref::fuse_mean_emulated(heavy, in.distributions, out), fm::status_weights_not_unit);
  EXPECT_EQ(ref::fuse_sctt_emulated(heavy, in.distributions, out), fm::status_weights_not_unit);
  // Every distribution far above 2^31 in total: the floored mean exceeds the unit.
  std::vector<std::uint32_t> inflated = in.distributions;
  for (std::uint32_t& p : inflated) p = 1u << 30;
  EXPECT_EQ(ref::fuse_mean_emulated(in.weights, inflated, out), fm::status_bad_deficit);
  EXPECT_EQ(ref::fuse_sctt_emulated(in.weights, inflated, out), fm::status_bad_deficit);
}

TEST(GpuReference, RmsNormAddsTheResidualThenNormalises) {
  std::vector<float> hidden = {1, 2, 3, 4};
  const std::vector<float> delta = {1, 0, -1, 0};  // hidden becomes {2, 2, 2, 4}
  const std::vector<float> weight = {1, 2};
  std::vector<float> out(4);
  ASSERT_TRUE(ref::rmsnorm_residual(hidden, delta, weight, 0.0f, out).ok());
  EXPECT_EQ(hidden, (std::vector<float>{2, 2, 2, 4}));
  EXPECT_FLOAT_EQ(out[0], 1.0f);  // rms of {2, 2} is 2
  EXPECT_FLOAT_EQ(out[1], 2.0f);
  const float rms = std::sqrt((4.0f + 16.0f) / 2.0f);
  EXPECT_FLOAT_EQ(out[2], 2.0f / rms);
  EXPECT_FLOAT_EQ(out[3], 8.0f / rms);
  std::vector<float> short_out(3);
  EXPECT_FALSE(ref::rmsnorm_residual(hidden, delta, weight, 0.0f, short_out).ok());
}

TEST(GpuReference, RopeRotatesPairsByPositionTimesFrequency) {
  // One head of dim 4: pair 0 turns by `position` radians, pair 1 by position / base^(1/2).
  std::vector<float> x = {1, 0, 0, 1};
  ASSERT_TRUE(ref::rope(x, 1, 1, 4, 3, 100.0f).ok());
  EXPECT_NEAR(x[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[1], std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[2], -std::sin(0.3), 1e-6);
  EXPECT_NEAR(x[3], std::cos(0.3), 1e-6);
  // Token j with offset p is token 0 at offset p + j.
  std::vector<float> two = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> second = {5, 6, 7, 8};
  ASSERT_TRUE(ref::rope(two, 2, 1, 4, 10, 10000.0f).ok());
  ASSERT_TRUE(ref::rope(second, 1, 1, 4, 11, 10000.0f).ok());
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(two[4 + i], second[i]);
  std::vector<float> odd(3);
  EXPECT_FALSE(ref::rope(odd, 1, 1, 3, 0, 10000.0f).ok());
}

TEST(GpuReference, SwigluAndSoftmaxAndArgmax) {
  const std::vector<float> gate = {0.0f, 1.0f, -1.0f};
  const std::vector<float> up = {5.0f, 2.0f, 3.0f};
  std::vector<float> out(3);
  ASSERT_TRUE(ref::swiglu(gate, up, out).ok());
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 2.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(out[2], -3.0 / (1.0 + std::exp(1.0)), 1e-6);

  const std::vector<float> logits = {1, 3, 3, 2, /* row 2 */ NAN, -1, NAN, -1};
  std::vector<float> probs(8);
  ASSERT_TRUE(ref::softmax(std::span<const float>(logits).first(4), 4, 1.0f, std::span<float>(probs).first(4)).ok());
  EXPECT_NEAR(probs[0] + probs[1] + probs[2] + probs[3], 1.0, 1e-6);
  EXPECT_FLOAT_EQ(probs[1], probs[2]);
  std::vector<std::uint32_t> tokens(2);
  ASSERT_TRUE(ref::argmax(logits, 4, tokens).ok());
  EXPECT_EQ(tokens[0], 1u);  // tie between 1 and 2: the lower index
  EXPECT_EQ(tokens[1], 1u);  // NaN never wins; tie between 1 and 3
  const std::vector<float> nan_row = {NAN, NAN};
  std::vector<std::uint32_t> one(1);
  ASSERT_TRUE(ref::argmax(nan_row, 2, one).ok());
  EXPECT_EQ(one[0], 0u);
}

TEST(GpuReference, KvAppendRefusesToOverflow) {
  std::vector<std::uint16_t> cache(4 * 2 * 2, 0);  // capacity 4, 2 heads of dim 2
  const std::vector<float> rows = {1, 2, 3, 4, 5, 6, 7, 8};  // two tokens
  ASSERT_TRUE(ref::kv_append(cache, 4, 2, 2, 1, rows).ok());
  EXPECT_EQ(cache[0], 0);
  EXPECT_EQ(ref::from_bf16(cache[4]), 1.0f);
  EXPECT_EQ(ref::from_bf16(cache[11]), 8.0f);
  EXPECT_TRUE(ref::kv_append(cache, 4, 2, 2, 2, rows).ok());   // rows 2, 3: fits exactly
  EXPECT_FALSE(ref::kv_append(cache, 4, 2, 2, 3, rows).ok());  // rows 3, 4: one too many
}

TEST(GpuReference, AttentionOverOneKeyReturnsItsValue) {
  // Two heads sharing one KV head; position 0 sees only key 0, so the output is value 0.
  ref::AttentionShape s{.tokens = 2, .heads = 2, .kv_heads = 1, .head_dim = 2, .position_offset = 0, .capacity = 2,
                        .scale = 1.0f};
  const std::vector<float> q = {1, 0, 0, 1, /* token 1 */ 1, 0, 0, 1};
  const std::vector<std::uint16_t> k = {ref::to_bf16(1), ref::to_bf16(0), ref::to_bf16(0), ref::to_bf16(1)};
  const std::vector<std::uint16_t> v = {ref::to_bf16(2), ref::to_bf16(4), ref::to_bf16(6), ref::to_bf16(8)};
  std::vector<float> out(8);
  ASSERT_TRUE(ref::attention(s, q, k, v, out).ok());
  EXPECT_FLOAT_EQ(out[0], 2.0f);
  EXPECT_FLOAT_EQ(out[3], 4.0f);
  // Token 1, head 0: scores q.k = {1, 0}: weights e/(e+1), 1/(e+1).
  const double w0 = std::exp(1.0) / (std::exp(1.0) + 1.0);
  EXPECT_NEAR(out[4], w0 * 2 + (1 - w0) * 6, 1e-6);
  s.position_offset = 1;  // would need 3 rows
  EXPECT_FALSE(ref::attention(s, q, k, v, out).ok());
}

TEST(GpuReference, LinearUsesTheWeightRowsAsOutputs) {
  const std::vector<float> x = {1, 2, 3, /* row 2 */ 4, 5, 6};
  const std::vector<float> w = {1, 0, 0, /* out 1 */ 0, 1, 1};
  std::vector<float> y(4);
  ASSERT_TRUE(ref::linear(x, w, 2, 2, 3, y).ok());
  EXPECT_EQ(y, (std::vector<float>{1, 5, 4, 11}));
}

}  // namespace
}  // namespace bf::gpu
