// Canonical encoding of memberships, certificates and equivocation records (spec/certificate.md,
// spec/membership.md; invariant C1).
//
// Pure: no crypto, no I/O. The encoder writes exactly the bytes the spec gives; the decoder accepts
// only those bytes (canonical order, every limit, no trailing data), so every value has one
// encoding and a certificate's hash and signatures cover a unique meaning. Digests and signatures
// are computed and checked in runtime/, which hands core the bytes to sign.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/tally.hpp"

namespace bf::core::cert {

using Bytes = std::vector<std::uint8_t>;
using Digest = std::array<std::uint8_t, 32>;
using PublicKey = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 64>;

// Membership and equivocation records are at version 1; certificates at version 2 (version 2 added
// the task checks before the head signature). Nothing was deployed at version 1, so a certificate
// decoder reads version 2 only and names the re-issue for a version 1 certificate.
inline constexpr std::uint16_t format_version = 1;
inline constexpr std::uint16_t certificate_version = 2;
inline constexpr std::uint32_t id_bytes_max = 64;            // cluster and worker ids
inline constexpr std::uint32_t payload_bytes_max = 16384;    // one worker's raw answer
inline constexpr std::uint32_t fusion_params_max = 256;
inline constexpr std::uint32_t fusion_inputs_max = 1u << 20;
inline constexpr std::uint32_t fusion_output_max = 256;
inline constexpr std::uint32_t invariants_max = 32;
inline constexpr std::uint32_t invariant_id_max = 8;
inline constexpr std::uint32_t task_checks_max = 8;             // task checks per certificate
inline constexpr std::uint32_t task_text_bytes_max = 65536;     // one task check's SMT-LIB text
inline constexpr std::uint32_t record_bytes_max = 4u << 20;  // whole certificate or record
inline constexpr std::uint32_t membership_bytes_max = 64 * (1 + id_bytes_max + 32) + 128;
// magic, version, old digest, u16 length + new membership, head signature
inline constexpr std::uint32_t membership_transition_bytes_max = 4 + 2 + 32 + 2 + membership_bytes_max + 64;
inline constexpr std::int64_t numeric_abs_max = 1'000'000'000'000'000'000;  // micro-units
inline constexpr std::uint8_t numeric_decimals_max = 6;

// Domain tags (ASCII plus a zero byte), so a signature or digest made for one purpose can never be
// replayed as another.
inline constexpr std::string_view tag_answer{"butterfly/answer/v1\0", 20};
inline constexpr std::string_view tag_certificate{"butterfly/certificate/v1\0", 25};
inline constexpr std::string_view tag_membership_transition{"butterfly/membership-transition/v1\0", 35};
inline constexpr std::string_view tag_answer_id_exact{"butterfly/answer-id/exact/v1\0", 29};
inline constexpr std::string_view tag_answer_id_numeric{"butterfly/answer-id/numeric/v1\0", 31};

struct MemberKey {
  std::string id;  // 1..64 bytes of [A-Za-z0-9._-]
  PublicKey key{};
  friend bool operator==(const MemberKey&, const MemberKey&) = default;
};

struct MembershipRecord {
  std::string cluster_id;
  std::uint64_t epoch = 1;
  std::uint32_t n = 0;
  std::uint32_t f = 0;
  std::uint32_t q = 0;
  QuorumRule rule = QuorumRule::safe;
  PublicKey head_key{};
  std::vector<MemberKey> workers;  // sorted by id; index = position
  friend bool operator==(const MembershipRecord&, const MembershipRecord&) = default;
};

enum class AgreementRule : std::uint8_t { exact = 1, numeric = 2 };
const char* agreement_rule_name(AgreementRule rule) noexcept;

struct SignedAnswer {
  WorkerIndex worker = 0;
  AnswerId answer{};
  Bytes payload;
  Signature signature{};
  friend bool operator==(const SignedAnswer&, const SignedAnswer&) = default;
};

struct RoundRecord {
  std::uint32_t reachable = 0;
  std::vector<SignedAnswer> answers;  // sorted by (worker, answer), at most two per worker
  friend bool operator==(const RoundRecord&, const RoundRecord&) = default;
};

struct SnapshotEntry {
  std::uint32_t value = 0;  // millionths, as core/reputation.hpp
  bool isolated = false;
  friend bool operator==(const SnapshotEntry&, const SnapshotEntry&) = default;
};

struct InvariantRef {
  std::string id;  // "Q1", "C1", ...
  Digest proof_sha256{};
  friend bool operator==(const InvariantRef&, const InvariantRef&) = default;
};

// An optional task check (spec/certificate.md, "Certificate layout", task checks): a claim about
// the task that an auditor can re-run, e.g. that a formula answer is unsat. Z3 runs it in cli/
// (`cert verify --z3`) through verified/task_check.hpp; core only carries it canonically.
enum class TaskKind : std::uint8_t { z3_smtlib = 1 };
enum class TaskExpect : std::uint8_t { sat = 1, unsat = 2 };
const char* task_kind_name(TaskKind kind) noexcept;
const char* task_expect_name(TaskExpect expect) noexcept;

struct TaskCheck {
  TaskKind kind = TaskKind::z3_smtlib;
  TaskExpect expected = TaskExpect::unsat;
  std::string text;  // SMT-LIB 2 script: 1..task_text_bytes_max bytes of printable ASCII, tab, LF, CR
  friend bool operator==(const TaskCheck&, const TaskCheck&) = default;
};

struct Certificate {
  Digest membership_digest{};
  std::uint64_t epoch = 0;
  std::uint32_t n = 0;
  std::uint32_t f = 0;
  std::uint32_t q = 0;
  QuorumRule rule = QuorumRule::safe;
  Digest query_id{};
  std::uint64_t sequence = 1;
  Digest previous_hash{};
  Outcome outcome = Outcome::decided;  // decided, no_consensus or no_quorum
  AgreementRule agreement = AgreementRule::exact;
  std::uint8_t agreement_param = 0;
  std::uint32_t rounds_max = limits::rounds_default;
  std::vector<SnapshotEntry> reputation;  // n entries
  std::vector<RoundRecord> rounds;        // 1..rounds_max
  SignerMask decided_signers = 0;
  AnswerId decided_answer{};
  std::uint8_t fusion_rule = 0;  // 0 none, else a fusion::RuleId value
  Bytes fusion_params;
  Bytes fusion_inputs;
  Bytes fused_output;
  std::vector<InvariantRef> invariants;  // sorted by id
  std::vector<TaskCheck> tasks;          // in the producer's order; "task <i>" is tasks[i]
  Signature head_signature{};
  friend bool operator==(const Certificate&, const Certificate&) = default;
};

struct EquivocationRecord {
  Digest membership_digest{};
  std::uint64_t epoch = 0;
  Digest query_id{};
  std::uint32_t round = 0;
  WorkerIndex worker = 0;
  AgreementRule agreement = AgreementRule::exact;
  std::uint8_t agreement_param = 0;
  SignedAnswer first;   // first.answer < second.answer
  SignedAnswer second;  // worker fields equal `worker`
  friend bool operator==(const EquivocationRecord&, const EquivocationRecord&) = default;
};

// A head-signed membership epoch change (spec/membership.md, "Membership transition"): the old
// membership's head signs the new membership's canonical bytes, bound to the old digest.
struct MembershipTransition {
  Digest old_digest{};
  MembershipRecord next;  // carried as its canonical encoding
  Signature head_signature{};
  friend bool operator==(const MembershipTransition&, const MembershipTransition&) = default;
};

// Encoders return an error (never abort) when the value is not canonical or over a limit, with the
// same message the decoder would give.
Result<Bytes> encode_membership(const MembershipRecord& m);
Result<MembershipRecord> decode_membership(std::span<const std::uint8_t> bytes);
Result<Bytes> encode_certificate(const Certificate& c);
Result<Certificate> decode_certificate(std::span<const std::uint8_t> bytes);
Result<Bytes> encode_equivocation(const EquivocationRecord& e);
Result<Bytes> encode_membership_transition(const MembershipTransition& t);
Result<MembershipTransition> decode_membership_transition(std::span<const std::uint8_t> bytes);
// The bytes the old head signs: the transition tag, then the encoded record without its last 64
// bytes. Requires encoded.size() >= 64.
Bytes membership_transition_signing_message(std::span<const std::uint8_t> encoded);
Result<EquivocationRecord> decode_equivocation(std::span<const std::uint8_t> bytes);

// The bytes a worker signs for one answer (spec: "Signed answer").
Bytes answer_signing_message(const Digest& query_id, std::uint32_t round,
                             const Digest& membership_digest, const AnswerId& answer,
                             std::span<const std::uint8_t> payload);
// The bytes the head signs: the tag, then the encoded certificate without its last 64 bytes.
// Requires encoded.size() >= 64.
Bytes certificate_signing_message(std::span<const std::uint8_t> encoded);

// The agreement rule's canonical bytes of a payload, whose digest is the answer id: the tag, then
// the payload (exact) or the rounded i64 (numeric). An error when the payload is outside the rule.
Result<Bytes> answer_id_preimage(AgreementRule rule, std::uint8_t param,
                                 std::span<const std::uint8_t> payload);
// Numeric rule: v rounded half away from zero to a multiple of 10^(6 - decimals). Requires
// |v| <= numeric_abs_max and decimals <= 6 (no overflow: 10^18 + 10^6 < 2^63).
std::int64_t numeric_canonical(std::int64_t v, std::uint8_t decimals) noexcept;

Bytes i64_bytes(std::int64_t v);
// The i64 in exactly 8 little-endian bytes; an error naming `what` otherwise.
Result<std::int64_t> i64_from(std::span<const std::uint8_t> bytes, std::string_view what);

// Structural checks shared by the encoder and decoder: ids, order, limits.
Status check_id(std::string_view id, std::string_view what);

}  // namespace bf::core::cert
