// The integer arithmetic of core::fusion::fuse_mean and fuse_sctt (and core::fixed's log2/exp2),
// written once for the host and the device: gpu/kernels.cu runs these functions per element, and
// gpu/reference.cpp runs the same functions on the CPU so a test without a GPU can check them bit
// for bit against core/. Any change to core/fusion.cpp or core/fixed.cpp must be mirrored here;
// tests/unit/gpu/reference_test.cpp fails if they drift apart.
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define BF_HD __host__ __device__
#else
#define BF_HD
#endif

namespace bf::gpu::fusion_math {

inline constexpr std::uint32_t weight_shift = 24;  // core::fusion::weight_unit = 2^24
inline constexpr std::uint32_t prob_unit = 1u << 31;
inline constexpr std::int32_t log_one = 1 << 16;
inline constexpr std::int32_t log2_min = -31 * log_one;

// Index of the highest set bit of p > 0.
BF_HD inline unsigned highest_bit(std::uint32_t p) {
#ifdef __CUDA_ARCH__
  return 31u - static_cast<unsigned>(__clz(static_cast<int>(p)));
#else
  return 31u - static_cast<unsigned>(__builtin_clz(p));  // GCC and Clang, as nvcc's host compiler too
#endif
}

// floor(a * b / 2^62) for a, b < 2^63: the Q62 product of core/fixed.cpp without __int128 on the
// device (there the high word comes from __umul64hi).
BF_HD inline std::uint64_t mul_q62(std::uint64_t a, std::uint64_t b) {
#ifdef __CUDA_ARCH__
  const std::uint64_t high = __umul64hi(a, b);
#else
  const auto high = static_cast<std::uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
#endif
  const std::uint64_t low = a * b;
  return (high << 2) | (low >> 62);
}

// core::fixed::log2_q16: log2(p / 2^31) in Q16 for p in [1, 2^31] (clamped outside).
BF_HD inline std::int32_t log2_q16(std::uint32_t p) {
  if (p == 0) p = 1;
  if (p > prob_unit) p = prob_unit;
  const unsigned exponent = highest_bit(p);
  std::uint64_t mantissa = static_cast<std::uint64_t>(p) << (31u - exponent);
  std::uint32_t fraction = 0;
  for (unsigned bit = 0; bit < 18; ++bit) {  // 16 fraction bits + 2 guard bits
    mantissa = (mantissa * mantissa) >> 31;
    const std::uint64_t top = mantissa >> 32;
    fraction = (fraction << 1) | static_cast<std::uint32_t>(top);
    mantissa >>= top;
  }
  const auto rounded = static_cast<std::int32_t>((fraction + 2u) >> 2);
  return (static_cast<std::int32_t>(exponent) - 31) * log_one + rounded;
}

// core::fixed::exp2_q31: 2^(x / 2^16) in Q31 for x in [log2_min, 0] (clamped outside).
BF_HD inline std::uint32_t exp2_q31(std::int32_t x) {
  // round(2^(2^-k) * 2^62), k = 1..16: the same constants as core/fixed.cpp.
  const std::uint64_t root_q62[16] = {
      0x5a827999fcef3242, 0x4c1bf828c6dc54b8, 0x45cae0f1f545eb73, 0x42d561b3e6243d8a,
      0x4166c34c5615d0ec, 0x40b268f9de0183ba, 0x4058f6a7ecccd5b6, 0x402c6be96af2fb58,
      0x4016321b687027a8, 0x400b18178ba33b14, 0x40058bce410147e8, 0x4002c5d7bff71daf,
      0x400162e807ee7e5b, 0x4000b1730df6a524, 0x400058b9497b8152, 0x40002c5c955dd701,
  };
  if (x > 0) x = 0;
  if (x < log2_min) x = log2_min;
  const std::int32_t integer = x >> 16;  // floor
  const auto fraction = static_cast<std::uint32_t>(x - integer * log_one);
  const std::uint64_t one_q62 = std::uint64_t{1} << 62;
  std::uint64_t product = one_q62;
  for (unsigned k = 1; k <= 16; ++k) {
    const bool set = ((fraction >> (16u - k)) & 1u) != 0;
    product = mul_q62(product, set ? root_q62[k - 1] : one_q62);
  }
  const auto shift = static_cast<unsigned>(31 - integer);  // 31..62
  const std::uint64_t half = std::uint64_t{1} << (shift - 1);
  return static_cast<std::uint32_t>((product + half) >> shift);
}

// fuse_mean, entry t: floor(sum_i w_i p_i[t] / 2^24). distributions is n rows of `vocabulary`.
BF_HD inline std::uint32_t mean_entry(const std::uint32_t* weights, const std::uint32_t* distributions,
                                      std::uint32_t n, std::uint32_t vocabulary, std::uint32_t t) {
  std::uint64_t weighted = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    weighted += static_cast<std::uint64_t>(weights[i]) * distributions[static_cast<std::uint64_t>(i) * vocabulary + t];
  }
  return static_cast<std::uint32_t>(weighted >> weight_shift);
}

// fuse_sctt, entry t: floor(sum_i w_i log2_q16(max(p_i[t], 1)) / 2^24), in [log2_min, 0].
BF_HD inline std::int32_t sctt_level(const std::uint32_t* weights, const std::uint32_t* distributions,
                                     std::uint32_t n, std::uint32_t vocabulary, std::uint32_t t) {
  std::int64_t weighted_log = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t p = distributions[static_cast<std::uint64_t>(i) * vocabulary + t];
    if (p == 0) p = 1;
    weighted_log += static_cast<std::int64_t>(weights[i]) * log2_q16(p);
  }
  return static_cast<std::int32_t>(weighted_log >> weight_shift);
}

// The deficit holder: the larger value wins, ties go to the lower index. Associative and
// commutative, so any reduction order (a GPU tree, a CPU loop) picks the same entry.
struct Heaviest {
  std::uint32_t value;
  std::uint32_t index;
};
BF_HD inline Heaviest heavier(Heaviest a, Heaviest b) {
  if (a.value > b.value) return a;
  if (b.value > a.value) return b;
  return a.index < b.index ? a : b;
}

// SCTT's renormalisation of one entry: floor(e * 2^31 / total); e <= 2^31, so the product fits.
BF_HD inline std::uint32_t normalised_entry(std::uint32_t e, std::uint64_t total) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(e) << 31) / total);
}

// Status bits the fusion kernels report (0: the result is valid).
inline constexpr std::uint32_t status_weights_not_unit = 1u;  // weights do not sum to 2^24
inline constexpr std::uint32_t status_bad_deficit = 2u;       // a distribution did not sum to 2^31

}  // namespace bf::gpu::fusion_math
