// Tally and decision properties (spec/invariants.md Q2, Q3; R2's tally half is in
// reputation_properties.cpp). Rounds are generated adversarially: honest workers sign one answer
// each (possibly re-sent), up to f Byzantine workers sign any sequence of answers (equivocating
// freely), and everything arrives in an arbitrary interleaving.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <array>

#include "core/quorum.hpp"
#include "core/tally.hpp"
#include "tests/property/support.hpp"

namespace bf::test {
namespace {

using core::Decision;
using core::Membership;
using core::Outcome;
using core::RecordResult;
using core::RecordStatus;
using core::RoundStatus;
using core::signer_count;
using core::Tally;

struct Round {
  Membership m;
  SignerMask byzantine = 0;
  SignerMask silent = 0;        // honest workers that never answer
  std::vector<Signed> events;   // in arrival order
};

// One adversarial round: `answers` candidate answers; honest workers pick one (or stay silent),
// Byzantine workers sign 0..4 answers each, including a Byzantine-only answer.
Round gen_round(const Membership& m, std::uint32_t answers) {
  Round r;
  r.m = m;
  const bool full_f = *rc::gen::arbitrary<bool>();
  const std::uint32_t b = full_f ? m.f : *rc::gen::inRange<std::uint32_t>(0, m.f + 1);
  r.byzantine = random_subset_of(all_workers(m.n), b);
  for (WorkerIndex w = 0; w < m.n; ++w) {
    if ((r.byzantine & bit(w)) != 0) {
      const auto count = *rc::gen::inRange<std::uint32_t>(0, 5);
      for (std::uint32_t i = 0; i < count; ++i) {
        r.events.push_back({w, answer_id(*rc::gen::inRange<std::uint32_t>(0, answers + 1))});
      }
    } else if (*rc::gen::inRange(0, 8) == 0) {
      r.silent |= bit(w);
    } else {
      const AnswerId a = answer_id(*rc::gen::inRange<std::uint32_t>(0, answers));
      const auto copies = *rc::gen::inRange<std::uint32_t>(1, 3);  // re-sent messages
      for (std::uint32_t i = 0; i < copies; ++i) r.events.push_back({w, a});
    }
  }
  r.events = shuffled(std::move(r.events));
  return r;
}

// A reference model of Tally::record written from tally.hpp's documentation.
struct Model {
  enum class State : std::uint8_t { silent, answered, isolated };
  std::array<State, 64> state{};
  std::array<AnswerId, 64> answer{};

  // Returns the expected result of recording (w, a) and updates the model.
  RecordResult record(WorkerIndex w, const AnswerId& a) {
    switch (state[w]) {
      case State::isolated: return {RecordStatus::ignored_isolated, std::nullopt};
      case State::answered:
        if (answer[w] == a) return {RecordStatus::duplicate, std::nullopt};
        state[w] = State::isolated;
        return {RecordStatus::equivocation, core::Equivocation{w, answer[w], a}};
      case State::silent: break;
    }
    state[w] = State::answered;
    answer[w] = a;
    return {RecordStatus::recorded, std::nullopt};
  }
  [[nodiscard]] SignerMask mask(State s) const {
    SignerMask out = 0;
    for (WorkerIndex w = 0; w < 64; ++w) {
      if (state[w] == s) out |= bit(w);
    }
    return out;
  }
  [[nodiscard]] std::map<AnswerId, SignerMask> clusters() const {
    std::map<AnswerId, SignerMask> out;
    for (WorkerIndex w = 0; w < 64; ++w) {
      if (state[w] == State::answered) out[answer[w]] |= bit(w);
    }
    return out;
  }
};

bool same_result(const RecordResult& got, const RecordResult& want) {
  if (got.status != want.status || got.evidence.has_value() != want.evidence.has_value()) return false;
  if (!got.evidence) return true;
  return got.evidence->worker == want.evidence->worker && got.evidence->first == want.evidence->first &&
         got.evidence->second == want.evidence->second;
}

// The tally's non-empty clusters as answer -> signers.
std::map<AnswerId, SignerMask> tally_clusters(const Tally& t) {
  std::map<AnswerId, SignerMask> out;
  for (std::uint32_t c = 0; c < t.clusters(); ++c) {
    if (t.cluster_signers(c) != 0) {
      // Each non-empty answer has one cluster.
      RC_ASSERT(out.count(t.cluster_answer(c)) == 0u);
      out[t.cluster_answer(c)] = t.cluster_signers(c);
    }
  }
  return out;
}

RoundStatus open_round(const Membership& m) { return RoundStatus{0, 3, m.n, false}; }

// How many workers the caller reports reachable: usually all of them or at least q (the common
// cases), sometimes anything (partitions, crashes).
std::uint32_t gen_reachable(const Membership& m) {
  return *rc::gen::weightedOneOf<std::uint32_t>({{2, rc::gen::just(m.n)},
                                                 {2, rc::gen::inRange<std::uint32_t>(m.q, m.n + 1)},
                                                 {1, rc::gen::inRange<std::uint32_t>(0, m.n + 1)}});
}

// Q2: at most one answer reaches q, at every moment and over the whole round, both in the tally
// and in the auditor's count of signatures (where an equivocator's signature counts for every
// answer it signed); every equivocator is caught with evidence naming it, and the tally behaves
// exactly as a reference model of its documentation.
RC_GTEST_PROP(Tally, Q2_at_most_one_answer_decides, ()) {
  const Membership m = gen_membership();
  const Round r = gen_round(m, *rc::gen::inRange<std::uint32_t>(1, 4));
  Tally tally(m.n);
  Model model;
  std::optional<AnswerId> ever_at_quorum;
  std::vector<Signed> seen;
  for (const Signed& s : r.events) {
    const RecordResult want = model.record(s.worker, s.answer);
    const RecordResult got = tally.record(s.worker, s.answer);
    RC_ASSERT(same_result(got, want));
    if (got.status == RecordStatus::equivocation) {
      RC_ASSERT(got.evidence->worker == s.worker);
      RC_ASSERT(got.evidence->first != got.evidence->second);
      RC_ASSERT((r.byzantine & bit(s.worker)) != 0u);  // only Byzantine workers can be caught
    }
    seen.push_back(s);

    RC_ASSERT(tally.responders() == model.mask(Model::State::answered));
    RC_ASSERT(tally.equivocators() == model.mask(Model::State::isolated));
    RC_ASSERT(tally_clusters(tally) == model.clusters());

    // At this moment: at most one cluster at q, and no answer other than the first ever to reach q.
    RC_ASSERT(clusters_at_quorum(tally, m.q) <= 1u);
    for (std::uint32_t c = 0; c < tally.clusters(); ++c) {
      if (signer_count(tally.cluster_signers(c)) < m.q) continue;
      if (!ever_at_quorum) ever_at_quorum = tally.cluster_answer(c);
      RC_ASSERT(*ever_at_quorum == tally.cluster_answer(c));
    }
    // The auditor's count over every signature so far, equivocations included.
    RC_ASSERT(!conflicting_quorums(seen, m.q).has_value());

    const Decision d = core::decide(tally, m, open_round(m));
    if (d.outcome == Outcome::decided) RC_ASSERT(d.answer == *ever_at_quorum);
  }
  // Every worker that signed two different answers was caught, and no one else.
  SignerMask equivocated = 0;
  for (const auto& [answer, signers] : signers_by_answer(r.events)) {
    for (const auto& [other, other_signers] : signers_by_answer(r.events)) {
      if (answer != other) equivocated |= signers & other_signers;
    }
  }
  RC_ASSERT(tally.equivocators() == equivocated);
  RC_TAG(ever_at_quorum ? "an answer reached q" : "no answer reached q");
  RC_TAG(equivocated != 0 ? "equivocation" : "no equivocation");
}

// Q3: when the honest workers (at least n-f of them) all sign one answer, it is decided, whatever
// the Byzantine workers do, in whatever order, and whatever the round's status says; the decision
// carries every honest signer.
RC_GTEST_PROP(Tally, Q3_honest_agreement_decides, ()) {
  const Membership m = gen_membership();
  RC_ASSERT(m.q + m.f <= m.n);
  const std::uint32_t b = *rc::gen::inRange<std::uint32_t>(0, m.f + 1);
  const SignerMask byzantine = random_subset_of(all_workers(m.n), b);
  const SignerMask honest = all_workers(m.n) & ~byzantine;
  const AnswerId agreed = answer_id(*rc::gen::inRange<std::uint32_t>(0, 4));
  std::vector<Signed> events;
  SignerMask byzantine_silent = 0;
  for (const WorkerIndex w : members_of(honest)) events.push_back({w, agreed});
  for (const WorkerIndex w : members_of(byzantine)) {
    const auto count = *rc::gen::inRange<std::uint32_t>(0, 4);
    if (count == 0) byzantine_silent |= bit(w);
    for (std::uint32_t i = 0; i < count; ++i) events.push_back({w, answer_id(*rc::gen::inRange<std::uint32_t>(0, 4))});
  }
  events = shuffled(std::move(events));

  Tally tally(m.n);
  std::uint32_t honest_recorded = 0;
  const auto rounds_max = *rc::gen::inRange<std::uint32_t>(1, core::limits::rounds_max + 1);
  for (const Signed& s : events) {
    (void)tally.record(s.worker, s.answer);
    if ((honest & bit(s.worker)) != 0) ++honest_recorded;
    // Decided as soon as q honest workers have answered, and never for another answer.
    const Decision d = core::decide(tally, m, open_round(m));
    if (honest_recorded >= m.q) {
      RC_ASSERT(d.outcome == Outcome::decided);
    }
    if (d.outcome == Outcome::decided) RC_ASSERT(d.answer == agreed);
  }
  // At the end, under any round status the caller may report (silent Byzantine workers may be
  // known dead, so reachable is anywhere from n minus them to n).
  const RoundStatus status{*rc::gen::inRange<std::uint32_t>(0, rounds_max), rounds_max,
                           m.n - *rc::gen::inRange<std::uint32_t>(0, signer_count(byzantine_silent) + 1),
                           *rc::gen::arbitrary<bool>()};
  const Decision d = core::decide(tally, m, status);
  RC_ASSERT(d.outcome == Outcome::decided);
  RC_ASSERT(d.answer == agreed);
  RC_ASSERT((d.signers & honest) == honest);
  RC_ASSERT(d.support == signer_count(d.signers));
  RC_ASSERT(d.support >= m.q);
}

// A Byzantine minority (at most f, colluding on one answer and equivocating as they like) never
// gets its answer decided, at any moment, while honest workers answer another one.
RC_GTEST_PROP(Tally, ByzantineMinorityNeverDecides, ()) {
  const Membership m = gen_membership();
  const std::uint32_t b = *rc::gen::inRange<std::uint32_t>(0, m.f + 1);
  const SignerMask byzantine = random_subset_of(all_workers(m.n), b);
  const AnswerId honest_answer = answer_id(1);
  const AnswerId byzantine_answer = answer_id(*rc::gen::element(0u, 2u));  // below and above
  std::vector<Signed> events;
  for (WorkerIndex w = 0; w < m.n; ++w) {
    if ((byzantine & bit(w)) != 0) {
      events.push_back({w, byzantine_answer});
      if (*rc::gen::arbitrary<bool>()) events.push_back({w, byzantine_answer});
      if (*rc::gen::inRange(0, 4) == 0) events.push_back({w, honest_answer});  // equivocate
    } else if (*rc::gen::inRange(0, 4) != 0) {
      events.push_back({w, honest_answer});
    }
  }
  events = shuffled(std::move(events));
  Tally tally(m.n);
  for (const Signed& s : events) {
    (void)tally.record(s.worker, s.answer);
    for (const bool deadline : {false, true}) {
      const Decision d = core::decide(tally, m, RoundStatus{0, 3, m.n, deadline});
      RC_ASSERT(d.outcome != Outcome::decided || d.answer == honest_answer);
    }
  }
}

// The tally decides the same whatever the arrival order: two interleavings of the same signed
// answers give the same counted clusters, responders, equivocators, largest cluster and decision.
RC_GTEST_PROP(Tally, ArrivalOrderDoesNotMatter, ()) {
  const Membership m = gen_membership();
  const Round r = gen_round(m, *rc::gen::inRange<std::uint32_t>(1, 4));
  const std::vector<Signed> other = shuffled(r.events);
  Tally first(m.n);
  Tally second(m.n);
  for (const Signed& s : r.events) (void)first.record(s.worker, s.answer);
  for (const Signed& s : other) (void)second.record(s.worker, s.answer);

  RC_ASSERT(first.responders() == second.responders());
  RC_ASSERT(first.equivocators() == second.equivocators());
  RC_ASSERT(tally_clusters(first) == tally_clusters(second));
  const auto a = first.largest_cluster();
  const auto b = second.largest_cluster();
  RC_ASSERT(a.has_value() == b.has_value());
  if (a) RC_ASSERT(first.cluster_answer(*a) == second.cluster_answer(*b));
  const auto rounds_max = *rc::gen::inRange<std::uint32_t>(1, core::limits::rounds_max + 1);
  const RoundStatus status{*rc::gen::inRange<std::uint32_t>(0, rounds_max), rounds_max,
                           gen_reachable(m), *rc::gen::arbitrary<bool>()};
  const Decision x = core::decide(first, m, status);
  const Decision y = core::decide(second, m, status);
  RC_ASSERT(x.outcome == y.outcome);
  RC_ASSERT(x.answer == y.answer);
  RC_ASSERT(x.signers == y.signers);
  RC_ASSERT(x.support == y.support);
}

// decide() follows the outcome table in tally.hpp for any tally and any round status; in
// particular it never says decided with fewer than q signers, and support is always the largest
// cluster's size.
RC_GTEST_PROP(Tally, DecideFollowsTheDocumentedOutcomes, ()) {
  const Membership m = gen_membership();
  const Round r = gen_round(m, *rc::gen::inRange<std::uint32_t>(1, 4));
  const std::size_t prefix =
      *rc::gen::arbitrary<bool>() ? r.events.size() : *rc::gen::inRange<std::size_t>(0, r.events.size() + 1);
  Tally tally(m.n);
  Model model;
  for (std::size_t i = 0; i < prefix; ++i) {
    (void)tally.record(r.events[i].worker, r.events[i].answer);
    (void)model.record(r.events[i].worker, r.events[i].answer);
  }
  const auto rounds_max = *rc::gen::inRange<std::uint32_t>(1, core::limits::rounds_max + 1);
  const RoundStatus status{*rc::gen::inRange<std::uint32_t>(0, rounds_max), rounds_max,
                           gen_reachable(m), *rc::gen::arbitrary<bool>()};

  // The documented table, evaluated on the model.
  std::uint32_t largest = 0;
  AnswerId largest_answer{};
  SignerMask largest_signers = 0;
  for (const auto& [answer, signers] : model.clusters()) {  // ascending ids: ties keep the smaller
    if (signer_count(signers) > largest) {
      largest = signer_count(signers);
      largest_answer = answer;
      largest_signers = signers;
    }
  }
  const std::uint32_t responders = signer_count(model.mask(Model::State::answered));
  const std::uint32_t answered = responders + signer_count(model.mask(Model::State::isolated));
  Outcome want = Outcome::pending;
  if (largest >= m.q) {
    want = Outcome::decided;
  } else if (status.reachable < m.q) {
    want = Outcome::no_quorum;
  } else if (!status.deadline_passed && answered < status.reachable) {
    want = Outcome::pending;
  } else if (responders < m.q) {
    want = Outcome::no_quorum;
  } else {
    want = status.round + 1 == status.rounds_max ? Outcome::no_consensus : Outcome::need_debate;
  }

  // largest_cluster(): the most signers, ties to the smaller answer id (order-free).
  const auto best = tally.largest_cluster();
  RC_ASSERT(best.has_value() == (largest > 0));
  if (best) RC_ASSERT(tally.cluster_answer(*best) == largest_answer);

  const Decision d = core::decide(tally, m, status);
  RC_TAG(core::outcome_name(d.outcome));
  RC_ASSERT(d.outcome == want);
  RC_ASSERT(d.support == largest);
  if (d.outcome == Outcome::decided) {
    RC_ASSERT(d.support >= m.q);
    RC_ASSERT(signer_count(d.signers) == d.support);
    RC_ASSERT(d.answer == largest_answer);
    RC_ASSERT(d.signers == largest_signers);
  } else {
    RC_ASSERT(d.support < m.q);
  }
  // The same inputs give the same decision (decide is pure).
  const Decision again = core::decide(tally, m, status);
  RC_ASSERT(again.outcome == d.outcome && again.answer == d.answer && again.signers == d.signers);
}

// Fail closed: with fewer than q answers counted, the group never decides or debates. Once the
// deadline has passed, or when fewer than q workers are reachable at all, the outcome is NoQuorum.
RC_GTEST_PROP(Tally, FewerThanQAnswersIsNoQuorum, ()) {
  const Membership m = gen_membership();
  const auto k = *rc::gen::inRange<std::uint32_t>(0, m.q);  // responders, fewer than q
  const SignerMask responders = random_subset_of(all_workers(m.n), k);
  // Some of the rest answered twice differently (their votes are withdrawn), the others are silent.
  const SignerMask rest = all_workers(m.n) & ~responders;
  const SignerMask equivocators =
      random_subset_of(rest, *rc::gen::inRange<std::uint32_t>(0, signer_count(rest) + 1));
  std::vector<Signed> events;
  for (const WorkerIndex w : members_of(responders)) events.push_back({w, answer_id(*rc::gen::inRange<std::uint32_t>(0, 3))});
  for (const WorkerIndex w : members_of(equivocators)) {
    events.push_back({w, answer_id(0)});
    events.push_back({w, answer_id(1)});
  }
  events = shuffled(std::move(events));
  Tally tally(m.n);
  for (const Signed& s : events) (void)tally.record(s.worker, s.answer);
  RC_ASSERT(tally.responders() == responders);

  const auto rounds_max = *rc::gen::inRange<std::uint32_t>(1, core::limits::rounds_max + 1);
  const RoundStatus status{*rc::gen::inRange<std::uint32_t>(0, rounds_max), rounds_max,
                           gen_reachable(m), *rc::gen::arbitrary<bool>()};
  const Decision d = core::decide(tally, m, status);
  RC_TAG(core::outcome_name(d.outcome));
  if (status.deadline_passed || status.reachable < m.q) {
    RC_ASSERT(d.outcome == Outcome::no_quorum);
  } else {
    RC_ASSERT(d.outcome == Outcome::no_quorum || d.outcome == Outcome::pending);
  }
}

}  // namespace
}  // namespace bf::test
