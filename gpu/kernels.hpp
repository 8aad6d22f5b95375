// Host launchers of the hand-written kernels (gpu/kernels.cu). Pointers are device memory; every
// launcher checks its shape against the limits below, launches on `stream` asynchronously and
// returns an error naming the kernel and shape if the launch fails. Each kernel's meaning is its
// CPU reference in gpu/reference.hpp (same layouts). bf16 tensors are passed as their 16 bits.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "gpu/error.hpp"
#include "gpu/reference.hpp"

namespace bf::gpu {

inline constexpr std::size_t hidden_dim_max = 1u << 16;    // rmsnorm row length
inline constexpr std::size_t head_dim_max = 256;
inline constexpr std::size_t attention_keys_max = 8192;    // fallback kernel: scores in shared memory
inline constexpr std::size_t vocabulary_max = 1u << 20;    // = core::limits::vocabulary_max
inline constexpr std::size_t fusion_workers_max = 64;      // = core::limits::workers_max
inline constexpr std::size_t rows_max = 1u << 20;          // tokens or sequences in one launch
inline constexpr std::size_t elements_max = std::size_t{1} << 32;  // elementwise kernels

Status rmsnorm_residual(float* hidden, const float* delta, const float* weight, float eps, std::size_t rows,
                        std::size_t dim, float* out, cudaStream_t stream);
// The same with the normalised output rounded to bf16 (the next matmul's input).
Status rmsnorm_residual_bf16(float* hidden, const float* delta, const float* weight, float eps, std::size_t rows,
                             std::size_t dim, std::uint16_t* out, cudaStream_t stream);

Status rope(float* x, std::size_t tokens, std::size_t heads, std::size_t head_dim, std::size_t position_offset,
            float theta_base, cudaStream_t stream);

Status swiglu(const float* gate, const float* up, float* out, std::size_t count, cudaStream_t stream);

// rows: [tokens, kv_heads, head_dim] float, written to cache rows [position, position + tokens).
Status kv_append(std::uint16_t* cache, std::size_t capacity, std::size_t kv_heads, std::size_t head_dim,
                 std::size_t position, const float* rows, std::size_t tokens, cudaStream_t stream);

Status softmax(const float* logits, std::size_t rows, std::size_t vocabulary, float temperature, float* probs,
               cudaStream_t stream);

Status argmax(const float* logits, std::size_t rows, std::size_t vocabulary, std::uint32_t* tokens,
              cudaStream_t stream);

Status to_bf16(const float* in, std::uint16_t* out, std::size_t count, cudaStream_t stream);

// Causal attention over the bf16 KV cache: the fallback where cuDNN's SDPA graph is unavailable
// (gpu/cudnn_sdpa.hpp). Keys per query are at most attention_keys_max.
Status attention(const ref::AttentionShape& shape, const float* q, const std::uint16_t* k_cache,
                 const std::uint16_t* v_cache, float* out, cudaStream_t stream);

// Fusion of n workers' Q31 distributions ([n, vocabulary] row-major) with weights summing to 2^24,
// bit for bit core::fusion::fuse_mean / fuse_sctt. *status (device) receives 0, or the
// fusion_math::status_* bits when the inputs were not valid (then out is not a distribution).
// One block: fusion is a few microseconds beside a forward pass, and one block keeps every
// reduction in one place. scratch (SCTT) holds vocabulary int32.
Status fuse_mean(const std::uint32_t* weights, const std::uint32_t* distributions, std::size_t n,
                 std::size_t vocabulary, std::uint32_t* out, std::uint32_t* status, cudaStream_t stream);
Status fuse_sctt(const std::uint32_t* weights, const std::uint32_t* distributions, std::size_t n,
                 std::size_t vocabulary, std::uint32_t* out, std::int32_t* scratch, std::uint32_t* status,
                 cudaStream_t stream);

}  // namespace bf::gpu
