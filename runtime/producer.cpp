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

core::Status verify_signed_answer(const Membership& membership, const cc::SignedAnswer& a,
                                  const Digest& query_id, std::uint32_t round, cc::AgreementRule rule,
                                  std::uint8_t param) {
  const auto& workers = membership.record.workers;
  if (a.worker >= workers.size()) {
    return fail("worker index " + std::to_string(a.worker) + " is not a member (n = " +
                std::to_string(workers.size()) + ")");
  }
  if (a.payload.size() > cc::payload_bytes_max) {
    return fail("worker " + std::to_string(a.worker) + "'s payload has " + std::to_string(a.payload.size()) +
                " bytes, over the limit of " + std::to_string(cc::payload_bytes_max));
  }
  auto preimage = cc::answer_id_preimage(rule, param, a.payload);
  if (!preimage) return fail("worker " + std::to_string(a.worker) + "'s payload: " + preimage.error().message);
  if (blake2b(*preimage) != a.answer) {
    return fail("worker " + std::to_string(a.worker) + "'s answer id is not the digest of its payload under the " +
                cc::agreement_rule_name(rule) + " rule");
  }
  const Bytes msg = cc::answer_signing_message(query_id, round, membership.digest, a.answer, a.payload);
  if (!verify(workers[a.worker].key, msg, a.signature)) {
    return fail("worker " + std::to_string(a.worker) + "'s signature does not verify under its membership key "
                "for this query and round");
  }
  return core::Ok{};
}

Result<EquivocationEvidence> make_equivocation(const Membership& membership, const Digest& query_id,
                                               std::uint32_t round, cc::AgreementRule rule, std::uint8_t param,
                                               const cc::SignedAnswer& a, const cc::SignedAnswer& b) {
  EquivocationEvidence out;
  cc::EquivocationRecord& e = out.record;
  e.membership_digest = membership.digest;
  e.epoch = membership.record.epoch;
  e.query_id = query_id;
  e.round = round;
  e.worker = a.worker;
  e.agreement = rule;
  e.agreement_param = param;
  const bool ordered = a.answer < b.answer;
  e.first = ordered ? a : b;
  e.second = ordered ? b : a;
  auto bytes = cc::encode_equivocation(e);
  if (!bytes) return bytes.error();
  out.bytes = std::move(bytes.value());
  return out;
}

Result<Produced> produce_certificate(const ProduceRequest& req) {
  if (req.membership == nullptr) return fail("no membership given");
  const cc::MembershipRecord& mr = req.membership->record;
  const std::uint32_t n = mr.n;
  bool raw_answers = false;
  for (const auto& in : req.rounds) raw_answers = raw_answers || !in.answers.empty();
  if (raw_answers && req.worker_keys.size() != n) return fail("need one key per worker");
  auto membership = req.unsafe_seed_quorum
                        ? core::make_membership(mr.n, mr.f, core::QuorumRule::seed_2f_plus_1, true)
                        : core::make_membership(mr.n, mr.f);
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
  c.query_id = req.query_id ? *req.query_id : blake2b(req.query);
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
    // Signs the raw answers (test tool), then verifies the workers' own signed answers.
    std::vector<cc::SignedAnswer> arrivals;
    for (const auto& [w, payload] : in.answers) {
      if (w >= n) return fail("worker index " + std::to_string(w) + " is not a member");
      auto signed_answer = sign_answer(req.worker_keys[w], w, c.query_id, r, c.membership_digest,
                                       req.agreement, req.agreement_param, payload);
      if (!signed_answer) return signed_answer.error();
      arrivals.push_back(std::move(signed_answer.value()));
    }
    if (in.signed_answers.size() > 2 * static_cast<std::size_t>(n)) {
      return fail("round " + std::to_string(r) + " gives " + std::to_string(in.signed_answers.size()) +
                  " signed answers; at most two per worker (" + std::to_string(2 * n) + ") can matter");
    }
    for (const auto& a : in.signed_answers) {
      if (req.signatures_verified) {
        arrivals.push_back(a);
        continue;
      }
      if (auto ok = verify_signed_answer(*req.membership, a, c.query_id, r, req.agreement, req.agreement_param);
          !ok) {
        out.rejected.push_back({r, a.worker, ok.error().message});
        continue;
      }
      arrivals.push_back(a);
    }
    for (auto& arrival : arrivals) {
      const core::WorkerIndex w = arrival.worker;
      const core::Reputation rep{c.reputation[w].value, c.reputation[w].isolated};
      if (!core::reputation_eligible(rep) || ((isolated >> w) & 1U) != 0) continue;  // not counted
      cc::SignedAnswer* signed_answer = &arrival;
      const core::RecordResult rec = tally.record(w, signed_answer->answer);
      if (rec.status == core::RecordStatus::recorded) {
        first_answer[w] = round.answers.size();
        round.answers.push_back(std::move(*signed_answer));
      } else if (rec.status == core::RecordStatus::equivocation) {
        auto evidence = make_equivocation(*req.membership, c.query_id, r, req.agreement, req.agreement_param,
                                          round.answers[first_answer[w]], *signed_answer);
        if (!evidence) return evidence.error();
        out.equivocations.push_back(evidence->record);
        out.equivocation_bytes.push_back(evidence->bytes);
        round.answers.push_back(std::move(*signed_answer));
      }
      // duplicate or ignored_isolated: the evidence already in hand is enough
    }
    std::sort(round.answers.begin(), round.answers.end(), [](const auto& a, const auto& b) {
      return std::pair(a.worker, a.answer) < std::pair(b.worker, b.answer);
    });
    c.rounds.push_back(std::move(round));
    isolated |= tally.equivocators();
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
  out.events = reputation_events(c);
  out.reputation_after = c.reputation;
  for (std::uint32_t w = 0; w < n; ++w) {
    if (!out.events[w]) continue;
    const auto rep = core::reputation_update({c.reputation[w].value, c.reputation[w].isolated}, *out.events[w]);
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

std::vector<std::optional<core::ReputationEvent>> reputation_events(const cc::Certificate& c) {
  const std::uint32_t n = c.n;
  std::vector<std::optional<core::ReputationEvent>> events(n, std::nullopt);
  core::SignerMask equivocators = 0;
  core::SignerMask answered_last = 0;
  for (const auto& round : c.rounds) {
    // Answers are sorted by (worker, answer) and hold at most two per worker: a repeat is an
    // equivocation (the producer never records duplicates).
    core::SignerMask seen = 0;
    for (const auto& a : round.answers) {
      if (a.worker >= n) continue;  // the auditor rejects such a certificate; count nothing
      const core::SignerMask bit = core::SignerMask{1} << a.worker;
      if ((seen & bit) != 0) equivocators |= bit;
      seen |= bit;
    }
    answered_last = seen;
  }
  for (std::uint32_t w = 0; w < n && w < c.reputation.size(); ++w) {
    const core::SignerMask bit = core::SignerMask{1} << w;
    const core::Reputation rep{c.reputation[w].value, c.reputation[w].isolated};
    if ((equivocators & bit) != 0) {
      events[w] = core::ReputationEvent::equivocate;
    } else if (c.outcome == core::Outcome::decided && core::reputation_eligible(rep) && (answered_last & bit) != 0) {
      events[w] = (c.decided_signers & bit) != 0 ? core::ReputationEvent::agree : core::ReputationEvent::disagree;
    }
    // No event for a worker without an answer in a Decided certificate: the quorum may have
    // decided before its answer could arrive, and the certificate cannot tell slow from silent.
    // Penalising it excluded the slowest honest workers of a busy cluster (spec/consensus.md).
  }
  return events;
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
