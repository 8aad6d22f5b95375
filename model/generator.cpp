#include "model/generator.hpp"

#include "model/tokenizer_hf.hpp"

#include <algorithm>
#include <chrono>

namespace bf::model {
namespace {

core::Error fail(std::string message) { return core::Error{core::Errc::invalid_argument, std::move(message)}; }

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

StepLogits top_logits(std::span<const float> logits, std::size_t k) {
  std::vector<std::int32_t> order(logits.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int32_t>(i);
  k = std::min(k, order.size());
  const auto k_end = order.begin() + static_cast<std::ptrdiff_t>(k);
  std::partial_sort(order.begin(), k_end, order.end(), [&](std::int32_t a, std::int32_t b) {
    const float la = logits[static_cast<std::size_t>(a)];
    const float lb = logits[static_cast<std::size_t>(b)];
    return la > lb || (la == lb && a < b);
  });
  StepLogits out;
  out.ids.assign(order.begin(), k_end);
  for (const auto id : out.ids) out.values.push_back(logits[static_cast<std::size_t>(id)]);
  return out;
}

// The request's checks and the prompt's ids (through the chat template unless raw): a result with
// chat and prompt_ids filled in.
core::Result<GenerateResult> prepare(const Tokenizer& tokenizer, const ModelConfig& config, const GenerateRequest& request) {
  if (auto s = validate(request.sampling); !s) return s.error();
  if (request.max_tokens == 0 || request.max_tokens > generate_tokens_max) {
    return fail("max tokens must be in 1.." + std::to_string(generate_tokens_max));
  }
  GenerateResult out;
  const TokenizerData& data = tokenizer.data();
  out.chat = !request.raw && !data.chat_template.empty();
  std::string text = request.prompt;
  if (out.chat) {
    std::vector<ChatMessage> messages;
    if (!request.system.empty()) messages.push_back({"system", request.system});
    messages.push_back({"user", request.prompt});
    text = apply_chat_template(data, messages, true);
  }
  auto ids = tokenizer.encode_checked(text, true, out.chat);
  if (!ids) return ids.error();
  if (ids->empty()) return fail("the prompt is empty after tokenization; give some text");
  out.prompt_ids = std::move(ids.value());
  if (out.prompt_ids.size() + request.max_tokens > config.context) {
    return fail("the prompt (" + std::to_string(out.prompt_ids.size()) + " tokens) plus " +
                std::to_string(request.max_tokens) + " new tokens exceeds the model's context of " +
                std::to_string(config.context) + "; shorten the prompt or ask for fewer tokens");
  }
  return out;
}

}  // namespace

Generator::Generator(Model model, Tokenizer tokenizer, std::size_t threads)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), pool_(std::make_unique<ThreadPool>(threads)) {}

core::Result<std::unique_ptr<Generator>> Generator::load(const std::filesystem::path& file, std::size_t threads) {
  if (threads > threads_max) return fail("threads must be at most " + std::to_string(threads_max));
  if (Model::is_hf_dir(file)) {  // Hugging Face layout: config.json, safetensors, tokenizer.json
    auto model = Model::load_hf(file);
    if (!model) return model.error();
    auto data = tokenizer_data_from_hf(file);
    if (!data) return data.error();
    auto tokenizer = Tokenizer::create(std::move(data.value()));
    if (!tokenizer) return tokenizer.error();
    return std::unique_ptr<Generator>(new Generator(std::move(model.value()), std::move(tokenizer.value()), threads));
  }
  auto gguf = GgufFile::open(file);
  if (!gguf) return gguf.error();
  auto shared = std::make_shared<const GgufFile>(std::move(gguf.value()));
  auto model = Model::from_gguf(shared);
  if (!model) return model.error();
  auto data = tokenizer_data_from_gguf(*shared);
  if (!data) return data.error();
  auto tokenizer = Tokenizer::create(std::move(data.value()));
  if (!tokenizer) return tokenizer.error();
  return std::unique_ptr<Generator>(new Generator(std::move(model.value()), std::move(tokenizer.value()), threads));
}

core::Result<GenerateResult> Generator::generate(const GenerateRequest& request,
                                                 const std::function<void(std::string_view)>& on_piece) {
  const std::lock_guard lock(mutex_);
  auto prepared = prepare(tokenizer_, model_.config(), request);
  if (!prepared) return prepared.error();
  GenerateResult out = std::move(prepared.value());
  Session session(model_, *pool_, out.prompt_ids.size() + request.max_tokens);
  Sampler sampler(request.sampling);

  const auto prefill_start = std::chrono::steady_clock::now();
  auto logits = session.forward(out.prompt_ids);
  if (!logits) return logits.error();
  out.prefill_s = seconds_since(prefill_start);
  if (request.distribution_top_k > 0) {
    const float temperature = request.sampling.temperature > 0 ? request.sampling.temperature : 1.0F;
    out.first_distribution = top_k_q31(*logits, request.distribution_top_k, temperature);
  }
  const auto decode_start = std::chrono::steady_clock::now();
  while (out.ids.size() < request.max_tokens) {
    if (request.logits_top_k > 0) out.step_logits.push_back(top_logits(*logits, request.logits_top_k));
    const std::int32_t token = sampler.sample(*logits);
    out.ids.push_back(token);
    if (tokenizer_.is_end_of_generation(token)) {
      out.stopped = true;
      break;
    }
    const std::string piece = tokenizer_.token_piece(token);
    out.text += piece;
    if (on_piece) on_piece(piece);
    if (out.ids.size() == request.max_tokens) break;
    logits = session.forward(std::span<const std::int32_t>(&token, 1));
    if (!logits) return logits.error();
  }
  out.decode_s = seconds_since(decode_start);
  return out;
}

std::size_t BatchResult::decoded() const {
  std::size_t n = 0;
  for (const auto& s : sequences) n += s.decoded();
  return n;
}

core::Result<BatchResult> Generator::generate_batch(const GenerateRequest& request, std::size_t batch) {
  if (batch == 0 || batch > generate_batch_max) {
    return fail("batch must be in 1.." + std::to_string(generate_batch_max) + " sequences");
  }
  if (request.logits_top_k > 0 || request.distribution_top_k > 0) {
    return fail("per-step logits and the first-step distribution are one-sequence features; ask for batch 1");
  }
  const std::lock_guard lock(mutex_);
  auto prepared = prepare(tokenizer_, model_.config(), request);
  if (!prepared) return prepared.error();
  BatchResult out;
  out.sequences.assign(batch, std::move(prepared.value()));

  // One prefill; its session (KV cache and logits) copied to every sequence: the prompt is the same.
  std::vector<Session> sessions;
  sessions.reserve(batch);
  sessions.emplace_back(model_, *pool_, out.sequences[0].prompt_ids.size() + request.max_tokens);
  const auto prefill_start = std::chrono::steady_clock::now();
  if (auto logits = sessions[0].forward(out.sequences[0].prompt_ids); !logits) return logits.error();
  out.prefill_s = seconds_since(prefill_start);
  for (std::size_t i = 1; i < batch; ++i) sessions.push_back(sessions[0]);
  std::vector<Sampler> samplers;
  for (std::size_t i = 0; i < batch; ++i) {
    SamplerConfig config = request.sampling;
    config.seed += i;  // wraps: any seed is valid
    samplers.emplace_back(config);
  }

  const auto decode_start = std::chrono::steady_clock::now();
  std::vector<std::size_t> live(batch);  // the sequences still generating
  for (std::size_t i = 0; i < batch; ++i) live[i] = i;
  std::vector<Session*> step_sessions;
  std::vector<std::int32_t> step_tokens;
  while (!live.empty()) {
    step_sessions.clear();
    step_tokens.clear();
    std::vector<std::size_t> still;
    for (const std::size_t i : live) {
      GenerateResult& seq = out.sequences[i];
      const std::int32_t token = samplers[i].sample(sessions[i].logits());
      seq.ids.push_back(token);
      if (tokenizer_.is_end_of_generation(token)) {
        seq.stopped = true;
        continue;
      }
      seq.text += tokenizer_.token_piece(token);
      if (seq.ids.size() == request.max_tokens) continue;
      still.push_back(i);
      step_sessions.push_back(&sessions[i]);
      step_tokens.push_back(token);
    }
    live = std::move(still);
    if (live.empty()) break;
    if (auto s = Session::decode_batch(step_sessions, step_tokens); !s) return s.error();
  }
  out.decode_s = seconds_since(decode_start);
  for (auto& seq : out.sequences) {
    seq.prefill_s = out.prefill_s;
    seq.decode_s = out.decode_s;
  }
  return out;
}

}  // namespace bf::model
