// The head's protocol logic, sans IO (spec/consensus.md, "Head behaviour").
//
// No sockets, threads or clocks: time is the `now` argument, and every output is an action the
// caller performs (send an Ask, deliver a finished query, log an isolation or a detection). The
// same code runs in the Asio head process and in the deterministic simulator (runtime/sim.*).
//
// Usage: feed events (submit, on_connected, on_disconnected, on_answer, on_tick), then drain
// take_actions() and perform them in order; call on_tick(now) no later than next_deadline().
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/certificate.hpp"
#include "core/quorum.hpp"
#include "core/tally.hpp"
#include "runtime/crypto.hpp"
#include "runtime/membership_file.hpp"
#include "runtime/messages.hpp"

namespace bf::runtime {

using Millis = std::uint64_t;

struct HeadConfig {
  Membership membership;
  Keypair head_key;
  std::uint32_t rounds_max = core::limits::rounds_default;  // debate mode only; other modes use 1
  Millis round_timeout_ms = 2000;                           // a round closes at this deadline
  std::vector<core::cert::InvariantRef> invariants;         // from proofs/MANIFEST (the process fills it)
  std::uint64_t next_sequence = 1;                          // resume the chain after a restart
  Digest previous_hash{};
  std::vector<core::cert::SnapshotEntry> reputation;  // empty: start values; else one per worker
  // Testing the tester only (runtime/sim.*): decide with the seed's 2f+1. Never set in a process.
  bool unsafe_seed_quorum = false;
  std::size_t queries_in_flight_max = 1024;  // submit refuses more (QueryDone with an error)
  // Finished queries whose signed answers are kept to catch an equivocation that arrives after
  // the decision (spec/consensus.md, "Late equivocation"); the oldest are forgotten first.
  std::size_t recent_queries_max = 4096;
};

struct QueryRequest {
  std::string text;
  proto::Mode mode = proto::Mode::vote;
  core::cert::AgreementRule agreement = core::cert::AgreementRule::exact;
  std::uint8_t agreement_param = 0;
  // Signed into the certificate as given (the head never runs Z3; `cert verify --z3` does); the
  // caller bounds them (HTTP: at most core::cert::task_checks_max), else the producer refuses.
  std::vector<core::cert::TaskCheck> task_checks = {};
};

using QueryHandle = std::uint64_t;

struct SendAsk {
  core::WorkerIndex worker = 0;
  proto::Ask ask;
};

// Time spent in each stage of one query (milliseconds of the caller's clock).
struct StageTimings {
  Millis dispatch_to_first_answer = 0;  // round 0's first counted answer
  Millis dispatch_to_quorum = 0;        // the last round's dispatch to its decision
  Millis debate = 0;                    // rounds after the first, in total
};

struct QueryDone {
  QueryHandle handle = 0;
  Digest query_id{};
  // decided, no_consensus or no_quorum. When `error` is set no certificate was made (e.g. the
  // producer refused, or too many queries in flight) and outcome is no_quorum.
  core::Outcome outcome = core::Outcome::no_quorum;
  std::string error;
  std::string answer_text;  // a decided-cluster member's model text, the lowest worker index
  Bytes fused_output;       // as in the certificate: an answer id (exact) or an i64 LE (numeric)
  std::string fused_note;   // how the mode was mapped to a certified fusion rule
  Bytes certificate;
  Digest certificate_hash{};
  std::uint64_t sequence = 0;
  core::SignerMask signers = 0;
  std::vector<Bytes> equivocations;  // encoded equivocation records (spec/certificate.md)
  std::uint32_t rounds = 0;
  Millis submitted_at = 0, decided_at = 0;
  StageTimings timings;
};

struct WorkerIsolated {
  core::WorkerIndex worker = 0;
  std::string reason;
  Bytes evidence;  // the encoded equivocation record (spec/certificate.md), for the log
  // Non-zero when the second answer came after the query was certified (under this sequence
  // number): no certificate carries this evidence, so the caller must log it on its own.
  std::uint64_t late_after_sequence = 0;
};

// Something a worker did wrong. kind: "crash", "timeout", "equivocation", "invalid-signature",
// "wrong-answer" (answered outside the decided cluster), "malformed" (a well-formed message whose
// fields do not match the query: wrong worker index, round or answer id).
struct Detection {
  core::WorkerIndex worker = 0;
  std::string kind;
  Millis at = 0;
  std::string detail;
};

using HeadAction = std::variant<SendAsk, QueryDone, WorkerIsolated, Detection>;

// For /v1/status.
struct WorkerStatus {
  core::WorkerIndex worker = 0;
  std::string id;
  bool connected = false;
  core::cert::SnapshotEntry reputation;
  bool eligible = false;
};
struct HeadStatus {
  std::vector<WorkerStatus> workers;
  std::size_t queries_in_flight = 0;
  std::uint64_t next_sequence = 1;
  Digest previous_hash{};
  std::uint64_t queries_done = 0;
};

// Query ids: blake2b-256 of query_id_preimage(text, counter). The certificate carries the id;
// the auditor checks signatures against it and does not need the text.
Bytes query_id_preimage(std::string_view text, std::uint64_t counter);

// Checks a configuration before HeadLogic is built from it: membership sizes and quorum, the
// reputation snapshot's length, rounds_max and the timeout. The error says what to change.
core::Status check_head_config(const HeadConfig& config);

class HeadLogic {
 public:
  // Requires check_head_config(config) to pass.
  explicit HeadLogic(HeadConfig config);

  // Starts a query: Ask round 0 to every connected eligible worker. With none connected (or too
  // few to reach a quorum) the query still runs and fails closed (no_quorum) at once.
  QueryHandle submit(QueryRequest request, Millis now);
  void on_connected(core::WorkerIndex w, Millis now);
  void on_disconnected(core::WorkerIndex w, Millis now);
  // `from` is the authenticated peer. Answers for finished or unknown queries are ignored.
  void on_answer(core::WorkerIndex from, const proto::Answer& answer, Millis now);
  void on_tick(Millis now);

  std::vector<HeadAction> take_actions();
  // The earliest round deadline of the queries in flight, if any.
  [[nodiscard]] std::optional<Millis> next_deadline() const;

  [[nodiscard]] HeadStatus status() const;
  [[nodiscard]] const std::vector<core::cert::SnapshotEntry>& reputation() const { return reputation_; }

 private:
  struct RoundState {
    core::Tally tally;
    core::SignerMask dispatched = 0;
    core::SignerMask answered = 0;       // counted or equivocated: its answer is in hand
    std::vector<proto::Answer> answers;  // verified and counted, in arrival order, at most two per worker
    std::uint32_t reachable = 0;         // as given to core::decide when the round ended
    Millis started = 0;
    Millis deadline = 0;
  };
  struct Query {
    QueryHandle handle = 0;
    Digest id{};
    QueryRequest request;
    std::uint32_t rounds_max = 1;
    std::vector<RoundState> rounds;
    std::vector<core::cert::SnapshotEntry> snapshot;  // reputation at submit: the certificate's
    core::SignerMask isolated_here = 0;  // equivocated in this query
    // Equivocation caught after its round closed while the query went on into debate: the pair
    // of signed answers, written beside the query's certificate (no round of it carries them).
    std::vector<Bytes> straggler_evidence;
    // Verified answers that arrived after their round closed from workers without a counted
    // answer there: at most one per worker and round, so a second, different one still convicts.
    std::vector<proto::Answer> stragglers;
    Millis submitted = 0;
    std::optional<Millis> first_answer;  // round 0's first counted answer
    bool done = false;
  };

  void start_round(Query& q, Millis now);
  void evaluate(Query& q, Millis now, bool deadline_passed);
  void finish(Query& q, const core::Decision& decision, Millis now);
  [[nodiscard]] bool may_dispatch(const Query& q, core::WorkerIndex w) const;
  [[nodiscard]] std::uint32_t reachable(const Query& q) const;
  void isolate(core::WorkerIndex w, std::string reason, Bytes evidence, Millis now,
               std::uint64_t late_after_sequence = 0);
  void remember(const Query& q, std::uint64_t sequence);
  void check_late(core::WorkerIndex from, const proto::Answer& answer, Millis now);
  void check_straggler(Query& q, core::WorkerIndex from, const proto::Answer& answer, Millis now);
  void erase_done();
  void detect(core::WorkerIndex w, std::string kind, Millis now, std::string detail);

  HeadConfig config_;
  core::Membership quorum_{};
  std::vector<core::cert::SnapshotEntry> reputation_;
  core::SignerMask connected_ = 0;
  core::SignerMask isolated_ = 0;  // equivocated: out until a membership change
  std::map<Digest, Query> queries_;
  // A certified query's first signed answer per (round, worker), for late equivocation.
  struct Recent {
    std::uint64_t sequence = 0;
    core::cert::AgreementRule agreement = core::cert::AgreementRule::exact;
    std::uint8_t agreement_param = 0;
    std::vector<std::vector<core::cert::SignedAnswer>> rounds;
  };
  std::map<Digest, Recent> recent_;
  std::deque<Digest> recent_order_;  // oldest first
  std::uint64_t counter_ = 0;
  std::uint64_t queries_done_ = 0;
  std::vector<HeadAction> actions_;
};

}  // namespace bf::runtime
