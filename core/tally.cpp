#include "core/tally.hpp"

#include "core/contract.hpp"

namespace bf::core {

namespace {
constexpr SignerMask bit(WorkerIndex w) noexcept { return SignerMask{1} << w; }
}  // namespace

const char* outcome_name(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::pending: return "pending";
    case Outcome::decided: return "decided";
    case Outcome::need_debate: return "need-debate";
    case Outcome::no_consensus: return "no-consensus";
    case Outcome::no_quorum: return "no-quorum";
  }
  return "unknown";
}

Tally::Tally(std::uint32_t workers) noexcept : workers_(workers) {
  BF_REQUIRE("Q2", workers >= 1 && workers <= limits::workers_max);
}

RecordResult Tally::record(WorkerIndex w, const AnswerId& answer) noexcept {
  BF_REQUIRE("Q2", w < workers_);
  const SignerMask me = bit(w);
  if ((equivocators_ & me) != 0) return {RecordStatus::ignored_isolated, std::nullopt};
  if ((responders_ & me) != 0) {
    const std::uint32_t c = cluster_of_[w];
    if (answers_[c] == answer) return {RecordStatus::duplicate, std::nullopt};
    // Equivocation: withdraw the first vote so no worker ever counts towards two answers, and
    // hand the pair back as evidence (R2: evidence always leads to isolation).
    signers_[c] &= ~me;
    responders_ &= ~me;
    equivocators_ |= me;
    BF_ENSURE("R2", (responders_ & me) == 0 && (equivocators_ & me) != 0);
    return {RecordStatus::equivocation, Equivocation{w, answers_[c], answer}};
  }
  std::uint32_t c = 0;
  while (c < clusters_ && answers_[c] != answer) ++c;
  if (c == clusters_) {
    BF_INVARIANT("Q2", clusters_ < workers_);  // each cluster was opened by a distinct worker
    answers_[c] = answer;
    signers_[c] = 0;
    ++clusters_;
  }
  signers_[c] |= me;
  responders_ |= me;
  cluster_of_[w] = static_cast<std::uint8_t>(c);
  return {RecordStatus::recorded, std::nullopt};
}

std::optional<std::uint32_t> Tally::largest_cluster() const noexcept {
  std::optional<std::uint32_t> best;
  std::uint32_t best_size = 0;
  for (std::uint32_t c = 0; c < clusters_; ++c) {
    const std::uint32_t size = signer_count(signers_[c]);
    if (size == 0) continue;
    if (!best || size > best_size || (size == best_size && answers_[c] < answers_[*best])) {
      best = c;
      best_size = size;
    }
  }
  return best;
}

Decision decide(const Tally& tally, const Membership& m, const RoundStatus& status) noexcept {
  BF_REQUIRE("Q2", tally.workers() == m.n);
  BF_REQUIRE("Q2", status.round < status.rounds_max && status.reachable <= m.n);
  Decision d;
  const auto best = tally.largest_cluster();
  if (best) d.support = signer_count(tally.cluster_signers(*best));

  if (best && d.support >= m.q) {
    // Q2: with every worker counted in at most one cluster, a second cluster of size q would
    // need 2q <= n workers, and a safe q has 2q > n + f.
    for (std::uint32_t c = 0; c < tally.clusters(); ++c) {
      BF_ENSURE("Q2", c == *best || m.rule != QuorumRule::safe ||
                          signer_count(tally.cluster_signers(c)) < m.q);
    }
    d.outcome = Outcome::decided;
    d.answer = tally.cluster_answer(*best);
    d.signers = tally.cluster_signers(*best);
    return d;
  }
  if (status.reachable < m.q) {
    d.outcome = Outcome::no_quorum;  // fail closed: the group cannot decide anything
    return d;
  }
  const std::uint32_t answered = signer_count(tally.responders() | tally.equivocators());
  if (!status.deadline_passed && answered < status.reachable) {
    d.outcome = Outcome::pending;  // wait: a debate needs every answer the round can bring
    return d;
  }
  if (signer_count(tally.responders()) < m.q) {
    d.outcome = Outcome::no_quorum;  // too few answers arrived for any answer to reach q
    return d;
  }
  d.outcome = status.round + 1 < status.rounds_max ? Outcome::need_debate : Outcome::no_consensus;
  return d;
}

}  // namespace bf::core
