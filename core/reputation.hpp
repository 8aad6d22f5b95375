// Reputation (spec/invariants.md: R1, R2).
//
// Fixed point in millionths, so 0.1 and 1.0 are exact: every worker starts at 1.0 and never falls
// below the seed's floor of 0.1. Each event moves the value a fixed fraction of the way towards
// 1.0 or towards the floor, with integer division (rounding towards the start point), so the
// auditor recomputes it bit for bit.
//
//   agree        r += (one - r) / 16     answered with the decided cluster
//   disagree     r -= (r - floor) / 4    answered, but not with the decided cluster
//   timeout      r -= (r - floor) / 8    no answer by the deadline
//   equivocate   r  = floor, isolated    two signed answers in one round (R2)
//
// A worker below exclude_below (0.3) is excluded from quorum counting and fusion weights until it
// recovers; an isolated worker stays out until a signed membership change readmits it.
// From 1.0, six disagreements in a row exclude a worker (1.0, 0.775, 0.606, 0.480, 0.385,
// 0.314, 0.260).
#pragma once

#include <cstdint>

namespace bf::core {

struct ReputationParams {
  static constexpr std::uint32_t one = 1'000'000;
  static constexpr std::uint32_t floor = 100'000;
  static constexpr std::uint32_t start = one;
  static constexpr std::uint32_t exclude_below = 300'000;
  static constexpr std::uint32_t agree_divisor = 16;
  static constexpr std::uint32_t disagree_divisor = 4;
  static constexpr std::uint32_t timeout_divisor = 8;
};

enum class ReputationEvent : std::uint8_t { agree, disagree, timeout, equivocate };

const char* reputation_event_name(ReputationEvent event) noexcept;

struct Reputation {
  std::uint32_t value = ReputationParams::start;  // millionths, in [floor, one] (R1)
  bool isolated = false;                            // set by equivocation, sticky (R2)

  friend bool operator==(const Reputation&, const Reputation&) = default;
};

// One update step. Pure; R1 and R2 are its postconditions.
Reputation reputation_update(Reputation r, ReputationEvent event) noexcept;

// Whether the worker takes part in quorum counting and fusion weights.
constexpr bool reputation_eligible(Reputation r) noexcept {
  return !r.isolated && r.value >= ReputationParams::exclude_below;
}

}  // namespace bf::core
