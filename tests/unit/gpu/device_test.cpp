// gpu/device.hpp and gpu/check.hpp: error messages (on every machine) and the arena (on a GPU).
#include <gtest/gtest.h>

#include "device_fixture.hpp"
#include "gpu/check.hpp"
#include "gpu/device.hpp"

namespace bf::gpu {
namespace {

Status failing_call() {
  BF_CUDA_CHECK(cudaErrorMemoryAllocation, "bytes=" + shape_string({1024, 8}));
  return Ok{};
}

TEST(GpuCheck, ErrorNamesTheCallWhereAndTheShape) {
  const Status s = failing_call();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::out_of_memory);
  const std::string& m = s.error().message;
  EXPECT_NE(m.find("cudaErrorMemoryAllocation failed at "), std::string::npos) << m;
  EXPECT_NE(m.find("device_test.cpp:"), std::string::npos) << m;
  EXPECT_NE(m.find("(cudaErrorMemoryAllocation)"), std::string::npos) << m;
  EXPECT_NE(m.find("; shape: bytes=[1024, 8]"), std::string::npos) << m;
}

TEST(GpuDevice, VersionsAreThoseBuiltWithAndReportsWhyNoDevice) {
  const Versions v = versions();
  EXPECT_EQ(v.cuda_runtime_built, CUDART_VERSION);
  EXPECT_GT(v.cudnn_built, 90000u);       // cuDNN 9 or later
  EXPECT_EQ(v.cudnn_loaded / 10000, v.cudnn_built / 10000);  // same major: the soname is versioned
  EXPECT_EQ(library_version_string(91900), "9.19.0");
  EXPECT_EQ(cuda_version_string(13000), "13.0");
  EXPECT_EQ(cuda_version_string(0), "none");
  auto found = devices();
  if (found) {
    EXPECT_FALSE(found->empty());
    EXPECT_GT(found->front().memory_bytes, 0u);
    EXPECT_GT(found->front().peak_bandwidth_gb_per_s, 0.0);
  } else {
    EXPECT_EQ(found.error().code, Errc::no_device);
    EXPECT_EQ(found.error().message.rfind("no CUDA device visible: ", 0), 0u) << found.error().message;
  }
}

using Arenas = test::DeviceTest;

TEST_F(Arenas, AlignsRefusesBeyondCapacityAndResets) {
  auto arena = Arena::create(4096);
  ASSERT_TRUE(arena.ok()) << arena.error().message;
  auto a = arena->allocate(10);
  auto b = arena->allocate(10, 1024);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(*a) % Arena::alignment_default, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(*b) % 1024, 0u);
  EXPECT_LE(arena->used_bytes(), 1024u + 1024u + 10u);
  auto too_big = arena->allocate(4096 - 1024);  // beyond what is left after b
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, Errc::out_of_memory);
  EXPECT_FALSE(arena->allocate(8, 3).ok());  // not a power of two
  EXPECT_FALSE(arena->allocate(0).ok());
  arena->reset();
  auto again = arena->allocate(4096);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);  // reset starts over at the base
  EXPECT_FALSE(Arena::create(0).ok());
}

}  // namespace
}  // namespace bf::gpu
