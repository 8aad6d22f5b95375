// Integer log2 and exp2 (core/fixed.hpp). Methods:
// - log2_q16: integer part from the bit width; the 16 fraction bits (plus 2 guard bits, then
//   rounding to nearest) by repeated squaring of the Q31 mantissa. Measured max error 0.50002
//   Q16 units (bound 2).
// - exp2_q31: x = i + f with i = floor(x) and f in [0, 1); 2^f is the product of the constants
//   2^(2^-k) (Q62, k = 1..16) over f's set bits, then shifted by i and rounded to Q31. The Q62
//   product carries ~2^-58 relative error (~2^-27 Q31 units), so the result is the exact value
//   rounded to nearest: measured max error 0.500000 Q31 units (bound: relative 2^-22 plus 2).
// Both are monotone non-decreasing (checked exhaustively by tests/unit/fixed_test.cpp).
#include "core/fixed.hpp"

#include <array>
#include <bit>

#include "core/contract.hpp"

namespace bf::core::fixed {
namespace {

// log2: the mantissa m = p / 2^k lies in [1, 2) and is held in Q31 (an integer in [2^31, 2^32)).
constexpr unsigned mantissa_bits = 31;
constexpr std::uint64_t mantissa_one = std::uint64_t{1} << mantissa_bits;
constexpr std::uint64_t mantissa_two = std::uint64_t{1} << (mantissa_bits + 1);
constexpr unsigned log_fraction_bits = 16;
// Two guard bits below the 16 returned fraction bits, so the final rounding is to nearest.
constexpr unsigned log_guard_bits = 2;

// exp2: the fractional power 2^(f / 2^16), f in [0, 2^16), is built in Q62 (values in [1, 2)).
constexpr unsigned exp_mantissa_bits = 62;
constexpr std::uint64_t exp_mantissa_one = std::uint64_t{1} << exp_mantissa_bits;

// root_q62[k-1] = round(2^(2^-k) * 2^62) for k = 1..16: the factor for fraction bit 2^-k.
// Computed with Python's decimal module at 60 significant digits:
//   ((Decimal(2).ln() / 2**k).exp() * Decimal(2)**62).to_integral_value()
constexpr std::array<std::uint64_t, 16> root_q62 = {
    0x5a827999fcef3242, 0x4c1bf828c6dc54b8, 0x45cae0f1f545eb73, 0x42d561b3e6243d8a,
    0x4166c34c5615d0ec, 0x40b268f9de0183ba, 0x4058f6a7ecccd5b6, 0x402c6be96af2fb58,
    0x4016321b687027a8, 0x400b18178ba33b14, 0x40058bce410147e8, 0x4002c5d7bff71daf,
    0x400162e807ee7e5b, 0x4000b1730df6a524, 0x400058b9497b8152, 0x40002c5c955dd701,
};

// The fraction bits of log2(mantissa / 2^31) for a Q31 mantissa in [1, 2), by repeated squaring:
// squaring doubles the logarithm, so the integer part after each squaring is the next bit.
// Returns 16 + guard bits of fraction, truncated (the error of each squaring's truncation is
// ~2^-31 relative and is halved at every later step, so the total stays far below 2^-18).
std::uint32_t log2_mantissa_fraction(std::uint64_t mantissa) noexcept {
  std::uint32_t fraction = 0;
  for (unsigned bit = 0; bit < log_fraction_bits + log_guard_bits; ++bit) {
    // mantissa < 2^32, so the square fits in 64 bits; the result is in [1, 4) in Q31.
    mantissa = (mantissa * mantissa) >> mantissa_bits;
    // Branch-free: the top bit is the next fraction bit, and halving brings the square back
    // below 2. A data-dependent branch here cost 4x in fuse_sctt (bench/fixed_bench.cpp).
    const std::uint64_t top = mantissa >> (mantissa_bits + 1);
    fraction = (fraction << 1) | static_cast<std::uint32_t>(top);
    mantissa >>= top;
    BF_INVARIANT("F6", mantissa >= mantissa_one && mantissa < mantissa_two);
  }
  return fraction;
}

// 2^(fraction / 2^16) in Q62 for fraction in [0, 2^16): the product of 2^(2^-k) over its set bits.
// Every factor and partial product is in [1, 2), i.e. below 2^63, so a 128-bit product suffices.
std::uint64_t exp2_fraction_q62(std::uint32_t fraction) noexcept {
  std::uint64_t product = exp_mantissa_one;
  for (unsigned k = 1; k <= log_fraction_bits; ++k) {
    // Multiplying by exactly 1.0 (Q62) leaves the product unchanged, so every bit costs one
    // multiply and no branch.
    const bool set = ((fraction >> (log_fraction_bits - k)) & 1u) != 0;
    const std::uint64_t factor = set ? root_q62[k - 1] : exp_mantissa_one;
    const unsigned __int128 wide = static_cast<unsigned __int128>(product) * factor;
    product = static_cast<std::uint64_t>(wide >> exp_mantissa_bits);
  }
  BF_INVARIANT("F6", product >= exp_mantissa_one && product < 2 * exp_mantissa_one);
  return product;
}

}  // namespace

std::int32_t log2_q16(std::uint32_t p) noexcept {
  BF_REQUIRE("F6", p >= 1 && p <= prob_one);
  // Outside the domain (contracts off): clamp, so the result still lies in [log2_min, 0].
  if (p == 0) p = 1;
  if (p > prob_one) p = prob_one;

  const unsigned exponent = static_cast<unsigned>(std::bit_width(p)) - 1;  // 0..31
  const std::uint64_t mantissa = static_cast<std::uint64_t>(p) << (mantissa_bits - exponent);
  const std::uint32_t fraction_with_guard = log2_mantissa_fraction(mantissa);
  // Round to nearest on the guard bits; a carry into 2^16 is a correct integer-part increment.
  const auto fraction = static_cast<std::int32_t>(
      (fraction_with_guard + (1u << (log_guard_bits - 1))) >> log_guard_bits);
  const std::int32_t result =
      (static_cast<std::int32_t>(exponent) - 31) * log_one + fraction;  // >= -31 * 2^16
  BF_ENSURE("F6", result >= log2_min && result <= 0);
  return result;
}

std::uint32_t exp2_q31(std::int32_t x) noexcept {
  BF_REQUIRE("F6", x <= 0);
  if (x > 0) x = 0;  // contracts off: the largest probability, never an overflow
  if (x < log2_min) x = log2_min;

  // x = integer * 2^16 + fraction with integer = floor(x / 2^16) in [-31, 0], fraction in [0, 2^16).
  const std::int32_t integer = x >> log_fraction_bits;  // arithmetic shift: floor (C++20)
  const auto fraction = static_cast<std::uint32_t>(x - integer * log_one);
  const std::uint64_t power_q62 = exp2_fraction_q62(fraction);

  // Q62 * 2^integer to Q31: shift right by 31 - integer (31..62), rounding to nearest.
  // power_q62 < 2^63 and the half is at most 2^61, so the sum does not overflow.
  const auto shift = static_cast<unsigned>(static_cast<std::int32_t>(exp_mantissa_bits - 31) - integer);
  const std::uint64_t half = std::uint64_t{1} << (shift - 1);
  const std::uint64_t result = (power_q62 + half) >> shift;
  BF_ENSURE("F6", result >= 1 && result <= prob_one);
  return static_cast<std::uint32_t>(result);
}

}  // namespace bf::core::fixed
