// Reputation properties (spec/invariants.md R1, R2).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/reputation.hpp"
#include "core/tally.hpp"
#include "tests/property/support.hpp"

namespace bf::test {
namespace {

using core::Reputation;
using core::ReputationEvent;
using P = core::ReputationParams;

ReputationEvent gen_event() {
  // Equivocation is rarer than the others so that long runs exercise recovery too.
  return *rc::gen::weightedElement<ReputationEvent>({{6, ReputationEvent::agree},
                                                     {6, ReputationEvent::disagree},
                                                     {4, ReputationEvent::timeout},
                                                     {1, ReputationEvent::equivocate}});
}

Reputation gen_reputation() {
  const bool fresh = *rc::gen::arbitrary<bool>();
  if (fresh) return Reputation{};
  const auto value = *rc::gen::weightedOneOf<std::uint32_t>(
      {{4, rc::gen::inRange<std::uint32_t>(P::floor, P::one + 1)},
       {1, rc::gen::element(P::floor, P::floor + 1, P::floor + 3, P::one - 1, P::one, P::exclude_below,
                            P::exclude_below - 1)}});
  return Reputation{value, *rc::gen::inRange(0, 8) == 0};
}

// The documented rule, in 64-bit arithmetic (reputation.hpp's table).
std::uint64_t expected_value(std::uint64_t r, ReputationEvent e) {
  switch (e) {
    case ReputationEvent::agree: return r + (P::one - r) / P::agree_divisor;
    case ReputationEvent::disagree: return r - (r - P::floor) / P::disagree_divisor;
    case ReputationEvent::timeout: return r - (r - P::floor) / P::timeout_divisor;
    case ReputationEvent::equivocate: return P::floor;
  }
  return 0;
}

// R1: from any in-range value, any sequence of events keeps reputation in [0.1, 1.0]; each step is
// the documented fixed-point rule (so an auditor recomputes it), agreeing never lowers it and
// disagreeing or timing out never raises it.
RC_GTEST_PROP(Reputation, R1_reputation_stays_in_bounds, ()) {
  Reputation r = gen_reputation();
  const auto steps = *rc::gen::inRange(0, 300);
  for (int i = 0; i < steps; ++i) {
    const ReputationEvent e = gen_event();
    const Reputation next = core::reputation_update(r, e);
    RC_ASSERT(next.value >= P::floor);
    RC_ASSERT(next.value <= P::one);
    RC_ASSERT(next.value == expected_value(r.value, e));
    if (e == ReputationEvent::agree) RC_ASSERT(next.value >= r.value);
    if (e == ReputationEvent::disagree || e == ReputationEvent::timeout) RC_ASSERT(next.value <= r.value);
    r = next;
  }
}

// R2 (reputation half): an equivocation isolates at once (value at the floor, not eligible), and
// isolation is sticky whatever follows; no other event isolates anyone.
RC_GTEST_PROP(Reputation, R2_equivocation_isolates, ()) {
  Reputation r = gen_reputation();
  bool was_isolated = r.isolated;
  const auto steps = *rc::gen::inRange(1, 200);
  for (int i = 0; i < steps; ++i) {
    const ReputationEvent e = gen_event();
    const Reputation next = core::reputation_update(r, e);
    if (e == ReputationEvent::equivocate) {
      RC_ASSERT(next.isolated);
      RC_ASSERT(next.value == P::floor);
      RC_ASSERT(!core::reputation_eligible(next));
    }
    RC_ASSERT(next.isolated == (was_isolated || e == ReputationEvent::equivocate));
    if (next.isolated) RC_ASSERT(!core::reputation_eligible(next));
    was_isolated = next.isolated;
    r = next;
  }
}

// R2 (tally half, end to end): in an adversarial round, every worker that signs two different
// answers is reported with evidence naming it, its vote is withdrawn from every cluster, later
// messages from it are ignored, and applying the evidence to its reputation isolates it. Honest
// workers are never reported and keep their eligibility.
RC_GTEST_PROP(Reputation, EquivocationEvidenceLeadsToIsolation, ()) {
  const core::Membership m = gen_membership(2);
  const SignerMask byzantine =
      random_subset_of(all_workers(m.n), *rc::gen::inRange<std::uint32_t>(1, std::max<std::uint32_t>(m.f, 1) + 1));
  std::vector<Signed> events;
  for (WorkerIndex w = 0; w < m.n; ++w) {
    if ((byzantine & bit(w)) != 0) {
      const auto count = *rc::gen::inRange(1, 5);
      for (int i = 0; i < count; ++i) events.push_back({w, answer_id(*rc::gen::inRange<std::uint32_t>(0, 3))});
    } else {
      events.push_back({w, answer_id(*rc::gen::inRange<std::uint32_t>(0, 3))});
    }
  }
  events = shuffled(std::move(events));

  core::Tally tally(m.n);
  std::vector<Reputation> reputation(m.n);
  SignerMask caught = 0;
  for (const Signed& s : events) {
    const core::RecordResult result = tally.record(s.worker, s.answer);
    if ((caught & bit(s.worker)) != 0) {
      RC_ASSERT(result.status == core::RecordStatus::ignored_isolated);
    }
    if (result.status == core::RecordStatus::equivocation) {
      RC_ASSERT(result.evidence.has_value());
      RC_ASSERT(result.evidence->worker == s.worker);
      RC_ASSERT(result.evidence->second == s.answer);
      RC_ASSERT(result.evidence->first != s.answer);
      RC_ASSERT((caught & bit(s.worker)) == 0u);  // reported once
      caught |= bit(s.worker);
      reputation[s.worker] = core::reputation_update(reputation[s.worker], ReputationEvent::equivocate);
    } else {
      RC_ASSERT(!result.evidence.has_value());
    }
    RC_ASSERT(tally.equivocators() == caught);
    RC_ASSERT((tally.responders() & caught) == 0u);
    for (std::uint32_t c = 0; c < tally.clusters(); ++c) RC_ASSERT((tally.cluster_signers(c) & caught) == 0u);
  }
  // Whoever signed two different answers was caught; honest workers never were.
  SignerMask two_answers = 0;
  const auto by_answer = signers_by_answer(events);
  for (const auto& [a, sa] : by_answer) {
    for (const auto& [b, sb] : by_answer) {
      if (a != b) two_answers |= sa & sb;
    }
  }
  RC_ASSERT(caught == two_answers);
  RC_ASSERT((caught & ~byzantine) == 0u);
  // Isolation survives any later history.
  for (WorkerIndex w = 0; w < m.n; ++w) {
    Reputation r = reputation[w];
    for (int i = 0; i < 40; ++i) r = core::reputation_update(r, ReputationEvent::agree);
    RC_ASSERT(r.isolated == ((caught & bit(w)) != 0));
    RC_ASSERT(core::reputation_eligible(r) == ((caught & bit(w)) == 0));
  }
}

}  // namespace
}  // namespace bf::test
