// The head's side of certificates: runs the core (Tally::record, decide, fusion, reputation) over
// signed answers and emits the signed certificate and any equivocation evidence. Used by the test
// tool that writes the spec's test vectors, by tests, and later by the head (issue 5).
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "core/certificate.hpp"
#include "core/fusion.hpp"
#include "runtime/crypto.hpp"
#include "runtime/membership_file.hpp"

namespace bf::runtime {

struct RoundInput {
  std::uint32_t reachable = 0;
  // (worker index, raw answer payload) in arrival order; a worker listed twice with different
  // answers equivocates.
  std::vector<std::pair<core::WorkerIndex, Bytes>> answers;
};

struct ProduceRequest {
  const Membership* membership = nullptr;
  std::vector<Keypair> worker_keys;  // by worker index; stands in for the workers' own signing
  Keypair head_key;
  Bytes query;
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
};

// A worker's signed answer for (query, round), as the worker would produce it.
Result<core::cert::SignedAnswer> sign_answer(const Keypair& worker_key, core::WorkerIndex worker,
                                             const Digest& query_id, std::uint32_t round,
                                             const Digest& membership_digest,
                                             core::cert::AgreementRule rule, std::uint8_t param,
                                             Bytes payload);

Result<Produced> produce_certificate(const ProduceRequest& request);

// A head-signed membership epoch change (spec/membership.md, "Membership transition"): `head_key`
// must be `from`'s head key; `to` must have the same cluster id and a larger epoch.
Result<Bytes> make_membership_transition(const Membership& from, const Membership& to, const Keypair& head_key);

}  // namespace bf::runtime
