// Checks core/fixed.hpp's documented error bounds against libm (tests may use it; core may not).
#include "core/fixed.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>

namespace bf::core::fixed {
namespace {

// 2^16 * log2(p / 2^31) in double: exact to ~1e-11 Q16 units, far below the bound under test.
double log2_reference_q16(std::uint32_t p) { return 65536.0 * (std::log2(static_cast<double>(p)) - 31.0); }

// 2^31 * 2^(x / 2^16) in double: relative error ~1e-16, i.e. < 1e-6 Q31 units.
double exp2_reference_q31(std::int32_t x) { return 2147483648.0 * std::exp2(static_cast<double>(x) / 65536.0); }

// The documented exp2 bound: relative 2^-22 plus two units of rounding.
double exp2_bound(double exact) { return exact * std::ldexp(1.0, -22) + 2.0; }

struct Worst {
  double error = 0;
  std::int64_t at = 0;
  void see(double e, std::int64_t where) {
    if (e > error) {
      error = e;
      at = where;
    }
  }
};

TEST(Fixed, Log2IsExactAtPowersOfTwoAndEdges) {
  for (std::uint32_t k = 0; k <= 31; ++k) {
    EXPECT_EQ(log2_q16(std::uint32_t{1} << k), (static_cast<std::int32_t>(k) - 31) * log_one) << "k=" << k;
  }
  EXPECT_EQ(log2_q16(1), log2_min);
  EXPECT_EQ(log2_q16(prob_one), 0);
  EXPECT_LE(log2_q16(prob_one - 1), 0);
  EXPECT_EQ(log2_q16(3), static_cast<std::int32_t>(std::lround(log2_reference_q16(3))));
}

TEST(Fixed, Log2MeetsItsErrorBoundOnADenseSweep) {
  Worst worst;
  std::int32_t previous = std::numeric_limits<std::int32_t>::min();
  // Returns false (after recording the failure) so the sweep stops at the first bad input.
  auto check = [&](std::uint32_t p) {
    const std::int32_t got = log2_q16(p);
    const double error = std::fabs(static_cast<double>(got) - log2_reference_q16(p));
    worst.see(error, p);
    if (got < log2_min || got > 0 || error > static_cast<double>(log2_error_max_q16)) {
      ADD_FAILURE() << "log2_q16(" << p << ") = " << got << ", reference " << log2_reference_q16(p);
      return false;
    }
    return true;
  };
  // Every p below 2^20 (ascending, so monotonicity is checked too), then a prime stride to 2^31.
  for (std::uint32_t p = 1; p <= (1u << 20); ++p) {
    if (!check(p)) return;
    const std::int32_t got = log2_q16(p);
    ASSERT_GE(got, previous) << "log2_q16 decreases at p=" << p;
    previous = got;
  }
  for (std::uint64_t p = (1u << 20) + 1; p <= prob_one; p += 1021) {
    const std::int32_t got = log2_q16(static_cast<std::uint32_t>(p));
    ASSERT_GE(got, previous) << "log2_q16 decreases at p=" << p;
    previous = got;
    if (!check(static_cast<std::uint32_t>(p))) return;
  }
  // Powers of two and their neighbours, and the top of the range.
  for (std::uint32_t k = 1; k <= 31; ++k) {
    const std::uint32_t power = std::uint32_t{1} << k;
    if (!check(power - 1) || !check(power)) return;
    if (power < prob_one && !check(power + 1)) return;
  }
  for (std::uint32_t p = prob_one - 65536; p <= prob_one; ++p) {
    if (!check(p)) return;
  }
  std::printf("log2_q16: max |error| = %.6f Q16 units (at p=%lld), bound %u\n", worst.error,
              static_cast<long long>(worst.at), log2_error_max_q16);
}

TEST(Fixed, Exp2IsExactAtIntegersAndClampsBelowTheDomain) {
  for (std::int32_t k = 0; k <= 31; ++k) {
    EXPECT_EQ(exp2_q31(-k * log_one), std::uint32_t{1} << (31 - k)) << "k=" << k;
  }
  EXPECT_EQ(exp2_q31(0), prob_one);
  EXPECT_EQ(exp2_q31(log2_min), 1u);
  EXPECT_EQ(exp2_q31(log2_min - 1), 1u);  // clamped to the smallest probability, never 0
  EXPECT_EQ(exp2_q31(std::numeric_limits<std::int32_t>::min()), 1u);
}

TEST(Fixed, Exp2MeetsItsErrorBoundOnEveryInput) {
  Worst absolute;
  double worst_relative = 0;
  std::uint32_t previous = 0;
  for (std::int32_t x = log2_min; x <= 0; ++x) {
    const std::uint32_t got = exp2_q31(x);
    ASSERT_GE(got, 1u) << "x=" << x;
    ASSERT_LE(got, prob_one) << "x=" << x;
    ASSERT_GE(got, previous) << "exp2_q31 decreases at x=" << x;
    previous = got;
    const double exact = exp2_reference_q31(x);
    const double error = std::fabs(static_cast<double>(got) - exact);
    absolute.see(error, x);
    if (exact >= 16777216.0) worst_relative = std::max(worst_relative, error / exact);  // >= 2^24
    ASSERT_LE(error, exp2_bound(exact)) << "x=" << x << " got " << got << " exact " << exact;
  }
  std::printf("exp2_q31: max |error| = %.6f Q31 units (at x=%lld), max relative (values >= 2^24) %.3g\n", absolute.error,
              static_cast<long long>(absolute.at), worst_relative);
}

TEST(FixedDeathTest, ContractsRejectInputsOutsideTheDomain) {
  // Tests link bf_core_checked, so the F6 preconditions are live and name their invariant.
  EXPECT_DEATH((void)log2_q16(0), "F6");
  EXPECT_DEATH((void)log2_q16(prob_one + 1), "F6");
  EXPECT_DEATH((void)exp2_q31(1), "F6");
}

TEST(Fixed, RoundTripStaysClose) {
  // exp2(log2(p)) returns p within the composed bounds: log2's 2 Q16 units are a relative
  // 2 * ln 2 / 2^16 in p, plus exp2's own error.
  for (std::uint32_t p = 1; p < prob_one; p = p * 3 + 1) {
    const double back = exp2_q31(log2_q16(p));
    const double tolerance = p * (2.0 * std::log(2.0) / 65536.0 + std::ldexp(1.0, -22)) + 2.0;
    EXPECT_NEAR(back, static_cast<double>(p), tolerance) << "p=" << p;
  }
}

}  // namespace
}  // namespace bf::core::fixed
