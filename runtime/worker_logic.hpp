// A worker's protocol logic, sans IO (spec/consensus.md, "Worker behaviour").
//
// On an Ask the worker asks its model (RunModel); when the model is done it canonicalises the
// text under the query's agreement rule, signs the answer and sends it (SendAnswer). Byzantine
// kinds exist for tests, the simulator and `butterfly worker --byzantine`: nothing about a
// worker's own behaviour is trusted by the head.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/certificate.hpp"
#include "runtime/crypto.hpp"
#include "runtime/head_logic.hpp"
#include "runtime/membership_file.hpp"
#include "runtime/messages.hpp"

namespace bf::runtime {

enum class ByzantineKind : std::uint8_t {
  none,        // honest
  wrong,       // a fixed wrong answer derived from the query id and the worker
  random,      // a seeded random answer
  equivocate,  // two different signed answers for the same round
  collude,     // every colluder gives the same wrong answer, derived from the query id alone
  slow,        // honest, but answers slow_ms late
  silent,      // never answers
  malformed,   // sends a malformed frame (the transport does it)
  replay,      // replays its last frame (the transport does it)
};
std::optional<ByzantineKind> byzantine_from_name(std::string_view name);
const char* byzantine_name(ByzantineKind kind);

struct ModelOutput {
  std::string text;
  std::vector<proto::TokenProbability> distribution;
};

struct WorkerConfig {
  Membership membership;
  Keypair key;
  core::WorkerIndex self = 0;
  ByzantineKind byzantine = ByzantineKind::none;
  std::uint64_t seed = 0;
  Millis slow_ms = 0;
};

struct RunModel {
  std::uint64_t job = 0;
  proto::Ask ask;
};
struct SendAnswer {
  proto::Answer answer;
  Millis not_before = 0;  // the caller holds it until then (slow workers)
};
// Transport-level attacks the process performs on the channel.
struct SendMalformed {
  std::uint64_t job = 0;
};
struct ReplayLast {
  std::uint64_t job = 0;
};
// When the model fails or its text has no canonical payload: nothing is sent (the head times the
// worker out); the process logs this.
struct ModelFailed {
  std::uint64_t job = 0;
  std::string reason;
};
using WorkerAction = std::variant<RunModel, SendAnswer, SendMalformed, ReplayLast, ModelFailed>;

inline constexpr std::size_t worker_jobs_max = 256;  // outstanding model runs; more Asks are dropped

class WorkerLogic {
 public:
  explicit WorkerLogic(WorkerConfig config);
  void on_ask(const proto::Ask& ask, Millis now);
  void on_model_done(std::uint64_t job, core::Result<ModelOutput> output, Millis now);
  std::vector<WorkerAction> take_actions();

 private:
  WorkerConfig config_;
  std::map<std::uint64_t, proto::Ask> jobs_;
  std::uint64_t next_job_ = 1;
  std::uint64_t rng_;
  std::vector<WorkerAction> actions_;
};

// The canonical payload of a model's text under the agreement rule: numeric = the last number in
// the text as i64 micro-units rounded to `param` decimals (the core numeric rule), exact = the
// normalised text (trim, collapse whitespace, lowercase ASCII, strip trailing punctuation, cap at
// payload_bytes_max). Error when no number is found (numeric) or nothing is left (exact).
// The answer every colluder gives for a query: derived from the query id alone, so colluders
// agree without talking (the simulator also uses it to build split honest answers).
std::string collusion_text(core::cert::AgreementRule rule, const Digest& query_id);

core::Result<Bytes> canonical_payload(core::cert::AgreementRule rule, std::uint8_t param, std::string_view text);

}  // namespace bf::runtime
