// CPU references of gpu/kernels.cu: plain C++, the meaning of each kernel written as directly as
// possible (double accumulation where the kernel accumulates in float). Always compiled, tested on
// the CPU everywhere, and compared against the kernels on a GPU (tests/unit/gpu/).
//
// Layouts (row-major, innermost last):
//   hidden, delta, out     [rows, dim]
//   q, k (RoPE)            [tokens, heads, head_dim]
//   KV cache (bf16 bits)   [capacity, kv_heads, head_dim]; token p of a sequence at row p
//   logits, probs          [rows, vocabulary]
//   distributions (fusion) [n, vocabulary], Q31 (core::fusion)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "gpu/error.hpp"

namespace bf::gpu::ref {

// bf16 as its 16 bits: round to nearest even from float (NaN stays NaN), and back exactly.
std::uint16_t to_bf16(float value) noexcept;
float from_bf16(std::uint16_t bits) noexcept;

// For each row: hidden += delta (the residual stream, updated in place), then
// out = hidden / sqrt(mean(hidden^2) + eps) * weight.
Status rmsnorm_residual(std::span<float> hidden, std::span<const float> delta, std::span<const float> weight,
                        float eps, std::span<float> out);

// Rotary embedding in place: the pair (x[2i], x[2i+1]) of token j is rotated by the angle
// (position_offset + j) * theta_base^(-2i / head_dim). head_dim is even.
Status rope(std::span<float> x, std::size_t tokens, std::size_t heads, std::size_t head_dim,
            std::size_t position_offset, float theta_base);

// out = silu(gate) * up = gate / (1 + exp(-gate)) * up.
Status swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out);

// Writes rows [position, position + tokens) of a bf16 cache from float rows [tokens, kv_heads,
// head_dim], rounded to nearest even. Fails if the cache would overflow its capacity.
Status kv_append(std::span<std::uint16_t> cache, std::size_t capacity, std::size_t kv_heads,
                 std::size_t head_dim, std::size_t position, std::span<const float> rows);

// Row-wise softmax(logits / temperature); temperature > 0.
Status softmax(std::span<const float> logits, std::size_t vocabulary, float temperature, std::span<float> probs);

// Row-wise greedy sampling: the index of the largest logit, the lowest index on ties; NaN never
// wins (a row of NaN gives 0).
Status argmax(std::span<const float> logits, std::size_t vocabulary, std::span<std::uint32_t> tokens);

// y[m, n] = x[m, k] . w[n, k]^T (a linear layer with PyTorch's weight layout), double accumulation.
Status linear(std::span<const float> x, std::span<const float> w, std::size_t m, std::size_t n, std::size_t k,
              std::span<float> y);

// Causal scaled dot-product attention with grouped KV heads: query token j (position
// position_offset + j) of head h attends to cache rows 0..position_offset + j of KV head
// h / (heads / kv_heads). q and out are [tokens, heads, head_dim] float; the caches bf16 bits as
// above, holding at least position_offset + tokens rows.
struct AttentionShape {
  std::size_t tokens = 0;
  std::size_t heads = 0;
  std::size_t kv_heads = 0;
  std::size_t head_dim = 0;
  std::size_t position_offset = 0;
  std::size_t capacity = 0;  // rows in each cache
  float scale = 0;           // usually 1 / sqrt(head_dim)
};
Status attention(const AttentionShape& shape, std::span<const float> q, std::span<const std::uint16_t> k_cache,
                 std::span<const std::uint16_t> v_cache, std::span<float> out);

// The device fusion path on the CPU: gpu/fusion_math.hpp's per-entry functions, then the same
// reductions and deficit placement as the kernels. Must equal core::fusion::fuse_mean/fuse_sctt
// bit for bit; returns the kernel's status bits (0 when the inputs were valid).
std::uint32_t fuse_mean_emulated(std::span<const std::uint32_t> weights, std::span<const std::uint32_t> distributions,
                                 std::span<std::uint32_t> out);
std::uint32_t fuse_sctt_emulated(std::span<const std::uint32_t> weights, std::span<const std::uint32_t> distributions,
                                 std::span<std::uint32_t> out);

}  // namespace bf::gpu::ref
