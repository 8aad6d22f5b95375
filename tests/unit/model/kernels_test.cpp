// Every SIMD kernel equals its scalar reference (within float rounding of the accumulation order),
// the Q8 quantization is bit-identical across ISAs, and dequantize_row agrees with the dot kernels.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>
#include <cstring>
#include <iostream>
#include <vector>

#include "model/kernels.hpp"
#include "model/sampler.hpp"
#include "model/thread_pool.hpp"

namespace bf::model {
namespace {

constexpr std::size_t cols = 8 * q_block;

std::vector<float> random_floats(Rng& rng, std::size_t n, double scale) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>((rng.uniform() * 2.0 - 1.0) * scale);
  return v;
}

std::vector<std::uint8_t> random_row(Rng& rng, GgmlType type) {
  const auto traits = *ggml_type_traits(static_cast<std::uint32_t>(type));
  std::vector<std::uint8_t> row(cols / traits.block_elements * traits.block_bytes);
  for (auto& b : row) b = static_cast<std::uint8_t>(rng.next());
  // Scales must be finite, sensible halves: overwrite the f16 fields of each block.
  if (type == GgmlType::q4_0 || type == GgmlType::q4_1 || type == GgmlType::q8_0) {
    for (std::size_t b = 0; b < row.size(); b += traits.block_bytes) {
      const std::uint16_t d = f32_to_f16(static_cast<float>(rng.uniform() * 0.1));
      const std::uint16_t m = f32_to_f16(static_cast<float>(rng.uniform() * 0.2 - 0.1));
      std::memcpy(&row[b], &d, 2);
      if (type == GgmlType::q4_1) std::memcpy(&row[b + 2], &m, 2);
    }
  } else if (type == GgmlType::f16 || type == GgmlType::bf16) {
    for (std::size_t i = 0; i < cols; ++i) {
      const float f = static_cast<float>(rng.uniform() * 2.0 - 1.0);
      std::uint16_t h;
      if (type == GgmlType::f16) {
        h = f32_to_f16(f);
      } else {
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        h = static_cast<std::uint16_t>(bits >> 16);
      }
      std::memcpy(&row[2 * i], &h, 2);
    }
  } else {
    const auto f = random_floats(rng, cols, 1.0);
    std::memcpy(row.data(), f.data(), row.size());
  }
  return row;
}

float dot(const Kernels& k, GgmlType type, const std::uint8_t* w, const float* x, const BlockQ8* a) {
  switch (type) {
    case GgmlType::q4_0: return k.dot_q4_0(w, a, cols / q_block);
    case GgmlType::q4_1: return k.dot_q4_1(w, a, cols / q_block);
    case GgmlType::q8_0: return k.dot_q8_0(w, a, cols / q_block);
    case GgmlType::f32: return k.dot_f32(w, x, cols);
    case GgmlType::f16: return k.dot_f16(w, x, cols);
    case GgmlType::bf16: return k.dot_bf16(w, x, cols);
  }
  return 0.0F;
}

TEST(Kernels, QuantizeQ8IsBitIdenticalAcrossIsas) {
  if (!isa_available(Isa::avx2)) GTEST_SKIP() << "no AVX2 on this CPU: only the scalar kernels run";
  Rng rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    auto x = random_floats(rng, cols, trial % 2 == 0 ? 1.0 : 1e3);
    if (trial == 3) std::fill(x.begin(), x.begin() + q_block, 0.0F);  // an all-zero block
    x[5] = 0.5F / 127.0F * static_cast<float>(trial);  // values near rounding ties
    std::vector<BlockQ8> a(cols / q_block), b(cols / q_block);
    kernels_for(Isa::scalar).quantize_q8(x.data(), a.data(), a.size());
    kernels_for(Isa::avx2).quantize_q8(x.data(), b.data(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].d, b[i].d);
      EXPECT_EQ(a[i].s, b[i].s);
      EXPECT_EQ(0, std::memcmp(a[i].qs, b[i].qs, q_block)) << "trial " << trial << " block " << i;
    }
  }
}

// ggml stores an activation block's scale d and its d * sum as f16: ours are f16 values too (so the
// block products equal llama.cpp's), and d is amax / 127 rounded to the nearest f16.
TEST(Kernels, QuantizeQ8ScalesAreHalfValuesAsInGgml) {
  Rng rng(5);
  for (const Isa isa : {Isa::scalar, Isa::avx2}) {
    if (!isa_available(isa)) continue;
    for (int trial = 0; trial < 20; ++trial) {
      const auto x = random_floats(rng, cols, trial % 2 == 0 ? 1.0 : 300.0);
      std::vector<BlockQ8> a(cols / q_block);
      kernels_for(isa).quantize_q8(x.data(), a.data(), a.size());
      for (std::size_t b = 0; b < a.size(); ++b) {
        float amax = 0.0F;
        int sum = 0;
        for (std::size_t i = 0; i < q_block; ++i) {
          amax = std::fmax(amax, std::fabs(x[b * q_block + i]));
          sum += a[b].qs[i];
        }
        EXPECT_EQ(a[b].d, f16_to_f32(f32_to_f16(amax / 127.0F))) << isa_name(isa);
        EXPECT_EQ(a[b].s, f16_to_f32(f32_to_f16(amax / 127.0F * static_cast<float>(sum)))) << isa_name(isa);
      }
    }
  }
}

// The ggml-order kernels must give the same bits on every ISA (parity with llama.cpp depends on it).
TEST(Kernels, GgmlOrderKernelsAreBitIdenticalAcrossIsas) {
  Rng rng(23);
  for (const Isa isa : {Isa::avx2, Isa::avx512vnni}) {
    if (!isa_available(isa)) continue;
    const Kernels& ref = kernels_for(Isa::scalar);
    const Kernels& k = kernels_for(isa);
    for (const std::size_t n : {5U, 16U, 37U, 64U, 100U, 1536U}) {
      // wide range: large |x| takes exp's out-of-range lanes (scalar fallback), small ones its fast path
      auto g0 = random_floats(rng, n, 120.0);
      for (std::size_t i = 0; i < n; i += 3) g0[i] *= 0.01F;
      const auto up = random_floats(rng, n, 2.0);
      auto a = g0;
      auto b = g0;
      ref.swiglu(a.data(), up.data(), n);
      k.swiglu(b.data(), up.data(), n);
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), n * sizeof(float))) << "swiglu " << isa_name(isa) << " n " << n;
      a = g0;
      b = g0;
      const double sa = ref.softmax_exp(a.data(), n, 3.0F);
      const double sb = k.softmax_exp(b.data(), n, 3.0F);
      EXPECT_EQ(sa, sb) << "softmax " << isa_name(isa) << " n " << n;
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), n * sizeof(float))) << "softmax " << isa_name(isa) << " n " << n;
      std::vector<std::uint16_t> kh(n);
      std::vector<float> q(n);
      for (std::size_t i = 0; i < n; ++i) {
        kh[i] = f32_to_f16(static_cast<float>(rng.uniform() * 4.0 - 2.0));
        q[i] = f16_to_f32(f32_to_f16(static_cast<float>(rng.uniform() * 4.0 - 2.0)));
      }
      for (const bool gemm : {false, true}) {
        const float da = ref.dot_f16_ggml(kh.data(), q.data(), n, gemm);
        const float db = k.dot_f16_ggml(kh.data(), q.data(), n, gemm);
        EXPECT_EQ(0, std::memcmp(&da, &db, sizeof da)) << "dot " << isa_name(isa) << " n " << n << " gemm " << gemm;
        double exact = 0.0;
        for (std::size_t i = 0; i < n; ++i) exact += static_cast<double>(f16_to_f32(kh[i])) * q[i];
        EXPECT_NEAR(da, exact, 1e-4 * static_cast<double>(n));
      }
    }
  }
}

// exp_ggml is ggml's polynomial: within 3e-7 relative of exp for normal results, saturating as ggml.
TEST(Kernels, ExpGgmlIsCloseToExpAndSaturatesAsGgml) {
  for (float x = -87.0F; x < 88.0F; x += 0.37F) {  // normal results (subnormal ones lose relative precision)
    const double want = std::exp(static_cast<double>(x));
    EXPECT_NEAR(exp_ggml(x), want, want * 3e-7) << x;
  }
  EXPECT_EQ(exp_ggml(-INFINITY), 0.0F);
  EXPECT_EQ(exp_ggml(-200.0F), 0.0F);
  EXPECT_EQ(exp_ggml(200.0F), INFINITY);
  EXPECT_EQ(exp_ggml(0.0F), 1.0F);
  const float l[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  EXPECT_EQ(reduce16(l), 136.0F);
}

TEST(Kernels, AxpyF16EqualsScalarReference) {
  Rng rng(19);
  for (const Isa isa : {Isa::avx2, Isa::avx512vnni}) {
    if (!isa_available(isa)) continue;
    for (const std::size_t n : {1U, 8U, 64U, 67U}) {
      std::vector<std::uint16_t> x(n);
      for (auto& h : x) h = f32_to_f16(static_cast<float>(rng.uniform() * 2.0 - 1.0));
      const auto y0 = random_floats(rng, n, 1.0);
      auto ref = y0;
      auto got = y0;
      kernels_for(Isa::scalar).axpy_f16(0.37F, x.data(), ref.data(), n);
      kernels_for(isa).axpy_f16(0.37F, x.data(), got.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_NEAR(got[i], ref[i], 1e-6F) << isa_name(isa) << " n " << n << " i " << i;
        EXPECT_NE(got[i], y0[i]);
      }
    }
  }
}

TEST(Kernels, SimdDotEqualsScalarReferenceForEveryType) {
  for (const Isa isa : {Isa::avx2, Isa::avx512vnni}) {
    if (!isa_available(isa)) {
      std::cout << "skipping " << isa_name(isa) << ": not on this CPU\n";
      continue;
    }
    Rng rng(11);
    for (const auto type : {GgmlType::q4_0, GgmlType::q4_1, GgmlType::q8_0, GgmlType::f32, GgmlType::f16, GgmlType::bf16}) {
      for (int trial = 0; trial < 20; ++trial) {
        const auto row = random_row(rng, type);
        const auto x = random_floats(rng, cols, 2.0);
        std::vector<BlockQ8> a(cols / q_block);
        kernels_for(Isa::scalar).quantize_q8(x.data(), a.data(), a.size());
        const float ref = dot(kernels_for(Isa::scalar), type, row.data(), x.data(), a.data());
        const float simd = dot(kernels_for(isa), type, row.data(), x.data(), a.data());
        EXPECT_NEAR(simd, ref, 1e-5F * (1.0F + std::fabs(ref))) << isa_name(isa) << " " << ggml_type_name(type) << " trial " << trial;
      }
    }
  }
}

// gemv (one weight row against n activation rows, tiled by 4) equals n scalar dot products, for n
// covering whole tiles and remainders.
TEST(Kernels, GemvEqualsScalarDotsForEveryIsa) {
  Rng rng(17);
  for (const Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512vnni}) {
    if (!isa_available(isa)) continue;
    const Kernels& k = kernels_for(isa);
    for (const auto type : {GgmlType::q4_0, GgmlType::q4_1, GgmlType::q8_0}) {
      const auto gemv = type == GgmlType::q4_0 ? k.gemv_q4_0 : type == GgmlType::q4_1 ? k.gemv_q4_1 : k.gemv_q8_0;
      const auto scalar_dot = type == GgmlType::q4_0   ? kernels_for(Isa::scalar).dot_q4_0
                              : type == GgmlType::q4_1 ? kernels_for(Isa::scalar).dot_q4_1
                                                       : kernels_for(Isa::scalar).dot_q8_0;
      // blocks: an odd count exercises the single-row path's tail block.
      for (const std::size_t n : {1U, 3U, 4U, 7U, 9U}) for (const std::size_t blocks : {7U, 8U}) {
        const auto row = random_row(rng, type);  // 8 blocks; the first `blocks` are used
        const auto x = random_floats(rng, n * blocks * q_block, 1.5);
        std::vector<BlockQ8> a(n * blocks);
        kernels_for(Isa::scalar).quantize_q8(x.data(), a.data(), a.size());
        std::vector<float> y(n * 3, -1.0F);
        gemv(row.data(), a.data(), blocks, n, y.data(), 3);
        for (std::size_t t = 0; t < n; ++t) {
          const float ref = scalar_dot(row.data(), a.data() + t * blocks, blocks);
          EXPECT_NEAR(y[t * 3], ref, 1e-5F * (1.0F + std::fabs(ref))) << isa_name(isa) << " n " << n << " t " << t;
          EXPECT_EQ(y[t * 3 + 1], -1.0F);  // the stride is respected
        }
      }
    }
  }
}

// matvec (many weight rows against one activation row, four at a time) equals one scalar dot per
// row, for row counts covering whole groups of four and remainders.
TEST(Kernels, MatvecEqualsScalarDotsForEveryIsa) {
  Rng rng(23);
  for (const Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512vnni}) {
    if (!isa_available(isa)) continue;
    const Kernels& k = kernels_for(isa);
    const Kernels& ref = kernels_for(Isa::scalar);
    for (const auto type : {GgmlType::q4_0, GgmlType::q4_1, GgmlType::q8_0}) {
      const auto matvec = type == GgmlType::q4_0 ? k.matvec_q4_0 : type == GgmlType::q4_1 ? k.matvec_q4_1 : k.matvec_q8_0;
      const auto scalar_dot = type == GgmlType::q4_0 ? ref.dot_q4_0 : type == GgmlType::q4_1 ? ref.dot_q4_1 : ref.dot_q8_0;
      for (const std::size_t rows : {1U, 3U, 4U, 9U}) {
        std::vector<std::uint8_t> w;
        for (std::size_t r = 0; r < rows; ++r) {
          const auto row = random_row(rng, type);
          w.insert(w.end(), row.begin(), row.end());
        }
        const std::size_t row_bytes = w.size() / rows;
        const auto x = random_floats(rng, cols, 1.5);
        std::vector<BlockQ8> a(cols / q_block);
        ref.quantize_q8(x.data(), a.data(), a.size());
        std::vector<float> y(rows + 1, -1.0F);
        matvec(w.data(), row_bytes, rows, a.data(), a.size(), y.data());
        for (std::size_t r = 0; r < rows; ++r) {
          const float want = scalar_dot(w.data() + r * row_bytes, a.data(), a.size());
          EXPECT_NEAR(y[r], want, 1e-5F * (1.0F + std::fabs(want))) << isa_name(isa) << " " << ggml_type_name(type) << " row " << r;
        }
        EXPECT_EQ(y[rows], -1.0F);  // nothing written past the last row
      }
    }
  }
}

// The prefill matmul (rows x tokens in tiles) gives, for every (row, token), exactly the bits that
// matvec gives for that token alone: prefill logits then equal decode logits as in llama.cpp. Row
// counts cover whole tiles (4 and 2 rows) and remainders, token counts whole groups of 4 and
// remainders; memcmp, not a tolerance, and a NaN-free sentinel checks the stride is respected.
TEST(Kernels, MatmulEqualsMatvecBitForBitForEveryIsa) {
  Rng rng(29);
  for (const Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512vnni}) {
    if (!isa_available(isa)) continue;
    const Kernels& k = kernels_for(isa);
    for (const auto type : {GgmlType::q4_0, GgmlType::q4_1, GgmlType::q8_0}) {
      const auto matvec = type == GgmlType::q4_0 ? k.matvec_q4_0 : type == GgmlType::q4_1 ? k.matvec_q4_1 : k.matvec_q8_0;
      const auto matmul = type == GgmlType::q4_0 ? k.matmul_q4_0 : type == GgmlType::q4_1 ? k.matmul_q4_1 : k.matmul_q8_0;
      for (const std::size_t rows : {1U, 2U, 3U, 4U, 5U, 11U, 16U}) {
        for (const std::size_t n : {1U, 2U, 3U, 4U, 5U, 8U, 9U, 13U}) {
          std::vector<std::uint8_t> w;
          for (std::size_t r = 0; r < rows; ++r) {
            const auto row = random_row(rng, type);
            w.insert(w.end(), row.begin(), row.end());
          }
          const std::size_t row_bytes = w.size() / rows;
          const std::size_t blocks = cols / q_block;
          // Activations over a wide range of magnitudes make rounding differences show.
          const auto x = random_floats(rng, n * cols, n % 2 == 0 ? 3.0 : 0.01);
          std::vector<BlockQ8> a(n * blocks);
          k.quantize_q8(x.data(), a.data(), a.size());
          const std::size_t stride = rows + 2;
          std::vector<float> got(n * stride, -1.0F);
          matmul(w.data(), row_bytes, rows, a.data(), blocks, n, got.data(), stride);
          std::vector<float> want(n * stride, -1.0F);
          for (std::size_t t = 0; t < n; ++t) matvec(w.data(), row_bytes, rows, a.data() + t * blocks, blocks, want.data() + t * stride);
          EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
              << isa_name(isa) << " " << ggml_type_name(type) << " rows " << rows << " n " << n;
          for (std::size_t t = 0; t < n; ++t) EXPECT_EQ(got[t * stride + rows], -1.0F);  // stride respected
        }
      }
    }
  }
}

// The quantized dot product approximates the float dot product of the dequantized row: it is the
// same weights, only the activations lose precision (8 bits per block).
TEST(Kernels, QuantizedDotApproximatesDequantizedFloatDot) {
  Rng rng(13);
  for (const auto type : {GgmlType::q4_0, GgmlType::q4_1, GgmlType::q8_0}) {
    const auto row = random_row(rng, type);
    const auto x = random_floats(rng, cols, 1.0);
    std::vector<float> w(cols);
    dequantize_row(type, row.data(), cols, w.data());
    double exact = 0.0, magnitude = 0.0;
    for (std::size_t i = 0; i < cols; ++i) {
      exact += static_cast<double>(w[i]) * x[i];
      magnitude += std::fabs(static_cast<double>(w[i]) * x[i]);
    }
    std::vector<BlockQ8> a(cols / q_block);
    kernels().quantize_q8(x.data(), a.data(), a.size());
    const float got = dot(kernels(), type, row.data(), x.data(), a.data());
    EXPECT_NEAR(got, exact, 0.01 * magnitude) << ggml_type_name(type);
  }
}

TEST(Kernels, HalfConversionRoundTrips) {
  for (const float f : {0.0F, -0.0F, 1.0F, -2.5F, 65504.0F, 6.1035156e-05F, 5.9604645e-08F, 0.333251953125F}) {
    EXPECT_EQ(f16_to_f32(f32_to_f16(f)), f) << f;
  }
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(1e6F))));
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0F);
  EXPECT_EQ(f16_to_f32(0x0001), 5.9604645e-08F);
}

TEST(ThreadPool, CoversEveryTaskExactlyOnce) {
  for (const std::size_t threads : {1U, 2U, 3U}) {
    ThreadPool pool(threads);
    for (const std::size_t tasks : {1U, 2U, 7U, 100U, 1000U}) {
      std::vector<int> hits(tasks, 0);
      pool.run(tasks, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) ++hits[i];
      }, 4);
      for (std::size_t i = 0; i < tasks; ++i) ASSERT_EQ(hits[i], 1) << threads << " " << tasks << " " << i;
    }
  }
}

// A pool whose threads have gone to sleep (idle longer than their spin) still runs every task.
TEST(ThreadPool, WakesSleepingThreads) {
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::vector<int> hits(64, 0);
    pool.run(hits.size(), [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) ++hits[i];
    });
    for (const int h : hits) ASSERT_EQ(h, 1) << "round " << round;
  }
}

}  // namespace
}  // namespace bf::model
