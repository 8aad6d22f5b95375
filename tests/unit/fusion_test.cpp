// Unit tests of core/fusion.hpp: hand-computed cases, every error path, permutation and unanimity
// on fixed cases, and SCTT / attention against double-precision references.
#include "core/fusion.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace bf::core::fusion {
namespace {

constexpr std::uint32_t U = weight_unit;
constexpr std::uint32_t P = prob_unit;
constexpr std::uint32_t one = 1'000'000;  // reputation 1.0 in millionths

AnswerId answer(std::uint8_t tag) {
  AnswerId id{};
  id[0] = tag;
  return id;
}

std::uint64_t sum(std::span<const std::uint32_t> values) {
  return std::accumulate(values.begin(), values.end(), std::uint64_t{0});
}

bool mentions(const Error& error, const std::string& text) {
  return error.message.find(text) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// Names and admissibility.

TEST(FusionRules, NamesRoundTrip) {
  const RuleId all[] = {RuleId::weighted_vote, RuleId::weighted_mean, RuleId::median, RuleId::trimmed_mean,
                        RuleId::attention,     RuleId::sctt,          RuleId::krum,   RuleId::bulyan};
  const char* names[] = {"weighted-vote", "weighted-mean", "median", "trimmed-mean",
                         "attention",     "sctt",          "krum",   "bulyan"};
  for (std::size_t i = 0; i < std::size(all); ++i) {
    EXPECT_STREQ(rule_name(all[i]), names[i]);
    EXPECT_EQ(rule_from_name(names[i]), all[i]);
  }
  EXPECT_FALSE(rule_from_name("Median").has_value());
  EXPECT_FALSE(rule_from_name("").has_value());
  EXPECT_STREQ(rule_name(static_cast<RuleId>(0)), "unknown");
}

TEST(FusionRules, AdmissibilityAtFourWorkersOneFault) {
  EXPECT_TRUE(check_admissible(RuleId::weighted_vote, 4, 1).ok());
  EXPECT_TRUE(check_admissible(RuleId::weighted_mean, 4, 1).ok());
  EXPECT_TRUE(check_admissible(RuleId::attention, 4, 1).ok());
  EXPECT_TRUE(check_admissible(RuleId::sctt, 4, 1).ok());
  EXPECT_TRUE(check_admissible(RuleId::median, 4, 1).ok());
  EXPECT_TRUE(check_admissible(RuleId::trimmed_mean, 4, 1, 1).ok());

  const Status trim_below_f = check_admissible(RuleId::trimmed_mean, 4, 1, 0);
  ASSERT_FALSE(trim_below_f.ok());
  EXPECT_EQ(trim_below_f.error().code, Errc::rule_not_admissible);
  EXPECT_TRUE(mentions(trim_below_f.error(), "trim >= f")) << trim_below_f.error().message;

  const Status krum = check_admissible(RuleId::krum, 4, 1);
  ASSERT_FALSE(krum.ok());
  EXPECT_EQ(krum.error().code, Errc::rule_not_admissible);
  EXPECT_TRUE(mentions(krum.error(), "2f+3 = 5")) << krum.error().message;
  EXPECT_TRUE(mentions(krum.error(), "median")) << krum.error().message;

  const Status bulyan = check_admissible(RuleId::bulyan, 4, 1);
  ASSERT_FALSE(bulyan.ok());
  EXPECT_EQ(bulyan.error().code, Errc::rule_not_admissible);
  EXPECT_TRUE(mentions(bulyan.error(), "4f+3 = 7")) << bulyan.error().message;
}

TEST(FusionRules, AdmissibilityBoundsAreExact) {
  EXPECT_FALSE(check_admissible(RuleId::median, 2, 1).ok());  // 2 < 2f+1
  EXPECT_TRUE(check_admissible(RuleId::median, 3, 1).ok());
  EXPECT_FALSE(check_admissible(RuleId::trimmed_mean, 2, 1, 1).ok());  // needs > 2*trim
  EXPECT_TRUE(check_admissible(RuleId::trimmed_mean, 3, 1, 1).ok());
  EXPECT_FALSE(check_admissible(RuleId::krum, 4, 1).ok());
  EXPECT_TRUE(check_admissible(RuleId::krum, 5, 1).ok());
  EXPECT_FALSE(check_admissible(RuleId::bulyan, 6, 1).ok());
  EXPECT_TRUE(check_admissible(RuleId::bulyan, 7, 1).ok());
  EXPECT_TRUE(check_admissible(RuleId::krum, 3, 0).ok());
  // No wrap-around for huge f.
  EXPECT_FALSE(check_admissible(RuleId::bulyan, 64, 0xFFFFFFFFu).ok());
  EXPECT_EQ(check_admissible(RuleId::median, 0, 0).error().code, Errc::empty_input);
  EXPECT_EQ(check_admissible(static_cast<RuleId>(99), 4, 1).error().code, Errc::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Weights from reputation.

TEST(FusionWeights, HandComputedReputations) {
  // S = 2.5e6: 1.0 -> floor(0.4 U) = 6710886, 0.5 -> floor(0.2 U) = 3355443; sum U - 1, and the
  // one-unit deficit goes to the heaviest with the lowest worker index (worker 0).
  const Member members[] = {{0, one}, {1, one}, {2, one / 2}};
  std::array<std::uint32_t, 3> w{};
  ASSERT_TRUE(weights_from_reputation(members, w).ok());
  EXPECT_EQ(w, (std::array<std::uint32_t, 3>{6710887, 6710886, 3355443}));
  EXPECT_EQ(sum(w), U);
}

TEST(FusionWeights, DeficitFollowsWorkerIndexNotPosition) {
  const Member members[] = {{5, one / 2}, {3, one}, {1, one}};
  std::array<std::uint32_t, 3> w{};
  ASSERT_TRUE(weights_from_reputation(members, w).ok());
  EXPECT_EQ(w, (std::array<std::uint32_t, 3>{3355443, 6710886, 6710887}));
}

TEST(FusionWeights, EqualReputationsAreUniformUpToTheDeficit) {
  const Member members[] = {{2, 700'000}, {0, 700'000}, {1, 700'000}};
  std::array<std::uint32_t, 3> w{};
  ASSERT_TRUE(weights_from_reputation(members, w).ok());
  // U / 3 = 5592405 remainder 1: worker 0 (second position) takes the unit.
  EXPECT_EQ(w, (std::array<std::uint32_t, 3>{5592405, 5592406, 5592405}));
}

TEST(FusionWeights, SingleMemberGetsEverything) {
  const Member members[] = {{7, 123'456}};
  std::array<std::uint32_t, 1> w{};
  ASSERT_TRUE(weights_from_reputation(members, w).ok());
  EXPECT_EQ(w[0], U);
}

TEST(FusionWeights, SixtyFourMembersSumExactly) {
  std::vector<Member> members;
  for (std::uint32_t i = 0; i < 64; ++i) members.push_back({63 - i, 100'000 + i * 14'063});
  std::vector<std::uint32_t> w(64);
  ASSERT_TRUE(weights_from_reputation(members, w).ok());
  EXPECT_EQ(sum(w), U);
  // Heavier reputation, no lighter weight (the deficit goes to the heaviest, the last one).
  for (std::size_t i = 1; i < 64; ++i) EXPECT_GE(w[i], w[i - 1]) << "i=" << i;
}

TEST(FusionWeights, ErrorPaths) {
  std::array<std::uint32_t, 2> w{};
  EXPECT_EQ(weights_from_reputation({}, w).error().code, Errc::empty_input);
  const Member one_member[] = {{0, one}};
  EXPECT_EQ(weights_from_reputation(one_member, w).error().code, Errc::size_mismatch);
  const Member zero[] = {{0, one}, {1, 0}};
  const auto zero_status = weights_from_reputation(zero, w);
  EXPECT_EQ(zero_status.error().code, Errc::invalid_argument);
  EXPECT_TRUE(mentions(zero_status.error(), "reputation 0")) << zero_status.error().message;
  const Member duplicate[] = {{3, one}, {3, one}};
  const auto dup_status = weights_from_reputation(duplicate, w);
  EXPECT_EQ(dup_status.error().code, Errc::invalid_argument);
  EXPECT_TRUE(mentions(dup_status.error(), "twice")) << dup_status.error().message;
  const Member out_of_range[] = {{0, one}, {64, one}};
  EXPECT_EQ(weights_from_reputation(out_of_range, w).error().code, Errc::worker_out_of_range);
  std::vector<Member> many(65);
  for (std::uint32_t i = 0; i < 65; ++i) many[i] = {i, one};
  std::vector<std::uint32_t> many_w(65);
  EXPECT_EQ(weights_from_reputation(many, many_w).error().code, Errc::too_many_workers);
}

// ---------------------------------------------------------------------------------------------
// Weighted vote.

TEST(FusionVote, HeaviestAnswerWins) {
  const Member members[] = {{0, one}, {1, 400'000}, {2, 400'000}};
  const AnswerId answers[] = {answer(9), answer(1), answer(1)};
  const auto result = weighted_vote(members, answers);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->answer, answer(9));  // 1.0 beats 0.4 + 0.4
  EXPECT_EQ(result->weight, one);
}

TEST(FusionVote, TiesGoToTheSmallestAnswerInAnyOrder) {
  const Member members[] = {{0, 500'000}, {1, 500'000}, {2, one}};
  const AnswerId answers[] = {answer(7), answer(7), answer(3)};
  const auto forward = weighted_vote(members, answers);
  ASSERT_TRUE(forward.ok());
  EXPECT_EQ(forward->answer, answer(3));
  EXPECT_EQ(forward->weight, one);
  const Member reversed_members[] = {{2, one}, {1, 500'000}, {0, 500'000}};
  const AnswerId reversed_answers[] = {answer(3), answer(7), answer(7)};
  const auto backward = weighted_vote(reversed_members, reversed_answers);
  ASSERT_TRUE(backward.ok());
  EXPECT_EQ(backward->answer, answer(3));
}

TEST(FusionVote, UnanimousAnswerWinsWithAllReputation) {
  const Member members[] = {{0, one}, {1, 300'000}};
  const AnswerId answers[] = {answer(4), answer(4)};
  const auto result = weighted_vote(members, answers);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->answer, answer(4));
  EXPECT_EQ(result->weight, 1'300'000u);
}

TEST(FusionVote, ErrorPaths) {
  const Member members[] = {{0, one}, {1, one}};
  const AnswerId answers[] = {answer(1)};
  EXPECT_EQ(weighted_vote(members, answers).error().code, Errc::size_mismatch);
  EXPECT_EQ(weighted_vote({}, {}).error().code, Errc::empty_input);
  const Member zero[] = {{0, 0}};
  EXPECT_EQ(weighted_vote(zero, answers).error().code, Errc::invalid_argument);
  const Member duplicate[] = {{1, one}, {1, one}};
  const AnswerId two[] = {answer(1), answer(2)};
  EXPECT_EQ(weighted_vote(duplicate, two).error().code, Errc::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Median and trimmed mean.

TEST(FusionNumeric, MedianIgnoresAByzantineOutlier) {
  constexpr std::int64_t huge = std::numeric_limits<std::int64_t>::max();
  const std::int64_t honest_high[] = {10, 12, 11, huge};
  const std::int64_t honest_low[] = {10, 12, 11, -huge - 1};
  std::array<std::int64_t, 4> scratch{};
  const auto high = fuse_median(honest_high, scratch);
  ASSERT_TRUE(high.ok());
  EXPECT_EQ(*high, 11);  // floor((11 + 12) / 2), inside the honest [10, 12]
  const auto low = fuse_median(honest_low, scratch);
  ASSERT_TRUE(low.ok());
  EXPECT_EQ(*low, 10);  // floor((10 + 11) / 2)
}

TEST(FusionNumeric, MedianOfEvenCountFloorsIncludingNegatives) {
  std::array<std::int64_t, 4> scratch{};
  auto median = [&](std::initializer_list<std::int64_t> v) {
    return *fuse_median(std::span<const std::int64_t>(v.begin(), v.size()), scratch);
  };
  EXPECT_EQ(median({-3, -2}), -3);  // -2.5
  EXPECT_EQ(median({-3, 4}), 0);    // 0.5
  EXPECT_EQ(median({-4, 1}), -2);   // -1.5
  EXPECT_EQ(median({-4, -2}), -3);  // exact
  EXPECT_EQ(median({5, 8, -1, 2}), 3);  // (2 + 5) / 2 = 3.5
  EXPECT_EQ(median({7}), 7);
  EXPECT_EQ(median({3, -9, 1}), 1);
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(median({max, max}), max);
  EXPECT_EQ(median({min, min}), min);
  EXPECT_EQ(median({min, max}), -1);  // -0.5
  EXPECT_EQ(median({max - 1, max}), max - 1);
}

TEST(FusionNumeric, MedianAndTrimmedMeanIgnoreOrder) {
  std::vector<std::int64_t> values = {-50, 3, 17, 4, 4, 1'000'000, -2, 9};
  std::vector<std::int64_t> scratch(values.size());
  const std::int64_t median = *fuse_median(values, scratch);
  const std::int64_t trimmed = *fuse_trimmed_mean(values, 2, scratch);
  std::sort(values.begin(), values.end());
  int permutations = 0;
  do {
    ASSERT_EQ(*fuse_median(values, scratch), median);
    ASSERT_EQ(*fuse_trimmed_mean(values, 2, scratch), trimmed);
  } while (std::next_permutation(values.begin(), values.end()) && ++permutations < 2000);
  EXPECT_EQ(median, 4);   // sorted: -50 -2 3 4 4 9 17 1e6
  EXPECT_EQ(trimmed, 5);  // (3 + 4 + 4 + 9) / 4
}

TEST(FusionNumeric, TrimmedMeanHandComputed) {
  std::array<std::int64_t, 5> scratch{};
  const std::int64_t a[] = {1, 2, 3, 100};
  EXPECT_EQ(*fuse_trimmed_mean(a, 1, scratch), 2);  // (2 + 3) / 2 = 2.5
  const std::int64_t b[] = {-7, -2, -1, 50};
  EXPECT_EQ(*fuse_trimmed_mean(b, 1, scratch), -2);  // (-2 - 1) / 2 = -1.5, floored
  const std::int64_t c[] = {-6, -1, -1, -1, 40};
  EXPECT_EQ(*fuse_trimmed_mean(c, 0, scratch), 6);  // 31 / 5 = 6.2
  const std::int64_t d[] = {-6, -1, -1, -1, -40};
  EXPECT_EQ(*fuse_trimmed_mean(d, 0, scratch), -10);  // -49 / 5 = -9.8
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
  const std::int64_t big[] = {max, max, max};
  EXPECT_EQ(*fuse_trimmed_mean(big, 0, scratch), max);  // no overflow in the sum
  const std::int64_t small[] = {min, min, min, min};
  EXPECT_EQ(*fuse_trimmed_mean(small, 1, scratch), min);
  const std::int64_t mixed[] = {min, max, max};
  EXPECT_EQ(*fuse_trimmed_mean(mixed, 0, scratch), max / 3);  // (2^63 - 2) / 3, exact
}

TEST(FusionNumeric, TrimmedMeanWithTrimFStaysInHonestRange) {
  // n = 4, f = 1: one Byzantine value at either extreme cannot pull the result out of [20, 30].
  std::array<std::int64_t, 4> scratch{};
  const std::int64_t up[] = {20, 30, 25, std::numeric_limits<std::int64_t>::max()};
  const std::int64_t down[] = {20, 30, 25, std::numeric_limits<std::int64_t>::min()};
  const std::int64_t r_up = *fuse_trimmed_mean(up, 1, scratch);
  const std::int64_t r_down = *fuse_trimmed_mean(down, 1, scratch);
  EXPECT_EQ(r_up, 27);    // (25 + 30) / 2
  EXPECT_EQ(r_down, 22);  // (20 + 25) / 2
}

TEST(FusionNumeric, ErrorPaths) {
  std::array<std::int64_t, 4> scratch{};
  EXPECT_EQ(fuse_median({}, scratch).error().code, Errc::empty_input);
  EXPECT_EQ(fuse_trimmed_mean({}, 0, scratch).error().code, Errc::empty_input);
  const std::int64_t five[] = {1, 2, 3, 4, 5};
  EXPECT_EQ(fuse_median(five, scratch).error().code, Errc::size_mismatch);
  EXPECT_EQ(fuse_trimmed_mean(five, 1, scratch).error().code, Errc::size_mismatch);
  const std::int64_t four[] = {1, 2, 3, 4};
  const auto too_much = fuse_trimmed_mean(four, 2, scratch);
  EXPECT_EQ(too_much.error().code, Errc::invalid_argument);
  EXPECT_TRUE(mentions(too_much.error(), "trim=2")) << too_much.error().message;
}

// ---------------------------------------------------------------------------------------------
// Weighted mean of distributions.

TEST(FusionMean, HandComputedWithDeficit) {
  const std::uint32_t pa[] = {1, P - 1};
  const std::uint32_t pb[] = {P - 1, 1};
  const Distribution ds[] = {pa, pb};
  const std::uint32_t w[] = {U / 2 + 1, U / 2 - 1};
  std::array<std::uint32_t, 2> out{};
  ASSERT_TRUE(fuse_mean(w, ds, out).ok());
  // Floors are 1073741696 and 1073741951 (sum P - 1); the unit goes to the larger entry.
  EXPECT_EQ(out, (std::array<std::uint32_t, 2>{1073741696, 1073741952}));
}

TEST(FusionMean, ThreeDistributionsSumExactly) {
  const std::uint32_t p0[] = {P / 2 + 1, P / 2 - 1, 0};
  const std::uint32_t p1[] = {P / 4, P / 4, P / 2};
  const std::uint32_t p2[] = {1, P - 2, 1};
  const std::uint32_t w[] = {5592406, 5592405, 5592405};
  const Distribution ds[] = {p0, p1, p2};
  std::array<std::uint32_t, 3> out{};
  ASSERT_TRUE(fuse_mean(w, ds, out).ok());
  EXPECT_EQ(out, (std::array<std::uint32_t, 3>{536870944, 1252698784, 357913920}));
  EXPECT_EQ(sum(out), P);

  // Same inputs in another order (each weight stays with its distribution): same bytes.
  const Distribution permuted[] = {p2, p0, p1};
  const std::uint32_t permuted_w[] = {5592405, 5592406, 5592405};
  std::array<std::uint32_t, 3> again{};
  ASSERT_TRUE(fuse_mean(permuted_w, permuted, again).ok());
  EXPECT_EQ(again, out);
}

TEST(FusionMean, UnanimousDistributionsComeBackUnchanged) {
  const std::uint32_t p[] = {7, P - 100, 93, 0};
  const Distribution ds[] = {p, p, p};
  const std::uint32_t w[] = {1'000'003, 10'000'000, U - 11'000'003};
  std::array<std::uint32_t, 4> out{};
  ASSERT_TRUE(fuse_mean(w, ds, out).ok());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), std::begin(p)));
}

TEST(FusionMean, ErrorPaths) {
  const std::uint32_t good[] = {P / 2, P / 2};
  const std::uint32_t bad_sum[] = {P / 2, P / 2 - 1};
  const std::uint32_t three[] = {P / 2, P / 2, 0};
  std::array<std::uint32_t, 2> out{};
  const std::uint32_t w2[] = {U / 2, U / 2};
  const std::uint32_t w1[] = {U};

  const Distribution with_bad[] = {good, bad_sum};
  const auto bad = fuse_mean(w2, with_bad, out);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_TRUE(mentions(bad.error(), "distribution 1")) << bad.error().message;

  const Distribution ds[] = {good, good};
  EXPECT_EQ(fuse_mean(w1, ds, out).error().code, Errc::size_mismatch);
  const std::uint32_t w_short[] = {U / 2, U / 2 - 1};
  const auto weights_off = fuse_mean(w_short, ds, out);
  EXPECT_EQ(weights_off.error().code, Errc::invalid_argument);
  EXPECT_TRUE(mentions(weights_off.error(), "weight_unit")) << weights_off.error().message;
  const Distribution wrong_length[] = {good, three};
  EXPECT_EQ(fuse_mean(w2, wrong_length, out).error().code, Errc::size_mismatch);
  EXPECT_EQ(fuse_mean({}, {}, out).error().code, Errc::empty_input);
  EXPECT_EQ(fuse_mean(w2, ds, std::span<std::uint32_t>{}).error().code, Errc::empty_input);
}

// ---------------------------------------------------------------------------------------------
// SCTT.

// Double-precision reference: normalised prod_i p_i^(w_i / U), zeros counted as 2^-31.
std::vector<double> sctt_reference(std::span<const std::uint32_t> w, std::span<const Distribution> ds) {
  const std::size_t vocabulary = ds[0].size();
  std::vector<double> log_mass(vocabulary, 0.0);
  for (std::size_t i = 0; i < ds.size(); ++i) {
    for (std::size_t t = 0; t < vocabulary; ++t) {
      log_mass[t] += (static_cast<double>(w[i]) / U) * std::log2(std::max<double>(ds[i][t], 1.0) / P);
    }
  }
  const double top = *std::max_element(log_mass.begin(), log_mass.end());
  double total = 0;
  for (double& v : log_mass) total += (v = std::exp2(v - top));
  for (double& v : log_mass) v = v / total * P;
  return log_mass;
}

// Tolerance: L[t] is within 3 Q16 units (log2's 2 plus the floor), so L[t] - Lmax within 6, i.e. a
// relative 6 ln2 / 2^16 < 6.4e-5 per entry; the sum carries the same, and exp2 adds 2^-22.
// Allow 2e-4 relative plus the deficit (< V units) and 2 units of rounding.
void expect_close_to_reference(std::span<const std::uint32_t> out, const std::vector<double>& reference) {
  for (std::size_t t = 0; t < out.size(); ++t) {
    EXPECT_NEAR(static_cast<double>(out[t]), reference[t], reference[t] * 2e-4 + static_cast<double>(out.size()) + 2)
        << "t=" << t;
  }
}

TEST(FusionSctt, TwoDistributionsMatchTheDoubleReference) {
  // Two workers over 8 tokens, unequal weights, including a zero probability.
  const std::uint32_t pa[] = {P / 2, P / 4, P / 8, P / 16, P / 32, P / 64, P / 64, 0};
  const std::uint32_t pb[] = {P / 8, P / 2, P / 8, P / 8, P / 16, P / 32, P / 64, P / 64};
  const Distribution ds[] = {pa, pb};
  const std::uint32_t w[] = {6710887, U - 6710887};  // 0.4 / 0.6
  std::array<std::uint32_t, 8> out{};
  std::array<std::int32_t, 8> scratch{};
  ASSERT_TRUE(fuse_sctt(w, ds, out, scratch).ok());
  EXPECT_EQ(sum(out), P);
  expect_close_to_reference(out, sctt_reference(w, ds));
  // The geometric mean favours what both like: token 1 (0.25, 0.5) beats token 0 (0.5, 0.125).
  EXPECT_GT(out[1], out[0]);
}

TEST(FusionSctt, ThreeDistributionsAndPermutation) {
  std::vector<std::uint32_t> p0(16), p1(16), p2(16);
  // Deterministic, uneven distributions, each adjusted to sum to P on its last entry.
  auto fill = [](std::vector<std::uint32_t>& p, std::uint32_t seed) {
    std::uint64_t rest = P;
    for (std::size_t t = 0; t + 1 < p.size(); ++t) {
      p[t] = static_cast<std::uint32_t>((seed * (t + 3) * 2654435761u) % (P / 20));
      rest -= p[t];
    }
    p.back() = static_cast<std::uint32_t>(rest);
  };
  fill(p0, 1);
  fill(p1, 2);
  fill(p2, 3);
  const Distribution ds[] = {p0, p1, p2};
  const std::uint32_t w[] = {5592406, 5592405, 5592405};
  std::array<std::uint32_t, 16> out{};
  std::array<std::int32_t, 16> scratch{};
  ASSERT_TRUE(fuse_sctt(w, ds, out, scratch).ok());
  EXPECT_EQ(sum(out), P);
  expect_close_to_reference(out, sctt_reference(w, ds));

  const Distribution permuted[] = {p1, p2, p0};
  const std::uint32_t permuted_w[] = {5592405, 5592405, 5592406};
  std::array<std::uint32_t, 16> again{};
  ASSERT_TRUE(fuse_sctt(permuted_w, permuted, again, scratch).ok());
  EXPECT_EQ(again, out);
}

TEST(FusionSctt, UnanimousDistributionsComeBackUnchanged) {
  const std::uint32_t p[] = {3, P / 3, P - P / 3 - 3, 0};
  const Distribution ds[] = {p, p};
  const std::uint32_t w[] = {U / 4, U - U / 4};
  std::array<std::uint32_t, 4> out{};
  std::array<std::int32_t, 4> scratch{};
  ASSERT_TRUE(fuse_sctt(w, ds, out, scratch).ok());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), std::begin(p)));
}

TEST(FusionSctt, AllWeightOnOneWorkerFollowsIt) {
  const std::uint32_t pa[] = {P / 2, P / 4, P / 4};
  const std::uint32_t pb[] = {0, 0, P};
  const Distribution ds[] = {pa, pb};
  const std::uint32_t w[] = {U, 0};
  std::array<std::uint32_t, 3> out{};
  std::array<std::int32_t, 3> scratch{};
  ASSERT_TRUE(fuse_sctt(w, ds, out, scratch).ok());
  // Powers of two survive log2/exp2 exactly.
  EXPECT_EQ(out, (std::array<std::uint32_t, 3>{P / 2, P / 4, P / 4}));
}

TEST(FusionSctt, ErrorPaths) {
  const std::uint32_t good[] = {P / 2, P / 2};
  const std::uint32_t bad_sum[] = {P / 2, 1};
  const std::uint32_t w2[] = {U / 2, U / 2};
  std::array<std::uint32_t, 2> out{};
  std::array<std::int32_t, 2> scratch{};
  std::array<std::int32_t, 1> small_scratch{};
  const Distribution ds[] = {good, good};
  const Distribution with_bad[] = {good, bad_sum};
  EXPECT_EQ(fuse_sctt(w2, ds, out, small_scratch).error().code, Errc::size_mismatch);
  EXPECT_EQ(fuse_sctt(w2, with_bad, out, scratch).error().code, Errc::invalid_argument);
  const std::uint32_t w_bad[] = {U / 2, U / 2 + 1};
  EXPECT_EQ(fuse_sctt(w_bad, ds, out, scratch).error().code, Errc::invalid_argument);
  EXPECT_EQ(fuse_sctt({}, {}, out, scratch).error().code, Errc::empty_input);
}

// ---------------------------------------------------------------------------------------------
// Attention.

TEST(FusionAttention, DissentingMemberGetsLessWeight) {
  // Workers 0 and 1 agree fully, worker 2 agrees with nobody: scores 0.5, 0.5, 0.
  const Member members[] = {{0, one}, {1, one}, {2, one}};
  const std::uint32_t s = similarity_one;
  const std::uint32_t sim[] = {s, s, 0, s, s, 0, 0, 0, s};
  std::array<std::uint32_t, 3> w{};
  ASSERT_TRUE(attention_weights(members, sim, temperature_default_q16, w).ok());
  EXPECT_EQ(sum(w), U);
  EXPECT_LT(w[2], w[0]);
  EXPECT_LT(w[2], w[1]);
  // Reference softmax(score / 0.25): e^0, e^0, e^-2.
  const double e = std::exp(-2.0);
  const double expected[] = {U / (2 + e), U / (2 + e), U * e / (2 + e)};
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(w[i], expected[i], expected[i] * 1e-4 + 3) << "i=" << i;
  EXPECT_EQ(w[0], w[1] + 1);  // tie on weight: the deficit unit goes to worker 0
}

TEST(FusionAttention, EqualAgreementGivesUniformWeightsInAnyOrder) {
  const Member members[] = {{4, one}, {2, one}, {9, one}};
  const std::uint32_t h = similarity_one / 2;
  const std::uint32_t sim[] = {similarity_one, h, h, h, similarity_one, h, h, h, similarity_one};
  std::array<std::uint32_t, 3> w{};
  ASSERT_TRUE(attention_weights(members, sim, temperature_default_q16, w).ok());
  EXPECT_EQ(w, (std::array<std::uint32_t, 3>{5592405, 5592406, 5592405}));  // worker 2 takes the unit
}

TEST(FusionAttention, PermutingMembersWithTheirRowsPermutesWeights) {
  const Member members[] = {{0, one}, {1, one}, {2, one}, {3, one}};
  const std::uint32_t sim[] = {65536, 60000, 50000, 1000,  //
                               60000, 65536, 55000, 2000,  //
                               50000, 55000, 65536, 3000,  //
                               1000,  2000,  3000,  65536};
  std::array<std::uint32_t, 4> w{};
  ASSERT_TRUE(attention_weights(members, sim, temperature_default_q16, w).ok());
  EXPECT_EQ(sum(w), U);
  EXPECT_LT(w[3], w[0]);

  const std::size_t order[] = {3, 1, 0, 2};  // new position k holds old member order[k]
  Member permuted_members[4];
  std::uint32_t permuted_sim[16];
  for (std::size_t a = 0; a < 4; ++a) {
    permuted_members[a] = members[order[a]];
    for (std::size_t b = 0; b < 4; ++b) permuted_sim[a * 4 + b] = sim[order[a] * 4 + order[b]];
  }
  std::array<std::uint32_t, 4> permuted_w{};
  ASSERT_TRUE(attention_weights(permuted_members, permuted_sim, temperature_default_q16, permuted_w).ok());
  for (std::size_t a = 0; a < 4; ++a) EXPECT_EQ(permuted_w[a], w[order[a]]) << "a=" << a;
}

TEST(FusionAttention, SingleMemberGetsEverything) {
  const Member members[] = {{3, one}};
  const std::uint32_t sim[] = {similarity_one};
  std::array<std::uint32_t, 1> w{};
  ASSERT_TRUE(attention_weights(members, sim, temperature_min_q16, w).ok());
  EXPECT_EQ(w[0], U);
}

TEST(FusionAttention, ErrorPaths) {
  const Member members[] = {{0, one}, {1, one}};
  const std::uint32_t sim[] = {similarity_one, 100, 100, similarity_one};
  std::array<std::uint32_t, 2> w{};
  const auto cold = attention_weights(members, sim, temperature_min_q16 - 1, w);
  EXPECT_EQ(cold.error().code, Errc::invalid_argument);
  EXPECT_TRUE(mentions(cold.error(), "temperature")) << cold.error().message;
  const std::uint32_t short_sim[] = {similarity_one, 100, 100};
  EXPECT_EQ(attention_weights(members, short_sim, temperature_default_q16, w).error().code,
            Errc::size_mismatch);
  const std::uint32_t too_big[] = {similarity_one, similarity_one + 1, similarity_one + 1, similarity_one};
  EXPECT_EQ(attention_weights(members, too_big, temperature_default_q16, w).error().code, Errc::invalid_argument);
  const std::uint32_t asymmetric[] = {similarity_one, 100, 200, similarity_one};
  EXPECT_EQ(attention_weights(members, asymmetric, temperature_default_q16, w).error().code,
            Errc::invalid_argument);
  std::array<std::uint32_t, 1> w_short{};
  EXPECT_EQ(attention_weights(members, sim, temperature_default_q16, w_short).error().code, Errc::size_mismatch);
  EXPECT_EQ(attention_weights({}, {}, temperature_default_q16, w).error().code, Errc::empty_input);
  const Member duplicate[] = {{1, one}, {1, one}};
  EXPECT_EQ(attention_weights(duplicate, sim, temperature_default_q16, w).error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace bf::core::fusion
