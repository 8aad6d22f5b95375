// CUDA graph capture: a recorded sequence replays to the same result as running it directly, and
// reads its inputs from device memory at replay time. Skips when no CUDA device is visible.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "device_fixture.hpp"
#include "gpu/graph.hpp"
#include "gpu/kernels.hpp"
#include "gpu/reference.hpp"

namespace bf::gpu {
namespace {

using Graphs = test::DeviceTest;

TEST_F(Graphs, ReplayReadsCurrentInputsAndMatchesDirectLaunches) {
  const std::size_t count = 1000;
  std::vector<float> gate(count);
  std::vector<float> up(count);
  for (std::size_t i = 0; i < count; ++i) {
    gate[i] = static_cast<float>(i % 17) / 4.0f - 2.0f;
    up[i] = static_cast<float>(i % 5) - 2.0f;
  }
  float* d_gate = to_device(gate);
  const float* d_up = to_device(up);
  float* d_out = device_array<float>(count);
  std::uint32_t* d_token = device_array<std::uint32_t>(1);
  auto graph = CapturedGraph::capture(stream(), [&](cudaStream_t s) -> Status {
    BF_GPU_TRY(swiglu(d_gate, d_up, d_out, count, s));
    return argmax(d_out, 1, count, d_token, s);
  });
  ASSERT_TRUE(graph.ok()) << graph.error().message;
  EXPECT_EQ(graph->nodes(), 2u);

  for (int step = 0; step < 3; ++step) {
    // New inputs each step, as decode writes the next token's activations before replaying.
    for (float& g : gate) g += 0.5f;
    ASSERT_TRUE(upload(d_gate, std::span<const float>(gate)).ok());
    ASSERT_TRUE(graph->replay(stream()).ok());
    std::vector<float> want(count);
    ASSERT_TRUE(ref::swiglu(gate, up, want).ok());
    std::vector<std::uint32_t> token(1);
    ASSERT_TRUE(ref::argmax(to_host(d_out, count), count, token).ok());
    const std::vector<float> got = to_host(d_out, count);
    for (std::size_t i = 0; i < count; ++i) ASSERT_NEAR(got[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << i;
    EXPECT_EQ(to_host(d_token, 1)[0], token[0]) << "step " << step;
  }
}

TEST_F(Graphs, AFailingRecordEndsTheCaptureAndReportsIt) {
  auto graph = CapturedGraph::capture(stream(), [](cudaStream_t s) -> Status {
    return swiglu(nullptr, nullptr, nullptr, 0, s);  // refused: zero elements
  });
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.error().code, Errc::invalid_argument);
  // The stream is usable again.
  std::uint32_t* d_token = device_array<std::uint32_t>(1);
  float* d_one = to_device(std::vector<float>{1.0f});
  EXPECT_TRUE(argmax(d_one, 1, 1, d_token, stream()).ok());
  EXPECT_EQ(to_host(d_token, 1)[0], 0u);
}

}  // namespace
}  // namespace bf::gpu
