// Quorum arithmetic (spec/invariants.md: Q1, Q2, Q3).
//
// A decided answer needs q signers such that (a) q >= 2f+1, so at least f+1 honest workers signed
// it, and (b) two different answers cannot both reach q even when the f Byzantine workers sign both:
// 2q - f > n. The smallest such q is max(2f+1, floor((n+f)/2)+1). The seed's rule 2f+1 alone meets
// (b) only when n <= 3f+1, so it is unsafe for n = 3, 5 and 6 among the seed's own rows.
#pragma once

#include <cstdint>

#include "core/result.hpp"

namespace bf::core {

enum class QuorumRule : std::uint8_t {
  safe = 0,            // max(2f+1, floor((n+f)/2)+1): Q1 and Q2 hold for every n > 3f
  seed_2f_plus_1 = 1,  // the seed's table: 2f+1; kept for comparison, never used to decide
};

const char* quorum_rule_name(QuorumRule rule) noexcept;

// The safe quorum. Requires 3f < n.
constexpr std::uint32_t quorum_safe(std::uint32_t n, std::uint32_t f) noexcept {
  const std::uint32_t by_honesty = 2 * f + 1;
  const std::uint32_t by_uniqueness = (n + f) / 2 + 1;
  return by_honesty > by_uniqueness ? by_honesty : by_uniqueness;
}

// The seed's quorum, 2f+1.
constexpr std::uint32_t quorum_seed(std::uint32_t /*n*/, std::uint32_t f) noexcept {
  return 2 * f + 1;
}

constexpr std::uint32_t quorum_of(QuorumRule rule, std::uint32_t n, std::uint32_t f) noexcept {
  return rule == QuorumRule::safe ? quorum_safe(n, f) : quorum_seed(n, f);
}

// The largest f with 3f < n (0 for n = 0).
constexpr std::uint32_t faults_max(std::uint32_t n) noexcept { return n == 0 ? 0 : (n - 1) / 3; }

// Whether quorum q is safe for (n, f): Q1/Q2 (2q - n >= f + 1, i.e. two quorums share an honest
// worker and no equivocated answer pair reaches q twice) and Q3 (q <= n - f, reachable by honest
// workers alone).
constexpr bool quorum_is_safe(std::uint32_t n, std::uint32_t f, std::uint32_t q) noexcept {
  return 2 * q >= n + f + 1 && q >= 2 * f + 1 && q + f <= n;
}

// An immutable description of a consensus group: n workers, up to f Byzantine, quorum q.
struct Membership {
  std::uint32_t n = 0;
  std::uint32_t f = 0;
  std::uint32_t q = 0;
  QuorumRule rule = QuorumRule::safe;

  friend bool operator==(const Membership&, const Membership&) = default;
};

// Builds a membership; a clear error when 3f >= n, n is 0 or above limits::workers_max.
// Only QuorumRule::safe is accepted for deciding; the seed rule is refused with an explanation
// unless allow_unsafe_rule is set (used by the simulator's "testing the tester" runs).
Result<Membership> make_membership(std::uint32_t n, std::uint32_t f,
                                   QuorumRule rule = QuorumRule::safe,
                                   bool allow_unsafe_rule = false);

}  // namespace bf::core
