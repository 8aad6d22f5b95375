#include "runtime/producer.hpp"

#include "runtime/fusion_replay.hpp"

#include <algorithm>
#include <map>

#include "core/reputation.hpp"
#include "core/tally.hpp"

namespace bf::runtime {
namespace cc = core::cert;
namespace fusion = core::fusion;

namespace {
Error fail(const std::string& problem) { return Error{Errc::invalid_argument, "certificate producer: " + problem}; }
}  // namespace

Result<cc::SignedAnswer> sign_answer(const Keypair& worker_key, core::WorkerIndex worker,
                                     const Digest& query_id, std::uint32_t round,
                                     const Digest& membership_digest, cc::AgreementRule rule,
                                     std::uint8_t param, Bytes payload) {
  auto preimage = cc::answer_id_preimage(rule, param, payload);
  if (!preimage) return preimage.error();
  cc::SignedAnswer a;
  a.worker = worker;
  a.answer = blake2b(*preimage);
  a.payload = std::move(payload);
  a.signature = sign(worker_key, cc::answer_signing_message(query_id, round, membership_digest,
                                                            a.answer, a.payload));
  return a;
}

Result<Produced> produce_certificate(const ProduceRequest& req) {
  if (req.membership == nullptr) return fail("no membership given");
  const cc::MembershipRecord& mr = req.membership->record;
  const std::uint32_t n = mr.n;
  if (req.worker_keys.size() != n) return fail("need one key per worker");
  auto membership = core::make_membership(mr.n, mr.f);
  if (!membership) return membership.error();
  const core::Membership m = *membership;
  if (req.rounds.empty() || req.rounds.size() > req.rounds_max || req.rounds_max > core::limits::rounds_max) {
    return fail("give 1..R rounds with R <= 8");
  }

  Produced out;
  cc::Certificate& c = out.certificate;
  c.membership_digest = req.membership->digest;
  c.epoch = mr.epoch;
  c.n = n;
  c.f = mr.f;
  c.q = m.q;
  c.rule = m.rule;
  c.query_id = blake2b(req.query);
  c.sequence = req.sequence;
  c.previous_hash = req.previous_hash;
  c.agreement = req.agreement;
  c.agreement_param = req.agreement_param;
  c.rounds_max = req.rounds_max;
  c.reputation = req.reputation.empty()
                     ? std::vector<cc::SnapshotEntry>(n, {core::ReputationParams::start, false})
                     : req.reputation;
  if (c.reputation.size() != n) return fail("the reputation snapshot needs one entry per worker");
  c.invariants = req.invariants;
  c.tasks = req.task_checks;

  core::SignerMask isolated = 0;  // equivocated earlier in this query: ignored from then on
  core::SignerMask answered_last = 0;
  core::Decision decision;
  for (std::uint32_t r = 0; r < req.rounds.size(); ++r) {
    const RoundInput& in = req.rounds[r];
    std::uint32_t eligible = 0;
    for (std::uint32_t w = 0; w < n; ++w) {
      const core::Reputation rep{c.reputation[w].value, c.reputation[w].isolated};
      eligible += core::reputation_eligible(rep) && ((isolated >> w) & 1U) == 0 ? 1 : 0;
    }
    if (in.reachable > eligible) {
      return fail("round " + std::to_string(r) + " claims " + std::to_string(in.reachable) +
                  " reachable workers but only " + std::to_string(eligible) + " are eligible");
    }
    core::Tally tally(n);
    cc::RoundRecord round;
    round.reachable = in.reachable;
    std::map<core::WorkerIndex, std::size_t> first_answer;  // worker -> index in round.answers
    for (const auto& [w, payload] : in.answers) {
      if (w >= n) return fail("worker index " + std::to_string(w) + " is not a member");
      const core::Reputation rep{c.reputation[w].value, c.reputation[w].isolated};
      if (!core::reputation_eligible(rep) || ((isolated >> w) & 1U) != 0) continue;  // not counted
      auto signed_answer = sign_answer(req.worker_keys[w], w, c.query_id, r, c.membership_digest,
                                       req.agreement, req.agreement_param, payload);
      if (!signed_answer) return signed_answer.error();
      const core::RecordResult rec = tally.record(w, signed_answer->answer);
      if (rec.status == core::RecordStatus::recorded) {
        first_answer[w] = round.answers.size();
        round.answers.push_back(std::move(signed_answer.value()));
      } else if (rec.status == core::RecordStatus::equivocation) {
        const cc::SignedAnswer& first = round.answers[first_answer[w]];
        cc::EquivocationRecord e;
        e.membership_digest = c.membership_digest;
        e.epoch = c.epoch;
        e.query_id = c.query_id;
        e.round = r;
        e.worker = w;
        e.agreement = req.agreement;
        e.agreement_param = req.agreement_param;
        const bool ordered = first.answer < signed_answer->answer;
        e.first = ordered ? first : *signed_answer;
        e.second = ordered ? *signed_answer : first;
        auto bytes = cc::encode_equivocation(e);
        if (!bytes) return bytes.error();
        out.equivocations.push_back(e);
        out.equivocation_bytes.push_back(std::move(bytes.value()));
        round.answers.push_back(std::move(signed_answer.value()));
      }
      // duplicate or ignored_isolated: the evidence already in hand is enough
    }
    std::sort(round.answers.begin(), round.answers.end(), [](const auto& a, const auto& b) {
      return std::pair(a.worker, a.answer) < std::pair(b.worker, b.answer);
    });
    c.rounds.push_back(std::move(round));
    isolated |= tally.equivocators();
    answered_last = tally.responders();
    decision = core::decide(tally, m, {r, req.rounds_max, in.reachable, true});
    if (decision.outcome != core::Outcome::need_debate) {
      if (r + 1 != req.rounds.size()) return fail("round " + std::to_string(r) + " ended the query; drop the later rounds");
      break;
    }
    if (r + 1 == req.rounds.size()) return fail("round " + std::to_string(r) + " needs a debate round; give one more round");
  }
  c.outcome = decision.outcome;

  if (decision.outcome == core::Outcome::decided) {
    c.decided_signers = decision.signers;
    c.decided_answer = decision.answer;
    c.fusion_rule = static_cast<std::uint8_t>(req.rule);
    const std::uint32_t trim = req.rule == fusion::RuleId::trimmed_mean ? req.trim : 0;
    auto fused = fuse_decided_cluster(c, req.rule, trim);
    if (!fused) return fused.error();
    c.fused_output = std::move(fused.value());
    if (req.rule == fusion::RuleId::trimmed_mean) {
      c.fusion_params = {static_cast<std::uint8_t>(trim), static_cast<std::uint8_t>(trim >> 8),
                         static_cast<std::uint8_t>(trim >> 16), static_cast<std::uint8_t>(trim >> 24)};
    }
  }

  // Reputation after the query: the next certificate's snapshot.
  out.reputation_after = c.reputation;
  for (std::uint32_t w = 0; w < n; ++w) {
    core::Reputation rep{c.reputation[w].value, c.reputation[w].isolated};
    if (((isolated >> w) & 1U) != 0) {
      rep = core::reputation_update(rep, core::ReputationEvent::equivocate);
    } else if (decision.outcome == core::Outcome::decided && core::reputation_eligible(rep)) {
      const bool in_cluster = ((decision.signers >> w) & 1U) != 0;
      const bool answered = ((answered_last >> w) & 1U) != 0;
      rep = core::reputation_update(rep, in_cluster ? core::ReputationEvent::agree
                                         : answered ? core::ReputationEvent::disagree
                                                    : core::ReputationEvent::timeout);
    }
    out.reputation_after[w] = {rep.value, rep.isolated};
  }

  // Sign: encode with a zero signature, sign everything before it, encode again.
  auto unsigned_bytes = cc::encode_certificate(c);
  if (!unsigned_bytes) return unsigned_bytes.error();
  c.head_signature = sign(req.head_key, cc::certificate_signing_message(*unsigned_bytes));
  auto bytes = cc::encode_certificate(c);
  if (!bytes) return bytes.error();
  out.bytes = std::move(bytes.value());
  out.hash = blake2b(out.bytes);
  return out;
}

Result<Bytes> make_membership_transition(const Membership& from, const Membership& to, const Keypair& head_key) {
  auto refuse = [](const std::string& why) { return Error{Errc::invalid_argument, "membership change: " + why}; };
  if (head_key.public_key != from.record.head_key) {
    return refuse("the head key is not the old membership's head key " + hex(from.record.head_key).substr(0, 16) +
                  "...; sign with the head key in force before the change");
  }
  if (to.record.epoch <= from.record.epoch) {
    return refuse("the new epoch " + std::to_string(to.record.epoch) + " must be greater than the old epoch " +
                  std::to_string(from.record.epoch) + "; give the new membership a larger --epoch");
  }
  if (to.record.cluster_id != from.record.cluster_id) {
    return refuse("the new membership's cluster id '" + to.record.cluster_id + "' differs from '" +
                  from.record.cluster_id + "'; a transition stays within one cluster");
  }
  cc::MembershipTransition t;
  t.old_digest = from.digest;
  t.next = to.record;
  auto unsigned_bytes = cc::encode_membership_transition(t);
  if (!unsigned_bytes) return unsigned_bytes.error();
  t.head_signature = sign(head_key, cc::membership_transition_signing_message(*unsigned_bytes));
  return cc::encode_membership_transition(t);
}

}  // namespace bf::runtime
