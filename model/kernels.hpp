// Dot-product kernels for weight rows in their file type against one activation row.
// Quantized weights (Q4_0, Q4_1, Q8_0) meet an activation row quantized once per matmul to Q8
// blocks, so the inner loop is an integer dot product per 32-element block, as in ggml. Each kernel
// has a portable scalar reference; AVX2 (+FMA, F16C) versions are chosen at run time, so the
// binary still runs on machines without them (the build has no -march=native).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "model/gguf.hpp"

namespace bf::model {

inline constexpr std::size_t q_block = 32;  // elements per quantization block (all supported types)

// An activation block: scale d, s = d * sum(qs) (lets Q4_1's offset and Q4_0's -8 fold into one
// multiply per block), and 32 signed 8-bit values in [-127, 127]. d and s are rounded to f16
// values, as ggml's block_q8_1 stores them, so the products match llama.cpp's.
struct BlockQ8 {
  float d;
  float s;
  std::int8_t qs[q_block];
};

// The instruction set a kernel table uses.
enum class Isa : std::uint8_t { scalar, avx2, avx512vnni };
std::string_view isa_name(Isa isa);
bool isa_available(Isa isa);  // whether this CPU runs it
Isa best_isa();               // the fastest available one

// One table per ISA. `blocks` counts 32-element blocks; `n` counts elements.
struct Kernels {
  // out[b] = Q8 quantization of x[32b .. 32b+31]; bit-identical across ISAs.
  void (*quantize_q8)(const float* x, BlockQ8* out, std::size_t blocks);
  float (*dot_q4_0)(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks);
  float (*dot_q4_1)(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks);
  float (*dot_q8_0)(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks);
  // y[t * y_stride] = dot(w, a + t * blocks) for t < n: one weight row against n activation rows,
  // unpacking each weight block once for up to 4 rows (the prefill path).
  void (*gemv_q4_0)(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, std::size_t n, float* y,
                    std::size_t y_stride);
  void (*gemv_q4_1)(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, std::size_t n, float* y,
                    std::size_t y_stride);
  void (*gemv_q8_0)(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, std::size_t n, float* y,
                    std::size_t y_stride);
  float (*dot_f32)(const std::uint8_t* w, const float* x, std::size_t n);
  float (*dot_f16)(const std::uint8_t* w, const float* x, std::size_t n);
  float (*dot_bf16)(const std::uint8_t* w, const float* x, std::size_t n);
  // y[i] += a * x[i] (attention's weighted sum of values)
  void (*axpy_f32)(float a, const float* x, float* y, std::size_t n);
  // y[i] += a * x[i] with x in f16 (attention over an f16 value cache)
  void (*axpy_f16)(float a, const std::uint16_t* x, float* y, std::size_t n);
  // y[r] = dot(w + r * row_bytes, a) for r < rows: many weight rows against one activation row
  // (decode), four rows at a time sharing each activation block.
  void (*matvec_q4_0)(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows, const BlockQ8* a,
                      std::size_t blocks, float* y);
  void (*matvec_q4_1)(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows, const BlockQ8* a,
                      std::size_t blocks, float* y);
  void (*matvec_q8_0)(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows, const BlockQ8* a,
                      std::size_t blocks, float* y);
  // y[t * y_stride + r] = dot(w + r * row_bytes, a + t * blocks) for r < rows, t < n: many weight rows
  // against n activation rows (prefill). Bit for bit what matvec gives for each token alone (every
  // (row, token) pair performs matvec's float operations in matvec's order), so prefill and decode
  // agree as llama.cpp's do; tiles of several rows x 4 tokens unpack each weight block once per tile.
  void (*matmul_q4_0)(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows, const BlockQ8* a,
                      std::size_t blocks, std::size_t n, float* y, std::size_t y_stride);
  void (*matmul_q4_1)(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows, const BlockQ8* a,
                      std::size_t blocks, std::size_t n, float* y, std::size_t y_stride);
  void (*matmul_q8_0)(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows, const BlockQ8* a,
                      std::size_t blocks, std::size_t n, float* y, std::size_t y_stride);
  // The following reproduce llama.cpp's CPU backend (ggml built for AVX-512, as scripts/parity-setup
  // builds it) bit for bit, so greedy decoding follows llama.cpp's path instead of drifting from it
  // through last-bit differences that flip later Q8 and f16 roundings. All ISAs give identical bits.
  // gate[i] = silu(gate[i]) * up[i] with exp_ggml (ggml_vec_swiglu_f32).
  void (*swiglu)(float* gate, const float* up, std::size_t n);
  // x[i] = exp_ggml(x[i] - max); returns their sum as ggml_vec_soft_max_f32 forms it: each 16-element
  // chunk reduced in float (reduce16), the chunks added in double.
  double (*softmax_exp)(float* x, std::size_t n, float max);
  // dot(k, q) for an f16 key row and a query already rounded to f16 values (every product exact), in
  // the order llama.cpp sums it: gemm = true as llamafile's tinyBLAS<16> for a batch of several
  // tokens (needs n % 16 == 0), else as ggml_vec_dot_f16 (4 x 16 lanes over n & ~63, rest in double).
  float (*dot_f16_ggml)(const std::uint16_t* k, const float* q, std::size_t n, bool gemm);
};
const Kernels& kernels_for(Isa isa);  // precondition: isa_available(isa)
const Kernels& kernels();             // kernels_for(best_isa()), chosen once

// ggml_v_expf's AVX-512 variant (a polynomial exp within 1.5 ulp; not libm's expf), one value.
float exp_ggml(float x);
// _mm512_reduce_add_ps's order: l[i] + l[i + 8], then + 4 apart, then (0 + 2) + (1 + 3).
float reduce16(const float* l);

float f16_to_f32(std::uint16_t h);
float bf16_to_f32(std::uint16_t h);
std::uint16_t f32_to_f16(float f);  // round to nearest even; for tests and synthetic weights

// True when a weight of this type is multiplied against Q8 activations.
bool uses_q8_activations(GgmlType type);

// Converts one row of `cols` elements stored as `type` to float (embedding lookup, tests).
void dequantize_row(GgmlType type, const std::uint8_t* row, std::size_t cols, float* out);

}  // namespace bf::model
