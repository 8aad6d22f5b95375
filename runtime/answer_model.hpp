// Model adapters for a worker: what turns an Ask into a model's text. Blocking: the worker runs
// them on a small thread pool, off the io_context that serves the head's connection.
//
//   script:PATH          runs PATH (no arguments) with the prompt on stdin; its stdout is the
//                        answer. Environment: BUTTERFLY_ROUND, BUTTERFLY_QUERY_ID (hex),
//                        BUTTERFLY_SEED. Deterministic scripts make deterministic workers (tests).
//   openai:URL[#model]   POST URL/v1/chat/completions (plain HTTP) to any OpenAI-compatible server
//                        (llama.cpp server, vLLM, Ollama); the answer is choices[0].message.content.
//   instant:TEXT         answers TEXT at once, in process ("instant:" alone answers "4"): no model
//                        and no process spawned, so benchmarks of the head measure the head and
//                        not fork/exec (butterfly bench run overhead).
//   fixed:MS[:TEXT]      answers TEXT (default "4") after MS milliseconds (0..60000) of wall time:
//                        a calibrated synthetic model for scaling benchmarks (butterfly bench run
//                        scaling). It sleeps on the worker's model thread (no CPU used), so a
//                        worker runs at most --model-threads of them at once; more queue.
//   builtin:smollm2, FILE.gguf   the built-in CPU runtime (model/): greedy or seeded sampling with
//                        an optional system prompt; several workers on one machine share the
//                        mmapped weights through the page cache.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "runtime/messages.hpp"
#include "runtime/worker_logic.hpp"

namespace bf::runtime {

inline constexpr std::size_t model_output_bytes_max = 64u << 10;  // longer output is an error
inline constexpr std::uint32_t model_timeout_ms_default = 30'000;
inline constexpr std::size_t model_spec_bytes_max = 4096;
inline constexpr std::uint32_t fixed_model_ms_max = 60'000;  // fixed:MS

class AnswerModel {
 public:
  virtual ~AnswerModel() = default;
  // Runs the model for one Ask. `seed` makes sampling reproducible where the model supports it.
  virtual core::Result<ModelOutput> run(const proto::Ask& ask, std::uint64_t seed) = 0;
  // For logs: "script:/path", "openai:http://host:port#model".
  [[nodiscard]] virtual std::string describe() const = 0;
};

struct ModelOptions {
  std::uint32_t timeout_ms = model_timeout_ms_default;  // per run; the run fails after this
  std::size_t output_bytes_max = model_output_bytes_max;
  // Built-in runtime only:
  std::string system_prompt;          // "" : the model's default
  std::uint32_t max_tokens = 48;      // new tokens per answer
  float temperature = 0.0F;           // 0: greedy; else sampled with the run's seed
  std::uint32_t compute_threads = 1;  // threads of one forward pass
  std::uint32_t distribution_top_k = 8;  // first-token distribution sent for token-level fusion
};

// Parses SPEC and builds the model. Errors say which forms exist and what was wrong.
core::Result<std::unique_ptr<AnswerModel>> make_answer_model(std::string_view spec, ModelOptions options = {});

// Parts of an openai: spec (exposed for tests).
struct OpenAiEndpoint {
  std::string host;
  std::string port;   // "80" when absent
  std::string path;   // the full request path, ending in /chat/completions
  std::string model;  // "" when no #model was given (the server's default)
};
core::Result<OpenAiEndpoint> parse_openai_spec(std::string_view url_and_model);

}  // namespace bf::runtime
