// Hand-written kernels (gpu/kernels.hpp). Flat and short: each is a few lines of arithmetic and a
// block reduction. Their meanings and tolerances are in gpu/reference.cpp and tests/unit/gpu/.
#include <cuda_bf16.h>

#include <cstdint>
#include <string>

#include "gpu/check.hpp"
#include "gpu/fusion_math.hpp"
#include "gpu/kernels.hpp"

namespace bf::gpu {
namespace {

namespace fm = fusion_math;

constexpr unsigned warp_size = 32;
constexpr unsigned row_threads = 256;     // rmsnorm, softmax, argmax: one block per row
constexpr unsigned attention_threads = 128;
constexpr unsigned fusion_threads = 1024;
constexpr unsigned elementwise_threads = 256;

// ---------------------------------------------------------------------------------------------
// Block reductions: a warp shuffle tree, then one warp over the warps' results. Every thread
// gets the result. `shared` has a slot per warp (<= 32).

template <typename T, typename Op>
__device__ T warp_reduce(T value, Op op) {
  for (unsigned offset = warp_size / 2; offset > 0; offset /= 2) {
    value = op(value, __shfl_xor_sync(0xffffffffu, value, offset));
  }
  return value;
}

template <typename T, typename Op>
__device__ T block_reduce(T value, Op op, T identity, T* shared) {
  const unsigned lane = threadIdx.x % warp_size;
  const unsigned warp = threadIdx.x / warp_size;
  const unsigned warps = (blockDim.x + warp_size - 1) / warp_size;
  value = warp_reduce(value, op);
  __syncthreads();  // `shared` may still be read by a previous reduction
  if (lane == 0) shared[warp] = value;
  __syncthreads();
  value = lane < warps ? shared[lane] : identity;
  return warp_reduce(value, op);
}

struct Sum {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct Max {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};

// ---------------------------------------------------------------------------------------------
// RMSNorm with the residual add.

__device__ inline void store(float* out, std::size_t i, float v) { out[i] = v; }
__device__ inline void store(std::uint16_t* out, std::size_t i, float v) {
  out[i] = __bfloat16_as_ushort(__float2bfloat16_rn(v));
}

template <typename Out>
__global__ void rmsnorm_residual_kernel(float* hidden, const float* delta, const float* weight, float eps,
                                        unsigned dim, Out* out) {
  __shared__ float shared[warp_size];
  const std::size_t base = static_cast<std::size_t>(blockIdx.x) * dim;
  float squares = 0;
  for (unsigned j = threadIdx.x; j < dim; j += blockDim.x) {
    const float h = hidden[base + j] + delta[base + j];
    hidden[base + j] = h;
    squares += h * h;
  }
  squares = block_reduce(squares, Sum{}, 0.0f, shared);
  const float inverse_rms = rsqrtf(squares / static_cast<float>(dim) + eps);
  for (unsigned j = threadIdx.x; j < dim; j += blockDim.x) {
    store(out, base + j, hidden[base + j] * inverse_rms * weight[j]);
  }
}

// ---------------------------------------------------------------------------------------------
// RoPE: one thread per (token, head, pair). The angle in double, as the reference: positions reach
// thousands and a float angle would lose ~1e-4 radians there.

__global__ void rope_kernel(float* x, unsigned tokens, unsigned heads, unsigned head_dim, unsigned position_offset,
                            double log2_theta) {
  const unsigned pairs = head_dim / 2;
  const std::size_t index = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= static_cast<std::size_t>(tokens) * heads * pairs) return;
  const auto i = static_cast<unsigned>(index % pairs);
  const auto token = static_cast<unsigned>(index / (static_cast<std::size_t>(pairs) * heads));
  const double frequency = exp2(-2.0 * i / head_dim * log2_theta);
  double s = 0;
  double c = 0;
  sincos(static_cast<double>(position_offset + token) * frequency, &s, &c);
  float* pair = x + index * 2;
  const double a = pair[0];
  const double b = pair[1];
  pair[0] = static_cast<float>(a * c - b * s);
  pair[1] = static_cast<float>(a * s + b * c);
}

// ---------------------------------------------------------------------------------------------
// Elementwise.

__global__ void swiglu_kernel(const float* gate, const float* up, float* out, std::size_t count) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const float g = gate[i];
  out[i] = g / (1.0f + expf(-g)) * up[i];
}

__global__ void to_bf16_kernel(const float* in, std::uint16_t* out, std::size_t count) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  out[i] = __bfloat16_as_ushort(__float2bfloat16_rn(in[i]));
}

// ---------------------------------------------------------------------------------------------
// Logits.

__global__ void softmax_kernel(const float* logits, unsigned vocabulary, float inverse_temperature, float* probs) {
  __shared__ float shared[warp_size];
  const std::size_t base = static_cast<std::size_t>(blockIdx.x) * vocabulary;
  float top = -INFINITY;
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) top = fmaxf(top, logits[base + t]);
  top = block_reduce(top, Max{}, -INFINITY, shared);
  float total = 0;
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) {
    total += expf((logits[base + t] - top) * inverse_temperature);
  }
  total = block_reduce(total, Sum{}, 0.0f, shared);
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) {
    probs[base + t] = expf((logits[base + t] - top) * inverse_temperature) / total;
  }
}

struct Candidate {
  float value;
  unsigned index;
};

// Associative: a number beats NaN, then the larger value, then the lower index.
__device__ inline Candidate better(Candidate a, Candidate b) {
  const bool a_nan = isnan(a.value);
  const bool b_nan = isnan(b.value);
  if (a_nan != b_nan) return a_nan ? b : a;
  if (!a_nan && a.value != b.value) return a.value > b.value ? a : b;
  return a.index < b.index ? a : b;
}

__global__ void argmax_kernel(const float* logits, unsigned vocabulary, std::uint32_t* tokens) {
  __shared__ float shared_value[warp_size];
  __shared__ unsigned shared_index[warp_size];
  const std::size_t base = static_cast<std::size_t>(blockIdx.x) * vocabulary;
  Candidate best{NAN, 0xffffffffu};
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) best = better(best, Candidate{logits[base + t], t});
  for (unsigned offset = warp_size / 2; offset > 0; offset /= 2) {
    const Candidate other{__shfl_xor_sync(0xffffffffu, best.value, offset),
                          __shfl_xor_sync(0xffffffffu, best.index, offset)};
    best = better(best, other);
  }
  const unsigned lane = threadIdx.x % warp_size;
  const unsigned warp = threadIdx.x / warp_size;
  if (lane == 0) {
    shared_value[warp] = best.value;
    shared_index[warp] = best.index;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const unsigned warps = (blockDim.x + warp_size - 1) / warp_size;
    Candidate result{shared_value[0], shared_index[0]};
    for (unsigned w = 1; w < warps; ++w) result = better(result, Candidate{shared_value[w], shared_index[w]});
    tokens[blockIdx.x] = result.index == 0xffffffffu ? 0 : result.index;  // all NaN: 0, as the reference
  }
}

// ---------------------------------------------------------------------------------------------
// KV cache and the fallback attention.

__global__ void kv_append_kernel(std::uint16_t* cache, std::size_t offset, const float* rows, std::size_t count) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  cache[offset + i] = __bfloat16_as_ushort(__float2bfloat16_rn(rows[i]));
}

__device__ inline float bf16_at(const std::uint16_t* p, std::size_t i) {
  return __bfloat162float(__ushort_as_bfloat16(p[i]));
}

// One block per (query token, head); scores for every key in dynamic shared memory.
__global__ void attention_kernel(const float* q, const std::uint16_t* k_cache, const std::uint16_t* v_cache,
                                 float* out, unsigned heads, unsigned kv_heads, unsigned head_dim,
                                 unsigned position_offset, float scale) {
  extern __shared__ float scores[];
  __shared__ float query[head_dim_max];
  __shared__ float shared[warp_size];
  const unsigned token = blockIdx.x / heads;
  const unsigned head = blockIdx.x % heads;
  const unsigned kv = head / (heads / kv_heads);
  const unsigned keys = position_offset + token + 1;
  const std::size_t q_base = static_cast<std::size_t>(blockIdx.x) * head_dim;
  for (unsigned d = threadIdx.x; d < head_dim; d += blockDim.x) query[d] = q[q_base + d];
  __syncthreads();

  float top = -INFINITY;
  for (unsigned p = threadIdx.x; p < keys; p += blockDim.x) {
    const std::size_t k_base = (static_cast<std::size_t>(p) * kv_heads + kv) * head_dim;
    float dot = 0;
    for (unsigned d = 0; d < head_dim; ++d) dot += query[d] * bf16_at(k_cache, k_base + d);
    scores[p] = dot * scale;
    top = fmaxf(top, scores[p]);
  }
  top = block_reduce(top, Max{}, -INFINITY, shared);
  float total = 0;
  for (unsigned p = threadIdx.x; p < keys; p += blockDim.x) {
    scores[p] = expf(scores[p] - top);
    total += scores[p];
  }
  total = block_reduce(total, Sum{}, 0.0f, shared);  // its __syncthreads also publishes scores
  for (unsigned d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float sum = 0;
    for (unsigned p = 0; p < keys; ++p) {
      sum += scores[p] * bf16_at(v_cache, (static_cast<std::size_t>(p) * kv_heads + kv) * head_dim + d);
    }
    out[q_base + d] = sum / total;
  }
}

// ---------------------------------------------------------------------------------------------
// Fusion: one block of fusion_threads; the per-entry arithmetic is gpu/fusion_math.hpp's.

// The reductions over the Heaviest pair use two shuffles per step, so they have their own tree.
__device__ fm::Heaviest block_heaviest(fm::Heaviest value, fm::Heaviest* shared) {
  for (unsigned offset = warp_size / 2; offset > 0; offset /= 2) {
    const fm::Heaviest other{__shfl_xor_sync(0xffffffffu, value.value, offset),
                             __shfl_xor_sync(0xffffffffu, value.index, offset)};
    value = fm::heavier(value, other);
  }
  const unsigned lane = threadIdx.x % warp_size;
  const unsigned warp = threadIdx.x / warp_size;
  __syncthreads();
  if (lane == 0) shared[warp] = value;
  __syncthreads();
  const unsigned warps = (blockDim.x + warp_size - 1) / warp_size;
  value = lane < warps ? shared[lane] : fm::Heaviest{0, 0xffffffffu};
  for (unsigned offset = warp_size / 2; offset > 0; offset /= 2) {
    const fm::Heaviest other{__shfl_xor_sync(0xffffffffu, value.value, offset),
                             __shfl_xor_sync(0xffffffffu, value.index, offset)};
    value = fm::heavier(value, other);
  }
  return value;
}

__device__ bool weights_are_unit(const std::uint32_t* weights, unsigned n) {
  std::uint64_t sum = 0;
  for (unsigned i = 0; i < n; ++i) sum += weights[i];
  return sum == (std::uint64_t{1} << fm::weight_shift);
}

// Sum of out and its deficit holder; thread 0 adds the deficit (or reports invalid inputs).
__device__ void place_deficit(std::uint32_t* out, unsigned vocabulary, std::uint32_t* status) {
  __shared__ unsigned long long shared_sum[warp_size];
  __shared__ fm::Heaviest shared_heaviest[warp_size];
  unsigned long long sum = 0;
  fm::Heaviest holder{0, 0xffffffffu};
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) {
    sum += out[t];
    holder = fm::heavier(holder, fm::Heaviest{out[t], t});
  }
  sum = block_reduce(sum, Sum{}, 0ull, shared_sum);
  holder = block_heaviest(holder, shared_heaviest);
  if (threadIdx.x == 0) {
    if (sum > fm::prob_unit || fm::prob_unit - sum >= vocabulary) {
      *status = fm::status_bad_deficit;
    } else {
      out[holder.index] += static_cast<std::uint32_t>(fm::prob_unit - sum);
      *status = 0;
    }
  }
}

__global__ void fuse_mean_kernel(const std::uint32_t* weights, const std::uint32_t* distributions, unsigned n,
                                 unsigned vocabulary, std::uint32_t* out, std::uint32_t* status) {
  if (!weights_are_unit(weights, n)) {
    if (threadIdx.x == 0) *status = fm::status_weights_not_unit;
    return;  // uniform across the block: every thread read the same weights
  }
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) {
    out[t] = fm::mean_entry(weights, distributions, n, vocabulary, t);
  }
  __syncthreads();
  place_deficit(out, vocabulary, status);
}

__global__ void fuse_sctt_kernel(const std::uint32_t* weights, const std::uint32_t* distributions, unsigned n,
                                 unsigned vocabulary, std::uint32_t* out, std::int32_t* level,
                                 std::uint32_t* status) {
  __shared__ int shared_int[warp_size];
  __shared__ unsigned long long shared_sum[warp_size];
  if (!weights_are_unit(weights, n)) {
    if (threadIdx.x == 0) *status = fm::status_weights_not_unit;
    return;
  }
  // Unanimous inputs come back unchanged (core's F4 shortcut), so the same test decides here.
  int differs = 0;
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) {
    for (unsigned i = 1; i < n; ++i) {
      differs |= distributions[static_cast<std::size_t>(i) * vocabulary + t] != distributions[t] ? 1 : 0;
    }
  }
  differs = block_reduce(differs, Max{}, 0, shared_int);
  if (differs == 0) {
    unsigned long long sum = 0;
    for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) {
      out[t] = distributions[t];
      sum += distributions[t];
    }
    sum = block_reduce(sum, Sum{}, 0ull, shared_sum);
    if (threadIdx.x == 0) *status = sum == fm::prob_unit ? 0u : fm::status_bad_deficit;
    return;
  }

  int level_max = fm::log2_min;
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) {
    level[t] = fm::sctt_level(weights, distributions, n, vocabulary, t);
    level_max = max(level_max, level[t]);
  }
  level_max = block_reduce(level_max, Max{}, fm::log2_min, shared_int);
  unsigned long long total = 0;
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) {
    out[t] = fm::exp2_q31(level[t] - level_max);
    total += out[t];
  }
  total = block_reduce(total, Sum{}, 0ull, shared_sum);
  for (unsigned t = threadIdx.x; t < vocabulary; t += blockDim.x) out[t] = fm::normalised_entry(out[t], total);
  __syncthreads();
  place_deficit(out, vocabulary, status);
}

// ---------------------------------------------------------------------------------------------
// Launch helpers.

unsigned blocks_for(std::size_t count, unsigned threads) {
  return static_cast<unsigned>((count + threads - 1) / threads);
}

Status launched(const char* kernel, const std::string& shape) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) return detail::cuda_error(status, kernel, __FILE__, __LINE__, shape);
  return Ok{};
}

Status check_elements(const char* kernel, std::size_t count) {
  if (count == 0 || count > elements_max) {
    return invalid(std::string(kernel) + ": " + std::to_string(count) + " elements; need 1.." +
                   std::to_string(elements_max));
  }
  return Ok{};
}

template <typename Out>
Status launch_rmsnorm(const char* kernel, float* hidden, const float* delta, const float* weight, float eps,
                      std::size_t rows, std::size_t dim, Out* out, cudaStream_t stream) {
  const std::string shape = "[rows, dim]=" + shape_string({rows, dim});
  if (rows == 0 || rows > rows_max || dim == 0 || dim > hidden_dim_max || !(eps > 0)) {
    return invalid(std::string(kernel) + ": " + shape + " with eps " + std::to_string(eps) +
                   "; need rows 1.." + std::to_string(rows_max) + ", dim 1.." + std::to_string(hidden_dim_max) +
                   " and eps > 0");
  }
  rmsnorm_residual_kernel<<<static_cast<unsigned>(rows), row_threads, 0, stream>>>(
      hidden, delta, weight, eps, static_cast<unsigned>(dim), out);
  return launched(kernel, shape);
}

}  // namespace

Status rmsnorm_residual(float* hidden, const float* delta, const float* weight, float eps, std::size_t rows,
                        std::size_t dim, float* out, cudaStream_t stream) {
  return launch_rmsnorm("rmsnorm_residual", hidden, delta, weight, eps, rows, dim, out, stream);
}

Status rmsnorm_residual_bf16(float* hidden, const float* delta, const float* weight, float eps, std::size_t rows,
                             std::size_t dim, std::uint16_t* out, cudaStream_t stream) {
  return launch_rmsnorm("rmsnorm_residual_bf16", hidden, delta, weight, eps, rows, dim, out, stream);
}

Status rope(float* x, std::size_t tokens, std::size_t heads, std::size_t head_dim, std::size_t position_offset,
            float theta_base, cudaStream_t stream) {
  const std::string shape = "[tokens, heads, head_dim]=" + shape_string({tokens, heads, head_dim}) +
                            " at position " + std::to_string(position_offset);
  if (tokens == 0 || tokens > rows_max || heads == 0 || heads > 1024 || head_dim == 0 || head_dim % 2 != 0 ||
      head_dim > head_dim_max || position_offset > UINT32_MAX / 2 || !(theta_base > 1.0f)) {
    return invalid("rope: " + shape + " with theta base " + std::to_string(theta_base) +
                   "; need an even head_dim <= " + std::to_string(head_dim_max) + ", heads <= 1024, theta base > 1");
  }
  const std::size_t threads = tokens * heads * (head_dim / 2);
  rope_kernel<<<blocks_for(threads, elementwise_threads), elementwise_threads, 0, stream>>>(
      x, static_cast<unsigned>(tokens), static_cast<unsigned>(heads), static_cast<unsigned>(head_dim),
      static_cast<unsigned>(position_offset), std::log2(static_cast<double>(theta_base)));
  return launched("rope", shape);
}

Status swiglu(const float* gate, const float* up, float* out, std::size_t count, cudaStream_t stream) {
  BF_GPU_TRY(check_elements("swiglu", count));
  swiglu_kernel<<<blocks_for(count, elementwise_threads), elementwise_threads, 0, stream>>>(gate, up, out, count);
  return launched("swiglu", "count=" + shape_string({count}));
}

Status to_bf16(const float* in, std::uint16_t* out, std::size_t count, cudaStream_t stream) {
  BF_GPU_TRY(check_elements("to_bf16", count));
  to_bf16_kernel<<<blocks_for(count, elementwise_threads), elementwise_threads, 0, stream>>>(in, out, count);
  return launched("to_bf16", "count=" + shape_string({count}));
}

Status kv_append(std::uint16_t* cache, std::size_t capacity, std::size_t kv_heads, std::size_t head_dim,
                 std::size_t position, const float* rows, std::size_t tokens, cudaStream_t stream) {
  const std::string shape = "cache [capacity, kv_heads, head_dim]=" + shape_string({capacity, kv_heads, head_dim}) +
                            ", " + std::to_string(tokens) + " tokens at position " + std::to_string(position);
  if (kv_heads == 0 || head_dim == 0 || head_dim > head_dim_max || tokens == 0 || position > capacity ||
      tokens > capacity - position) {
    return invalid("kv_append: " + shape + " overflows the cache or is empty; start a new sequence or allocate "
                                           "a longer cache");
  }
  const std::size_t row = kv_heads * head_dim;
  BF_GPU_TRY(check_elements("kv_append", tokens * row));
  kv_append_kernel<<<blocks_for(tokens * row, elementwise_threads), elementwise_threads, 0, stream>>>(
      cache, position * row, rows, tokens * row);
  return launched("kv_append", shape);
}

Status softmax(const float* logits, std::size_t rows, std::size_t vocabulary, float temperature, float* probs,
               cudaStream_t stream) {
  const std::string shape = "[rows, vocabulary]=" + shape_string({rows, vocabulary});
  if (rows == 0 || rows > rows_max || vocabulary == 0 || vocabulary > vocabulary_max || !(temperature > 0)) {
    return invalid("softmax: " + shape + " at temperature " + std::to_string(temperature) +
                   "; need rows and vocabulary within limits and temperature > 0");
  }
  softmax_kernel<<<static_cast<unsigned>(rows), row_threads, 0, stream>>>(logits, static_cast<unsigned>(vocabulary),
                                                                           1.0f / temperature, probs);
  return launched("softmax", shape);
}

Status argmax(const float* logits, std::size_t rows, std::size_t vocabulary, std::uint32_t* tokens,
              cudaStream_t stream) {
  const std::string shape = "[rows, vocabulary]=" + shape_string({rows, vocabulary});
  if (rows == 0 || rows > rows_max || vocabulary == 0 || vocabulary > vocabulary_max) {
    return invalid("argmax: " + shape + "; need rows 1.." + std::to_string(rows_max) + " and vocabulary 1.." +
                   std::to_string(vocabulary_max));
  }
  argmax_kernel<<<static_cast<unsigned>(rows), row_threads, 0, stream>>>(logits, static_cast<unsigned>(vocabulary),
                                                                          tokens);
  return launched("argmax", shape);
}

Status attention(const ref::AttentionShape& s, const float* q, const std::uint16_t* k_cache,
                 const std::uint16_t* v_cache, float* out, cudaStream_t stream) {
  const std::string shape = "q [tokens, heads, head_dim]=" + shape_string({s.tokens, s.heads, s.head_dim}) +
                            ", kv_heads " + std::to_string(s.kv_heads) + ", position offset " +
                            std::to_string(s.position_offset) + ", capacity " + std::to_string(s.capacity);
  const std::size_t keys = s.position_offset + s.tokens;
  if (s.tokens == 0 || s.heads == 0 || s.kv_heads == 0 || s.heads % s.kv_heads != 0 || s.head_dim == 0 ||
      s.head_dim > head_dim_max || keys > s.capacity || keys > attention_keys_max ||
      s.tokens * s.heads > rows_max) {
    return invalid("attention: " + shape + "; need heads a multiple of kv_heads, head_dim <= " +
                   std::to_string(head_dim_max) + " and position offset + tokens <= min(capacity, " +
                   std::to_string(attention_keys_max) + ")");
  }
  const std::size_t shared_bytes = keys * sizeof(float);
  attention_kernel<<<static_cast<unsigned>(s.tokens * s.heads), attention_threads, shared_bytes, stream>>>(
      q, k_cache, v_cache, out, static_cast<unsigned>(s.heads), static_cast<unsigned>(s.kv_heads),
      static_cast<unsigned>(s.head_dim), static_cast<unsigned>(s.position_offset), s.scale);
  return launched("attention", shape);
}

namespace {
Status check_fusion(const char* kernel, std::size_t n, std::size_t vocabulary) {
  if (n == 0 || n > fusion_workers_max || vocabulary == 0 || vocabulary > vocabulary_max) {
    return invalid(std::string(kernel) + ": " + std::to_string(n) + " distributions of " +
                   std::to_string(vocabulary) + " entries; need 1.." + std::to_string(fusion_workers_max) +
                   " distributions and a vocabulary of 1.." + std::to_string(vocabulary_max));
  }
  return Ok{};
}
}  // namespace

Status fuse_mean(const std::uint32_t* weights, const std::uint32_t* distributions, std::size_t n,
                 std::size_t vocabulary, std::uint32_t* out, std::uint32_t* status, cudaStream_t stream) {
  BF_GPU_TRY(check_fusion("fuse_mean", n, vocabulary));
  fuse_mean_kernel<<<1, fusion_threads, 0, stream>>>(weights, distributions, static_cast<unsigned>(n),
                                                     static_cast<unsigned>(vocabulary), out, status);
  return launched("fuse_mean", "[n, vocabulary]=" + shape_string({n, vocabulary}));
}

Status fuse_sctt(const std::uint32_t* weights, const std::uint32_t* distributions, std::size_t n,
                 std::size_t vocabulary, std::uint32_t* out, std::int32_t* scratch, std::uint32_t* status,
                 cudaStream_t stream) {
  BF_GPU_TRY(check_fusion("fuse_sctt", n, vocabulary));
  fuse_sctt_kernel<<<1, fusion_threads, 0, stream>>>(weights, distributions, static_cast<unsigned>(n),
                                                     static_cast<unsigned>(vocabulary), out, scratch, status);
  return launched("fuse_sctt", "[n, vocabulary]=" + shape_string({n, vocabulary}));
}

}  // namespace bf::gpu
