// cuBLASLt linear layers against the CPU reference, and the per-shape plan cache. Skips when no
// CUDA device is visible.
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "device_fixture.hpp"
#include "gpu/cublaslt.hpp"
#include "gpu/reference.hpp"

namespace bf::gpu {
namespace {

class Matmul : public test::DeviceTest {
 protected:
  static constexpr std::size_t workspace_bytes = std::size_t{32} << 20;

  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    void* workspace = device_array<std::byte>(workspace_bytes);
    auto b = BlasLt::create(workspace, workspace_bytes);
    ASSERT_TRUE(b.ok()) << b.error().message;
    blas_.emplace(std::move(b.value()));
  }

  // Random inputs of the given 16-bit type; `values` receives what they are exactly, as floats.
  std::vector<std::uint16_t> random_16(std::mt19937_64& rng, std::size_t count, DataType type,
                                       std::vector<float>& values) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<std::uint16_t> bits(count);
    values.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      const float v = normal(rng);
      if (type == DataType::bf16) {
        bits[i] = ref::to_bf16(v);
        values[i] = ref::from_bf16(bits[i]);
      } else {
        const __half h = __float2half_rn(v);
        bits[i] = __half_as_ushort(h);
        values[i] = __half2float(h);
      }
    }
    return bits;
  }

  void expect_linear_matches(std::size_t m, std::size_t n, std::size_t k, DataType input) {
    std::mt19937_64 rng(m * 1000003 + n * 101 + k);
    std::vector<float> x;
    std::vector<float> w;
    const auto x_bits = random_16(rng, m * k, input, x);
    const auto w_bits = random_16(rng, n * k, input, w);
    float* d_y = device_array<float>(m * n);
    const MatmulShape shape{.m = m, .n = n, .k = k, .input = input, .output = DataType::f32};
    const Status done = blas_->linear(shape, to_device(x_bits), to_device(w_bits), d_y, stream());
    ASSERT_TRUE(done.ok()) << done.error().message;
    std::vector<float> want(m * n);
    ASSERT_TRUE(ref::linear(x, w, m, n, k, want).ok());
    const std::vector<float> got = to_host(d_y, m * n);
    // Exact products, fp32 sums of k terms of size ~1: the error grows like sqrt(k) * 2^-24 * k.
    const double bound = 1e-5 * static_cast<double>(k);
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], bound) << "[m, n, k] " << m << " " << n << " " << k << " at " << i;
    }
  }

  std::optional<BlasLt> blas_;
};

TEST_F(Matmul, LinearMatchesReferenceForDecodeAndPrefillShapes) {
  expect_linear_matches(1, 576, 576, DataType::bf16);     // SmolLM2-135M q projection, one token
  expect_linear_matches(32, 1536, 576, DataType::bf16);   // MLP up, batch 32
  expect_linear_matches(17, 576, 1536, DataType::fp16);   // MLP down, odd token count
  EXPECT_EQ(blas_->cached_plans(), 3u);
}

TEST_F(Matmul, CachesOnePlanPerShapeAndRejectsBadShapes) {
  expect_linear_matches(4, 64, 64, DataType::bf16);
  expect_linear_matches(4, 64, 64, DataType::bf16);
  EXPECT_EQ(blas_->cached_plans(), 1u);
  const MatmulShape f32_in{.m = 1, .n = 1, .k = 1, .input = DataType::f32, .output = DataType::f32};
  EXPECT_FALSE(blas_->linear(f32_in, nullptr, nullptr, nullptr, stream()).ok());
  const MatmulShape too_big{.m = matmul_dim_max + 1, .n = 1, .k = 1};
  const Status refused = blas_->linear(too_big, nullptr, nullptr, nullptr, stream());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("[m, n, k]"), std::string::npos) << refused.error().message;
  EXPECT_EQ(blas_->cached_plans(), 1u);
}

}  // namespace
}  // namespace bf::gpu
