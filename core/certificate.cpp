#include "core/certificate.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "core/codec.hpp"
#include "core/contract.hpp"
#include "core/fusion.hpp"
#include "core/reputation.hpp"

namespace bf::core::cert {
namespace {

constexpr std::string_view magic_membership = "BFMS";
constexpr std::string_view magic_certificate = "BFCT";
constexpr std::string_view magic_equivocation = "BFEQ";
constexpr std::string_view magic_transition = "BFMT";

using codec::format_error;

// Certificate and membership records: the shared byte reader plus ids, magic and version.
class Reader : public codec::ByteReader {
 public:
  using ByteReader::ByteReader;

  std::string id(std::string_view field) {
    const std::size_t at = offset();
    const std::uint8_t len = u8(field);
    const Bytes raw = bytes(len, field);
    std::string s(raw.begin(), raw.end());
    if (failed()) return s;
    if (auto ok = check_id(s, field); !ok) fail_at(at, field, ok.error().message);
    return s;
  }
  void magic(std::string_view expected) {
    const Bytes m = bytes(expected.size(), "magic");
    if (!failed() && !std::equal(m.begin(), m.end(), expected.begin(), expected.end())) {
      fail_at(0, "magic", "expected '" + std::string(expected) + "'; this is not a " +
                              std::string(record()) + " file");
    }
  }
  void version(std::uint16_t expected) {
    const std::size_t at = offset();
    const std::uint16_t v = u16("version");
    if (failed() || v == expected) return;
    if (record() == "certificate" && v == 1) {
      fail_at(at, "version", "version 1 certificates (before task checks) are no longer read; this "
                             "build reads version " + std::to_string(expected) +
                             ": have the head issue the certificate again");
      return;
    }
    fail_at(at, "version", "unknown version " + std::to_string(v) + "; this build reads version " +
                               std::to_string(expected));
  }
};

// Writes little-endian fields; a value that does not fit its width is an error, never truncated.
// The codec's writer plus the identifier fields of memberships.
class Writer : public codec::ByteWriter {
 public:
  explicit Writer(std::string_view record) : ByteWriter(record, 1024) {}
  void id(const std::string& s, std::string_view field) {
    if (auto ok = check_id(s, field); !ok) {
      fail(field, ok.error().message);
      return;
    }
    uint(s.size(), 1, field);
    raw(std::string_view(s));
  }
};

bool valid_outcome(std::uint8_t v) {
  return v == static_cast<std::uint8_t>(Outcome::decided) ||
         v == static_cast<std::uint8_t>(Outcome::no_consensus) ||
         v == static_cast<std::uint8_t>(Outcome::no_quorum);
}

void read_agreement(Reader& r, AgreementRule& rule, std::uint8_t& param) {
  const std::size_t at = r.offset();
  const std::uint8_t v = r.u8("agreement rule");
  if (r.failed()) return;
  if (v != 1 && v != 2) {
    r.fail_at(at, "agreement rule", "unknown agreement rule " + std::to_string(v) +
                                        "; this build knows 1 (exact) and 2 (numeric)");
    return;
  }
  rule = static_cast<AgreementRule>(v);
  const std::size_t at_param = r.offset();
  param = r.u8("agreement parameter");
  if (r.failed()) return;
  if (rule == AgreementRule::exact && param != 0) {
    r.fail_at(at_param, "agreement parameter", "must be 0 for the exact rule, got " + std::to_string(param));
  } else if (rule == AgreementRule::numeric && param > numeric_decimals_max) {
    r.fail_at(at_param, "agreement parameter",
              "numeric decimals " + std::to_string(param) + " exceed the maximum of 6");
  }
}

bool task_text_byte(std::uint8_t b) { return b == '\t' || b == '\n' || b == '\r' || (b >= 0x20 && b <= 0x7e); }

void read_tasks(Reader& r, std::vector<TaskCheck>& tasks) {
  std::size_t at = r.offset();
  const std::uint8_t count = r.u8("task check count");
  if (!r.failed() && count > task_checks_max) {
    r.fail_at(at, "task check count", std::to_string(count) + " task checks exceed the limit of " +
                                          std::to_string(task_checks_max));
  }
  for (std::uint32_t i = 0; i < count && !r.failed(); ++i) {
    TaskCheck t;
    at = r.offset();
    const std::uint8_t kind = r.u8("task kind");
    if (!r.failed() && kind != static_cast<std::uint8_t>(TaskKind::z3_smtlib)) {
      r.fail_at(at, "task kind", "task " + std::to_string(i) + ": unknown kind " + std::to_string(kind) +
                                     "; this build knows 1 (z3-smtlib)");
    }
    at = r.offset();
    const std::uint8_t expected = r.u8("task expected result");
    if (!r.failed() && expected != static_cast<std::uint8_t>(TaskExpect::sat) &&
        expected != static_cast<std::uint8_t>(TaskExpect::unsat)) {
      r.fail_at(at, "task expected result", "task " + std::to_string(i) + ": expected result " +
                                                std::to_string(expected) + " must be 1 (sat) or 2 (unsat)");
    }
    at = r.offset();
    const Bytes text = r.sized(4, task_text_bytes_max, "task text");
    if (r.failed()) break;
    if (text.empty()) {
      r.fail_at(at, "task text", "task " + std::to_string(i) + ": the SMT-LIB text is empty");
    }
    const auto bad = std::find_if_not(text.begin(), text.end(), task_text_byte);
    if (bad != text.end()) {
      r.fail_at(at, "task text", "task " + std::to_string(i) + ": byte " +
                                     std::to_string(bad - text.begin()) + " of the SMT-LIB text is " +
                                     std::to_string(*bad) + "; only printable ASCII, tab, LF and CR are allowed");
    }
    t.kind = static_cast<TaskKind>(kind);
    t.expected = static_cast<TaskExpect>(expected);
    t.text.assign(text.begin(), text.end());
    tasks.push_back(std::move(t));
  }
}

SignedAnswer read_answer(Reader& r, WorkerIndex worker) {
  SignedAnswer a;
  a.worker = worker;
  a.answer = r.fixed<32>("answer id");
  a.payload = r.sized(4, payload_bytes_max, "answer payload");
  a.signature = r.fixed<64>("answer signature");
  return a;
}

void write_answer_body(Writer& w, const SignedAnswer& a) {
  w.raw(a.answer);
  w.sized(a.payload, 4, payload_bytes_max, "answer payload");
  w.raw(a.signature);
}

std::size_t expected_output_size(std::uint8_t rule) {
  switch (static_cast<fusion::RuleId>(rule)) {
    case fusion::RuleId::weighted_vote: return 32;
    case fusion::RuleId::median:
    case fusion::RuleId::trimmed_mean: return 8;
    default: return 0;
  }
}

// Encodes, then decodes what it wrote: the decoder is the single statement of the canonical form,
// so the encoder can never emit bytes a verifier would refuse.
template <typename T, typename Decode>
Result<Bytes> finish(Writer& w, const T& value, Decode decode) {
  if (auto e = w.error()) return *e;
  Bytes out = w.take();
  auto back = decode(std::span<const std::uint8_t>(out));
  if (!back) return back.error();
  // C1: the bytes mean exactly the value given (no field truncated or reordered on the way).
  BF_ENSURE("C1", back.value() == value);
  return out;
}

}  // namespace

const char* agreement_rule_name(AgreementRule rule) noexcept {
  switch (rule) {
    case AgreementRule::exact: return "exact";
    case AgreementRule::numeric: return "numeric";
  }
  return "unknown";
}

const char* task_kind_name(TaskKind kind) noexcept {
  switch (kind) {
    case TaskKind::z3_smtlib: return "z3-smtlib";
  }
  return "unknown";
}

const char* task_expect_name(TaskExpect expect) noexcept {
  switch (expect) {
    case TaskExpect::sat: return "sat";
    case TaskExpect::unsat: return "unsat";
  }
  return "unknown";
}

Status check_id(std::string_view id, std::string_view what) {
  if (id.empty() || id.size() > id_bytes_max) {
    return Error{Errc::invalid_argument, std::string(what) + " must be 1 to 64 characters, got " +
                                             std::to_string(id.size())};
  }
  for (const char ch : id) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '.' || ch == '_' || ch == '-';
    if (!ok) {
      return Error{Errc::invalid_argument,
                   std::string(what) + " '" + std::string(id) +
                       "' may contain only letters, digits, '.', '_' and '-'"};
    }
  }
  return Ok{};
}

// ---- membership ----

Result<Bytes> encode_membership(const MembershipRecord& m) {
  Writer w("membership");
  w.raw(magic_membership);
  w.uint(format_version, 2, "version");
  w.id(m.cluster_id, "cluster id");
  w.uint(m.epoch, 8, "epoch");
  w.uint(m.n, 1, "n");
  w.uint(m.f, 1, "f");
  w.uint(static_cast<std::uint8_t>(m.rule), 1, "quorum rule");
  w.uint(m.q, 1, "q");
  w.raw(m.head_key);
  if (m.workers.size() != m.n) {
    return Error{Errc::invalid_membership, "membership lists " + std::to_string(m.workers.size()) +
                                               " workers but n = " + std::to_string(m.n)};
  }
  for (const MemberKey& k : m.workers) {
    w.id(k.id, "worker id");
    w.raw(k.key);
  }
  return finish(w, m, decode_membership);
}

Result<MembershipRecord> decode_membership(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > membership_bytes_max) {
    return format_error("membership", 0, "size", std::to_string(bytes.size()) +
                                                     " bytes exceed the limit of " +
                                                     std::to_string(membership_bytes_max));
  }
  Reader r(bytes, "membership");
  MembershipRecord m;
  r.magic(magic_membership);
  r.version(format_version);
  m.cluster_id = r.id("cluster id");
  std::size_t at = r.offset();
  m.epoch = r.u64("epoch");
  if (!r.failed() && m.epoch == 0) r.fail_at(at, "epoch", "epochs start at 1");
  at = r.offset();
  m.n = r.u8("n");
  if (!r.failed() && (m.n == 0 || m.n > limits::workers_max)) {
    r.fail_at(at, "n", "n = " + std::to_string(m.n) + " must be in 1..64");
  }
  at = r.offset();
  m.f = r.u8("f");
  if (!r.failed() && 3 * m.f >= m.n) {
    r.fail_at(at, "f", "3f < n is required, got n = " + std::to_string(m.n) + ", f = " + std::to_string(m.f));
  }
  at = r.offset();
  const std::uint8_t rule = r.u8("quorum rule");
  if (!r.failed() && rule != 0) {
    r.fail_at(at, "quorum rule", "only rule 0 (safe) may decide; the seed's 2f+1 is unsafe for n = 3, 5, 6");
  }
  at = r.offset();
  m.q = r.u8("q");
  if (!r.failed() && m.q != quorum_safe(m.n, m.f)) {
    r.fail_at(at, "q", "q = " + std::to_string(m.q) + " but quorum_safe(n, f) = " +
                           std::to_string(quorum_safe(m.n, m.f)));
  }
  m.head_key = r.fixed<32>("head public key");
  for (std::uint32_t i = 0; i < m.n && !r.failed(); ++i) {
    at = r.offset();
    MemberKey k;
    k.id = r.id("worker id");
    k.key = r.fixed<32>("worker public key");
    if (r.failed()) break;
    if (!m.workers.empty() && !(m.workers.back().id < k.id)) {
      r.fail_at(at, "worker id", "worker '" + k.id + "' is out of order or a duplicate; workers are sorted by id");
    }
    for (const MemberKey& seen : m.workers) {
      if (seen.key == k.key) r.fail_at(at, "worker public key", "workers '" + seen.id + "' and '" + k.id + "' share a public key");
    }
    m.workers.push_back(std::move(k));
  }
  r.end();
  if (r.failed()) return r.error();
  return m;
}

// ---- certificate ----

Result<Bytes> encode_certificate(const Certificate& c) {
  Writer w("certificate");
  w.raw(magic_certificate);
  w.uint(certificate_version, 2, "version");
  w.raw(c.membership_digest);
  w.uint(c.epoch, 8, "epoch");
  w.uint(c.n, 1, "n");
  w.uint(c.f, 1, "f");
  w.uint(c.q, 1, "q");
  w.uint(static_cast<std::uint8_t>(c.rule), 1, "quorum rule");
  w.raw(c.query_id);
  w.uint(c.sequence, 8, "sequence");
  w.raw(c.previous_hash);
  w.uint(static_cast<std::uint8_t>(c.outcome), 1, "outcome");
  w.uint(static_cast<std::uint8_t>(c.agreement), 1, "agreement rule");
  w.uint(c.agreement_param, 1, "agreement parameter");
  w.uint(c.rounds_max, 1, "rounds allowed");
  if (c.reputation.size() != c.n) {
    return Error{Errc::size_mismatch, "certificate: the reputation snapshot has " +
                                          std::to_string(c.reputation.size()) + " entries but n = " +
                                          std::to_string(c.n)};
  }
  for (const SnapshotEntry& s : c.reputation) {
    w.uint(s.value, 4, "reputation");
    w.uint(s.isolated ? 1 : 0, 1, "isolated");
  }
  w.uint(c.rounds.size(), 1, "rounds present");
  for (const RoundRecord& round : c.rounds) {
    w.uint(round.reachable, 1, "reachable");
    w.uint(round.answers.size(), 1, "answer count");
    for (const SignedAnswer& a : round.answers) {
      w.uint(a.worker, 1, "worker index");
      write_answer_body(w, a);
    }
  }
  w.uint(c.decided_signers, 8, "decided signers");
  w.raw(c.decided_answer);
  w.uint(c.fusion_rule, 1, "fusion rule");
  w.sized(c.fusion_params, 2, fusion_params_max, "fusion parameters");
  w.sized(c.fusion_inputs, 4, fusion_inputs_max, "fusion inputs");
  w.sized(c.fused_output, 2, fusion_output_max, "fused output");
  w.uint(c.invariants.size(), 1, "invariant count");
  for (const InvariantRef& inv : c.invariants) {
    w.id(inv.id, "invariant id");
    w.raw(inv.proof_sha256);
  }
  if (c.tasks.size() > task_checks_max) {
    return Error{Errc::invalid_argument, "certificate (task check count): " + std::to_string(c.tasks.size()) +
                                             " task checks exceed the limit of " + std::to_string(task_checks_max) +
                                             "; drop some or split the query"};
  }
  w.uint(c.tasks.size(), 1, "task check count");
  for (const TaskCheck& t : c.tasks) {
    w.uint(static_cast<std::uint8_t>(t.kind), 1, "task kind");
    w.uint(static_cast<std::uint8_t>(t.expected), 1, "task expected result");
    w.sized(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(t.text.data()), t.text.size()),
            4, task_text_bytes_max, "task text");
  }
  w.raw(c.head_signature);
  return finish(w, c, decode_certificate);
}

Result<Certificate> decode_certificate(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > record_bytes_max) {
    return format_error("certificate", 0, "size", std::to_string(bytes.size()) +
                                                      " bytes exceed the limit of " +
                                                      std::to_string(record_bytes_max));
  }
  Reader r(bytes, "certificate");
  Certificate c;
  r.magic(magic_certificate);
  r.version(certificate_version);
  c.membership_digest = r.fixed<32>("membership digest");
  c.epoch = r.u64("epoch");
  std::size_t at = r.offset();
  c.n = r.u8("n");
  if (!r.failed() && (c.n == 0 || c.n > limits::workers_max)) {
    r.fail_at(at, "n", "n = " + std::to_string(c.n) + " must be in 1..64");
  }
  at = r.offset();
  c.f = r.u8("f");
  if (!r.failed() && c.f >= c.n) r.fail_at(at, "f", "f = " + std::to_string(c.f) + " must be < n");
  at = r.offset();
  c.q = r.u8("q");
  if (!r.failed() && (c.q == 0 || c.q > c.n)) {
    r.fail_at(at, "q", "q = " + std::to_string(c.q) + " must be in 1..n");
  }
  at = r.offset();
  const std::uint8_t rule = r.u8("quorum rule");
  if (!r.failed() && rule > 1) r.fail_at(at, "quorum rule", "unknown quorum rule " + std::to_string(rule));
  c.rule = static_cast<QuorumRule>(rule);
  c.query_id = r.fixed<32>("query id");
  at = r.offset();
  c.sequence = r.u64("sequence");
  if (!r.failed() && c.sequence == 0) r.fail_at(at, "sequence", "sequences start at 1");
  c.previous_hash = r.fixed<32>("previous hash");
  at = r.offset();
  const std::uint8_t outcome = r.u8("outcome");
  if (!r.failed() && !valid_outcome(outcome)) {
    r.fail_at(at, "outcome", "unknown outcome " + std::to_string(outcome) +
                                 "; a certificate is 1 (decided), 3 (no-consensus) or 4 (no-quorum)");
  }
  c.outcome = static_cast<Outcome>(outcome);
  read_agreement(r, c.agreement, c.agreement_param);
  at = r.offset();
  c.rounds_max = r.u8("rounds allowed");
  if (!r.failed() && (c.rounds_max == 0 || c.rounds_max > limits::rounds_max)) {
    r.fail_at(at, "rounds allowed", "R = " + std::to_string(c.rounds_max) + " must be in 1..8");
  }
  for (std::uint32_t i = 0; i < c.n && !r.failed(); ++i) {
    at = r.offset();
    SnapshotEntry s;
    s.value = r.u32("reputation");
    if (!r.failed() && (s.value < ReputationParams::floor || s.value > ReputationParams::one)) {
      r.fail_at(at, "reputation", "worker " + std::to_string(i) + "'s reputation " +
                                      std::to_string(s.value) + " is outside [100000, 1000000]");
    }
    at = r.offset();
    const std::uint8_t iso = r.u8("isolated");
    if (!r.failed() && iso > 1) r.fail_at(at, "isolated", "must be 0 or 1, got " + std::to_string(iso));
    s.isolated = iso == 1;
    c.reputation.push_back(s);
  }
  at = r.offset();
  const std::uint8_t rounds = r.u8("rounds present");
  if (!r.failed() && (rounds == 0 || rounds > c.rounds_max)) {
    r.fail_at(at, "rounds present", std::to_string(rounds) + " rounds, must be in 1..R = " +
                                        std::to_string(c.rounds_max));
  }
  for (std::uint32_t ri = 0; ri < rounds && !r.failed(); ++ri) {
    RoundRecord round;
    at = r.offset();
    round.reachable = r.u8("reachable");
    if (!r.failed() && round.reachable > c.n) {
      r.fail_at(at, "reachable", "round " + std::to_string(ri) + " claims " +
                                     std::to_string(round.reachable) + " reachable workers of n = " +
                                     std::to_string(c.n));
    }
    at = r.offset();
    const std::uint8_t count = r.u8("answer count");
    if (!r.failed() && count > 2 * c.n) {
      r.fail_at(at, "answer count", std::to_string(count) + " answers exceed 2n = " + std::to_string(2 * c.n));
    }
    for (std::uint32_t ai = 0; ai < count && !r.failed(); ++ai) {
      at = r.offset();
      const std::uint8_t worker = r.u8("worker index");
      if (!r.failed() && worker >= c.n) {
        r.fail_at(at, "worker index", "worker " + std::to_string(worker) + " is not a member (n = " +
                                          std::to_string(c.n) + ")");
      }
      SignedAnswer a = read_answer(r, worker);
      if (r.failed()) break;
      const auto& prev = round.answers;
      if (!prev.empty() && !(std::pair(prev.back().worker, prev.back().answer) < std::pair(a.worker, a.answer))) {
        r.fail_at(at, "worker index", "answers must be sorted by (worker, answer id) without duplicates");
      }
      if (prev.size() >= 2 && prev[prev.size() - 2].worker == a.worker) {
        r.fail_at(at, "worker index", "worker " + std::to_string(a.worker) + " appears more than twice in a round");
      }
      round.answers.push_back(std::move(a));
    }
    c.rounds.push_back(std::move(round));
  }
  at = r.offset();
  c.decided_signers = r.u64("decided signers");
  if (!r.failed() && c.n < 64 && (c.decided_signers >> c.n) != 0) {
    r.fail_at(at, "decided signers", "the mask names a worker index >= n");
  }
  if (!r.failed() && c.outcome != Outcome::decided && c.decided_signers != 0) {
    r.fail_at(at, "decided signers", "must be 0 when the outcome is not decided");
  }
  at = r.offset();
  c.decided_answer = r.fixed<32>("decided answer id");
  if (!r.failed() && c.outcome != Outcome::decided && c.decided_answer != AnswerId{}) {
    r.fail_at(at, "decided answer id", "must be zero when the outcome is not decided");
  }
  at = r.offset();
  c.fusion_rule = r.u8("fusion rule");
  if (!r.failed()) {
    const auto fr = static_cast<fusion::RuleId>(c.fusion_rule);
    const bool known = fr == fusion::RuleId::weighted_vote || fr == fusion::RuleId::median ||
                       fr == fusion::RuleId::trimmed_mean;
    if (c.outcome != Outcome::decided && c.fusion_rule != 0) {
      r.fail_at(at, "fusion rule", "must be 0 (none) when the outcome is not decided");
    } else if (c.outcome == Outcome::decided && !known) {
      r.fail_at(at, "fusion rule", "unknown fusion rule " + std::to_string(c.fusion_rule) +
                                       "; this build fuses 1 (weighted-vote), 3 (median), 4 (trimmed-mean)");
    }
  }
  at = r.offset();
  c.fusion_params = r.sized(2, fusion_params_max, "fusion parameters");
  const std::size_t want_params =
      static_cast<fusion::RuleId>(c.fusion_rule) == fusion::RuleId::trimmed_mean ? 4 : 0;
  if (!r.failed() && c.fusion_params.size() != want_params) {
    r.fail_at(at, "fusion parameters", "rule " + std::to_string(c.fusion_rule) + " takes " +
                                           std::to_string(want_params) + " parameter bytes, got " +
                                           std::to_string(c.fusion_params.size()));
  }
  at = r.offset();
  c.fusion_inputs = r.sized(4, fusion_inputs_max, "fusion inputs");
  if (!r.failed() && !c.fusion_inputs.empty()) {
    r.fail_at(at, "fusion inputs", "rule " + std::to_string(c.fusion_rule) +
                                       " takes its inputs from the signed payloads; this field must be empty");
  }
  at = r.offset();
  c.fused_output = r.sized(2, fusion_output_max, "fused output");
  if (!r.failed() && c.fused_output.size() != expected_output_size(c.fusion_rule)) {
    r.fail_at(at, "fused output", "rule " + std::to_string(c.fusion_rule) + " gives " +
                                      std::to_string(expected_output_size(c.fusion_rule)) +
                                      " output bytes, got " + std::to_string(c.fused_output.size()));
  }
  at = r.offset();
  const std::uint8_t invariants = r.u8("invariant count");
  if (!r.failed() && invariants > invariants_max) {
    r.fail_at(at, "invariant count", std::to_string(invariants) + " entries exceed the limit of 32");
  }
  for (std::uint32_t i = 0; i < invariants && !r.failed(); ++i) {
    at = r.offset();
    InvariantRef inv;
    inv.id = r.id("invariant id");
    inv.proof_sha256 = r.fixed<32>("proof sha256");
    if (r.failed()) break;
    const bool shape = inv.id.size() <= invariant_id_max &&
                       std::all_of(inv.id.begin(), inv.id.end(), [](char ch) {
                         return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
                       });
    if (!shape) r.fail_at(at, "invariant id", "'" + inv.id + "' is not an invariant id (1..8 of A-Z, 0-9)");
    if (!c.invariants.empty() && !(c.invariants.back().id < inv.id)) {
      r.fail_at(at, "invariant id", "invariants must be sorted by id without duplicates");
    }
    c.invariants.push_back(std::move(inv));
  }
  read_tasks(r, c.tasks);
  c.head_signature = r.fixed<64>("head signature");
  r.end();
  if (r.failed()) return r.error();
  return c;
}

// ---- membership transition ----

Result<Bytes> encode_membership_transition(const MembershipTransition& t) {
  Writer w("membership transition");
  w.raw(magic_transition);
  w.uint(format_version, 2, "version");
  w.raw(t.old_digest);
  auto next = encode_membership(t.next);
  if (!next) return next.error();
  w.sized(*next, 2, membership_bytes_max, "new membership");
  w.raw(t.head_signature);
  return finish(w, t, decode_membership_transition);
}

Result<MembershipTransition> decode_membership_transition(std::span<const std::uint8_t> bytes) {
  constexpr std::string_view record = "membership transition";
  if (bytes.size() > membership_transition_bytes_max) {
    return format_error(record, 0, "size", std::to_string(bytes.size()) + " bytes exceed the limit of " +
                                               std::to_string(membership_transition_bytes_max));
  }
  Reader r(bytes, record);
  MembershipTransition t;
  r.magic(magic_transition);
  r.version(format_version);
  t.old_digest = r.fixed<32>("old membership digest");
  const std::size_t at = r.offset();
  const Bytes next = r.sized(2, membership_bytes_max, "new membership");
  if (!r.failed()) {
    auto m = decode_membership(next);
    if (m) {
      t.next = std::move(m.value());
    } else {
      r.fail_at(at, "new membership", m.error().message);
    }
  }
  t.head_signature = r.fixed<64>("head signature");
  r.end();
  if (r.failed()) return r.error();
  return t;
}

Bytes membership_transition_signing_message(std::span<const std::uint8_t> encoded) {
  BF_REQUIRE("C1", encoded.size() >= 64);
  Writer w("membership transition message");
  w.raw(tag_membership_transition);
  w.raw(encoded.first(encoded.size() - 64));
  return w.take();
}

// ---- equivocation ----

Result<Bytes> encode_equivocation(const EquivocationRecord& e) {
  Writer w("equivocation record");
  w.raw(magic_equivocation);
  w.uint(format_version, 2, "version");
  w.raw(e.membership_digest);
  w.uint(e.epoch, 8, "epoch");
  w.raw(e.query_id);
  w.uint(e.round, 4, "round");
  w.uint(e.worker, 1, "worker index");
  w.uint(static_cast<std::uint8_t>(e.agreement), 1, "agreement rule");
  w.uint(e.agreement_param, 1, "agreement parameter");
  if (e.first.worker != e.worker || e.second.worker != e.worker) {
    return Error{Errc::invalid_argument, "equivocation record: both answers must be the named worker's"};
  }
  write_answer_body(w, e.first);
  write_answer_body(w, e.second);
  return finish(w, e, decode_equivocation);
}

Result<EquivocationRecord> decode_equivocation(std::span<const std::uint8_t> bytes) {
  constexpr std::string_view record = "equivocation record";
  if (bytes.size() > record_bytes_max) {
    return format_error(record, 0, "size", std::to_string(bytes.size()) + " bytes exceed the limit");
  }
  Reader r(bytes, record);
  EquivocationRecord e;
  r.magic(magic_equivocation);
  r.version(format_version);
  e.membership_digest = r.fixed<32>("membership digest");
  e.epoch = r.u64("epoch");
  e.query_id = r.fixed<32>("query id");
  std::size_t at = r.offset();
  e.round = r.u32("round");
  if (!r.failed() && e.round >= limits::rounds_max) {
    r.fail_at(at, "round", "round " + std::to_string(e.round) + " is beyond the limit of 8 rounds");
  }
  at = r.offset();
  e.worker = r.u8("worker index");
  if (!r.failed() && e.worker >= limits::workers_max) {
    r.fail_at(at, "worker index", "worker " + std::to_string(e.worker) + " exceeds the 64-worker limit");
  }
  read_agreement(r, e.agreement, e.agreement_param);
  e.first = read_answer(r, e.worker);
  at = r.offset();
  e.second = read_answer(r, e.worker);
  if (!r.failed() && !(e.first.answer < e.second.answer)) {
    r.fail_at(at, "answer id", "the second answer id must be greater than the first (two different answers, in order)");
  }
  r.end();
  if (r.failed()) return r.error();
  return e;
}

// ---- messages and agreement ----

Bytes answer_signing_message(const Digest& query_id, std::uint32_t round,
                             const Digest& membership_digest, const AnswerId& answer,
                             std::span<const std::uint8_t> payload) {
  Writer w("answer message");
  w.raw(tag_answer);
  w.raw(query_id);
  w.uint(round, 4, "round");
  w.raw(membership_digest);
  w.raw(answer);
  w.uint(payload.size(), 4, "payload length");
  w.raw(payload);
  return w.take();
}

Bytes certificate_signing_message(std::span<const std::uint8_t> encoded) {
  BF_REQUIRE("C1", encoded.size() >= 64);
  Writer w("certificate message");
  w.raw(tag_certificate);
  w.raw(encoded.first(encoded.size() - 64));
  return w.take();
}

std::int64_t numeric_canonical(std::int64_t v, std::uint8_t decimals) noexcept {
  BF_REQUIRE("C1", decimals <= numeric_decimals_max && v <= numeric_abs_max && v >= -numeric_abs_max);
  std::int64_t step = 1;
  for (std::uint8_t i = decimals; i < numeric_decimals_max; ++i) step *= 10;
  const std::int64_t quotient = v / step;
  const std::int64_t remainder = v % step;
  const std::int64_t away = (remainder < 0 ? -remainder : remainder) * 2 >= step ? 1 : 0;
  return (quotient + (v < 0 ? -away : away)) * step;
}

Bytes i64_bytes(std::int64_t v) {
  Bytes out(8);
  const auto u = static_cast<std::uint64_t>(v);
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(u >> (8 * i));
  return out;
}

Result<std::int64_t> i64_from(std::span<const std::uint8_t> bytes, std::string_view what) {
  if (bytes.size() != 8) {
    return Error{Errc::invalid_argument, std::string(what) + " must be 8 bytes (an i64), got " +
                                             std::to_string(bytes.size())};
  }
  std::uint64_t u = 0;
  for (std::size_t i = 0; i < 8; ++i) u |= std::uint64_t{bytes[i]} << (8 * i);
  return static_cast<std::int64_t>(u);
}

Result<Bytes> answer_id_preimage(AgreementRule rule, std::uint8_t param,
                                 std::span<const std::uint8_t> payload) {
  if (rule == AgreementRule::exact) {
    Writer w("answer id");
    w.raw(tag_answer_id_exact);
    w.raw(payload);
    return w.take();
  }
  if (rule != AgreementRule::numeric || param > numeric_decimals_max) {
    return Error{Errc::invalid_argument, "unknown agreement rule or parameter"};
  }
  auto v = i64_from(payload, "a numeric answer's payload");
  if (!v) return v.error();
  if (*v > numeric_abs_max || *v < -numeric_abs_max) {
    return Error{Errc::invalid_argument, "numeric answer " + std::to_string(*v) +
                                             " micro-units is outside +-10^18"};
  }
  Writer w("answer id");
  w.raw(tag_answer_id_numeric);
  w.raw(i64_bytes(numeric_canonical(*v, param)));
  return w.take();
}

}  // namespace bf::core::cert
