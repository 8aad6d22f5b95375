#include "core/reputation.hpp"

#include "core/contract.hpp"

namespace bf::core {

const char* reputation_event_name(ReputationEvent event) noexcept {
  switch (event) {
    case ReputationEvent::agree: return "agree";
    case ReputationEvent::disagree: return "disagree";
    case ReputationEvent::timeout: return "timeout";
    case ReputationEvent::equivocate: return "equivocate";
  }
  return "unknown";
}

Reputation reputation_update(Reputation r, ReputationEvent event) noexcept {
  using P = ReputationParams;
  BF_REQUIRE("R1", r.value >= P::floor && r.value <= P::one);
  Reputation next = r;
  switch (event) {
    case ReputationEvent::agree: next.value = r.value + (P::one - r.value) / P::agree_divisor; break;
    case ReputationEvent::disagree:
      next.value = r.value - (r.value - P::floor) / P::disagree_divisor;
      break;
    case ReputationEvent::timeout:
      next.value = r.value - (r.value - P::floor) / P::timeout_divisor;
      break;
    case ReputationEvent::equivocate:
      next.value = P::floor;
      next.isolated = true;
      break;
  }
  BF_ENSURE("R1", next.value >= P::floor && next.value <= P::one);
  BF_ENSURE("R2", event != ReputationEvent::equivocate || (next.isolated && !reputation_eligible(next)));
  BF_ENSURE("R2", !r.isolated || next.isolated);  // isolation is sticky
  return next;
}

}  // namespace bf::core
