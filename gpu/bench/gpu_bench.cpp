// bf_gpu_bench: times each gpu/ building block at SmolLM2-135M shapes (hidden 576, 9 heads of 64,
// 3 KV heads, MLP 1536, vocabulary 49152) with CUDA events, and prints one line per case: what ran,
// the shape, the median of `repeats` timed launches in microseconds, and the bytes moved per
// microsecond where the kernel is bandwidth-bound. Fixed inputs (zeros): the timings do not depend
// on values. Exits 1 with the reason when no CUDA device is visible.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "gpu/cublaslt.hpp"
#include "gpu/cudnn_sdpa.hpp"
#include "gpu/device.hpp"
#include "gpu/kernels.hpp"

namespace {

using namespace bf::gpu;

constexpr int warmup = 5;
constexpr int repeats = 50;

// Median microseconds of repeats launches of work on stream; -1 if any launch failed.
double time_us(cudaStream_t stream, const std::function<Status()>& work, std::string& failure) {
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  (void)cudaEventCreate(&start);
  (void)cudaEventCreate(&stop);
  std::vector<float> ms;
  for (int i = 0; i < warmup + repeats; ++i) {
    (void)cudaEventRecord(start, stream);
    const Status s = work();
    (void)cudaEventRecord(stop, stream);
    (void)cudaEventSynchronize(stop);
    if (!s) {
      failure = s.error().message;
      break;
    }
    float elapsed = 0;
    (void)cudaEventElapsedTime(&elapsed, start, stop);
    if (i >= warmup) ms.push_back(elapsed);
  }
  (void)cudaEventDestroy(start);
  (void)cudaEventDestroy(stop);
  if (ms.empty()) return -1;
  std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
  return static_cast<double>(ms[ms.size() / 2]) * 1000.0;
}

void report(const char* name, const std::string& shape, double us, double bytes, const std::string& failure) {
  if (us < 0) {
    std::printf("%-28s %-36s FAILED: %s\n", name, shape.c_str(), failure.c_str());
    return;
  }
  if (bytes > 0) {
    std::printf("%-28s %-36s %10.2f us  %8.1f GB/s\n", name, shape.c_str(), us, bytes / us / 1e3);
  } else {
    std::printf("%-28s %-36s %10.2f us\n", name, shape.c_str(), us);
  }
}

}  // namespace

int main() {
  auto found = devices();
  if (!found) {
    std::fprintf(stderr, "bf_gpu_bench: %s\n", found.error().message.c_str());
    return 1;
  }
  const DeviceInfo& d = found->front();
  std::printf("device: %s (compute %d.%d, peak %.0f GB/s)\n", d.name.c_str(), d.compute_major, d.compute_minor,
              d.peak_bandwidth_gb_per_s);
  auto stream_result = Stream::create();
  auto arena_result = Arena::create(std::size_t{2} << 30);
  if (!stream_result || !arena_result) {
    std::fprintf(stderr, "bf_gpu_bench: %s\n",
                 (!stream_result ? stream_result.error() : arena_result.error()).message.c_str());
    return 1;
  }
  Stream stream = std::move(stream_result.value());
  Arena arena = std::move(arena_result.value());
  const cudaStream_t s = stream.get();
  const std::size_t hidden = 576, heads = 9, kv_heads = 3, head_dim = 64, mlp = 1536, vocabulary = 49152;

  // One zeroed pool to carve every input from: 256 MiB covers the largest case below.
  const std::size_t pool_bytes = std::size_t{256} << 20;
  auto pool = arena.allocate(pool_bytes);
  if (!pool) return 1;
  (void)cudaMemset(*pool, 0, pool_bytes);
  auto* f = static_cast<float*>(*pool);
  auto* h16 = static_cast<std::uint16_t*>(*pool);
  auto* u32 = static_cast<std::uint32_t*>(*pool);
  std::string failure;

  for (const std::size_t rows : {std::size_t{1}, std::size_t{32}, std::size_t{512}}) {
    const std::string shape = "rows " + std::to_string(rows) + " x " + std::to_string(hidden);
    const double us = time_us(s, [&] {
      return rmsnorm_residual_bf16(f, f + (1 << 20), f + (2 << 20), 1e-5f, rows, hidden, h16 + (8 << 20), s);
    }, failure);
    report("rmsnorm_residual_bf16", shape, us, static_cast<double>(rows * hidden) * 14, failure);
  }
  {
    const double us = time_us(s, [&] { return swiglu(f, f + (4 << 20), f + (8 << 20), 32 * mlp, s); }, failure);
    report("swiglu", "32 x " + std::to_string(mlp), us, 32.0 * mlp * 12, failure);
  }
  {
    const double us = time_us(s, [&] { return rope(f, 32, heads, head_dim, 1000, 10000.0f, s); }, failure);
    report("rope", "32 tokens x 9 heads x 64", us, 32.0 * heads * head_dim * 8, failure);
  }
  for (const std::size_t rows : {std::size_t{1}, std::size_t{32}}) {
    const std::string shape = std::to_string(rows) + " x " + std::to_string(vocabulary);
    double us = time_us(s, [&] { return softmax(f, rows, vocabulary, 1.0f, f + (8 << 20), s); }, failure);
    report("softmax", shape, us, static_cast<double>(rows * vocabulary) * 8, failure);
    us = time_us(s, [&] { return argmax(f, rows, vocabulary, u32 + (8 << 20), s); }, failure);
    report("argmax", shape, us, static_cast<double>(rows * vocabulary) * 4, failure);
  }
  {
    // Fusion of 4 workers' distributions: weights must sum to 2^24 or the kernel exits early.
    std::vector<std::uint32_t> weights = {1u << 22, 1u << 22, 1u << 22, 1u << 22};
    (void)cudaMemcpy(u32, weights.data(), 16, cudaMemcpyHostToDevice);
    std::vector<std::uint32_t> uniform(4 * vocabulary, (1u << 31) / vocabulary);
    (void)cudaMemcpy(u32 + 64, uniform.data(), uniform.size() * 4, cudaMemcpyHostToDevice);
    const std::string shape = "n 4 x " + std::to_string(vocabulary);
    double us = time_us(s, [&] { return fuse_mean(u32, u32 + 64, 4, vocabulary, u32 + (4 << 20), u32 + (6 << 20), s); },
                        failure);
    report("fuse_mean", shape, us, 5.0 * vocabulary * 4, failure);
    uniform[0] += 1;  // not unanimous, so SCTT takes its general path
    uniform[1] -= 1;
    (void)cudaMemcpy(u32 + 64, uniform.data(), uniform.size() * 4, cudaMemcpyHostToDevice);
    us = time_us(s, [&] {
      return fuse_sctt(u32, u32 + 64, 4, vocabulary, u32 + (4 << 20), reinterpret_cast<std::int32_t*>(u32 + (5 << 20)),
                       u32 + (6 << 20), s);
    }, failure);
    report("fuse_sctt", shape, us, 5.0 * vocabulary * 4, failure);
  }
  {
    auto workspace = arena.allocate(std::size_t{32} << 20);
    auto blas = workspace ? BlasLt::create(*workspace, std::size_t{32} << 20) : Result<BlasLt>(workspace.error());
    if (!blas) {
      report("cublaslt", "", -1, 0, blas.error().message);
    } else {
      for (const std::size_t m : {std::size_t{1}, std::size_t{32}, std::size_t{512}}) {
        const MatmulShape shape{.m = m, .n = mlp, .k = hidden, .input = DataType::bf16, .output = DataType::bf16};
        const double us = time_us(s, [&] { return blas->linear(shape, h16, h16 + (4 << 20), h16 + (8 << 20), s); },
                                  failure);
        report("cublaslt linear (MLP up)", "m " + std::to_string(m) + " n 1536 k 576", us,
               static_cast<double>(mlp * hidden + m * hidden + m * mlp) * 2, failure);
      }
    }
  }
  {
    const std::size_t capacity = 1024;
    auto workspace = arena.allocate(std::size_t{64} << 20);
    auto sdpa = workspace ? Sdpa::create(s, *workspace, std::size_t{64} << 20) : Result<Sdpa>(workspace.error());
    std::vector<std::int32_t> lengths(32, 512);
    (void)cudaMemcpy(u32 + (12 << 20), lengths.data(), lengths.size() * 4, cudaMemcpyHostToDevice);
    const auto* d_lengths = reinterpret_cast<const std::int32_t*>(u32 + (12 << 20));
    for (const std::size_t batch : {std::size_t{1}, std::size_t{32}}) {
      const SdpaShape decode{.mode = SdpaMode::decode, .batch = batch, .heads = heads, .kv_heads = kv_heads,
                             .head_dim = head_dim, .tokens = 1, .capacity = capacity, .scale = 0.125f};
      const std::string shape = "decode batch " + std::to_string(batch) + " cache 1024";
      if (!sdpa) {
        report("cudnn sdpa", shape, -1, 0, sdpa.error().message);
      } else {
        const double us = time_us(s, [&] {
          return sdpa->run(decode, h16, h16 + (4 << 20), h16 + (8 << 20), d_lengths, h16 + (16 << 20));
        }, failure);
        report("cudnn sdpa", shape, us, 0, failure);
      }
    }
    const SdpaShape prefill{.mode = SdpaMode::prefill_causal, .batch = 1, .heads = heads, .kv_heads = kv_heads,
                            .head_dim = head_dim, .tokens = 512, .capacity = 512, .scale = 0.125f};
    if (sdpa) {
      const double us = time_us(s, [&] { return sdpa->run(prefill, h16, h16 + (4 << 20), h16 + (8 << 20), nullptr,
                                                           h16 + (16 << 20)); }, failure);
      report("cudnn sdpa", "prefill 512 causal", us, 0, failure);
    }
    // The fallback kernel on one sequence, for comparison.
    const bf::gpu::ref::AttentionShape one{.tokens = 1, .heads = heads, .kv_heads = kv_heads, .head_dim = head_dim,
                                           .position_offset = 511, .capacity = capacity, .scale = 0.125f};
    double us = time_us(s, [&] { return attention(one, f, h16 + (4 << 20), h16 + (8 << 20), f + (8 << 20), s); },
                        failure);
    report("fallback attention", "decode batch 1 cache 512", us, 0, failure);
    const bf::gpu::ref::AttentionShape prompt{.tokens = 512, .heads = heads, .kv_heads = kv_heads,
                                              .head_dim = head_dim, .position_offset = 0, .capacity = capacity,
                                              .scale = 0.125f};
    us = time_us(s, [&] { return attention(prompt, f, h16 + (4 << 20), h16 + (8 << 20), f + (8 << 20), s); },
                 failure);
    report("fallback attention", "prefill 512 causal", us, 0, failure);
  }
  return 0;
}
