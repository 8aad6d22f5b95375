// A fixture for tests that need a CUDA device: skips with the runtime's reason when none is
// visible, otherwise gives a stream and an arena, and helpers to move vectors to and from it.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <span>
#include <vector>

#include "gpu/device.hpp"

namespace bf::gpu::test {

class DeviceTest : public ::testing::Test {
 protected:
  static constexpr std::size_t arena_bytes = std::size_t{512} << 20;

  void SetUp() override {
    const Status device = require_device();
    if (!device) GTEST_SKIP() << device.error().message;
    auto s = Stream::create();
    ASSERT_TRUE(s.ok()) << s.error().message;
    stream_.emplace(std::move(s.value()));
    auto a = Arena::create(arena_bytes);
    ASSERT_TRUE(a.ok()) << a.error().message;
    arena_.emplace(std::move(a.value()));
  }

  cudaStream_t stream() const { return stream_->get(); }

  template <typename T>
  T* to_device(const std::vector<T>& host) {
    auto p = arena_->allocate_array<T>(host.size());
    EXPECT_TRUE(p.ok()) << p.error().message;
    if (!p) return nullptr;
    const Status copied = upload(*p, std::span<const T>(host));
    EXPECT_TRUE(copied.ok()) << copied.error().message;
    return *p;
  }

  template <typename T>
  T* device_array(std::size_t count) {
    auto p = arena_->allocate_array<T>(count);
    EXPECT_TRUE(p.ok()) << p.error().message;
    return p ? *p : nullptr;
  }

  // Waits for the stream, then copies count elements back.
  template <typename T>
  std::vector<T> to_host(const T* device, std::size_t count) {
    std::vector<T> host(count);
    const Status synced = stream_->synchronize();
    EXPECT_TRUE(synced.ok()) << synced.error().message;
    const Status copied = download(std::span<T>(host), device);
    EXPECT_TRUE(copied.ok()) << copied.error().message;
    return host;
  }

  std::optional<Stream> stream_;
  std::optional<Arena> arena_;
};

}  // namespace bf::gpu::test
