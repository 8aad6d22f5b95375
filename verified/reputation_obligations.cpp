// R1 and R2: core/reputation.cpp and the mask updates of Tally::record in bit-vectors of the
// code's widths (uint32 reputation, uint64 signer masks), so wrap-around is part of the model.
#include <z3++.h>

#include "core/reputation.hpp"
#include "verified/engine.hpp"
#include "verified/models.hpp"

namespace bf::verified {
namespace detail {
namespace {

using P = core::ReputationParams;

struct Rep {
  z3::expr value;     // bv32
  z3::expr isolated;  // Bool
};

// reputation_update, line for line; event is bv8 holding the enum value.
Rep reputation_update_expr(const Rep& r, const z3::expr& event, const std::string& mutant) {
  z3::context& c = r.value.ctx();
  const auto k = [&](std::uint32_t v) { return c.bv_val(v, 32); };
  const z3::expr agree = r.value + z3::udiv(k(P::one) - r.value, k(P::agree_divisor)) +
                         (mutant == "agree-plus-one" ? k(1) : k(0));
  const z3::expr disagree = mutant == "no-floor"
                                ? r.value - z3::udiv(r.value, k(P::disagree_divisor))
                                : r.value - z3::udiv(r.value - k(P::floor), k(P::disagree_divisor));
  const z3::expr timeout = r.value - z3::udiv(r.value - k(P::floor), k(P::timeout_divisor));
  const bool equivocation_as_disagree = mutant == "equivocation-as-disagree";
  const z3::expr equivocate = equivocation_as_disagree ? disagree : k(P::floor);
  const auto is = [&](core::ReputationEvent e) {
    return event == c.bv_val(static_cast<unsigned>(e), 8);
  };
  const z3::expr value =
      z3::ite(is(core::ReputationEvent::agree), agree,
              z3::ite(is(core::ReputationEvent::disagree), disagree,
                      z3::ite(is(core::ReputationEvent::timeout), timeout, equivocate)));
  const z3::expr isolated =
      equivocation_as_disagree ? r.isolated : (r.isolated || is(core::ReputationEvent::equivocate));
  return {value, isolated};
}

z3::expr in_range(const z3::expr& v) {
  z3::context& c = v.ctx();
  return z3::uge(v, c.bv_val(P::floor, 32)) && z3::ule(v, c.bv_val(P::one, 32));
}

z3::expr eligible(const Rep& r) {
  return !r.isolated && z3::uge(r.value, r.value.ctx().bv_val(P::exclude_below, 32));
}

struct Masks {
  z3::expr responders, equivocators, cluster;  // bv64
};

// Tally::record's mask updates for worker w (bv64 < 64); same: the answer equals the recorded one.
Masks tally_record_expr(const Masks& s, const z3::expr& w, const z3::expr& same, const std::string& mutant) {
  z3::context& c = w.ctx();
  const z3::expr zero = c.bv_val(0, 64);
  const z3::expr me = z3::shl(c.bv_val(1, 64), w);
  const z3::expr isolated = (s.equivocators & me) != zero;
  const z3::expr responded = (s.responders & me) != zero;
  const bool keeps = mutant == "tally-keeps-vote";
  // Equivocation: withdraw the first vote, mark the equivocator.
  const Masks equivocated{keeps ? s.responders : (s.responders & ~me), s.equivocators | me,
                          keeps ? s.cluster : (s.cluster & ~me)};
  const Masks first{s.responders | me, s.equivocators, s.cluster | me};
  const auto pick = [&](const z3::expr& cond, const Masks& a, const Masks& b) {
    return Masks{z3::ite(cond, a.responders, b.responders), z3::ite(cond, a.equivocators, b.equivocators),
                 z3::ite(cond, a.cluster, b.cluster)};
  };
  // ignored_isolated and duplicate leave the masks unchanged.
  return pick(isolated, s, pick(responded, pick(same, s, equivocated), first));
}

}  // namespace

static std::vector<BlockSpec> r1_blocks(const std::string& mutant) {
  std::vector<BlockSpec> blocks = {{"every value in [floor, one], every event", [mutant](z3::context& c) {
    Block b;
    const Rep r{c.bv_const("value", 32), c.bool_const("isolated")};
    const z3::expr event = c.bv_const("event", 8);
    b.assertions.push_back(z3::ult(event, c.bv_val(4, 8)));
    const Rep next = reputation_update_expr(r, event, mutant);
    // Base case (the start value) or the inductive step fails.
    b.assertions.push_back(!in_range(c.bv_val(P::start, 32)) || (in_range(r.value) && !in_range(next.value)));
    b.report = {{"value", r.value}, {"event (0 agree, 1 disagree, 2 timeout, 3 equivocate)", event},
                {"next", next.value}};
    return b;
  }}};
  return blocks;
}

ObligationResult check_r1(const std::string& mutant) {
  return run_blocks("R1", mutant, r1_blocks);
}

static std::vector<BlockSpec> r2_blocks(const std::string& mutant) {
  std::vector<BlockSpec> blocks = {
      {"reputation_update: every value in [floor, one], every event, isolated or not",
       [mutant](z3::context& c) {
         Block b;
         const Rep r{c.bv_const("value", 32), c.bool_const("isolated")};
         const z3::expr event = c.bv_const("event", 8);
         b.assertions.push_back(z3::ult(event, c.bv_val(4, 8)));
         b.assertions.push_back(in_range(r.value));
         const Rep next = reputation_update_expr(r, event, mutant);
         const z3::expr equivocate = event == c.bv_val(static_cast<unsigned>(core::ReputationEvent::equivocate), 8);
         b.assertions.push_back((equivocate && !(next.isolated && !eligible(next))) ||
                                (r.isolated && !next.isolated));
         b.report = {{"value", r.value}, {"isolated", r.isolated}, {"event", event},
                     {"next_value", next.value}, {"next_isolated", next.isolated}};
         return b;
       }},
      {"Tally::record: every worker < 64, any disjoint responder/equivocator masks", [mutant](z3::context& c) {
         Block b;
         const Masks s{c.bv_const("responders", 64), c.bv_const("equivocators", 64), c.bv_const("cluster", 64)};
         const z3::expr w = c.bv_const("worker", 64);
         const z3::expr same = c.bool_const("same_answer");
         const z3::expr zero = c.bv_val(0, 64);
         b.assertions.push_back(z3::ult(w, c.bv_val(64, 64)));
         // Invariants before the call: no equivocator is a responder; a cluster's signers respond.
         b.assertions.push_back((s.responders & s.equivocators) == zero);
         b.assertions.push_back((s.cluster & ~s.responders) == zero);
         const Masks next = tally_record_expr(s, w, same, mutant);
         const z3::expr me = z3::shl(c.bv_val(1, 64), w);
         const z3::expr equivocation = (s.equivocators & me) == zero && (s.responders & me) != zero && !same;
         const z3::expr isolated_now = (next.equivocators & me) != zero && (next.responders & me) == zero &&
                                       (next.cluster & me) == zero;
         b.assertions.push_back((equivocation && !isolated_now) ||
                                ((s.equivocators & me) != zero && !isolated_now) ||
                                (next.responders & next.equivocators) != zero ||
                                (next.cluster & ~next.responders) != zero);
         b.report = {{"worker", w}, {"same_answer", same}, {"responders", s.responders},
                     {"equivocators", s.equivocators}, {"cluster", s.cluster},
                     {"next_responders", next.responders}, {"next_equivocators", next.equivocators},
                     {"next_cluster", next.cluster}};
         return b;
       }}};
  return blocks;
}

ObligationResult check_r2(const std::string& mutant) {
  return run_blocks("R2", mutant, r2_blocks);
}

}  // namespace detail

namespace model {

ReputationOut reputation_update(std::uint32_t value, bool isolated, unsigned event) {
  z3::context c;
  const detail::Rep r{c.bv_val(value, 32), c.bool_val(isolated)};
  const detail::Rep next = detail::reputation_update_expr(r, c.bv_val(event, 8), "");
  ReputationOut out;
  out.value = static_cast<std::uint32_t>(next.value.simplify().get_numeral_uint64());
  out.isolated = next.isolated.simplify().is_true();
  return out;
}

TallyState tally_record(TallyState s, std::uint32_t w, bool same_answer) {
  z3::context c;
  const detail::Masks m{c.bv_val(s.responders, 64), c.bv_val(s.equivocators, 64), c.bv_val(s.cluster_signers, 64)};
  const detail::Masks next = detail::tally_record_expr(m, c.bv_val(w, 64), c.bool_val(same_answer), "");
  return {next.responders.simplify().get_numeral_uint64(), next.equivocators.simplify().get_numeral_uint64(),
          next.cluster.simplify().get_numeral_uint64()};
}

}  // namespace model
}  // namespace bf::verified
