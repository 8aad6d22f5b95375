// Tally and decision for one (query, round) (spec/invariants.md: Q2, R2).
//
// Answers arrive already canonicalised (runtime/ hashes the canonical answer into an AnswerId under
// the agreement rule the certificate names), with their signatures already checked. The tally only
// counts distinct signers per canonical answer, detects equivocation, and decides. It has a fixed
// capacity (limits::workers_max) and never allocates.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>

#include "core/limits.hpp"
#include "core/quorum.hpp"

namespace bf::core {

using WorkerIndex = std::uint32_t;            // position of a worker in the membership, 0..n-1
using SignerMask = std::uint64_t;             // bit i set: worker i signed
using AnswerId = std::array<std::uint8_t, 32>;  // digest of the canonical answer

inline std::uint32_t signer_count(SignerMask mask) noexcept {
  return static_cast<std::uint32_t>(std::popcount(mask));
}

// Two different answers signed by one worker for the same (query, round): evidence that the
// worker is Byzantine. runtime/ attaches both signatures and logs it; core isolates the worker.
struct Equivocation {
  WorkerIndex worker = 0;
  AnswerId first{};
  AnswerId second{};
};

enum class RecordStatus : std::uint8_t {
  recorded,        // a first answer from this worker
  duplicate,       // the same answer again from the same worker: ignored
  equivocation,    // a different answer: the worker's votes are withdrawn, evidence returned
  ignored_isolated,  // the worker already equivocated in this round: ignored
};

struct RecordResult {
  RecordStatus status = RecordStatus::recorded;
  std::optional<Equivocation> evidence;  // set iff status == equivocation
};

enum class Outcome : std::uint8_t {
  pending,       // no decision yet and the round is open: some reachable worker has not answered
                 // and the deadline has not passed
  decided,       // one answer has >= q distinct signers
  need_debate,   // the round closed with >= q answers but no decision; debate next
  no_consensus,  // the last allowed round closed with no decision
  no_quorum,     // fewer than q workers reachable, or fewer than q answered by the deadline:
                 // the group fails closed
};

const char* outcome_name(Outcome outcome) noexcept;

struct Decision {
  Outcome outcome = Outcome::pending;
  AnswerId answer{};          // the decided answer (decided only)
  SignerMask signers = 0;     // its distinct signers (decided only)
  std::uint32_t support = 0;  // the largest cluster's size, for every outcome
};

// What the caller knows about the round when it asks for a decision. Time is an argument:
// runtime/ owns the clock and says whether the deadline has passed.
struct RoundStatus {
  std::uint32_t round = 0;                         // 0-based
  std::uint32_t rounds_max = limits::rounds_default;  // R: debate rounds allowed, including the first
  std::uint32_t reachable = 0;  // workers dispatched to and not isolated or known dead
  bool deadline_passed = false;
};

class Tally {
 public:
  Tally() = default;
  explicit Tally(std::uint32_t workers) noexcept;

  // Records worker w's answer. Requires w < workers().
  RecordResult record(WorkerIndex w, const AnswerId& answer) noexcept;

  [[nodiscard]] std::uint32_t workers() const noexcept { return workers_; }
  // Workers with a counted (non-withdrawn) answer.
  [[nodiscard]] SignerMask responders() const noexcept { return responders_; }
  // Workers caught equivocating in this round.
  [[nodiscard]] SignerMask equivocators() const noexcept { return equivocators_; }
  [[nodiscard]] std::uint32_t clusters() const noexcept { return clusters_; }
  [[nodiscard]] const AnswerId& cluster_answer(std::uint32_t i) const noexcept { return answers_[i]; }
  [[nodiscard]] SignerMask cluster_signers(std::uint32_t i) const noexcept { return signers_[i]; }
  // Index of the largest cluster (ties: the smaller answer id, so the choice is order-free).
  [[nodiscard]] std::optional<std::uint32_t> largest_cluster() const noexcept;

 private:
  std::uint32_t workers_ = 0;
  std::uint32_t clusters_ = 0;
  SignerMask responders_ = 0;
  SignerMask equivocators_ = 0;
  std::array<std::uint8_t, limits::workers_max> cluster_of_{};  // valid when responder
  std::array<AnswerId, limits::workers_max> answers_{};
  std::array<SignerMask, limits::workers_max> signers_{};
};

// Decides the round under membership m. Pure: the same tally and status give the same decision.
Decision decide(const Tally& tally, const Membership& m, const RoundStatus& status) noexcept;

}  // namespace bf::core
