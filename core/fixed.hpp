// Fixed-point arithmetic shared by fusion: the project's own log2 and exp2, so no libm
// transcendental ever decides a fused result and the bytes are the same on every platform (F6).
//
// Formats:
//   prob  Q31 unsigned: a probability p in (0, 1] is the integer p * 2^31 in [1, 2^31].
//   log   Q16 signed:   a value x is the integer x * 2^16.
// Error bounds (checked against libm over the whole domain by tests/unit/fixed_test.cpp):
//   |log2_q16(p) - 2^16 * log2(p / 2^31)| <= 2     (two Q16 units)
//   |exp2_q31(x) - 2^31 * exp2(x / 2^16)| <= 2^31 * 2^-22 + 2   (relative 2^-22 plus rounding)
#pragma once

#include <cstdint>

namespace bf::core::fixed {

inline constexpr std::uint32_t prob_one = 1u << 31;     // Q31 1.0
inline constexpr std::int32_t log_one = 1 << 16;        // Q16 1.0
inline constexpr std::int32_t log2_min = -31 * log_one;  // log2 of the smallest Q31 probability
inline constexpr std::uint32_t log2_error_max_q16 = 2;
// log2(e) in Q16, rounded to nearest: 1.4426950408889634 * 65536 = 94548.46
inline constexpr std::int32_t log2e_q16 = 94548;

// log2(p / 2^31) in Q16 for p in [1, 2^31]; result in [log2_min, 0].
std::int32_t log2_q16(std::uint32_t p) noexcept;

// 2^(x / 2^16) in Q31 for x in [log2_min, 0]; result in [1, 2^31]. Inputs below log2_min are
// clamped to log2_min (the smallest representable probability), never to zero.
std::uint32_t exp2_q31(std::int32_t x) noexcept;

}  // namespace bf::core::fixed
