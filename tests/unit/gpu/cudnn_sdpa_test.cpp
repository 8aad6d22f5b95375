// cuDNN attention (prefill, causal; decode against the KV cache with per-sequence lengths) against
// the CPU reference, with multi-head and grouped KV heads. Skips when no CUDA device is visible.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "device_fixture.hpp"
#include "gpu/cudnn_sdpa.hpp"
#include "gpu/reference.hpp"

namespace bf::gpu {
namespace {

// Runs everywhere cuDNN loads, device or not: every descriptor of the graph is accepted and the
// ops connect into one operation graph. Whether an engine executes it is the device tests' job.
TEST(CudnnSdpaGraph, FinalizesWithoutADevice) {
  const SdpaShape prefill{.mode = SdpaMode::prefill_causal, .batch = 2, .heads = 4, .kv_heads = 4,
                          .head_dim = 64, .tokens = 37, .capacity = 64, .scale = 0.125f};
  const Status mha = Sdpa::check_graph(prefill);
  EXPECT_TRUE(mha.ok()) << mha.error().message;
  SdpaShape grouped = prefill;
  grouped.heads = 9;
  grouped.kv_heads = 3;
  const Status gqa = Sdpa::check_graph(grouped);
  EXPECT_TRUE(gqa.ok()) << gqa.error().message;
  SdpaShape decode = grouped;
  decode.mode = SdpaMode::decode;
  decode.tokens = 1;
  decode.batch = 32;
  const Status step = Sdpa::check_graph(decode);
  EXPECT_TRUE(step.ok()) << step.error().message;
  decode.tokens = 2;
  EXPECT_FALSE(Sdpa::check_graph(decode).ok());
}

class CudnnSdpa : public test::DeviceTest {
 protected:
  static constexpr std::size_t workspace_bytes = std::size_t{64} << 20;

  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto s = Sdpa::create(stream(), device_array<std::byte>(workspace_bytes), workspace_bytes);
    ASSERT_TRUE(s.ok()) << s.error().message;
    sdpa_.emplace(std::move(s.value()));
  }

  static std::vector<std::uint16_t> random_bf16(std::mt19937_64& rng, std::size_t count) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<std::uint16_t> v(count);
    for (auto& x : v) x = ref::to_bf16(normal(rng));
    return v;
  }

  // Runs shape on random inputs; sequence b has lengths[b] valid cache rows (decode) or the
  // prompt's (prefill), and is compared with ref::attention.
  void expect_matches_reference(const SdpaShape& s, const std::vector<std::int32_t>& lengths) {
    std::mt19937_64 rng(s.heads * 7919 + s.kv_heads * 31 + s.tokens);
    const std::size_t q_row = s.heads * s.head_dim;
    const std::size_t kv_row = s.kv_heads * s.head_dim;
    const std::vector<std::uint16_t> q = random_bf16(rng, s.batch * s.tokens * q_row);
    std::vector<std::uint16_t> k = random_bf16(rng, s.batch * s.capacity * kv_row);
    std::vector<std::uint16_t> v = random_bf16(rng, s.batch * s.capacity * kv_row);
    std::uint16_t* d_out = device_array<std::uint16_t>(q.size());
    std::int32_t* d_lengths = s.mode == SdpaMode::decode ? to_device(lengths) : nullptr;
    const Status prepared = sdpa_->prepare(s);
    ASSERT_TRUE(prepared.ok()) << prepared.error().message;
    const Status done = sdpa_->run(s, to_device(q), to_device(k), to_device(v), d_lengths, d_out);
    ASSERT_TRUE(done.ok()) << done.error().message;
    const std::vector<std::uint16_t> out = to_host(d_out, q.size());

    for (std::size_t b = 0; b < s.batch; ++b) {
      const std::size_t keys = s.mode == SdpaMode::decode ? static_cast<std::size_t>(lengths[b]) : s.tokens;
      const ref::AttentionShape r{.tokens = s.tokens, .heads = s.heads, .kv_heads = s.kv_heads,
                                  .head_dim = s.head_dim, .position_offset = keys - s.tokens,
                                  .capacity = s.capacity, .scale = s.scale};
      std::vector<float> query(s.tokens * q_row);
      for (std::size_t i = 0; i < query.size(); ++i) query[i] = ref::from_bf16(q[b * s.tokens * q_row + i]);
      const std::size_t cache = s.capacity * kv_row;
      std::vector<float> want(query.size());
      ASSERT_TRUE(ref::attention(r, query, std::span(k).subspan(b * cache, cache),
                                 std::span(v).subspan(b * cache, cache), want)
                      .ok());
      for (std::size_t i = 0; i < want.size(); ++i) {
        const float got = ref::from_bf16(out[b * s.tokens * q_row + i]);
        ASSERT_NEAR(got, want[i], 2e-3 + std::fabs(want[i]) / 128) << "batch " << b << " element " << i;
      }
    }
  }

  std::optional<Sdpa> sdpa_;
};

TEST_F(CudnnSdpa, PrefillCausalMatchesReference) {
  const SdpaShape s{.mode = SdpaMode::prefill_causal, .batch = 2, .heads = 4, .kv_heads = 4, .head_dim = 64,
                    .tokens = 37, .capacity = 64, .scale = 0.125f};
  expect_matches_reference(s, {});
}

TEST_F(CudnnSdpa, PrefillWithGroupedKvHeads) {
  const SdpaShape s{.mode = SdpaMode::prefill_causal, .batch = 1, .heads = 9, .kv_heads = 3, .head_dim = 64,
                    .tokens = 20, .capacity = 32, .scale = 0.125f};
  expect_matches_reference(s, {});
}

TEST_F(CudnnSdpa, DecodeUsesEachSequencesLengthAndOnePlan) {
  const SdpaShape s{.mode = SdpaMode::decode, .batch = 3, .heads = 9, .kv_heads = 3, .head_dim = 64,
                    .tokens = 1, .capacity = 64, .scale = 0.125f};
  expect_matches_reference(s, {1, 17, 64});
  expect_matches_reference(s, {2, 18, 40});  // the next step: same plan, new lengths
  EXPECT_EQ(sdpa_->cached_plans(), 1u);
}

TEST_F(CudnnSdpa, RejectsShapesItCannotRun) {
  SdpaShape s{.mode = SdpaMode::decode, .batch = 1, .heads = 9, .kv_heads = 2, .head_dim = 64, .tokens = 1,
              .capacity = 8, .scale = 0.125f};
  EXPECT_FALSE(sdpa_->prepare(s).ok());  // 9 heads do not group over 2 KV heads
  s.kv_heads = 3;
  s.tokens = 2;
  EXPECT_FALSE(sdpa_->prepare(s).ok());  // decode is one token per sequence
  s.tokens = 1;
  EXPECT_FALSE(sdpa_->run(s, nullptr, nullptr, nullptr, nullptr, nullptr).ok());  // decode without lengths
}

}  // namespace
}  // namespace bf::gpu
