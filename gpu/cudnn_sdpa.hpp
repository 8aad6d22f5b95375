// Scaled dot-product attention through cuDNN's graph (backend) API, with an execution plan cached
// per shape. Two forms, both over bf16 tensors:
//   prefill  causal attention of s tokens to themselves (position offset 0; the KV cache rows
//            0..s-1 hold their keys and values)
//   decode   one query token per sequence against its KV cache, every sequence with its own length
//            (a device int32 array), so one plan serves every step: the plan is keyed by the cache
//            capacity, not the current length, and can be captured in a CUDA graph.
// Layouts (row-major, as gpu/kernels.hpp): q and out [batch, s_q, heads, head_dim]; each cache
// [batch, capacity, kv_heads, head_dim]. Zero the caches when allocating them: masked rows get
// probability 0, and 0 times a NaN left in unused memory would still be NaN.
//
// The graph is the decomposition cuDNN's fused-attention engines recognise: matmul(Q, K^T), scale,
// mask (gen_index + compare + binary_select), softmax (max, sub, exp, sum, div), matmul(P, V).
// Where no engine accepts it (older GPU, cuDNN without the pattern, an unsupported shape),
// Sdpa::prepare() says so and the caller uses gpu::attention() (gpu/kernels.hpp) instead.
// NOTE: compiled, never run in the session that wrote it (no GPU): see gpu/README.md.
#pragma once

#include <cudnn_graph.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "gpu/error.hpp"
#include "gpu/owned.hpp"

namespace bf::gpu {

enum class SdpaMode : std::uint8_t { prefill_causal, decode };

struct SdpaShape {
  SdpaMode mode = SdpaMode::prefill_causal;
  std::size_t batch = 1;
  std::size_t heads = 0;
  std::size_t kv_heads = 0;
  std::size_t head_dim = 0;
  std::size_t tokens = 0;    // s_q: prompt length (prefill) or 1 (decode)
  std::size_t capacity = 0;  // rows per sequence in the KV cache
  float scale = 0;           // usually 1 / sqrt(head_dim)

  auto key() const { return std::tuple(mode, batch, heads, kv_heads, head_dim, tokens, capacity, scale); }
  bool operator<(const SdpaShape& other) const { return key() < other.key(); }
};

inline constexpr std::size_t sdpa_plans_max = 64;

class Sdpa {
 public:
  // workspace: device memory for the plans' workspaces, owned by the caller.
  static Result<Sdpa> create(cudaStream_t stream, void* workspace, std::size_t workspace_bytes);
  Sdpa(Sdpa&&) noexcept;
  Sdpa& operator=(Sdpa&&) noexcept;
  Sdpa(const Sdpa&) = delete;
  Sdpa& operator=(const Sdpa&) = delete;
  ~Sdpa();

  // Builds shape's graph and finalizes it without a device or handle: every tensor and op
  // descriptor is accepted and the ops connect into one graph. Whether an engine runs it is only
  // known on a GPU (prepare).
  static Status check_graph(const SdpaShape& shape);
  // Builds (or finds) the plan for shape; Errc::cudnn when no engine supports it.
  Status prepare(const SdpaShape& shape);
  // prefill_causal: kv_lengths is ignored (nullptr). decode: kv_lengths[b] in 1..capacity is the
  // number of valid cache rows of sequence b (the new token's included), device int32.
  Status run(const SdpaShape& shape, const std::uint16_t* q, const std::uint16_t* k_cache,
             const std::uint16_t* v_cache, const std::int32_t* kv_lengths, std::uint16_t* out);
  [[nodiscard]] std::size_t cached_plans() const noexcept;

  struct Plan;  // descriptors, the finalized execution plan, tensor ids (cudnn_sdpa.cpp)

 private:
  Sdpa() = default;
  Result<Plan*> plan_for(const SdpaShape& shape);

  // plans_ before handle_, so that the (defaulted) move assignment drops the old plans' descriptors
  // before the handle they were made with; the destructor clears plans_ first for the same reason.
  std::map<SdpaShape, std::unique_ptr<Plan>> plans_;
  Owned<cudnnHandle_t, cudnnDestroy> handle_;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
};

}  // namespace bf::gpu
