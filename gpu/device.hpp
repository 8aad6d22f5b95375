// The device: what is visible, which library versions were built against and loaded, and the two
// resources every kernel launch needs: a stream (RAII) and device memory (one arena per model,
// allocated once at start-up; hot paths bump-allocate from it and never call cudaMalloc).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gpu/error.hpp"
#include "gpu/owned.hpp"

namespace bf::gpu {

// Versions as the libraries encode them (CUDA 13000 = 13.0; cuDNN 91900 = 9.19.0; cuBLASLt 130100).
// A *_loaded of 0 means the query failed (e.g. no driver installed).
struct Versions {
  int cuda_runtime_built = 0;
  int cuda_runtime_loaded = 0;
  int cuda_driver = 0;  // the newest CUDA the installed driver supports; 0 without a driver
  std::size_t cudnn_built = 0;
  std::size_t cudnn_loaded = 0;
  std::size_t cublaslt_built = 0;
  std::size_t cublaslt_loaded = 0;
};
Versions versions() noexcept;
// "13.0", "9.19.0": the human form of the encodings above (cuDNN and cuBLAS share one scheme).
std::string cuda_version_string(int version);
std::string library_version_string(std::size_t version);

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  std::size_t memory_bytes = 0;
  int multiprocessors = 0;
  int memory_clock_khz = 0;
  int memory_bus_bits = 0;
  std::size_t l2_bytes = 0;
  // Peak DRAM bandwidth from the memory clock and bus width (double data rate): the floor that
  // decode-step benchmarks compare against.
  double peak_bandwidth_gb_per_s = 0;
};

// Every visible device, or Errc::no_device with "no CUDA device visible: <reason>" when the
// runtime finds none (no driver, no device, CUDA_VISIBLE_DEVICES empty).
Result<std::vector<DeviceInfo>> devices();
// Ok when at least one device is visible; the error is the same as devices()'s.
Status require_device();

// A non-blocking CUDA stream, destroyed with its owner.
class Stream {
 public:
  static Result<Stream> create();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  [[nodiscard]] cudaStream_t get() const noexcept { return stream_.get(); }
  Status synchronize() const;

 private:
  explicit Stream(cudaStream_t stream) noexcept : stream_(stream) {}
  Owned<cudaStream_t, cudaStreamDestroy> stream_;
};

// One cudaMalloc; allocate() bumps an offset (aligned), reset() frees everything at once.
class Arena {
 public:
  static constexpr std::size_t alignment_default = 256;  // cuBLASLt and cuDNN want 16; 256 is a cache line pair
  static constexpr std::size_t capacity_max = std::size_t{1} << 40;  // 1 TiB: more is a bug, not a model

  static Result<Arena> create(std::size_t capacity_bytes);
  Arena(Arena&& other) noexcept;
  Arena& operator=(Arena&& other) noexcept;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  // bytes > 0; alignment a power of two. Errc::out_of_memory names the request and what is left.
  Result<void*> allocate(std::size_t bytes, std::size_t alignment = alignment_default);
  template <typename T>
  Result<T*> allocate_array(std::size_t count) {
    if (count == 0 || count > capacity_max / sizeof(T)) {
      return invalid("Arena::allocate_array: count " + std::to_string(count) + " of " +
                     std::to_string(sizeof(T)) + "-byte elements is 0 or beyond the arena limit");
    }
    auto p = allocate(count * sizeof(T), alignof(T) > alignment_default ? alignof(T) : alignment_default);
    if (!p) return p.error();
    return static_cast<T*>(*p);
  }
  void reset() noexcept { used_ = 0; }
  [[nodiscard]] std::size_t used_bytes() const noexcept { return used_; }
  [[nodiscard]] std::size_t capacity_bytes() const noexcept { return capacity_; }

 private:
  Arena(std::byte* base, std::size_t capacity) noexcept : base_(base), capacity_(capacity) {}
  std::byte* base_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t used_ = 0;
};

// Synchronous copies for set-up and tests (the decode path uses the async forms on its stream).
Status copy_to_device(void* device, const void* host, std::size_t bytes);
Status copy_to_host(void* host, const void* device, std::size_t bytes);
template <typename T>
Status upload(T* device, std::span<const T> host) {
  return copy_to_device(device, host.data(), host.size_bytes());
}
template <typename T>
Status download(std::span<T> host, const T* device) {
  return copy_to_host(host.data(), device, host.size_bytes());
}

}  // namespace bf::gpu
