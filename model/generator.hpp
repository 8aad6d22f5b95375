// One loaded chat model and its generation loop: the GGUF file (mmapped, so several workers on a
// machine share its pages), the tokenizer, the chat template, a thread pool and a sampler. Used by
// `butterfly generate` and by the worker's built-in model, so both generate the same way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "model/gguf.hpp"
#include "model/llama.hpp"
#include "model/sampler.hpp"
#include "model/thread_pool.hpp"
#include "model/tokenizer.hpp"

namespace bf::model {

inline constexpr std::size_t generate_tokens_max = 1U << 16;
inline constexpr std::size_t generate_batch_max = 8;  // sequences decoded together by generate_batch

struct GenerateRequest {
  std::string system;  // "" : the template's default system prompt
  std::string prompt;  // the user message (or the raw text with raw = true)
  bool raw = false;    // true: no chat template
  std::size_t max_tokens = 64;
  SamplerConfig sampling;
  std::size_t distribution_top_k = 0;  // > 0: the first step's top-k distribution in Q31
  std::size_t logits_top_k = 0;        // > 0: each step's k largest raw logits (parity checks)
};

// One step's largest logits, in decreasing order (ties by id), before sampling.
struct StepLogits {
  std::vector<std::int32_t> ids;
  std::vector<float> values;
};

struct GenerateResult {
  std::string text;
  std::vector<std::int32_t> prompt_ids;
  std::vector<std::int32_t> ids;  // generated, including an end-of-generation id if one stopped it
  bool stopped = false;           // ended by an end-of-generation token, not max_tokens
  bool chat = false;              // the chat template was applied
  std::vector<TokenQ31> first_distribution;
  std::vector<StepLogits> step_logits;  // one per generated id when logits_top_k > 0
  double prefill_s = 0, decode_s = 0;
  [[nodiscard]] std::size_t decoded() const { return ids.empty() ? 0 : ids.size() - 1; }
};

// Several sequences of the same prompt decoded together (Generator::generate_batch).
struct BatchResult {
  std::vector<GenerateResult> sequences;  // text, ids and stop of each; prompt_ids and chat alike
  double prefill_s = 0, decode_s = 0;     // the one prefill; the decode loop of all sequences
  [[nodiscard]] std::size_t decoded() const;  // decode forward passes of all sequences together
};

class Generator {
 public:
  // Loads FILE (GGUF with tokenizer metadata) or a Hugging Face directory (Model::load_hf and
  // tokenizer_data_from_hf). threads == 0: one per hardware core.
  static core::Result<std::unique_ptr<Generator>> load(const std::filesystem::path& file, std::size_t threads);

  // One generation; calls on_piece with each token's text as it comes. Serialised: a Generator runs
  // one request at a time (its pool and session are shared).
  core::Result<GenerateResult> generate(const GenerateRequest& request,
                                        const std::function<void(std::string_view)>& on_piece = {});

  // `batch` sequences (1..generate_batch_max) of the same prompt: one prefill whose session is
  // copied to each, then one Session::decode_batch per step, so each weight row is read once for
  // all. Sequence i samples with seed + i (greedy at temperature 0). A sequence that ends with an
  // end-of-generation id leaves the batch; the others go on. Not supported: the per-step logits and
  // the first-step distribution (one-sequence features).
  core::Result<BatchResult> generate_batch(const GenerateRequest& request, std::size_t batch);

  const Model& model() const { return model_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  std::size_t threads() const { return pool_->size(); }

 private:
  Generator(Model model, Tokenizer tokenizer, std::size_t threads);
  Model model_;
  Tokenizer tokenizer_;
  std::unique_ptr<ThreadPool> pool_;
  std::mutex mutex_;
};

}  // namespace bf::model
