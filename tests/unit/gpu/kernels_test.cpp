// Each kernel against its CPU reference (gpu/reference.hpp) on random inputs, and the device
// fusion against core::fusion bit for bit. Skips when no CUDA device is visible.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/fusion.hpp"
#include "device_fixture.hpp"
#include "fusion_inputs.hpp"
#include "gpu/fusion_math.hpp"
#include "gpu/kernels.hpp"
#include "gpu/reference.hpp"

namespace bf::gpu {
namespace {

std::vector<float> random_floats(std::mt19937_64& rng, std::size_t count, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(count);
  for (float& x : v) x = normal(rng);
  return v;
}

// |a - b| <= absolute + relative * |b| for every element; reports the first offender.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double absolute, double relative,
                  const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double bound = absolute + relative * std::fabs(want[i]);
    ASSERT_LE(std::fabs(static_cast<double>(got[i]) - want[i]), bound) << what << " at " << i;
  }
}

using Kernels = test::DeviceTest;

TEST_F(Kernels, RmsNormResidualMatchesReference) {
  std::mt19937_64 rng(1);
  const std::size_t rows = 7;
  const std::size_t dim = 576;  // SmolLM2-135M
  std::vector<float> hidden = random_floats(rng, rows * dim, 3.0f);
  const std::vector<float> delta = random_floats(rng, rows * dim);
  const std::vector<float> weight = random_floats(rng, dim);
  float* d_hidden = to_device(hidden);
  float* d_out = device_array<float>(rows * dim);
  std::uint16_t* d_out16 = device_array<std::uint16_t>(rows * dim);
  const float* d_delta = to_device(delta);
  const float* d_weight = to_device(weight);
  ASSERT_TRUE(rmsnorm_residual(d_hidden, d_delta, d_weight, 1e-5f, rows, dim, d_out, stream()).ok());

  std::vector<float> out(rows * dim);
  std::vector<float> want_hidden = hidden;
  ASSERT_TRUE(ref::rmsnorm_residual(want_hidden, delta, weight, 1e-5f, out).ok());
  expect_close(to_host(d_hidden, rows * dim), want_hidden, 0, 0, "hidden (exact: one float add)");
  expect_close(to_host(d_out, rows * dim), out, 1e-5, 1e-4, "out (float sums of squares in a tree)");

  // The bf16 variant on the residual stream as it is now (the add happens again).
  ASSERT_TRUE(rmsnorm_residual_bf16(d_hidden, d_delta, d_weight, 1e-5f, rows, dim, d_out16, stream()).ok());
  ASSERT_TRUE(ref::rmsnorm_residual(want_hidden, delta, weight, 1e-5f, out).ok());
  const std::vector<std::uint16_t> out16 = to_host(d_out16, rows * dim);
  std::vector<float> widened(out16.size());
  for (std::size_t i = 0; i < out16.size(); ++i) widened[i] = ref::from_bf16(out16[i]);
  expect_close(widened, out, 1e-5, 1.0 / 128, "out bf16 (half a bf16 ulp)");

  EXPECT_FALSE(rmsnorm_residual(d_hidden, d_delta, d_weight, 1e-5f, rows, hidden_dim_max + 1, d_out, stream()).ok());
}

TEST_F(Kernels, RopeMatchesReferenceFarIntoTheSequence) {
  std::mt19937_64 rng(2);
  const std::size_t tokens = 5;
  const std::size_t heads = 9;
  const std::size_t head_dim = 64;
  for (const std::size_t offset : {std::size_t{0}, std::size_t{4000}}) {
    std::vector<float> x = random_floats(rng, tokens * heads * head_dim);
    float* d_x = to_device(x);
    ASSERT_TRUE(rope(d_x, tokens, heads, head_dim, offset, 10000.0f, stream()).ok());
    ASSERT_TRUE(ref::rope(x, tokens, heads, head_dim, offset, 10000.0f).ok());
    expect_close(to_host(d_x, x.size()), x, 1e-6, 1e-6, "rope");
  }
}

TEST_F(Kernels, SwigluAndBf16MatchReference) {
  std::mt19937_64 rng(3);
  const std::size_t count = 1536 * 3 + 17;
  const std::vector<float> gate = random_floats(rng, count, 4.0f);
  const std::vector<float> up = random_floats(rng, count);
  float* d_out = device_array<float>(count);
  ASSERT_TRUE(swiglu(to_device(gate), to_device(up), d_out, count, stream()).ok());
  std::vector<float> out(count);
  ASSERT_TRUE(ref::swiglu(gate, up, out).ok());
  expect_close(to_host(d_out, count), out, 1e-6, 1e-5, "swiglu");

  std::uint16_t* d_bits = device_array<std::uint16_t>(count);
  ASSERT_TRUE(to_bf16(to_device(gate), d_bits, count, stream()).ok());
  const std::vector<std::uint16_t> bits = to_host(d_bits, count);
  for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(bits[i], ref::to_bf16(gate[i])) << i;
}

TEST_F(Kernels, KvAppendIsBitExact) {
  std::mt19937_64 rng(4);
  const std::size_t capacity = 32;
  const std::size_t kv_heads = 3;
  const std::size_t head_dim = 64;
  std::vector<std::uint16_t> cache(capacity * kv_heads * head_dim, 0);
  std::uint16_t* d_cache = to_device(cache);
  const std::vector<float> rows = random_floats(rng, 5 * kv_heads * head_dim);
  ASSERT_TRUE(kv_append(d_cache, capacity, kv_heads, head_dim, 7, to_device(rows), 5, stream()).ok());
  ASSERT_TRUE(ref::kv_append(cache, capacity, kv_heads, head_dim, 7, rows).ok());
  EXPECT_EQ(to_host(d_cache, cache.size()), cache);
  EXPECT_FALSE(kv_append(d_cache, capacity, kv_heads, head_dim, 28, to_device(rows), 5, stream()).ok());
}

TEST_F(Kernels, SoftmaxAndArgmaxMatchReference) {
  std::mt19937_64 rng(5);
  const std::size_t rows = 3;
  const std::size_t vocabulary = 49152;
  std::vector<float> logits = random_floats(rng, rows * vocabulary, 5.0f);
  // Row 1: a tie for the maximum at two indices; row 2: NaNs sprinkled in.
  logits[vocabulary + 100] = 50.0f;
  logits[vocabulary + 40000] = 50.0f;
  for (std::size_t t = 0; t < vocabulary; t += 97) logits[2 * vocabulary + t] = NAN;
  const float* d_logits = to_device(logits);
  std::uint32_t* d_tokens = device_array<std::uint32_t>(rows);
  ASSERT_TRUE(argmax(d_logits, rows, vocabulary, d_tokens, stream()).ok());
  std::vector<std::uint32_t> tokens(rows);
  ASSERT_TRUE(ref::argmax(logits, vocabulary, tokens).ok());
  EXPECT_EQ(to_host(d_tokens, rows), tokens);
  EXPECT_EQ(tokens[1], 100u);

  const std::vector<float> clean(logits.begin(), logits.begin() + 2 * vocabulary);
  float* d_probs = device_array<float>(clean.size());
  ASSERT_TRUE(softmax(to_device(clean), 2, vocabulary, 0.7f, d_probs, stream()).ok());
  std::vector<float> probs(clean.size());
  ASSERT_TRUE(ref::softmax(clean, vocabulary, 0.7f, probs).ok());
  expect_close(to_host(d_probs, clean.size()), probs, 1e-9, 1e-4, "softmax");
}

TEST_F(Kernels, AttentionMatchesReferenceForPrefillAndDecode) {
  std::mt19937_64 rng(6);
  ref::AttentionShape s{.tokens = 9, .heads = 9, .kv_heads = 3, .head_dim = 64, .position_offset = 0,
                        .capacity = 40, .scale = 0.125f};
  std::vector<std::uint16_t> k(s.capacity * s.kv_heads * s.head_dim);
  std::vector<std::uint16_t> v(k.size());
  for (auto& x : k) x = ref::to_bf16(std::normal_distribution<float>(0, 1)(rng));
  for (auto& x : v) x = ref::to_bf16(std::normal_distribution<float>(0, 1)(rng));
  const std::uint16_t* d_k = to_device(k);
  const std::uint16_t* d_v = to_device(v);
  for (const std::size_t offset : {std::size_t{0}, std::size_t{30}}) {  // prefill, then decode-like
    s.position_offset = offset;
    s.tokens = offset == 0 ? 9 : 1;
    const std::vector<float> q = random_floats(rng, s.tokens * s.heads * s.head_dim);
    float* d_out = device_array<float>(q.size());
    ASSERT_TRUE(attention(s, to_device(q), d_k, d_v, d_out, stream()).ok());
    std::vector<float> out(q.size());
    ASSERT_TRUE(ref::attention(s, q, k, v, out).ok());
    expect_close(to_host(d_out, q.size()), out, 1e-4, 1e-4, "attention");
  }
}

// The device fusion against core, bit for bit, over random shapes and the edge shapes.
class Fusion : public test::DeviceTest {
 protected:
  void expect_matches_core(std::uint64_t seed, std::size_t n, std::size_t vocabulary) {
    std::mt19937_64 rng(seed);
    const test::FusionInputs in = test::random_inputs(rng, n, vocabulary);
    const auto rows = in.rows();
    const std::uint32_t* d_weights = to_device(in.weights);
    const std::uint32_t* d_distributions = to_device(in.distributions);
    std::uint32_t* d_out = device_array<std::uint32_t>(vocabulary);
    std::int32_t* d_scratch = device_array<std::int32_t>(vocabulary);
    std::uint32_t* d_status = device_array<std::uint32_t>(1);

    std::vector<std::uint32_t> want(vocabulary);
    ASSERT_TRUE(core::fusion::fuse_mean(in.weights, rows, want).ok());
    ASSERT_TRUE(fuse_mean(d_weights, d_distributions, n, vocabulary, d_out, d_status, stream()).ok());
    EXPECT_EQ(to_host(d_status, 1)[0], 0u);
    ASSERT_EQ(to_host(d_out, vocabulary), want) << "fuse_mean seed " << seed << " n " << n << " V " << vocabulary;

    std::vector<std::int32_t> scratch(vocabulary);
    ASSERT_TRUE(core::fusion::fuse_sctt(in.weights, rows, want, scratch).ok());
    ASSERT_TRUE(fuse_sctt(d_weights, d_distributions, n, vocabulary, d_out, d_scratch, d_status, stream()).ok());
    EXPECT_EQ(to_host(d_status, 1)[0], 0u);
    ASSERT_EQ(to_host(d_out, vocabulary), want) << "fuse_sctt seed " << seed << " n " << n << " V " << vocabulary;
    arena_->reset();
  }
};

TEST_F(Fusion, MeanAndScttEqualCoreBitForBit) {
  std::mt19937_64 pick(77);
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    expect_matches_core(seed, 1 + pick() % 64, 1 + pick() % 5000);
  }
  expect_matches_core(1000, 64, 1);
  expect_matches_core(1001, 4, 49152);
  expect_matches_core(1002, 7, 1u << 20);  // the vocabulary limit
}

TEST_F(Fusion, ReportsInvalidInputsAndRefusesBadShapes) {
  std::mt19937_64 rng(3);
  test::FusionInputs in = test::random_inputs(rng, 3, 100);
  in.weights[1] += 1;
  std::uint32_t* d_status = device_array<std::uint32_t>(1);
  std::uint32_t* d_out = device_array<std::uint32_t>(100);
  ASSERT_TRUE(fuse_mean(to_device(in.weights), to_device(in.distributions), 3, 100, d_out, d_status, stream()).ok());
  EXPECT_EQ(to_host(d_status, 1)[0], fusion_math::status_weights_not_unit);
  EXPECT_FALSE(fuse_mean(nullptr, nullptr, 65, 100, d_out, d_status, stream()).ok());
  EXPECT_FALSE(fuse_mean(nullptr, nullptr, 3, vocabulary_max + 1, d_out, d_status, stream()).ok());
}

}  // namespace
}  // namespace bf::gpu
