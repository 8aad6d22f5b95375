// Fusion rules (core/fusion.hpp; spec/invariants.md F1-F6).
//
// Choices the header leaves to the implementation, fixed here so auditors and models agree:
// - "Heaviest" for the rounding deficit means the largest floored entry (not the largest raw
//   reputation or score); ties go to the lowest worker index (weights) or token index
//   (distributions). Either way the holder depends only on the multiset of inputs (F5).
// - Members are validated the same way by every function that takes them: 1..64 members,
//   worker index < limits::workers_max, unique, reputation > 0 (also for attention, which does
//   not use the reputation, because Member documents it as > 0).
// - fuse_sctt returns the input unchanged when every distribution is identical: log2/exp2 round,
//   so the general path would move unanimous inputs by a few Q31 units and break F4.
// - Arithmetic right shift is floor division for negative values (guaranteed since C++20).
#include "core/fusion.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "core/contract.hpp"
#include "core/limits.hpp"

namespace bf::core::fusion {
namespace {

// ---------------------------------------------------------------------------------------------
// Small arithmetic helpers.

// floor(numerator / denominator) for a positive denominator; C++ division truncates towards zero.
std::int64_t floor_div(std::int64_t numerator, std::int64_t denominator) noexcept {
  std::int64_t quotient = numerator / denominator;
  if ((numerator % denominator) != 0 && numerator < 0) --quotient;
  return quotient;
}

__int128 floor_div(__int128 numerator, __int128 denominator) noexcept {
  __int128 quotient = numerator / denominator;
  if ((numerator % denominator) != 0 && numerator < 0) --quotient;
  return quotient;
}

// floor((a + b) / 2) without forming a + b: with a = 2a' + ra and b = 2b' + rb (floor halves,
// remainders in {0, 1}), the mean is a' + b' + (ra + rb) / 2, whose floor adds 1 iff ra = rb = 1.
std::int64_t floor_mean_of_two(std::int64_t a, std::int64_t b) noexcept {
  return (a >> 1) + (b >> 1) + (a & b & 1);  // >> on negatives is arithmetic (floor) in C++20
}

// ---------------------------------------------------------------------------------------------
// Validation. Each returns an Error a person can act on, or nothing.

std::optional<Error> check_members(std::span<const Member> members, const char* what) {
  if (members.empty()) {
    return Error{Errc::empty_input, std::string(what) + ": no members given; fuse the decided cluster's members"};
  }
  if (members.size() > limits::workers_max) {
    return Error{Errc::too_many_workers, std::string(what) + ": " + std::to_string(members.size()) +
                                             " members exceed the group limit of " +
                                             std::to_string(limits::workers_max)};
  }
  std::uint64_t seen = 0;  // worker indices are < workers_max = 64, so a mask finds duplicates
  for (const Member& member : members) {
    if (member.worker >= limits::workers_max) {
      return Error{Errc::worker_out_of_range, std::string(what) + ": worker index " +
                                                  std::to_string(member.worker) + " is not below " +
                                                  std::to_string(limits::workers_max)};
    }
    const std::uint64_t bit = std::uint64_t{1} << member.worker;
    if ((seen & bit) != 0) {
      return Error{Errc::invalid_argument, std::string(what) + ": worker " +
                                               std::to_string(member.worker) +
                                               " appears twice; pass each member once"};
    }
    seen |= bit;
    if (member.reputation == 0) {
      return Error{Errc::invalid_argument, std::string(what) + ": worker " +
                                               std::to_string(member.worker) +
                                               " has reputation 0; exclude it instead of weighting it by 0"};
    }
  }
  return std::nullopt;
}

std::optional<Error> check_weights(std::span<const std::uint32_t> weights, const char* what) {
  std::uint64_t sum = 0;
  for (const std::uint32_t w : weights) sum += w;
  if (sum != weight_unit) {
    return Error{Errc::invalid_argument, std::string(what) + ": weights sum to " + std::to_string(sum) +
                                             " instead of weight_unit = " + std::to_string(weight_unit) +
                                             "; build them with weights_from_reputation or attention_weights"};
  }
  return std::nullopt;
}

// The common checks of fuse_mean and fuse_sctt: shapes, weights and every distribution's sum.
std::optional<Error> check_distributions(std::span<const std::uint32_t> weights,
                                         std::span<const Distribution> distributions,
                                         std::span<std::uint32_t> out, const char* what) {
  if (weights.empty() || distributions.empty()) {
    return Error{Errc::empty_input, std::string(what) + ": no distributions given"};
  }
  if (weights.size() != distributions.size()) {
    return Error{Errc::size_mismatch, std::string(what) + ": " + std::to_string(weights.size()) +
                                          " weights for " + std::to_string(distributions.size()) +
                                          " distributions; pass one weight per distribution"};
  }
  if (distributions.size() > limits::workers_max) {
    return Error{Errc::too_many_workers, std::string(what) + ": " + std::to_string(distributions.size()) +
                                             " distributions exceed the group limit of " +
                                             std::to_string(limits::workers_max)};
  }
  if (out.empty()) {
    return Error{Errc::empty_input, std::string(what) + ": the output has no entries (vocabulary of 0)"};
  }
  if (out.size() > limits::vocabulary_max) {
    return Error{Errc::invalid_argument, std::string(what) + ": vocabulary of " + std::to_string(out.size()) +
                                             " exceeds limits::vocabulary_max = " +
                                             std::to_string(limits::vocabulary_max)};
  }
  if (auto error = check_weights(weights, what)) return error;
  for (std::size_t i = 0; i < distributions.size(); ++i) {
    const Distribution d = distributions[i];
    if (d.size() != out.size()) {
      return Error{Errc::size_mismatch, std::string(what) + ": distribution " + std::to_string(i) + " has " +
                                            std::to_string(d.size()) + " entries, the output " +
                                            std::to_string(out.size()) +
                                            "; all workers must share one tokenizer"};
    }
    std::uint64_t sum = 0;
    for (const std::uint32_t p : d) sum += p;
    if (sum != prob_unit) {
      return Error{Errc::invalid_argument, std::string(what) + ": distribution " + std::to_string(i) +
                                               " sums to " + std::to_string(sum) + " instead of prob_unit = " +
                                               std::to_string(prob_unit) +
                                               "; quantise it to Q31 with the deficit on its largest entry"};
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Normalisation to an exact unit with a well-defined deficit holder.

// Index of the largest value; ties go to the smallest key(index). key is the worker index for
// weights and the token index for distributions, so the choice does not depend on input order.
template <typename Key>
std::size_t heaviest(std::span<const std::uint32_t> values, Key key) noexcept {
  std::size_t best = 0;
  for (std::size_t i = 1; i < values.size(); ++i) {
    if (values[i] > values[best] || (values[i] == values[best] && key(i) < key(best))) best = i;
  }
  return best;
}

// The F5 property of the deficit holder, stated independently of the search above: nothing is
// heavier, and nothing as heavy has a smaller key.
template <typename Key>
bool is_heaviest_with_smallest_key(std::span<const std::uint32_t> values, std::size_t chosen,
                                   Key key) noexcept {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] > values[chosen]) return false;
    if (values[i] == values[chosen] && key(i) < key(chosen)) return false;
  }
  return true;
}

// values[i] := floor(values[i] * unit / total), then the deficit to the heaviest (ties: smallest
// key). Requires total = sum of values > 0 and values[i] * unit < 2^64 (values <= 2^32, unit <= 2^31).
template <typename Key>
void normalise_to_unit(std::span<std::uint32_t> values, std::uint64_t total, std::uint32_t unit,
                       Key key) noexcept {
  std::uint64_t sum = 0;
  for (std::uint32_t& v : values) {
    v = static_cast<std::uint32_t>(static_cast<std::uint64_t>(v) * unit / total);
    sum += v;
  }
  // Each floor loses less than one unit, so the deficit is below values.size().
  BF_INVARIANT("F1", sum <= unit && unit - sum < values.size());
  const std::span<const std::uint32_t> view(values.data(), values.size());
  const std::size_t holder = heaviest(view, key);
  BF_ENSURE("F5", is_heaviest_with_smallest_key(view, holder, key));
  values[holder] += static_cast<std::uint32_t>(unit - sum);
}

std::uint64_t sum_of(std::span<const std::uint32_t> values) noexcept {
  std::uint64_t sum = 0;
  for (const std::uint32_t v : values) sum += v;
  return sum;
}

bool all_equal(std::span<const std::int64_t> sorted) noexcept {
  return sorted.front() == sorted.back();
}

bool same_reputation(std::span<const Member> members) noexcept {
  return std::all_of(members.begin(), members.end(),
                     [&](const Member& m) { return m.reputation == members[0].reputation; });
}

// F4 for weights: uniform up to the deficit, i.e. every entry is floor(U/m) except the holder's
// extra units (fewer than m).
bool uniform_up_to_deficit(std::span<const std::uint32_t> weights) noexcept {
  const auto extremes = std::minmax_element(weights.begin(), weights.end());
  const std::uint32_t lowest = *extremes.first;
  const std::uint32_t highest = *extremes.second;
  return lowest == weight_unit / weights.size() && highest - lowest < weights.size();
}

// Sum of the reputations of the members whose answer is `answer`.
std::uint64_t support_of(const AnswerId& answer, std::span<const Member> members,
                         std::span<const AnswerId> answers) noexcept {
  std::uint64_t support = 0;
  for (std::size_t j = 0; j < answers.size(); ++j) {
    if (answers[j] == answer) support += members[j].reputation;
  }
  return support;
}

// F5 for the vote: no answer beats the winner under (support desc, AnswerId asc).
bool vote_winner_is_best(const VoteResult& best, std::span<const Member> members,
                         std::span<const AnswerId> answers) noexcept {
  return std::all_of(answers.begin(), answers.end(), [&](const AnswerId& a) {
    const std::uint64_t support = support_of(a, members, answers);
    return support < best.weight || (support == best.weight && !(a < best.answer));
  });
}

// F4 for the vote: unanimous answers win with the whole cluster's reputation.
bool vote_respects_unanimity(const VoteResult& best, std::span<const Member> members,
                             std::span<const AnswerId> answers) noexcept {
  const bool unanimous =
      std::all_of(answers.begin(), answers.end(), [&](const AnswerId& a) { return a == answers[0]; });
  if (!unanimous) return true;
  std::uint64_t all = 0;
  for (const Member& member : members) all += member.reputation;
  return best.answer == answers[0] && best.weight == all;
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// Rule names and admissibility.

const char* rule_name(RuleId rule) noexcept {
  switch (rule) {
    case RuleId::weighted_vote: return "weighted-vote";
    case RuleId::weighted_mean: return "weighted-mean";
    case RuleId::median: return "median";
    case RuleId::trimmed_mean: return "trimmed-mean";
    case RuleId::attention: return "attention";
    case RuleId::sctt: return "sctt";
    case RuleId::krum: return "krum";
    case RuleId::bulyan: return "bulyan";
  }
  return "unknown";
}

std::optional<RuleId> rule_from_name(std::string_view name) noexcept {
  constexpr std::array<RuleId, 8> rules = {RuleId::weighted_vote, RuleId::weighted_mean, RuleId::median,
                                           RuleId::trimmed_mean,  RuleId::attention,     RuleId::sctt,
                                           RuleId::krum,          RuleId::bulyan};
  for (const RuleId rule : rules) {
    if (name == rule_name(rule)) return rule;
  }
  return std::nullopt;
}

namespace {
// The robust rules that work with `values` inputs and f faults, for the error's suggestion.
std::string admissible_alternatives(std::uint64_t values, std::uint64_t f) {
  std::string list;
  if (values >= 2 * f + 1) list += "median";
  if (values > 2 * f) list += list.empty() ? "trimmed-mean (trim = f)" : " or trimmed-mean (trim = f)";
  return list.empty() ? "add workers or lower f" : "use " + list;
}

Status not_admissible(RuleId rule, const std::string& bound, std::uint64_t needed, std::uint64_t values,
                      std::uint64_t f) {
  return Error{Errc::rule_not_admissible,
               std::string(rule_name(rule)) + " needs at least " + bound + " = " + std::to_string(needed) +
                   " values; with " + std::to_string(values) + " values and f=" + std::to_string(f) + " " +
                   admissible_alternatives(values, f)};
}
}  // namespace

Status check_admissible(RuleId rule, std::uint32_t values, std::uint32_t f, std::uint32_t trim) {
  if (values == 0) {
    return Error{Errc::empty_input, std::string(rule_name(rule)) + " has no values to fuse"};
  }
  // 64-bit so that 4f+3 cannot wrap for any 32-bit f.
  const std::uint64_t n = values;
  const std::uint64_t faults = f;
  switch (rule) {
    case RuleId::weighted_vote:
    case RuleId::weighted_mean:
    case RuleId::attention:
    case RuleId::sctt:
      return Ok{};  // they fuse the decided cluster, which already carries the quorum's guarantee
    case RuleId::median:
      if (n < 2 * faults + 1) return not_admissible(rule, "2f+1", 2 * faults + 1, n, faults);
      return Ok{};
    case RuleId::trimmed_mean:
      if (trim < f) {
        return Error{Errc::rule_not_admissible,
                     "trimmed-mean needs trim >= f to drop every Byzantine value; trim=" + std::to_string(trim) +
                         " with f=" + std::to_string(f) + ": use trim=" + std::to_string(f)};
      }
      if (n <= 2 * static_cast<std::uint64_t>(trim)) {
        return Error{Errc::rule_not_admissible,
                     "trimmed-mean needs more than 2*trim = " + std::to_string(2 * static_cast<std::uint64_t>(trim)) +
                         " values; with " + std::to_string(n) + " values and trim=" + std::to_string(trim) +
                         " lower trim (but keep trim >= f=" + std::to_string(f) + ") or " +
                         admissible_alternatives(n, faults)};
      }
      return Ok{};
    case RuleId::krum:
      if (n < 2 * faults + 3) return not_admissible(rule, "2f+3", 2 * faults + 3, n, faults);
      return Ok{};
    case RuleId::bulyan:
      if (n < 4 * faults + 3) return not_admissible(rule, "4f+3", 4 * faults + 3, n, faults);
      return Ok{};
  }
  return Error{Errc::invalid_argument,
               "unknown fusion rule id " + std::to_string(static_cast<unsigned>(rule)) +
                   "; use weighted-vote, weighted-mean, median, trimmed-mean, attention, sctt, krum or bulyan"};
}

// -------------------------------------------------------------------------------------------------
// Weights.

Status weights_from_reputation(std::span<const Member> members, std::span<std::uint32_t> weights_out) {
  if (auto error = check_members(members, "weights_from_reputation")) return *error;
  if (weights_out.size() != members.size()) {
    return Error{Errc::size_mismatch, "weights_from_reputation: " + std::to_string(weights_out.size()) +
                                          " output slots for " + std::to_string(members.size()) +
                                          " members; pass one slot per member"};
  }
  // At most 64 reputations below 2^32 each: the total fits easily in 64 bits, and
  // reputation * weight_unit < 2^56.
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    weights_out[i] = members[i].reputation;
    total += members[i].reputation;
  }
  normalise_to_unit(weights_out, total, weight_unit, [&](std::size_t i) { return members[i].worker; });

  BF_ENSURE("F1", sum_of(weights_out) == weight_unit);
  // F4: equal reputations give equal weights, except the deficit holder's few extra units.
  BF_ENSURE("F4", !same_reputation(members) || uniform_up_to_deficit(weights_out));
  return Ok{};
}

namespace {
// Entries in [0, similarity_one] and symmetric: a member's agreement with another is theirs too,
// which is what makes the scores (and so the weights) independent of the members' order (F5).
std::optional<Error> check_similarity(std::span<const std::uint32_t> similarity, std::size_t m) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < m; ++j) {
      const std::uint32_t s = similarity[i * m + j];
      if (s > similarity_one) {
        return Error{Errc::invalid_argument, "attention_weights: similarity[" + std::to_string(i) + "][" +
                                                 std::to_string(j) + "] = " + std::to_string(s) +
                                                 " exceeds similarity_one = 2^16; scale similarities into [0, 1] Q16"};
      }
      if (s != similarity[j * m + i]) {
        return Error{Errc::invalid_argument, "attention_weights: similarity is not symmetric at (" +
                                                 std::to_string(i) + ", " + std::to_string(j) +
                                                 "); pass a symmetric matrix"};
      }
    }
  }
  return std::nullopt;
}
}  // namespace

Status attention_weights(std::span<const Member> members, std::span<const std::uint32_t> similarity,
                         std::uint32_t temperature_q16, std::span<std::uint32_t> weights_out) {
  if (auto error = check_members(members, "attention_weights")) return *error;
  const std::size_t m = members.size();
  if (weights_out.size() != m) {
    return Error{Errc::size_mismatch, "attention_weights: " + std::to_string(weights_out.size()) +
                                          " output slots for " + std::to_string(m) +
                                          " members; pass one slot per member"};
  }
  if (similarity.size() != m * m) {
    return Error{Errc::size_mismatch, "attention_weights: similarity has " + std::to_string(similarity.size()) +
                                          " entries, expected m*m = " + std::to_string(m * m) +
                                          " (row-major, one row per member)"};
  }
  if (temperature_q16 < temperature_min_q16) {
    return Error{Errc::invalid_argument, "attention_weights: temperature " + std::to_string(temperature_q16) +
                                             " (Q16) is below temperature_min_q16 = " +
                                             std::to_string(temperature_min_q16) +
                                             " (1/16); use temperature_default_q16 or higher"};
  }
  if (auto error = check_similarity(similarity, m)) return *error;
  if (m == 1) {
    weights_out[0] = weight_unit;  // no one to agree with: the single member carries everything
    return Ok{};
  }

  // Scores in [0, 2^16]: the floor of each member's mean similarity to the others. weights_out
  // holds them for a moment (they fit in 32 bits); no extra storage is needed.
  std::uint32_t score_max = 0;
  std::uint32_t score_min = similarity_one;
  for (std::size_t i = 0; i < m; ++i) {
    std::uint64_t sum = 0;  // at most 63 terms of 2^16
    for (std::size_t j = 0; j < m; ++j) {
      if (j != i) sum += similarity[i * m + j];
    }
    weights_out[i] = static_cast<std::uint32_t>(sum / (m - 1));
    score_max = std::max(score_max, weights_out[i]);
    score_min = std::min(score_min, weights_out[i]);
  }

  // Softmax exponent in log2 units, Q16: (score - max) * log2(e) / temperature, floored.
  // |score - max| <= 2^16 and log2e_q16 < 2^17, so the product is below 2^33; with
  // temperature >= 2^12 the exponent is >= -2^16 * 94548 / 2^12 > -24 * 2^16 > log2_min,
  // so exp2_q31 never clamps and every e_i is in [1, 2^31].
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const std::int64_t gap = static_cast<std::int64_t>(weights_out[i]) - static_cast<std::int64_t>(score_max);
    const std::int64_t exponent = floor_div(gap * fixed::log2e_q16, static_cast<std::int64_t>(temperature_q16));
    BF_INVARIANT("F6", exponent <= 0 && exponent >= fixed::log2_min);
    weights_out[i] = fixed::exp2_q31(static_cast<std::int32_t>(exponent));
    total += weights_out[i];  // <= 64 * 2^31
  }
  // e_i * weight_unit <= 2^55: normalise_to_unit's product fits.
  normalise_to_unit(weights_out, total, weight_unit, [&](std::size_t i) { return members[i].worker; });

  BF_ENSURE("F1", sum_of(weights_out) == weight_unit);
  // F4: when every member agrees equally with the others, attention is uniform (up to the deficit).
  BF_ENSURE("F4", score_min != score_max || uniform_up_to_deficit(weights_out));
  return Ok{};
}

// -------------------------------------------------------------------------------------------------
// Vote.

Result<VoteResult> weighted_vote(std::span<const Member> members, std::span<const AnswerId> answers) {
  if (auto error = check_members(members, "weighted_vote")) return *error;
  if (answers.size() != members.size()) {
    return Error{Errc::size_mismatch, "weighted_vote: " + std::to_string(answers.size()) + " answers for " +
                                          std::to_string(members.size()) + " members; pass one answer per member"};
  }
  // At most 64 members: the quadratic scan needs no storage and no allocation.
  VoteResult best{answers[0], support_of(answers[0], members, answers)};
  for (std::size_t i = 1; i < answers.size(); ++i) {
    const std::uint64_t support = support_of(answers[i], members, answers);
    // Largest support wins; ties go to the smallest AnswerId, independent of input order (F5).
    if (support > best.weight || (support == best.weight && answers[i] < best.answer)) {
      best = VoteResult{answers[i], support};
    }
  }
  BF_ENSURE("F4", vote_respects_unanimity(best, members, answers));
  BF_ENSURE("F5", vote_winner_is_best(best, members, answers));
  return best;
}

// -------------------------------------------------------------------------------------------------
// Distributions.

Status fuse_mean(std::span<const std::uint32_t> weights, std::span<const Distribution> distributions,
                 std::span<std::uint32_t> out) {
  if (auto error = check_distributions(weights, distributions, out, "fuse_mean")) return *error;

  for (std::size_t t = 0; t < out.size(); ++t) {
    // w_i <= 2^24 and p_i[t] <= 2^31 with sum w_i = 2^24: the sum is at most 2^55.
    std::uint64_t weighted = 0;
    std::uint32_t lowest = prob_unit;
    std::uint32_t highest = 0;
    for (std::size_t i = 0; i < distributions.size(); ++i) {
      const std::uint32_t p = distributions[i][t];
      weighted += static_cast<std::uint64_t>(weights[i]) * p;
      lowest = std::min(lowest, p);
      highest = std::max(highest, p);
    }
    BF_INVARIANT("F6", weighted <= static_cast<std::uint64_t>(prob_unit) * weight_unit);
    out[t] = static_cast<std::uint32_t>(weighted / weight_unit);
    // F3: a floored convex combination stays between the inputs, which bounds each entry's move
    // by w_i * change / U + 1. F4: unanimous inputs at t give exactly that value.
    BF_INVARIANT("F3", out[t] >= lowest && out[t] <= highest);
    BF_INVARIANT("F4", lowest != highest || out[t] == lowest);
  }

  const std::uint64_t sum = sum_of(out);
  BF_INVARIANT("F1", sum <= prob_unit && prob_unit - sum < out.size());
  const std::size_t holder = heaviest(std::span<const std::uint32_t>(out.data(), out.size()),
                                      [](std::size_t t) { return t; });
  out[holder] += static_cast<std::uint32_t>(prob_unit - sum);
  BF_ENSURE("F1", sum_of(out) == prob_unit);
  return Ok{};
}

Status fuse_sctt(std::span<const std::uint32_t> weights, std::span<const Distribution> distributions,
                 std::span<std::uint32_t> out, std::span<std::int32_t> scratch) {
  if (auto error = check_distributions(weights, distributions, out, "fuse_sctt")) return *error;
  if (scratch.size() < out.size()) {
    return Error{Errc::size_mismatch, "fuse_sctt: scratch has " + std::to_string(scratch.size()) +
                                          " entries, needs out.size() = " + std::to_string(out.size())};
  }

  // F4 by construction: log2 and exp2 each round, so identical inputs would not come back bit for
  // bit through the general path. When every distribution is identical the geometric mean is that
  // distribution, so return it exactly. The check is O(nV), like the fusion itself.
  const bool unanimous = std::all_of(distributions.begin(), distributions.end(), [&](const Distribution& d) {
    return std::equal(d.begin(), d.end(), distributions[0].begin());
  });
  if (unanimous) {
    std::copy(distributions[0].begin(), distributions[0].end(), out.begin());
    BF_ENSURE("F1", sum_of(out) == prob_unit);
    return Ok{};
  }

  // L[t] = floor(sum_i w_i * log2 p_i[t] / 2^24) in Q16. Each log is in [-31 * 2^16, 0] and the
  // weights sum to 2^24, so |sum| <= 31 * 2^40 < 2^45 (int64), and the floor of a convex
  // combination stays in [log2_min, 0]. The arithmetic shift is floor division for negatives.
  std::int32_t level_max = fixed::log2_min;
  for (std::size_t t = 0; t < out.size(); ++t) {
    std::int64_t weighted_log = 0;
    for (std::size_t i = 0; i < distributions.size(); ++i) {
      const std::uint32_t p = std::max<std::uint32_t>(distributions[i][t], 1);  // 0 counts as 2^-31
      weighted_log += static_cast<std::int64_t>(weights[i]) * fixed::log2_q16(p);
    }
    const std::int64_t level = weighted_log >> 24;  // weight_unit = 2^24
    BF_INVARIANT("F6", level >= fixed::log2_min && level <= 0);
    scratch[t] = static_cast<std::int32_t>(level);
    level_max = std::max(level_max, scratch[t]);
  }

  // e[t] = 2^(L[t] - Lmax) in Q31, in [1, 2^31] (the difference is >= log2_min since L >= log2_min
  // and Lmax <= 0); out holds e until the final division. The total is below V * 2^31 <= 2^51.
  std::uint64_t total = 0;
  for (std::size_t t = 0; t < out.size(); ++t) {
    out[t] = fixed::exp2_q31(scratch[t] - level_max);
    total += out[t];
  }
  BF_INVARIANT("F6", total >= prob_unit && total <= static_cast<std::uint64_t>(prob_unit) * out.size());
  // out[t] * 2^31 <= 2^62 fits in 64 bits; the deficit goes to the largest entry (ties: lowest t).
  normalise_to_unit(out, total, prob_unit, [](std::size_t t) { return t; });
  BF_ENSURE("F1", sum_of(out) == prob_unit);
  return Ok{};
}

// -------------------------------------------------------------------------------------------------
// Numeric rules.

namespace {
std::optional<Error> check_numeric(std::span<const std::int64_t> values, std::span<std::int64_t> scratch,
                                   const char* what) {
  if (values.empty()) return Error{Errc::empty_input, std::string(what) + ": no values to fuse"};
  if (scratch.size() < values.size()) {
    return Error{Errc::size_mismatch, std::string(what) + ": scratch has " + std::to_string(scratch.size()) +
                                          " entries, needs values.size() = " + std::to_string(values.size())};
  }
  return std::nullopt;
}

// Sorted copy of the values in scratch: the rules below depend only on the multiset (F5).
std::span<std::int64_t> sorted_copy(std::span<const std::int64_t> values, std::span<std::int64_t> scratch) {
  const std::span<std::int64_t> sorted = scratch.first(values.size());
  std::copy(values.begin(), values.end(), sorted.begin());
  std::sort(sorted.begin(), sorted.end());
  BF_INVARIANT("F5", std::is_sorted(sorted.begin(), sorted.end()));
  return sorted;
}
}  // namespace

Result<std::int64_t> fuse_median(std::span<const std::int64_t> values, std::span<std::int64_t> scratch) {
  if (auto error = check_numeric(values, scratch, "fuse_median")) return *error;
  const std::span<const std::int64_t> sorted = sorted_copy(values, scratch);
  const std::size_t m = sorted.size();
  const std::int64_t lower_middle = sorted[(m - 1) / 2];
  const std::int64_t upper_middle = sorted[m / 2];
  const std::int64_t median = floor_mean_of_two(lower_middle, upper_middle);  // odd m: both the same

  // F2: within the inputs' range, so within the honest range when at most (m-1)/2 are Byzantine.
  BF_ENSURE("F2", median >= sorted.front() && median <= sorted.back());
  // F3: between the two middle order statistics, each of which moves by at most an input's change.
  BF_ENSURE("F3", median >= lower_middle && median <= upper_middle);
  BF_ENSURE("F4", !all_equal(sorted) || median == sorted.front());
  return median;
}

Result<std::int64_t> fuse_trimmed_mean(std::span<const std::int64_t> values, std::uint32_t trim,
                                       std::span<std::int64_t> scratch) {
  if (auto error = check_numeric(values, scratch, "fuse_trimmed_mean")) return *error;
  if (values.size() <= 2 * static_cast<std::uint64_t>(trim)) {
    return Error{Errc::invalid_argument, "fuse_trimmed_mean: trim=" + std::to_string(trim) + " drops all " +
                                             std::to_string(values.size()) +
                                             " values; it needs values > 2*trim, so lower trim or use median"};
  }
  const std::span<const std::int64_t> sorted = sorted_copy(values, scratch);
  const std::span<const std::int64_t> kept = sorted.subspan(trim, sorted.size() - 2 * std::size_t{trim});

  // Each |value| <= 2^63 and there are fewer than 2^63 of them: the 128-bit sum cannot overflow.
  __int128 sum = 0;
  for (const std::int64_t v : kept) sum += v;
  const auto count = static_cast<__int128>(kept.size());
  const __int128 mean_wide = floor_div(sum, count);
  // The floor of a mean of int64 values lies between them, so it fits in int64.
  const auto mean = static_cast<std::int64_t>(mean_wide);

  // F2: within the kept values, hence within the honest range when trim >= f.
  BF_ENSURE("F2", mean >= kept.front() && mean <= kept.back());
  // F3: mean is the exact floor of sum / (m - 2 trim), the basis of the ceil(change / (m - 2 trim)) bound.
  BF_ENSURE("F3", mean_wide * count <= sum && sum < (mean_wide + 1) * count);
  BF_ENSURE("F4", !all_equal(sorted) || mean == sorted.front());
  return mean;
}

}  // namespace bf::core::fusion
