// Fusion of the decided cluster's answers (spec/invariants.md: F1-F6).
//
// Every rule runs over the decided cluster only, in integer fixed point, so an auditor recomputes
// the fused result bit for bit on any machine (F6). Weights are a simplex in units of
// weight_unit = 2^24 (F1); distributions are Q31 (each sums to prob_unit = 2^31). Rounding
// leaves a deficit of a few units; it always goes to one well-defined entry (the largest entry
// after flooring, ties to the lowest worker index or token index), so results are exact,
// order-free (F5) and unanimous inputs come back unchanged (F4). No function here allocates: callers pass output and scratch.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/fixed.hpp"
#include "core/result.hpp"
#include "core/tally.hpp"

namespace bf::core::fusion {

inline constexpr std::uint32_t weight_unit = 1u << 24;      // F1: weights sum exactly to this
inline constexpr std::uint32_t prob_unit = fixed::prob_one;  // distributions sum exactly to this
inline constexpr std::uint32_t similarity_one = 1u << 16;   // attention similarities in [0, 2^16]
// Attention temperature in Q16, bounded so the softmax exponent stays in range.
inline constexpr std::uint32_t temperature_min_q16 = 1u << 12;  // 1/16
inline constexpr std::uint32_t temperature_default_q16 = 1u << 14;  // 0.25

enum class RuleId : std::uint8_t {
  weighted_vote = 1,  // reputation-weighted vote over canonical answers
  weighted_mean = 2,  // reputation-weighted mean of per-token distributions
  median = 3,         // numeric median (lower and upper middle averaged, floor)
  trimmed_mean = 4,   // numeric mean after dropping `trim` values at each end
  attention = 5,      // agreement-derived weights, fixed-point softmax
  sctt = 6,           // SCTT smooth combination: normalised weighted geometric mean
  krum = 7,           // admissibility only: not a fuser in this build
  bulyan = 8,         // admissibility only: not a fuser in this build
};

const char* rule_name(RuleId rule) noexcept;
std::optional<RuleId> rule_from_name(std::string_view name) noexcept;

// Whether rule may be used with `values` inputs in a group tolerating f Byzantine workers:
// median needs values >= 2f+1; trimmed mean needs trim >= f and values > 2*trim;
// Krum needs values >= 2f+3; Bulyan needs values >= 4f+3. The error says which bound failed.
Status check_admissible(RuleId rule, std::uint32_t values, std::uint32_t f, std::uint32_t trim = 0);

struct Member {
  WorkerIndex worker = 0;         // unique within a call: ties are broken by it
  std::uint32_t reputation = 0;   // millionths, as core/reputation.hpp; > 0
};

// F1: weights_out[i] = floor(rep_i * weight_unit / sum rep), plus the rounding deficit on the
// member with the largest floored weight (ties: lowest worker index), not the largest reputation:
// two reputations can floor to the same weight. Sum is exactly weight_unit.
Status weights_from_reputation(std::span<const Member> members, std::span<std::uint32_t> weights_out);

struct VoteResult {
  AnswerId answer{};
  std::uint64_t weight = 0;  // sum of the winners' reputations (millionths)
};
// Reputation-weighted vote: the answer with the largest reputation sum; ties: smallest AnswerId.
Result<VoteResult> weighted_vote(std::span<const Member> members, std::span<const AnswerId> answers);

using Distribution = std::span<const std::uint32_t>;  // Q31, sums to prob_unit

// Weighted mean: out[t] = floor(sum_i w_i p_i[t] / weight_unit), deficit to the largest out[t]
// (ties: lowest t). weights sum to weight_unit; every distribution has out.size() entries.
Status fuse_mean(std::span<const std::uint32_t> weights, std::span<const Distribution> distributions,
                 std::span<std::uint32_t> out);

// SCTT: out[t] proportional to prod_i p_i[t]^(w_i / weight_unit), computed as
// exp2(sum_i w_i log2 p_i[t] / weight_unit - max) with fixed::log2_q16 / exp2_q31, then renormalised
// to prob_unit with the deficit on the largest entry. Zero probabilities count as 2^-31.
// scratch needs out.size() entries.
Status fuse_sctt(std::span<const std::uint32_t> weights, std::span<const Distribution> distributions,
                 std::span<std::uint32_t> out, std::span<std::int32_t> scratch);

// Numeric rules over fixed-point values (the caller's scale, e.g. micro-units). scratch needs
// values.size() entries. Median of an even count: floor of the middle two's mean, without overflow.
Result<std::int64_t> fuse_median(std::span<const std::int64_t> values, std::span<std::int64_t> scratch);
Result<std::int64_t> fuse_trimmed_mean(std::span<const std::int64_t> values, std::uint32_t trim,
                                       std::span<std::int64_t> scratch);

// Attention: score_i = mean over j != i of similarity[i*m + j] (Q16, in [0, 1]); weights are
// softmax(score / temperature) in fixed point: exp2_q31((score_i - score_max) * log2e / temperature),
// normalised to weight_unit with the deficit on the largest floored weight (ties: lowest worker
// index).
// similarity is m*m row-major, symmetric, entries <= similarity_one; a single member gets all.
Status attention_weights(std::span<const Member> members, std::span<const std::uint32_t> similarity,
                         std::uint32_t temperature_q16, std::span<std::uint32_t> weights_out);

}  // namespace bf::core::fusion
