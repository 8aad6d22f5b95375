#include "model/kernels.hpp"

#include <cpuid.h>
#include <immintrin.h>

#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace bf::model {
namespace {

// ggml block layouts (bytes): Q4_0 = f16 d, 16 nibble bytes; Q4_1 = f16 d, f16 m, 16 nibble bytes;
// Q8_0 = f16 d, 32 int8. Byte j of a nibble block holds element j (low) and j + 16 (high).
constexpr std::size_t q4_0_bytes = 18;
constexpr std::size_t q4_1_bytes = 20;
constexpr std::size_t q8_0_bytes = 34;

std::uint16_t load_u16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
float load_f32(const std::uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// ggml keeps an activation block's d and s as f16 (block_q8_0, block_q8_1); rounding them the same
// way keeps our logits on llama.cpp's (tests/unit/model/kernels_test.cpp, docs/parity.md). A value
// beyond the f16 range keeps its f32 value instead of becoming infinite.
float round_scale(float v) { return std::fabs(v) <= 65504.0F ? f16_to_f32(f32_to_f16(v)) : v; }

// ---- scalar references ----

void quantize_q8_scalar(const float* x, BlockQ8* out, std::size_t blocks) {
  for (std::size_t b = 0; b < blocks; ++b) {
    const float* xb = x + b * q_block;
    float amax = 0.0F;
    for (std::size_t i = 0; i < q_block; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float d = amax / 127.0F;
    const float id = d != 0.0F ? 127.0F / amax : 0.0F;
    int sum = 0;
    for (std::size_t i = 0; i < q_block; ++i) {
      // nearbyint rounds half to even, as the AVX2 path's _mm256_round_ps does.
      const auto q = static_cast<std::int8_t>(std::nearbyint(xb[i] * id));
      out[b].qs[i] = q;
      sum += q;
    }
    out[b].d = round_scale(d);
    out[b].s = round_scale(d * static_cast<float>(sum));
  }
}

int nibble_dot(const std::uint8_t* qs, const std::int8_t* a) {
  int sum = 0;
  for (std::size_t j = 0; j < 16; ++j) {
    sum += (qs[j] & 0x0F) * a[j];
    sum += (qs[j] >> 4) * a[j + 16];
  }
  return sum;
}

float dot_q4_0_scalar(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {
  float acc = 0.0F;
  for (std::size_t b = 0; b < blocks; ++b, w += q4_0_bytes) {
    const float d = f16_to_f32(load_u16(w));
    // sum((q - 8) * a) = sum(q * a) - 8 * sum(a)
    acc += d * a[b].d * static_cast<float>(nibble_dot(w + 2, a[b].qs)) - 8.0F * d * a[b].s;
  }
  return acc;
}

float dot_q4_1_scalar(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {
  float acc = 0.0F;
  for (std::size_t b = 0; b < blocks; ++b, w += q4_1_bytes) {
    const float d = f16_to_f32(load_u16(w));
    const float m = f16_to_f32(load_u16(w + 2));
    acc += d * a[b].d * static_cast<float>(nibble_dot(w + 4, a[b].qs)) + m * a[b].s;
  }
  return acc;
}

float dot_q8_0_scalar(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {
  float acc = 0.0F;
  for (std::size_t b = 0; b < blocks; ++b, w += q8_0_bytes) {
    const float d = f16_to_f32(load_u16(w));
    int sum = 0;
    for (std::size_t j = 0; j < q_block; ++j) sum += static_cast<std::int8_t>(w[2 + j]) * a[b].qs[j];
    acc += d * a[b].d * static_cast<float>(sum);
  }
  return acc;
}

void axpy_f32_scalar(float a, const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_scalar(float a, const std::uint16_t* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += a * f16_to_f32(x[i]);
}

template <float (*Dot)(const std::uint8_t*, const BlockQ8*, std::size_t)>
void gemv_scalar(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, std::size_t n, float* y,
                 std::size_t y_stride) {
  for (std::size_t t = 0; t < n; ++t) y[t * y_stride] = Dot(w, a + t * blocks, blocks);
}

template <float (*Dot)(const std::uint8_t*, const BlockQ8*, std::size_t)>
void matvec_scalar(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows, const BlockQ8* a,
                   std::size_t blocks, float* y) {
  for (std::size_t r = 0; r < rows; ++r) y[r] = Dot(w + r * row_bytes, a, blocks);
}

template <float (*Dot)(const std::uint8_t*, const BlockQ8*, std::size_t)>
void matmul_scalar(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows, const BlockQ8* a,
                   std::size_t blocks, std::size_t n, float* y, std::size_t y_stride) {
  for (std::size_t t = 0; t < n; ++t) {
    matvec_scalar<Dot>(w, row_bytes, rows, a + t * blocks, blocks, y + t * y_stride);
  }
}

float dot_f32_scalar(const std::uint8_t* w, const float* x, std::size_t n) {
  float acc = 0.0F;
  for (std::size_t i = 0; i < n; ++i) acc += load_f32(w + 4 * i) * x[i];
  return acc;
}

float dot_f16_scalar(const std::uint8_t* w, const float* x, std::size_t n) {
  float acc = 0.0F;
  for (std::size_t i = 0; i < n; ++i) acc += f16_to_f32(load_u16(w + 2 * i)) * x[i];
  return acc;
}

float dot_bf16_scalar(const std::uint8_t* w, const float* x, std::size_t n) {
  float acc = 0.0F;
  for (std::size_t i = 0; i < n; ++i) acc += bf16_to_f32(load_u16(w + 2 * i)) * x[i];
  return acc;
}

// ---- ggml-exact pieces (see kernels.hpp) ----

// ggml_v_expf (AVX-512): exp(x) = 2^n * (1 + poly(b)), b = x - n ln2 in two parts; scalef for 2^n.
float exp_ggml_scalar(float x) {
  const float r = 0x1.8p23F;
  const float z = std::fma(x, 0x1.715476p+0F, r);
  const float n = z - r;
  if (std::isnan(n)) return x + x;
  const float b = std::fma(-n, 0x1.7f7d1cp-20F, std::fma(-n, 0x1.62e4p-1F, x));
  if (std::fabs(n) > 192.0F) return n <= 0.0F ? 0.0F : INFINITY;
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7F, b, 0x1.573e2ep-5F), u,
                                    std::fma(0x1.555e66p-3F, b, 0x1.fffdb6p-2F)),
                           u, std::fma(0x1.ffffecp-1F, b, 1.0F));
  return std::ldexp(j, static_cast<int>(n));  // exact, or one rounding when subnormal, as scalef
}

float reduce16_impl(const float* l) {
  float t3[8];
  for (int i = 0; i < 8; ++i) t3[i] = l[i] + l[i + 8];
  float t6[4];
  for (int i = 0; i < 4; ++i) t6[i] = t3[i] + t3[i + 4];
  return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}

void swiglu_scalar(float* gate, const float* up, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0F + exp_ggml_scalar(0.0F - gate[i])) * up[i];
}

double softmax_exp_scalar(float* x, std::size_t n, float max) {
  double sum = 0.0;
  for (std::size_t c = 0; c < n; c += 16) {
    float lanes[16] = {};  // a short last chunk: llama.cpp's padded cells give exp(-inf) = 0
    for (std::size_t i = 0; i < 16 && c + i < n; ++i) lanes[i] = x[c + i] = exp_ggml_scalar(x[c + i] - max);
    sum += static_cast<double>(reduce16_impl(lanes));
  }
  return sum;
}

// Every product k * q is exact in float (two 11-bit significands), so only the grouping matters.
float dot_f16_ggml_scalar(const std::uint16_t* k, const float* q, std::size_t n, bool gemm) {
  if (gemm && n % 16 == 0) {
    float acc[16] = {};
    for (std::size_t c = 0; c < n; c += 16) {
      for (std::size_t l = 0; l < 16; ++l) acc[l] += f16_to_f32(k[c + l]) * q[c + l];
    }
    return reduce16_impl(acc);
  }
  const std::size_t np = n & ~static_cast<std::size_t>(63);
  float acc[4][16] = {};
  for (std::size_t c = 0; c < np; c += 64) {
    for (std::size_t j = 0; j < 4; ++j) {
      for (std::size_t l = 0; l < 16; ++l) acc[j][l] += f16_to_f32(k[c + 16 * j + l]) * q[c + 16 * j + l];
    }
  }
  float x[16];
  for (std::size_t l = 0; l < 16; ++l) x[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  double sum = static_cast<double>(reduce16_impl(x));
  for (std::size_t i = np; i < n; ++i) sum += static_cast<double>(f16_to_f32(k[i]) * q[i]);
  return static_cast<float>(sum);
}

// ---- AVX2 + FMA + F16C ----
#define BF_AVX2 __attribute__((target("avx2,fma,f16c")))

BF_AVX2 float hsum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// round_scale with F16C (round to nearest even, as f32_to_f16).
BF_AVX2 float round_scale_avx2(float v) {
  return std::fabs(v) <= 65504.0F ? _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)) : v;
}

BF_AVX2 void quantize_q8_avx2(const float* x, BlockQ8* out, std::size_t blocks) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0F);
  for (std::size_t b = 0; b < blocks; ++b) {
    const float* xb = x + b * q_block;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(xb + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[i]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float a = _mm_cvtss_f32(m);
    const float d = a / 127.0F;
    const float id = d != 0.0F ? 127.0F / a : 0.0F;
    const __m256 idv = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) {
      const __m256 r = _mm256_round_ps(_mm256_mul_ps(v[i], idv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      q[i] = _mm256_cvtps_epi32(r);
    }
    // int32 -> int8 with packs, then undo the lane interleaving packs introduces.
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    __m256i p = _mm256_packs_epi16(p01, p23);
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs), p);
    const __m256i s32 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    s = _mm_hadd_epi32(s, s);
    s = _mm_hadd_epi32(s, s);
    out[b].d = round_scale_avx2(d);
    out[b].s = round_scale_avx2(d * static_cast<float>(_mm_cvtsi128_si32(s)));
  }
}

// 16 nibble bytes -> 32 unsigned bytes in element order (low nibbles, then high nibbles).
BF_AVX2 __m256i unpack_nibbles(const std::uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 8 int32 partial sums of unsigned(u) * signed(s) over 32 bytes.
BF_AVX2 __m256i dot_u8_i8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

BF_AVX2 float dot_q4_0_avx2(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0F;
  for (std::size_t b = 0; b < blocks; ++b, w += q4_0_bytes) {
    const float d = _cvtsh_ss(load_u16(w));
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256 p = _mm256_cvtepi32_ps(dot_u8_i8(unpack_nibbles(w + 2), av));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d * a[b].d), p, acc);
    offset += 8.0F * d * a[b].s;
  }
  return hsum(acc) - offset;
}

BF_AVX2 float dot_q4_1_avx2(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0F;
  for (std::size_t b = 0; b < blocks; ++b, w += q4_1_bytes) {
    const float d = _cvtsh_ss(load_u16(w));
    const float m = _cvtsh_ss(load_u16(w + 2));
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256 p = _mm256_cvtepi32_ps(dot_u8_i8(unpack_nibbles(w + 4), av));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d * a[b].d), p, acc);
    offset += m * a[b].s;
  }
  return hsum(acc) + offset;
}

BF_AVX2 float dot_q8_0_avx2(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {
  __m256 acc = _mm256_setzero_ps();
  for (std::size_t b = 0; b < blocks; ++b, w += q8_0_bytes) {
    const float d = _cvtsh_ss(load_u16(w));
    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2));
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    // signed x signed via |w| x (a * sign(w)); a never holds -128, so no overflow.
    const __m256 p = _mm256_cvtepi32_ps(dot_u8_i8(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d * a[b].d), p, acc);
  }
  return hsum(acc);
}

// One weight row against T activation rows: each weight block is loaded and unpacked once.
// DOT is the u8 x i8 -> 8 x i32 product (maddubs + madd on AVX2, vpdpbusd with VNNI).
#define BF_DEFINE_GEMV(SUFFIX, ATTR, DOT)                                                              \
  template <int T>                                                                                   \
  ATTR void tile_q4_##SUFFIX(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, bool has_min, \
                             float* y, std::size_t y_stride) {                                       \
    __m256 acc[T];                                                                                   \
    float offset[T];                                                                                 \
    for (int t = 0; t < T; ++t) {                                                                    \
      acc[t] = _mm256_setzero_ps();                                                                  \
      offset[t] = 0.0F;                                                                              \
    }                                                                                                \
    const std::size_t stride = has_min ? q4_1_bytes : q4_0_bytes;                                   \
    for (std::size_t b = 0; b < blocks; ++b, w += stride) {                                         \
      const float d = _cvtsh_ss(load_u16(w));                                                        \
      /* Q4_1: value = d q + m; Q4_0: value = d q - 8 d, so the offset is m = -8 d. */              \
      const float m = has_min ? _cvtsh_ss(load_u16(w + 2)) : -8.0F * d;                              \
      const __m256i wq = unpack_nibbles(w + (has_min ? 4 : 2));                                      \
      for (int t = 0; t < T; ++t) {                                                                  \
        const BlockQ8& ab = a[static_cast<std::size_t>(t) * blocks + b];                             \
        const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.qs));             \
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab.d), _mm256_cvtepi32_ps(DOT(wq, av)), acc[t]); \
        offset[t] += m * ab.s;                                                                       \
      }                                                                                              \
    }                                                                                                \
    for (int t = 0; t < T; ++t) y[static_cast<std::size_t>(t) * y_stride] = hsum(acc[t]) + offset[t]; \
  }                                                                                                  \
  template <int T>                                                                                   \
  ATTR void tile_q8_##SUFFIX(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, float* y,   \
                             std::size_t y_stride) {                                                 \
    __m256 acc[T];                                                                                   \
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();                                        \
    for (std::size_t b = 0; b < blocks; ++b, w += q8_0_bytes) {                                     \
      const float d = _cvtsh_ss(load_u16(w));                                                        \
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2));               \
      const __m256i wabs = _mm256_sign_epi8(wv, wv);                                                 \
      for (int t = 0; t < T; ++t) {                                                                  \
        const BlockQ8& ab = a[static_cast<std::size_t>(t) * blocks + b];                             \
        const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.qs));             \
        const __m256i p = DOT(wabs, _mm256_sign_epi8(av, wv));                                       \
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab.d), _mm256_cvtepi32_ps(p), acc[t]);         \
      }                                                                                              \
    }                                                                                                \
    for (int t = 0; t < T; ++t) y[static_cast<std::size_t>(t) * y_stride] = hsum(acc[t]);           \
  }                                                                                                  \
  /* One activation row (decode): two accumulators over alternate blocks break the fma latency  \
     chain, which otherwise bounds a row at 4 cycles per block. */                                 \
  ATTR float row_q4_##SUFFIX(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, bool has_min) { \
    __m256 acc0 = _mm256_setzero_ps();                                                               \
    __m256 acc1 = _mm256_setzero_ps();                                                               \
    float off0 = 0.0F;                                                                               \
    float off1 = 0.0F;                                                                               \
    const std::size_t stride = has_min ? q4_1_bytes : q4_0_bytes;                                   \
    const std::size_t qs_at = has_min ? 4 : 2;                                                       \
    std::size_t b = 0;                                                                               \
    for (; b + 2 <= blocks; b += 2, w += 2 * stride) {                                              \
      const float d0 = _cvtsh_ss(load_u16(w));                                                       \
      const float d1 = _cvtsh_ss(load_u16(w + stride));                                              \
      const float m0 = has_min ? _cvtsh_ss(load_u16(w + 2)) : -8.0F * d0;                            \
      const float m1 = has_min ? _cvtsh_ss(load_u16(w + stride + 2)) : -8.0F * d1;                   \
      const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));             \
      const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b + 1].qs));         \
      const __m256i p0 = DOT(unpack_nibbles(w + qs_at), a0);                                         \
      const __m256i p1 = DOT(unpack_nibbles(w + stride + qs_at), a1);                                \
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0 * a[b].d), _mm256_cvtepi32_ps(p0), acc0);           \
      acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d1 * a[b + 1].d), _mm256_cvtepi32_ps(p1), acc1);       \
      off0 += m0 * a[b].s;                                                                           \
      off1 += m1 * a[b + 1].s;                                                                       \
    }                                                                                                \
    float tail = 0.0F;                                                                               \
    if (b < blocks) tile_q4_##SUFFIX<1>(w, a + b, 1, has_min, &tail, 1);                             \
    return hsum(_mm256_add_ps(acc0, acc1)) + (off0 + off1) + tail;                                   \
  }                                                                                                  \
  ATTR float row_q8_##SUFFIX(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {         \
    __m256 acc0 = _mm256_setzero_ps();                                                               \
    __m256 acc1 = _mm256_setzero_ps();                                                               \
    std::size_t b = 0;                                                                               \
    for (; b + 2 <= blocks; b += 2, w += 2 * q8_0_bytes) {                                          \
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2));               \
      const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + q8_0_bytes + 2));  \
      const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));             \
      const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b + 1].qs));         \
      const __m256i p0 = DOT(_mm256_sign_epi8(w0, w0), _mm256_sign_epi8(a0, w0));                   \
      const __m256i p1 = DOT(_mm256_sign_epi8(w1, w1), _mm256_sign_epi8(a1, w1));                   \
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(load_u16(w)) * a[b].d), _mm256_cvtepi32_ps(p0), acc0); \
      acc1 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(load_u16(w + q8_0_bytes)) * a[b + 1].d),     \
                             _mm256_cvtepi32_ps(p1), acc1);                                          \
    }                                                                                                \
    float tail = 0.0F;                                                                               \
    if (b < blocks) tile_q8_##SUFFIX<1>(w, a + b, 1, &tail, 1);                                      \
    return hsum(_mm256_add_ps(acc0, acc1)) + tail;                                                   \
  }                                                                                                  \
  ATTR void gemv_q4_0_##SUFFIX(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, std::size_t n, \
                               float* y, std::size_t ys) {                                           \
    std::size_t t = 0;                                                                               \
    for (; t + 4 <= n; t += 4) tile_q4_##SUFFIX<4>(w, a + t * blocks, blocks, false, y + t * ys, ys); \
    for (; t < n; ++t) y[t * ys] = row_q4_##SUFFIX(w, a + t * blocks, blocks, false);               \
  }                                                                                                  \
  ATTR void gemv_q4_1_##SUFFIX(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, std::size_t n, \
                               float* y, std::size_t ys) {                                           \
    std::size_t t = 0;                                                                               \
    for (; t + 4 <= n; t += 4) tile_q4_##SUFFIX<4>(w, a + t * blocks, blocks, true, y + t * ys, ys); \
    for (; t < n; ++t) y[t * ys] = row_q4_##SUFFIX(w, a + t * blocks, blocks, true);                \
  }                                                                                                  \
  ATTR void gemv_q8_0_##SUFFIX(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks, std::size_t n, \
                               float* y, std::size_t ys) {                                           \
    std::size_t t = 0;                                                                               \
    for (; t + 4 <= n; t += 4) tile_q8_##SUFFIX<4>(w, a + t * blocks, blocks, y + t * ys, ys);      \
    for (; t < n; ++t) y[t * ys] = row_q8_##SUFFIX(w, a + t * blocks, blocks);                      \
  }

BF_DEFINE_GEMV(avx2, BF_AVX2, dot_u8_i8)

// Many weight rows against one activation row (a decode step's matvec): R rows at a time share each
// activation block's load and scales, and give R independent accumulation chains. A Q4 block's d and
// m are adjacent f16s, converted together; the offset sum(m * s) accumulates in lane 1 of a vector.
#define BF_DEFINE_MATVEC(SUFFIX, ATTR, DOT)                                                           \
  template <int R>                                                                                   \
  ATTR void rows_q4_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, const BlockQ8* a,        \
                             std::size_t blocks, bool has_min, float* y) {                           \
    __m256 acc[R];                                                                                   \
    __m128 off[R];                                                                                   \
    for (int r = 0; r < R; ++r) {                                                                    \
      acc[r] = _mm256_setzero_ps();                                                                  \
      off[r] = _mm_setzero_ps();                                                                     \
    }                                                                                                \
    const std::size_t stride = has_min ? q4_1_bytes : q4_0_bytes;                                   \
    const std::size_t qs_at = has_min ? 4 : 2;                                                       \
    for (std::size_t b = 0; b < blocks; ++b) {                                                       \
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));             \
      const __m256 ad = _mm256_set1_ps(a[b].d);                                                      \
      const __m128 as = _mm_set1_ps(a[b].s);                                                         \
      for (int r = 0; r < R; ++r) {                                                                  \
        const std::uint8_t* blk = w + static_cast<std::size_t>(r) * row_bytes + b * stride;         \
        std::uint32_t dm_bits;                                                                       \
        std::memcpy(&dm_bits, blk, 4);                                                               \
        /* Q4_0 has no m: its offset -8 d is folded in below instead. */                           \
        const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dm_bits)));               \
        const __m256 scale = _mm256_mul_ps(_mm256_broadcastss_ps(dm), ad);                           \
        const __m256i p = DOT(unpack_nibbles(blk + qs_at), av);                                      \
        acc[r] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc[r]);                              \
        off[r] = _mm_fmadd_ps(dm, as, off[r]);                                                       \
      }                                                                                              \
    }                                                                                                \
    for (int r = 0; r < R; ++r) {                                                                    \
      /* lane 1 of off: sum(m * s); lane 0: sum(d * s), which Q4_0's -8 d offset needs */           \
      const float o = has_min ? _mm_cvtss_f32(_mm_movehdup_ps(off[r])) : -8.0F * _mm_cvtss_f32(off[r]); \
      y[r] = hsum(acc[r]) + o;                                                                       \
    }                                                                                                \
  }                                                                                                  \
  template <int R>                                                                                   \
  ATTR void rows_q8_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, const BlockQ8* a,        \
                             std::size_t blocks, float* y) {                                         \
    __m256 acc[R];                                                                                   \
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();                                        \
    for (std::size_t b = 0; b < blocks; ++b) {                                                       \
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));             \
      const __m256 ad = _mm256_set1_ps(a[b].d);                                                      \
      for (int r = 0; r < R; ++r) {                                                                  \
        const std::uint8_t* blk = w + static_cast<std::size_t>(r) * row_bytes + b * q8_0_bytes;     \
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));           \
        const __m256i p = DOT(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv));                   \
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(load_u16(blk)));                                   \
        acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(d, ad), _mm256_cvtepi32_ps(p), acc[r]);              \
      }                                                                                              \
    }                                                                                                \
    for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);                                                 \
  }                                                                                                  \
  ATTR void matvec_q4_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows,      \
                               const BlockQ8* a, std::size_t blocks, bool has_min, float* y) {       \
    std::size_t r = 0;                                                                               \
    for (; r + 4 <= rows; r += 4) rows_q4_##SUFFIX<4>(w + r * row_bytes, row_bytes, a, blocks, has_min, y + r); \
    for (; r < rows; ++r) rows_q4_##SUFFIX<1>(w + r * row_bytes, row_bytes, a, blocks, has_min, y + r); \
  }                                                                                                  \
  ATTR void matvec_q4_0_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows,    \
                                 const BlockQ8* a, std::size_t blocks, float* y) {                   \
    matvec_q4_##SUFFIX(w, row_bytes, rows, a, blocks, false, y);                                     \
  }                                                                                                  \
  ATTR void matvec_q4_1_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows,    \
                                 const BlockQ8* a, std::size_t blocks, float* y) {                   \
    matvec_q4_##SUFFIX(w, row_bytes, rows, a, blocks, true, y);                                      \
  }                                                                                                  \
  ATTR void matvec_q8_0_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows,    \
                                 const BlockQ8* a, std::size_t blocks, float* y) {                   \
    std::size_t r = 0;                                                                               \
    for (; r + 4 <= rows; r += 4) rows_q8_##SUFFIX<4>(w + r * row_bytes, row_bytes, a, blocks, y + r); \
    for (; r < rows; ++r) rows_q8_##SUFFIX<1>(w + r * row_bytes, row_bytes, a, blocks, y + r);      \
  }

BF_DEFINE_MATVEC(avx2, BF_AVX2, dot_u8_i8)

// Many weight rows against several activation rows (prefill): see tile_rows_q4 below.
#define BF_DEFINE_MATMUL(SUFFIX, ATTR, DOT, TILE_ROWS)                                                            \
  /* Several rows x several tokens (the prefill matmul): every (row, token) pair performs exactly                 \
     rows_q4's float operations in its order (same fma per block, same offset fma, same hsum), so                 \
     the result equals matvec's bit for bit; a weight block is unpacked once per tile, not once per               \
     token. off[r] holds the offset sums of up to 4 tokens in its lanes: lane t is the fma(m, s_t,                \
     off) that rows_q4 forms in lane 1 (lane 0 with Q4_0's d), exactly rounded per lane alike. */                 \
  template <int R, int T>                                                                                         \
  ATTR void tile_rows_q4_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, const BlockQ8* a,                 \
                                  std::size_t blocks, bool has_min, float* y, std::size_t y_stride) {             \
    static_assert(T >= 1 && T <= 4, "offsets of at most 4 tokens share one __m128");                              \
    __m256 acc[R][T];                                                                                             \
    __m128 off[R];                                                                                                \
    for (int r = 0; r < R; ++r) {                                                                                 \
      off[r] = _mm_setzero_ps();                                                                                  \
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();                                                \
    }                                                                                                             \
    const std::size_t stride = has_min ? q4_1_bytes : q4_0_bytes;                                                 \
    const std::size_t qs_at = has_min ? 4 : 2;                                                                    \
    for (std::size_t b = 0; b < blocks; ++b) {                                                                    \
      __m256i av[T];                                                                                              \
      __m256 ad[T];                                                                                               \
      alignas(16) float s[4] = {};                                                                                \
      for (int t = 0; t < T; ++t) {                                                                               \
        const BlockQ8& ab = a[static_cast<std::size_t>(t) * blocks + b];                                          \
        av[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.qs));                                      \
        ad[t] = _mm256_set1_ps(ab.d);                                                                             \
        s[t] = ab.s;                                                                                              \
      }                                                                                                           \
      const __m128 sv = _mm_load_ps(s);                                                                           \
      for (int r = 0; r < R; ++r) {                                                                               \
        const std::uint8_t* blk = w + static_cast<std::size_t>(r) * row_bytes + b * stride;                       \
        std::uint32_t dm_bits;                                                                                    \
        std::memcpy(&dm_bits, blk, 4);                                                                            \
        const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dm_bits)));                             \
        const __m256 d = _mm256_broadcastss_ps(dm);                                                               \
        const __m128 m = has_min ? _mm_permute_ps(dm, 0x55) : _mm_permute_ps(dm, 0x00);                           \
        const __m256i wq = unpack_nibbles(blk + qs_at);                                                           \
        for (int t = 0; t < T; ++t) {                                                                             \
          const __m256i p = DOT(wq, av[t]);                                                                       \
          acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(d, ad[t]), _mm256_cvtepi32_ps(p), acc[r][t]);                 \
        }                                                                                                         \
        off[r] = _mm_fmadd_ps(m, sv, off[r]);                                                                     \
      }                                                                                                           \
    }                                                                                                             \
    for (int r = 0; r < R; ++r) {                                                                                 \
      alignas(16) float o[4];                                                                                     \
      _mm_store_ps(o, off[r]);                                                                                    \
      for (int t = 0; t < T; ++t) {                                                                               \
        const float ot = has_min ? o[t] : -8.0F * o[t];                                                           \
        const std::size_t at = static_cast<std::size_t>(t) * y_stride + static_cast<std::size_t>(r);              \
        y[at] = hsum(acc[r][t]) + ot;                                                                             \
      }                                                                                                           \
    }                                                                                                             \
  }                                                                                                               \
  /* rows_q8's operations per (row, token) pair, in tiles as tile_rows_q4. */                                     \
  template <int R, int T>                                                                                         \
  ATTR void tile_rows_q8_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, const BlockQ8* a,                 \
                                  std::size_t blocks, float* y, std::size_t y_stride) {                           \
    __m256 acc[R][T];                                                                                             \
    for (int r = 0; r < R; ++r) {                                                                                 \
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();                                                \
    }                                                                                                             \
    for (std::size_t b = 0; b < blocks; ++b) {                                                                    \
      __m256i av[T];                                                                                              \
      __m256 ad[T];                                                                                               \
      for (int t = 0; t < T; ++t) {                                                                               \
        const BlockQ8& ab = a[static_cast<std::size_t>(t) * blocks + b];                                          \
        av[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.qs));                                      \
        ad[t] = _mm256_set1_ps(ab.d);                                                                             \
      }                                                                                                           \
      for (int r = 0; r < R; ++r) {                                                                               \
        const std::uint8_t* blk = w + static_cast<std::size_t>(r) * row_bytes + b * q8_0_bytes;                   \
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));                         \
        const __m256i wabs = _mm256_sign_epi8(wv, wv);                                                            \
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(load_u16(blk)));                                                \
        for (int t = 0; t < T; ++t) {                                                                             \
          const __m256i p = DOT(wabs, _mm256_sign_epi8(av[t], wv));                                               \
          acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(d, ad[t]), _mm256_cvtepi32_ps(p), acc[r][t]);                 \
        }                                                                                                         \
      }                                                                                                           \
    }                                                                                                             \
    for (int r = 0; r < R; ++r) {                                                                                 \
      for (int t = 0; t < T; ++t) {                                                                               \
        y[static_cast<std::size_t>(t) * y_stride + static_cast<std::size_t>(r)] = hsum(acc[r][t]);                \
      }                                                                                                           \
    }                                                                                                             \
  }                                                                                                               \
  /* Tiles of RT rows x 4 tokens, then the remainders (fewer rows, single tokens): the remainder                  \
     shapes perform the same per-pair operations, so the tiling never changes a result. */                        \
  template <int RT>                                                                                               \
  ATTR void matmul_q4_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows,                    \
                               const BlockQ8* a, std::size_t blocks, std::size_t n, bool has_min, float* y,       \
                               std::size_t ys) {                                                                  \
    for (std::size_t t = 0; t < n; t += 4) {                                                                      \
      const BlockQ8* at = a + t * blocks;                                                                         \
      float* yt = y + t * ys;                                                                                     \
      std::size_t r = 0;                                                                                          \
      if (t + 4 <= n) {                                                                                           \
        for (; r + RT <= rows; r += RT) {                                                                         \
          tile_rows_q4_##SUFFIX<RT, 4>(w + r * row_bytes, row_bytes, at, blocks, has_min, yt + r, ys);            \
        }                                                                                                         \
        for (; r < rows; ++r) {                                                                                   \
          tile_rows_q4_##SUFFIX<1, 4>(w + r * row_bytes, row_bytes, at, blocks, has_min, yt + r, ys);             \
        }                                                                                                         \
      } else {                                                                                                    \
        for (std::size_t u = t; u < n; ++u) {                                                                     \
          matvec_q4_##SUFFIX(w, row_bytes, rows, a + u * blocks, blocks, has_min, y + u * ys);                    \
        }                                                                                                         \
      }                                                                                                           \
    }                                                                                                             \
  }                                                                                                               \
  template <int RT>                                                                                               \
  ATTR void matmul_q8_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows,                    \
                               const BlockQ8* a, std::size_t blocks, std::size_t n, float* y, std::size_t ys) {   \
    for (std::size_t t = 0; t < n; t += 4) {                                                                      \
      const BlockQ8* at = a + t * blocks;                                                                         \
      float* yt = y + t * ys;                                                                                     \
      std::size_t r = 0;                                                                                          \
      if (t + 4 <= n) {                                                                                           \
        for (; r + RT <= rows; r += RT) {                                                                         \
          tile_rows_q8_##SUFFIX<RT, 4>(w + r * row_bytes, row_bytes, at, blocks, yt + r, ys);                     \
        }                                                                                                         \
        for (; r < rows; ++r) tile_rows_q8_##SUFFIX<1, 4>(w + r * row_bytes, row_bytes, at, blocks, yt + r, ys);  \
      } else {                                                                                                    \
        for (std::size_t u = t; u < n; ++u) {                                                                     \
          matvec_q8_0_##SUFFIX(w, row_bytes, rows, a + u * blocks, blocks, y + u * ys);                           \
        }                                                                                                         \
      }                                                                                                           \
    }                                                                                                             \
  }                                                                                                               \
  ATTR void matmul_q4_0_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows,                  \
                                 const BlockQ8* a, std::size_t blocks, std::size_t n, float* y, std::size_t ys) { \
    matmul_q4_##SUFFIX<TILE_ROWS>(w, row_bytes, rows, a, blocks, n, false, y, ys);                                \
  }                                                                                                               \
  ATTR void matmul_q4_1_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows,                  \
                                 const BlockQ8* a, std::size_t blocks, std::size_t n, float* y, std::size_t ys) { \
    matmul_q4_##SUFFIX<TILE_ROWS>(w, row_bytes, rows, a, blocks, n, true, y, ys);                                 \
  }                                                                                                               \
  ATTR void matmul_q8_0_##SUFFIX(const std::uint8_t* w, std::size_t row_bytes, std::size_t rows,                  \
                                 const BlockQ8* a, std::size_t blocks, std::size_t n, float* y, std::size_t ys) { \
    matmul_q8_##SUFFIX<TILE_ROWS>(w, row_bytes, rows, a, blocks, n, y, ys);                                       \
  }

// 4 rows x 4 tokens although AVX2 has only 16 vector registers: measured faster than 2 x 4 (prefill-128
// 390 vs 374 tok/s with BUTTERFLY_ISA=avx2), the spilled accumulators stay in L1.
BF_DEFINE_MATMUL(avx2, BF_AVX2, dot_u8_i8, 4)

#define BF_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))
BF_VNNI __m256i dot_u8_i8_vnni(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
BF_DEFINE_GEMV(vnni, BF_VNNI, dot_u8_i8_vnni)
BF_DEFINE_MATVEC(vnni, BF_VNNI, dot_u8_i8_vnni)
// AVX-512VL gives 32 vector registers: 4 rows x 4 tokens keep 16 accumulators in them (measured faster than
// 2 x 4: prefill-128 444 vs 434 tok/s).
BF_DEFINE_MATMUL(vnni, BF_VNNI, dot_u8_i8_vnni, 4)
#undef BF_DEFINE_GEMV
#undef BF_DEFINE_MATVEC
#undef BF_DEFINE_MATMUL

BF_VNNI float dot_q4_0_vnni(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {
  float y;
  tile_q4_vnni<1>(w, a, blocks, false, &y, 1);
  return y;
}
BF_VNNI float dot_q4_1_vnni(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {
  float y;
  tile_q4_vnni<1>(w, a, blocks, true, &y, 1);
  return y;
}
BF_VNNI float dot_q8_0_vnni(const std::uint8_t* w, const BlockQ8* a, std::size_t blocks) {
  float y;
  tile_q8_vnni<1>(w, a, blocks, &y, 1);
  return y;
}

BF_AVX2 float dot_f32_avx2(const std::uint8_t* w, const float* x, std::size_t n) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(w) + i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(w) + i + 8),
                           _mm256_loadu_ps(x + i + 8), acc1);
  }
  float acc = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) acc += load_f32(w + 4 * i) * x[i];
  return acc;
}

BF_AVX2 void axpy_f32_avx2(float a, const float* x, float* y, std::size_t n) {
  const __m256 av = _mm256_set1_ps(a);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

BF_AVX2 void axpy_f16_avx2(float a, const std::uint16_t* x, float* y, std::size_t n) {
  const __m256 av = _mm256_set1_ps(a);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, xv, _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * _cvtsh_ss(x[i]);
}

BF_AVX2 float dot_f16_avx2(const std::uint8_t* w, const float* x, std::size_t n) {
  __m256 acc = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
    acc = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i), acc);
  }
  float s = hsum(acc);
  for (; i < n; ++i) s += _cvtsh_ss(load_u16(w + 2 * i)) * x[i];
  return s;
}

BF_AVX2 float dot_bf16_avx2(const std::uint8_t* w, const float* x, std::size_t n) {
  __m256 acc = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
    const __m256 wv = _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
    acc = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i), acc);
  }
  float s = hsum(acc);
  for (; i < n; ++i) s += bf16_to_f32(load_u16(w + 2 * i)) * x[i];
  return s;
}

// ggml_v_expf on 8 lanes; 2^n is built from its bits when every |n| <= 126 (then j * 2^n is what
// scalef gives), otherwise the lanes go through the scalar version.
BF_AVX2 __m256 exp_ggml_avx2(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23F);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0F), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 big = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0F), n), _mm256_set1_ps(126.0F), _CMP_NLE_UQ);
  if (_mm256_movemask_ps(big) != 0) {
    alignas(32) float v[8];
    _mm256_store_ps(v, x);
    for (float& e : v) e = exp_ggml_scalar(e);
    return _mm256_load_ps(v);
  }
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20F),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1F), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7F), b, _mm256_set1_ps(0x1.573e2ep-5F)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3F), b, _mm256_set1_ps(0x1.fffdb6p-2F))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1F), b, _mm256_set1_ps(1.0F)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(j, _mm256_castsi256_ps(e));
}

BF_AVX2 void swiglu_avx2(float* gate, const float* up, std::size_t n) {
  const __m256 one = _mm256_set1_ps(1.0F);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp_ggml_avx2(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  swiglu_scalar(gate + i, up + i, n - i);
}

BF_AVX2 double softmax_exp_avx2(float* x, std::size_t n, float max) {
  const __m256 m = _mm256_set1_ps(max);
  double sum = 0.0;
  std::size_t c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m256 lo = exp_ggml_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + c), m));
    const __m256 hi = exp_ggml_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + c + 8), m));
    _mm256_storeu_ps(x + c, lo);
    _mm256_storeu_ps(x + c + 8, hi);
    sum += static_cast<double>(hsum(_mm256_add_ps(lo, hi)));  // hsum(lo + hi) is reduce16's order
  }
  if (c < n) sum += softmax_exp_scalar(x + c, n - c, max);
  return sum;
}

BF_AVX2 __m256 load_f16x8(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

BF_AVX2 float dot_f16_ggml_avx2(const std::uint16_t* k, const float* q, std::size_t n, bool gemm) {
  if (gemm && n % 16 == 0) {
    __m256 lo = _mm256_setzero_ps();
    __m256 hi = _mm256_setzero_ps();
    for (std::size_t c = 0; c < n; c += 16) {
      lo = _mm256_fmadd_ps(load_f16x8(k + c), _mm256_loadu_ps(q + c), lo);
      hi = _mm256_fmadd_ps(load_f16x8(k + c + 8), _mm256_loadu_ps(q + c + 8), hi);
    }
    return hsum(_mm256_add_ps(lo, hi));
  }
  const std::size_t np = n & ~static_cast<std::size_t>(63);
  __m256 acc[8];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (std::size_t c = 0; c < np; c += 64) {
    for (std::size_t h = 0; h < 8; ++h) {
      acc[h] = _mm256_fmadd_ps(load_f16x8(k + c + 8 * h), _mm256_loadu_ps(q + c + 8 * h), acc[h]);
    }
  }
  // acc[2j] and acc[2j+1] are accumulator j's lanes 0-7 and 8-15.
  const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
  const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
  double sum = static_cast<double>(hsum(_mm256_add_ps(lo, hi)));
  for (std::size_t i = np; i < n; ++i) sum += static_cast<double>(_cvtsh_ss(k[i]) * q[i]);
  return static_cast<float>(sum);
}

constexpr Kernels scalar_kernels{quantize_q8_scalar,
                                 dot_q4_0_scalar,
                                 dot_q4_1_scalar,
                                 dot_q8_0_scalar,
                                 gemv_scalar<dot_q4_0_scalar>,
                                 gemv_scalar<dot_q4_1_scalar>,
                                 gemv_scalar<dot_q8_0_scalar>,
                                 dot_f32_scalar,
                                 dot_f16_scalar,
                                 dot_bf16_scalar,
                                 axpy_f32_scalar,
                                 axpy_f16_scalar,
                                 matvec_scalar<dot_q4_0_scalar>,
                                 matvec_scalar<dot_q4_1_scalar>,
                                 matvec_scalar<dot_q8_0_scalar>,
                                 matmul_scalar<dot_q4_0_scalar>,
                                 matmul_scalar<dot_q4_1_scalar>,
                                 matmul_scalar<dot_q8_0_scalar>,
                                 swiglu_scalar,
                                 softmax_exp_scalar,
                                 dot_f16_ggml_scalar};
constexpr Kernels avx2_kernels{quantize_q8_avx2, dot_q4_0_avx2,    dot_q4_1_avx2,    dot_q8_0_avx2,
                               gemv_q4_0_avx2,   gemv_q4_1_avx2,   gemv_q8_0_avx2,   dot_f32_avx2,
                               dot_f16_avx2,     dot_bf16_avx2,    axpy_f32_avx2,    axpy_f16_avx2,
                               matvec_q4_0_avx2, matvec_q4_1_avx2, matvec_q8_0_avx2, matmul_q4_0_avx2,
                               matmul_q4_1_avx2, matmul_q8_0_avx2, swiglu_avx2,
                               softmax_exp_avx2, dot_f16_ggml_avx2};
// VNNI changes only the integer block product; quantization and the float paths stay AVX2.
constexpr Kernels vnni_kernels{quantize_q8_avx2, dot_q4_0_vnni,    dot_q4_1_vnni,    dot_q8_0_vnni,
                               gemv_q4_0_vnni,   gemv_q4_1_vnni,   gemv_q8_0_vnni,   dot_f32_avx2,
                               dot_f16_avx2,     dot_bf16_avx2,    axpy_f32_avx2,    axpy_f16_avx2,
                               matvec_q4_0_vnni, matvec_q4_1_vnni, matvec_q8_0_vnni, matmul_q4_0_vnni,
                               matmul_q4_1_vnni, matmul_q8_0_vnni, swiglu_avx2,
                               softmax_exp_avx2, dot_f16_ggml_avx2};

}  // namespace

// clang 14's __builtin_cpu_supports does not know "f16c"; CPUID leaf 1 ECX bit 29 says it.
static bool has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2+fma+f16c";
    case Isa::avx512vnni: return "avx512-vnni";
  }
  return "unknown";
}

bool isa_available(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case Isa::avx512vnni:
      return isa_available(Isa::avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

Isa best_isa() {
  // BUTTERFLY_ISA=scalar|avx2 caps the choice (for comparing kernels on one machine).
  static const Isa best = [] {
    const char* cap = std::getenv("BUTTERFLY_ISA");
    const std::string_view c = cap != nullptr ? cap : "";
    if (c == "scalar") return Isa::scalar;
    if (isa_available(Isa::avx512vnni) && c != "avx2") return Isa::avx512vnni;
    return isa_available(Isa::avx2) ? Isa::avx2 : Isa::scalar;
  }();
  return best;
}

const Kernels& kernels_for(Isa isa) {
  assert(isa_available(isa));
  switch (isa) {
    case Isa::avx512vnni: return vnni_kernels;
    case Isa::avx2: return avx2_kernels;
    case Isa::scalar: break;
  }
  return scalar_kernels;
}

const Kernels& kernels() {
  static const Kernels& k = kernels_for(best_isa());
  return k;
}

float exp_ggml(float x) { return exp_ggml_scalar(x); }
float reduce16(const float* l) { return reduce16_impl(l); }

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1FU;
  std::uint32_t mant = h & 0x3FFU;
  std::uint32_t bits = 0;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400U) == 0);
      bits = sign | (static_cast<std::uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FFU) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000U | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_f32(std::uint16_t h) {
  const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::uint16_t f32_to_f16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000U);
  const std::uint32_t abs = x & 0x7FFFFFFFU;
  if (abs >= 0x7F800000U) return static_cast<std::uint16_t>(sign | 0x7C00U | (abs > 0x7F800000U ? 0x200U : 0U));
  if (abs >= 0x477FF000U) return static_cast<std::uint16_t>(sign | 0x7C00U);  // overflow to inf
  if (abs < 0x38800000U) {  // subnormal or zero in half
    const float magnitude = std::fabs(f) * 16777216.0F;  // 2^24: units of the smallest subnormal
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(magnitude)));
  }
  const std::uint32_t rounded = abs + 0xFFFU + ((abs >> 13) & 1U);  // round half to even
  return static_cast<std::uint16_t>(sign | ((rounded - 0x38000000U) >> 13));
}

bool uses_q8_activations(GgmlType type) {
  return type == GgmlType::q4_0 || type == GgmlType::q4_1 || type == GgmlType::q8_0;
}

void dequantize_row(GgmlType type, const std::uint8_t* row, std::size_t cols, float* out) {
  switch (type) {
    case GgmlType::f32:
      std::memcpy(out, row, cols * 4);
      return;
    case GgmlType::f16:
      for (std::size_t i = 0; i < cols; ++i) out[i] = f16_to_f32(load_u16(row + 2 * i));
      return;
    case GgmlType::bf16:
      for (std::size_t i = 0; i < cols; ++i) out[i] = bf16_to_f32(load_u16(row + 2 * i));
      return;
    case GgmlType::q4_0:
    case GgmlType::q4_1: {
      const bool has_min = type == GgmlType::q4_1;
      const std::size_t stride = has_min ? q4_1_bytes : q4_0_bytes;
      for (std::size_t b = 0; b < cols / q_block; ++b, row += stride) {
        const float d = f16_to_f32(load_u16(row));
        const float m = has_min ? f16_to_f32(load_u16(row + 2)) : -8.0F * d;
        const std::uint8_t* qs = row + (has_min ? 4 : 2);
        for (std::size_t j = 0; j < 16; ++j) {
          out[b * q_block + j] = static_cast<float>(qs[j] & 0x0F) * d + m;
          out[b * q_block + j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
        }
      }
      return;
    }
    case GgmlType::q8_0:
      for (std::size_t b = 0; b < cols / q_block; ++b, row += q8_0_bytes) {
        const float d = f16_to_f32(load_u16(row));
        for (std::size_t j = 0; j < q_block; ++j) {
          out[b * q_block + j] = static_cast<float>(static_cast<std::int8_t>(row[2 + j])) * d;
        }
      }
      return;
  }
}

}  // namespace bf::model
