// The head's side of certificates: runs the core (Tally::record, decide, fusion, reputation) over
// signed answers and emits the signed certificate and any equivocation evidence. Used by the test
// tool that writes the spec's test vectors, by tests, and later by the head (issue 5).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/certificate.hpp"
#include "core/fusion.hpp"
#include "core/reputation.hpp"
#include "runtime/crypto.hpp"
#include "runtime/membership_file.hpp"

namespace bf::runtime {

struct RoundInput {
  std::uint32_t reachable = 0;
  // (worker index, raw answer payload) in arrival order, signed here with ProduceRequest's
  // worker_keys (the test tool's stand-in for the workers); a worker listed twice with different
  // answers equivocates.
  std::vector<std::pair<core::WorkerIndex, Bytes>> answers;
  // Answers the workers signed themselves (the head's path), counted after `answers`, in arrival
  // order. Each is verified (member index, answer id, signature under the membership key); an
  // invalid one is skipped and listed in Produced::rejected, never counted.
  std::vector<core::cert::SignedAnswer> signed_answers = {};  // "= {}": brace-initialised inputs may omit it
};

// A signed answer the producer refused to count, and why.
struct RejectedAnswer {
  std::uint32_t round = 0;
  core::WorkerIndex worker = 0;
  std::string reason;
};

struct ProduceRequest {
  const Membership* membership = nullptr;
  // By worker index; stands in for the workers' own signing. Needed only for RoundInput::answers
  // (empty when every round gives signed_answers only).
  std::vector<Keypair> worker_keys;
  Keypair head_key;
  Bytes query;
  // The certificate's query id; unset: blake2b(query). The head sets its own (head_logic.hpp).
  std::optional<Digest> query_id;
  // Testing the tester only (runtime/sim.*): decide with the seed's 2f+1. The auditor fails such
  // certificates on the quorum check.
  bool unsafe_seed_quorum = false;
  // The caller verified every signed answer under this membership, query id, round and agreement
  // rule before passing it (the head does, in HeadLogic::on_answer): skip the second check. The
  // auditor checks every signature of the certificate regardless.
  bool signatures_verified = false;
  core::cert::AgreementRule agreement = core::cert::AgreementRule::numeric;
  std::uint8_t agreement_param = 0;
  std::uint32_t rounds_max = core::limits::rounds_default;
  core::fusion::RuleId rule = core::fusion::RuleId::median;
  std::uint32_t trim = 0;  // trimmed-mean only
  std::vector<core::cert::SnapshotEntry> reputation;  // empty: every worker at the start value
  std::vector<RoundInput> rounds;
  std::uint64_t sequence = 1;
  Digest previous_hash{};
  std::vector<core::cert::InvariantRef> invariants;
  // Optional task checks (e.g. a formula answer's SMT-LIB text, expected unsat), signed by the head
  // with the rest; at most core::cert::task_checks_max.
  std::vector<core::cert::TaskCheck> task_checks;
};

struct Produced {
  core::cert::Certificate certificate;
  Bytes bytes;
  Digest hash{};  // blake2b(bytes): the next certificate's previous hash
  std::vector<core::cert::EquivocationRecord> equivocations;
  std::vector<Bytes> equivocation_bytes;
  std::vector<core::cert::SnapshotEntry> reputation_after;
  std::vector<RejectedAnswer> rejected;  // signed answers that failed verification
  // Per worker index, the reputation event this query applied (none: unchanged). The head applies
  // these to its current state, so queries that overlap in time do not overwrite each other.
  std::vector<std::optional<core::ReputationEvent>> events;
};

// The evidence record for two different signed answers of one worker in one (query, round).
struct EquivocationEvidence {
  core::cert::EquivocationRecord record;
  Bytes bytes;
};
Result<EquivocationEvidence> make_equivocation(const Membership& membership, const Digest& query_id,
                                               std::uint32_t round, core::cert::AgreementRule rule,
                                               std::uint8_t param, const core::cert::SignedAnswer& a,
                                               const core::cert::SignedAnswer& b);

// Checks a worker's signed answer for (query, round) against the membership: member index, the
// answer id under the agreement rule, and the signature with that member's key. The error says
// which check failed.
core::Status verify_signed_answer(const Membership& membership, const core::cert::SignedAnswer& answer,
                                  const Digest& query_id, std::uint32_t round,
                                  core::cert::AgreementRule rule, std::uint8_t param);

// A worker's signed answer for (query, round), as the worker would produce it.
Result<core::cert::SignedAnswer> sign_answer(const Keypair& worker_key, core::WorkerIndex worker,
                                             const Digest& query_id, std::uint32_t round,
                                             const Digest& membership_digest,
                                             core::cert::AgreementRule rule, std::uint8_t param,
                                             Bytes payload);

Result<Produced> produce_certificate(const ProduceRequest& request);

// Per worker index, the reputation event a certificate applies (none: unchanged), from the
// certificate alone: equivocate for two different answers in one round, else for a Decided
// outcome and a worker eligible in the snapshot that answered in the last round, agree (in the
// decided cluster) or disagree (outside it). No answer: no event (the quorum may have decided
// before it could arrive). The producer and a resuming
// head both use it, so a restart replays exactly the updates the head made.
std::vector<std::optional<core::ReputationEvent>> reputation_events(const core::cert::Certificate& c);

// A head-signed membership epoch change (spec/membership.md, "Membership transition"): `head_key`
// must be `from`'s head key; `to` must have the same cluster id and a larger epoch.
Result<Bytes> make_membership_transition(const Membership& from, const Membership& to, const Keypair& head_key);

}  // namespace bf::runtime
