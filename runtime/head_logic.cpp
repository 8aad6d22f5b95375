#include "runtime/head_logic.hpp"

#include <algorithm>
#include <bit>
#include <utility>

#include "core/reputation.hpp"
#include "runtime/producer.hpp"

namespace bf::runtime {
namespace cc = core::cert;

namespace {

constexpr Millis round_timeout_max_ms = 10 * 60 * 1000;
constexpr std::size_t debate_answer_chars_max = 2000;  // per anonymised answer in a debate prompt

bool bit(core::SignerMask m, core::WorkerIndex w) { return ((m >> w) & 1U) != 0; }
core::SignerMask one(core::WorkerIndex w) { return core::SignerMask{1} << w; }

bool snapshot_eligible(const cc::SnapshotEntry& e) {
  return core::reputation_eligible(core::Reputation{e.value, e.isolated});
}

// Mode -> the fusion rule the certificate can carry. Attention and SCTT fuse token
// distributions; certificate version 2 certifies only weighted vote, median and trimmed mean, so
// those modes fall back (spec/consensus.md, "Fusion per mode").
std::pair<core::fusion::RuleId, std::string> certified_rule(proto::Mode mode, cc::AgreementRule agreement) {
  const bool numeric = agreement == cc::AgreementRule::numeric;
  const auto rule = numeric ? core::fusion::RuleId::median : core::fusion::RuleId::weighted_vote;
  std::string note = numeric ? "median of the decided cluster" : "reputation-weighted vote of the decided cluster";
  if (mode == proto::Mode::attention || mode == proto::Mode::sctt) {
    note += std::string("; mode ") + (mode == proto::Mode::attention ? "attention" : "sctt") +
            " is not certifiable in certificate version 2, so the certified rule falls back to it";
  }
  return {rule, note};
}

std::string truncate(std::string s, std::size_t max) {
  if (s.size() > max) {
    s.resize(max);
    s += " [...]";
  }
  return s;
}

}  // namespace

Bytes query_id_preimage(std::string_view text, std::uint64_t counter) {
  Bytes out(text.begin(), text.end());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(counter >> (8 * i)));
  return out;
}

core::Status check_head_config(const HeadConfig& config) {
  auto refuse = [](const std::string& why) { return core::Error{Errc::invalid_argument, "head configuration: " + why}; };
  const auto& mr = config.membership.record;
  if (mr.workers.size() != mr.n) return refuse("the membership lists " + std::to_string(mr.workers.size()) +
                                               " workers but n = " + std::to_string(mr.n));
  auto m = core::make_membership(mr.n, mr.f, config.unsafe_seed_quorum ? core::QuorumRule::seed_2f_plus_1
                                                                       : core::QuorumRule::safe,
                                 config.unsafe_seed_quorum);
  if (!m) return refuse(m.error().message);
  if (config.head_key.public_key != mr.head_key) {
    return refuse("the head key is not the membership's head key; start the head with the key whose public half "
                  "the membership names");
  }
  if (config.rounds_max < 1 || config.rounds_max > core::limits::rounds_max) {
    return refuse("rounds_max must be 1.." + std::to_string(core::limits::rounds_max) + ", got " +
                  std::to_string(config.rounds_max));
  }
  if (config.round_timeout_ms < 1 || config.round_timeout_ms > round_timeout_max_ms) {
    return refuse("the round timeout must be 1.." + std::to_string(round_timeout_max_ms) + " ms, got " +
                  std::to_string(config.round_timeout_ms));
  }
  if (!config.reputation.empty() && config.reputation.size() != mr.n) {
    return refuse("the reputation snapshot has " + std::to_string(config.reputation.size()) +
                  " entries; it needs one per worker (" + std::to_string(mr.n) + ") or none");
  }
  if (config.next_sequence < 1) return refuse("sequence numbers start at 1");
  if (config.queries_in_flight_max < 1) return refuse("allow at least one query in flight");
  return core::Ok{};
}

HeadLogic::HeadLogic(HeadConfig config) : config_(std::move(config)) {
  const auto& mr = config_.membership.record;
  auto m = core::make_membership(mr.n, mr.f, config_.unsafe_seed_quorum ? core::QuorumRule::seed_2f_plus_1
                                                                       : core::QuorumRule::safe,
                                 config_.unsafe_seed_quorum);
  if (m) quorum_ = *m;  // else check_head_config was skipped: every query fails closed
  reputation_ = config_.reputation.empty()
                    ? std::vector<cc::SnapshotEntry>(mr.n, {core::ReputationParams::start, false})
                    : config_.reputation;
  reputation_.resize(mr.n, {core::ReputationParams::start, false});
  for (core::WorkerIndex w = 0; w < reputation_.size(); ++w) {
    if (reputation_[w].isolated) isolated_ |= one(w);
  }
}

bool HeadLogic::may_dispatch(const Query& q, core::WorkerIndex w) const {
  return bit(connected_, w) && !bit(isolated_, w) && !bit(q.isolated_here, w) && snapshot_eligible(q.snapshot[w]);
}

// Workers dispatched to in the current round that can still count: connected and not isolated,
// or already answered (their answer is in hand even if they left since). A worker that equivocates
// in this round stays in: core counts it as answered, and dropping it from reachable too would
// end the round with an honest answer still on its way (spec/consensus.md).
std::uint32_t HeadLogic::reachable(const Query& q) const {
  const RoundState& r = q.rounds.back();
  const core::SignerMask live = (connected_ & ~isolated_) | r.answered;
  return core::signer_count(r.dispatched & live);
}

QueryHandle HeadLogic::submit(QueryRequest request, Millis now) {
  const QueryHandle handle = ++counter_;
  Query q;
  q.handle = handle;
  // The counter alone repeats after a restart; the chain position at start does not.
  Bytes pre = query_id_preimage(request.text, handle);
  pre.insert(pre.end(), config_.previous_hash.begin(), config_.previous_hash.end());
  q.id = blake2b(pre);
  q.rounds_max = request.mode == proto::Mode::debate ? config_.rounds_max : 1;
  q.snapshot = reputation_;
  q.submitted = now;
  q.request = std::move(request);
  if (queries_.size() >= config_.queries_in_flight_max || quorum_.n == 0 ||
      q.request.text.size() > proto::prompt_bytes_max) {
    QueryDone d;
    d.handle = handle;
    d.query_id = q.id;
    d.error = quorum_.n == 0 ? "the head configuration is invalid (check_head_config)"
              : q.request.text.size() > proto::prompt_bytes_max
                  ? "the query has " + std::to_string(q.request.text.size()) + " bytes, over the limit of " +
                        std::to_string(proto::prompt_bytes_max)
                  : "too many queries in flight (" + std::to_string(queries_.size()) + "); retry when some finish";
    d.submitted_at = d.decided_at = now;
    actions_.emplace_back(std::move(d));
    return handle;
  }
  auto [it, inserted] = queries_.emplace(q.id, std::move(q));
  (void)inserted;
  start_round(it->second, now);
  evaluate(it->second, now, false);
  erase_done();
  return handle;
}

void HeadLogic::start_round(Query& q, Millis now) {
  const auto r = static_cast<std::uint32_t>(q.rounds.size());
  std::string prompt = q.request.text;
  if (r > 0) {
    // The previous round's distinct answers, labelled by answer id order: never worker ids, and
    // the same labels for every recipient.
    const RoundState& prev = q.rounds.back();
    std::vector<std::pair<core::AnswerId, std::pair<std::string, std::uint32_t>>> distinct;
    for (std::uint32_t c = 0; c < prev.tally.clusters(); ++c) {
      const core::SignerMask signers = prev.tally.cluster_signers(c);
      if (signers == 0) continue;  // withdrawn (equivocation)
      const auto lowest = static_cast<core::WorkerIndex>(std::countr_zero(signers));
      std::string text;
      for (const auto& a : prev.answers) {
        if (a.answer.worker == lowest && a.answer.answer == prev.tally.cluster_answer(c)) text = a.text;
      }
      distinct.push_back({prev.tally.cluster_answer(c), {truncate(text, debate_answer_chars_max), core::signer_count(signers)}});
    }
    std::sort(distinct.begin(), distinct.end());
    prompt += "\n\nIn the previous round the workers gave these answers:\n";
    for (std::size_t i = 0; i < distinct.size() && i < 26; ++i) {
      prompt += "Answer " + std::string(1, static_cast<char>('A' + i)) + " (" +
                std::to_string(distinct[i].second.second) + " of " + std::to_string(quorum_.n) +
                "): " + distinct[i].second.first + "\n";
    }
    prompt += "Consider them and give your final answer.";
    prompt = truncate(prompt, proto::prompt_bytes_max - 8);
  }
  RoundState rs;
  rs.tally = core::Tally(quorum_.n);
  rs.started = now;
  rs.deadline = now + config_.round_timeout_ms;
  proto::Ask ask;
  ask.query_id = q.id;
  ask.round = r;
  ask.mode = q.request.mode;
  ask.agreement = q.request.agreement;
  ask.agreement_param = q.request.agreement_param;
  ask.budget_ms = static_cast<std::uint32_t>(config_.round_timeout_ms);
  ask.prompt = std::move(prompt);
  for (core::WorkerIndex w = 0; w < quorum_.n; ++w) {
    if (!may_dispatch(q, w)) continue;
    rs.dispatched |= one(w);
    actions_.emplace_back(SendAsk{w, ask});
  }
  q.rounds.push_back(std::move(rs));
}

void HeadLogic::evaluate(Query& q, Millis now, bool deadline_passed) {
  while (!q.done) {
    RoundState& r = q.rounds.back();
    const auto round = static_cast<std::uint32_t>(q.rounds.size() - 1);
    r.reachable = reachable(q);
    const core::Decision d = core::decide(r.tally, quorum_, {round, q.rounds_max, r.reachable, deadline_passed});
    if (d.outcome == core::Outcome::pending) return;
    if (deadline_passed) {
      const core::SignerMask late = r.dispatched & connected_ & ~r.answered & ~q.isolated_here & ~isolated_;
      for (core::WorkerIndex w = 0; w < quorum_.n; ++w) {
        if (bit(late, w)) detect(w, "timeout", now, "no answer to round " + std::to_string(round) + " by the deadline");
      }
    }
    if (d.outcome != core::Outcome::need_debate) {
      finish(q, d, now);
      return;
    }
    start_round(q, now);
    deadline_passed = false;  // a fresh round has its own deadline
  }
}

void HeadLogic::finish(Query& q, const core::Decision& decision, Millis now) {
  q.done = true;
  QueryDone d;
  d.handle = q.handle;
  d.query_id = q.id;
  d.submitted_at = q.submitted;
  d.decided_at = now;
  d.rounds = static_cast<std::uint32_t>(q.rounds.size());
  d.timings.dispatch_to_first_answer = q.first_answer ? *q.first_answer - q.submitted : 0;
  d.timings.dispatch_to_quorum = now - q.rounds.back().started;
  d.timings.debate = q.rounds.size() > 1 ? now - q.rounds[1].started : 0;

  ProduceRequest req;
  req.membership = &config_.membership;
  req.head_key = config_.head_key;
  req.query_id = q.id;
  req.query = Bytes(q.request.text.begin(), q.request.text.end());
  req.agreement = q.request.agreement;
  req.agreement_param = q.request.agreement_param;
  req.rounds_max = q.rounds_max;
  const auto [rule, note] = certified_rule(q.request.mode, q.request.agreement);
  req.rule = rule;
  d.fused_note = note;
  req.reputation = q.snapshot;
  req.sequence = config_.next_sequence;
  req.previous_hash = config_.previous_hash;
  req.invariants = config_.invariants;
  req.task_checks = q.request.task_checks;
  req.unsafe_seed_quorum = config_.unsafe_seed_quorum;
  req.signatures_verified = true;  // on_answer verified each before counting it
  for (const RoundState& r : q.rounds) {
    RoundInput in;
    in.reachable = r.reachable;
    for (const auto& a : r.answers) in.signed_answers.push_back(a.answer);
    req.rounds.push_back(std::move(in));
  }
  auto produced = produce_certificate(req);
  if (!produced) {
    d.error = produced.error().message;
    actions_.emplace_back(std::move(d));
    return;
  }
  if (produced->certificate.outcome != decision.outcome || !produced->rejected.empty()) {
    // Cannot happen when the head and the producer agree; fail closed rather than sign a surprise.
    d.error = std::string("internal: the producer's outcome ") + core::outcome_name(produced->certificate.outcome) +
              " differs from the head's " + core::outcome_name(decision.outcome) + "; no certificate issued";
    actions_.emplace_back(std::move(d));
    return;
  }
  // The chain advances only here, in completion order.
  config_.next_sequence += 1;
  config_.previous_hash = produced->hash;
  ++queries_done_;
  remember(q, produced->certificate.sequence);
  for (core::WorkerIndex w = 0; w < produced->events.size() && w < reputation_.size(); ++w) {
    if (!produced->events[w]) continue;
    const auto rep = core::reputation_update({reputation_[w].value, reputation_[w].isolated}, *produced->events[w]);
    reputation_[w] = {rep.value, rep.isolated};
    if (rep.isolated) isolated_ |= one(w);
  }
  const cc::Certificate& c = produced->certificate;
  d.outcome = c.outcome;
  d.signers = c.decided_signers;
  d.fused_output = c.fused_output;
  d.sequence = c.sequence;
  d.certificate = produced->bytes;
  d.certificate_hash = produced->hash;
  d.equivocations = produced->equivocation_bytes;
  d.equivocations.insert(d.equivocations.end(), q.straggler_evidence.begin(), q.straggler_evidence.end());
  if (c.outcome == core::Outcome::decided) {
    const RoundState& last = q.rounds.back();
    const auto lowest = static_cast<core::WorkerIndex>(std::countr_zero(c.decided_signers));
    for (const auto& a : last.answers) {
      if (a.answer.worker == lowest && a.answer.answer == c.decided_answer) d.answer_text = a.text;
    }
    const core::SignerMask outside = last.tally.responders() & ~c.decided_signers;
    for (core::WorkerIndex w = 0; w < quorum_.n; ++w) {
      if (bit(outside, w)) detect(w, "wrong-answer", now, "answered outside the decided cluster");
    }
  }
  actions_.emplace_back(std::move(d));
}

void HeadLogic::detect(core::WorkerIndex w, std::string kind, Millis now, std::string detail) {
  actions_.emplace_back(Detection{w, std::move(kind), now, std::move(detail)});
}

void HeadLogic::isolate(core::WorkerIndex w, std::string reason, Bytes evidence, Millis now,
                        std::uint64_t late_after_sequence) {
  if (!bit(isolated_, w)) {
    isolated_ |= one(w);
    const auto rep = core::reputation_update({reputation_[w].value, reputation_[w].isolated},
                                             core::ReputationEvent::equivocate);
    reputation_[w] = {rep.value, rep.isolated};
    actions_.emplace_back(WorkerIsolated{w, reason, std::move(evidence), late_after_sequence});
  }
  detect(w, "equivocation", now, std::move(reason));
}

void HeadLogic::remember(const Query& q, std::uint64_t sequence) {
  if (config_.recent_queries_max == 0) return;
  Recent rec;
  rec.sequence = sequence;
  rec.agreement = q.request.agreement;
  rec.agreement_param = q.request.agreement_param;
  for (const RoundState& r : q.rounds) {
    std::vector<cc::SignedAnswer> firsts;
    core::SignerMask seen = 0;
    for (const auto& a : r.answers) {  // arrival order: the first per worker is the one counted
      if (bit(seen, a.answer.worker)) continue;
      seen |= one(a.answer.worker);
      firsts.push_back(a.answer);
    }
    rec.rounds.push_back(std::move(firsts));
  }
  while (recent_order_.size() >= config_.recent_queries_max) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
  recent_order_.push_back(q.id);
  recent_.insert_or_assign(q.id, std::move(rec));
}

// An answer for a query already certified: a worker that signed a different answer for the same
// round before the decision has equivocated, whenever the second one arrives.
void HeadLogic::check_late(core::WorkerIndex from, const proto::Answer& answer, Millis now) {
  auto it = recent_.find(answer.query_id);
  if (it == recent_.end() || answer.answer.worker != from || bit(isolated_, from)) return;
  Recent& rec = it->second;
  if (answer.round >= rec.rounds.size()) return;
  const cc::SignedAnswer* first = nullptr;
  for (const auto& a : rec.rounds[answer.round]) {
    if (a.worker == from) first = &a;
  }
  if (first != nullptr && first->answer == answer.answer.answer) return;  // a duplicate
  if (auto ok = verify_signed_answer(config_.membership, answer.answer, answer.query_id, answer.round, rec.agreement,
                                     rec.agreement_param);
      !ok) {
    detect(from, "invalid-signature", now, ok.error().message);
    return;
  }
  if (first == nullptr) {
    // Both of an equivocator's answers may come after the decision: keep the first late one (one
    // per worker and round, so the memory stays bounded) to compare the next with.
    rec.rounds[answer.round].push_back(answer.answer);
    return;
  }
  auto e = make_equivocation(config_.membership, answer.query_id, answer.round, rec.agreement, rec.agreement_param,
                             *first, answer.answer);
  if (!e) return;  // cannot happen for two verified answers of one worker; never isolate without evidence
  isolate(from,
          "two different signed answers for round " + std::to_string(answer.round) + " of the query certified as " +
              std::to_string(rec.sequence) + " (the second after the decision)",
          std::move(e->bytes), now, rec.sequence);
}

// An answer for a round that closed while its query went on into debate counts for nothing, but
// a worker that signed a different answer for that round before has equivocated: isolate it now
// and keep the evidence for the query's certificate's directory.
void HeadLogic::check_straggler(Query& q, core::WorkerIndex from, const proto::Answer& answer, Millis now) {
  if (answer.answer.worker != from || bit(isolated_, from) || bit(q.isolated_here, from)) return;
  const RoundState& r = q.rounds[answer.round];
  if (!bit(r.dispatched, from)) return;
  const proto::Answer* first = nullptr;
  for (const auto& a : r.answers) {
    if (a.answer.worker == from) first = &a;
  }
  for (const auto& a : q.stragglers) {
    if (first == nullptr && a.round == answer.round && a.answer.worker == from) first = &a;
  }
  if (first != nullptr && first->answer.answer == answer.answer.answer) return;  // a duplicate
  if (auto ok = verify_signed_answer(config_.membership, answer.answer, q.id, answer.round, q.request.agreement,
                                     q.request.agreement_param);
      !ok) {
    detect(from, "invalid-signature", now, ok.error().message);
    return;
  }
  if (first == nullptr) {
    q.stragglers.push_back(answer);  // bounded: one per worker and closed round
    return;
  }
  auto e = make_equivocation(config_.membership, q.id, answer.round, q.request.agreement, q.request.agreement_param,
                             first->answer, answer.answer);
  if (!e) return;  // cannot happen for two verified answers of one worker; never isolate without evidence
  q.isolated_here |= one(from);
  q.straggler_evidence.push_back(e->bytes);
  isolate(from,
          "two different signed answers for round " + std::to_string(answer.round) +
              " (the second after that round closed, while the query was in debate)",
          std::move(e->bytes), now);
}

void HeadLogic::on_connected(core::WorkerIndex w, Millis /*now*/) {
  if (w < quorum_.n) connected_ |= one(w);
}

void HeadLogic::on_disconnected(core::WorkerIndex w, Millis now) {
  if (w >= quorum_.n || !bit(connected_, w)) return;
  connected_ &= ~one(w);
  detect(w, "crash", now, "the connection closed");
  for (auto& [id, q] : queries_) {
    if (!q.done && bit(q.rounds.back().dispatched, w)) evaluate(q, now, false);
  }
  erase_done();
}

void HeadLogic::on_answer(core::WorkerIndex from, const proto::Answer& answer, Millis now) {
  if (from >= quorum_.n) return;
  auto it = queries_.find(answer.query_id);
  if (it == queries_.end() || it->second.done) {
    check_late(from, answer, now);  // late: only an equivocation still matters
    return;
  }
  Query& q = it->second;
  const auto current = static_cast<std::uint32_t>(q.rounds.size() - 1);
  if (answer.round < current) {  // a straggler from a round closed while the query debates on
    check_straggler(q, from, answer, now);
    return;
  }
  RoundState& r = q.rounds.back();
  if (answer.round > current || answer.answer.worker != from || !bit(r.dispatched, from)) {
    detect(from, "malformed", now,
           answer.round > current ? "an answer for round " + std::to_string(answer.round) + " not yet asked"
           : answer.answer.worker != from ? "an answer naming worker " + std::to_string(answer.answer.worker)
                                          : std::string("an answer to a round it was not asked"));
    return;
  }
  if (bit(q.isolated_here, from) || bit(isolated_, from)) return;  // evidence already in hand
  if (auto ok = verify_signed_answer(config_.membership, answer.answer, q.id, current, q.request.agreement,
                                     q.request.agreement_param);
      !ok) {
    detect(from, "invalid-signature", now, ok.error().message);
    return;
  }
  const core::RecordResult rec = r.tally.record(from, answer.answer.answer);
  if (rec.status == core::RecordStatus::recorded) {
    if (!q.first_answer && current == 0) q.first_answer = now;
    r.answered |= one(from);
    r.answers.push_back(answer);
  } else if (rec.status == core::RecordStatus::equivocation) {
    const proto::Answer* first = nullptr;
    for (const auto& a : r.answers) {
      if (a.answer.worker == from) first = &a;
    }
    Bytes evidence;
    if (first != nullptr) {
      auto e = make_equivocation(config_.membership, q.id, current, q.request.agreement, q.request.agreement_param,
                                 first->answer, answer.answer);
      if (e) evidence = std::move(e->bytes);
    }
    r.answers.push_back(answer);  // after `first` is used: this may reallocate
    q.isolated_here |= one(from);
    isolate(from, "two different signed answers for round " + std::to_string(current), std::move(evidence), now);
  } else {
    return;  // a duplicate: nothing new
  }
  evaluate(q, now, false);
  erase_done();
}

void HeadLogic::on_tick(Millis now) {
  for (auto& [id, q] : queries_) {
    if (!q.done && q.rounds.back().deadline <= now) evaluate(q, now, true);
  }
  erase_done();
}

void HeadLogic::erase_done() {
  std::erase_if(queries_, [](const auto& kv) { return kv.second.done; });
}

std::vector<HeadAction> HeadLogic::take_actions() { return std::exchange(actions_, {}); }

std::optional<Millis> HeadLogic::next_deadline() const {
  std::optional<Millis> best;
  for (const auto& [id, q] : queries_) {
    if (q.done) continue;
    const Millis d = q.rounds.back().deadline;
    if (!best || d < *best) best = d;
  }
  return best;
}

HeadStatus HeadLogic::status() const {
  HeadStatus s;
  for (core::WorkerIndex w = 0; w < quorum_.n; ++w) {
    WorkerStatus ws;
    ws.worker = w;
    ws.id = w < config_.membership.record.workers.size() ? config_.membership.record.workers[w].id : "";
    ws.connected = bit(connected_, w);
    ws.reputation = reputation_[w];
    ws.eligible = snapshot_eligible(reputation_[w]) && !bit(isolated_, w);
    s.workers.push_back(std::move(ws));
  }
  s.queries_in_flight = queries_.size();
  s.next_sequence = config_.next_sequence;
  s.previous_hash = config_.previous_hash;
  s.queries_done = queries_done_;
  return s;
}

}  // namespace bf::runtime
