// butterfly model info / generate: Butterfly's own CPU model runtime (model/) from the command
// line. generate streams text as tokens come and reports prefill and decode speed.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <system_error>

#include "cli/cli.hpp"
#include "model/generator.hpp"
#include "model/gguf.hpp"
#include "model/llama.hpp"
#include "model/model_paths.hpp"
#include "model/sampler.hpp"
#include "model/tokenizer.hpp"
#include "model/tokenizer_hf.hpp"

namespace bf::cli {
namespace {

namespace fs = std::filesystem;
namespace bm = model;

constexpr std::size_t max_tokens_max = bm::generate_tokens_max;

[[noreturn]] void input_error(const std::string& command, const std::string& message) {
  std::cerr << "butterfly " << command << ": " << message << "\n";
  throw Exit{exit_usage};
}

// The checkout this binary was built from: the nearest ancestor of the executable holding
// models/MANIFEST (build/bin/butterfly -> the source root).
fs::path resolve_model(const std::string& command, const std::string& spec) {
  auto path = bm::resolve_model_spec(spec);
  if (!path) input_error(command, path.error().message);
  return *path;
}

std::string human_bytes(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024.0 * 1024.0));
  return buf;
}

// A Hugging Face directory (config.json, safetensors weights, tokenizer.json): shape, weight type
// and tokenizer, as run_model_info prints them for a GGUF file.
int run_model_info_hf(const fs::path& dir, bool json) {
  const std::string cmd = "model info";
  auto model = bm::Model::load_hf(dir);
  if (!model) input_error(cmd, model.error().message);
  const auto& c = model->config();
  const std::string weights(bm::ggml_type_name(model->token_embedding().type));
  auto tokenizer = bm::tokenizer_data_from_hf(dir);
  nlohmann::json j;
  j["file"] = dir.string();
  j["format"] = "huggingface";
  j["architecture"] = c.architecture;
  j["weight_type"] = weights;
  j["parameters"] = model->parameter_count();
  j["config"] = {{"dim", c.dim},         {"hidden", c.hidden},         {"layers", c.layers},
                 {"heads", c.heads},     {"kv_heads", c.kv_heads},     {"head_dim", c.head_dim},
                 {"vocab", c.vocab},     {"context", c.context},       {"rope_theta", c.rope_theta},
                 {"rms_eps", c.rms_eps}, {"tied_output", c.tied_output}};
  if (tokenizer) {
    j["tokenizer"] = {{"model", tokenizer->model}, {"pre", tokenizer->pre}, {"vocab", tokenizer->tokens.size()},
                      {"bos", tokenizer->bos},     {"eos", tokenizer->eos}, {"chat_template", !tokenizer->chat_template.empty()}};
  } else {
    j["tokenizer"] = {{"error", tokenizer.error().message}};
  }
  if (json) {
    std::cout << j.dump(2) << "\n";
    return exit_ok;
  }
  std::cout << "Model " << dir.string() << " (Hugging Face directory, " << weights << " weights)\n"
            << "  architecture: " << c.architecture << "\n"
            << "  parameters: " << model->parameter_count() << "\n"
            << "  layers " << c.layers << ", dim " << c.dim << ", feed-forward " << c.hidden << ", heads " << c.heads
            << " (kv " << c.kv_heads << ", head size " << c.head_dim << "), vocab " << c.vocab << "\n"
            << "  context: " << c.context << " tokens; RoPE base " << c.rope_theta << "; RMS eps " << c.rms_eps
            << "; output head " << (c.tied_output ? "tied to the token embedding" : "separate") << "\n";
  if (tokenizer) {
    std::cout << "  tokenizer: " << tokenizer->model << " (pre-tokenizer " << tokenizer->pre << "), "
              << tokenizer->tokens.size() << " tokens; chat template "
              << (tokenizer->chat_template.empty() ? "absent" : "present (" + bm::chat_template_family(*tokenizer) + ")") << "\n";
  } else {
    std::cout << "  tokenizer: none usable (" << tokenizer.error().message << ")\n";
  }
  return exit_ok;
}

int run_model_info(const std::string& spec, bool json) {
  const std::string cmd = "model info";
  const fs::path path = resolve_model(cmd, spec);
  if (bm::Model::is_hf_dir(path)) return run_model_info_hf(path, json);
  auto file = bm::GgufFile::open(path);
  if (!file) input_error(cmd, file.error().message);
  auto shared = std::make_shared<const bm::GgufFile>(std::move(file.value()));
  const bm::GgufFile& f = *shared;
  std::map<std::string, std::size_t> types;
  std::uint64_t tensor_bytes = 0;
  for (const auto& t : f.tensors()) {
    ++types[std::string(bm::ggml_type_name(t.type))];
    tensor_bytes += t.data.size();
  }
  auto model = bm::Model::from_gguf(shared);
  auto tokenizer = bm::tokenizer_data_from_gguf(f);
  nlohmann::json j;
  j["file"] = path.string();
  j["file_bytes"] = f.file_bytes();
  j["gguf_version"] = f.version();
  j["name"] = std::string(f.get_string("general.name").value_or(""));
  j["architecture"] = std::string(f.get_string("general.architecture").value_or("unknown"));
  j["tensors"] = f.tensors().size();
  j["tensor_bytes"] = tensor_bytes;
  j["tensor_types"] = types;
  if (model) {
    const auto& c = model->config();
    j["parameters"] = model->parameter_count();
    j["config"] = {{"dim", c.dim},         {"hidden", c.hidden},         {"layers", c.layers},
                   {"heads", c.heads},     {"kv_heads", c.kv_heads},     {"head_dim", c.head_dim},
                   {"vocab", c.vocab},     {"context", c.context},       {"rope_theta", c.rope_theta},
                   {"rms_eps", c.rms_eps}, {"tied_output", c.tied_output}};
  } else {
    j["runnable"] = model.error().message;
  }
  if (tokenizer) {
    j["tokenizer"] = {{"model", tokenizer->model},
                      {"pre", tokenizer->pre},
                      {"vocab", tokenizer->tokens.size()},
                      {"bos", tokenizer->bos},
                      {"eos", tokenizer->eos},
                      {"chat_template", !tokenizer->chat_template.empty()}};
  } else {
    j["tokenizer"] = {{"error", tokenizer.error().message}};
  }
  if (json) {
    std::cout << j.dump(2) << "\n";
    return exit_ok;
  }
  std::cout << "Model " << path.string() << " (" << human_bytes(f.file_bytes()) << ", GGUF v" << f.version() << ")\n"
            << "  name: " << j["name"].get<std::string>() << "\n"
            << "  architecture: " << j["architecture"].get<std::string>() << "\n";
  if (model) {
    const auto& c = model->config();
    std::cout << "  parameters: " << model->parameter_count() << "\n"
              << "  layers " << c.layers << ", dim " << c.dim << ", feed-forward " << c.hidden << ", heads " << c.heads
              << " (kv " << c.kv_heads << ", head size " << c.head_dim << "), vocab " << c.vocab << "\n"
              << "  context: " << c.context << " tokens; RoPE base " << c.rope_theta << "; RMS eps " << c.rms_eps
              << "; output head " << (c.tied_output ? "tied to the token embedding" : "separate") << "\n";
  } else {
    std::cout << "  not runnable here: " << model.error().message << "\n";
  }
  std::cout << "  tensors: " << f.tensors().size() << " (" << human_bytes(tensor_bytes) << "):";
  for (const auto& [name, n] : types) std::cout << " " << name << " x" << n;
  std::cout << "\n";
  if (tokenizer) {
    std::cout << "  tokenizer: " << tokenizer->model << " (pre-tokenizer " << (tokenizer->pre.empty() ? "default" : tokenizer->pre)
              << "), " << tokenizer->tokens.size() << " tokens; chat template "
              << (tokenizer->chat_template.empty() ? "absent" : "present (" + bm::chat_template_family(*tokenizer) + ")") << "\n";
  } else {
    std::cout << "  tokenizer: none usable (" << tokenizer.error().message << ")\n";
  }
  return exit_ok;
}

struct GenerateOptions {
  std::string model = "builtin:smollm2";
  std::string prompt;
  std::size_t max_tokens = 128;
  float temperature = 0.0F;
  std::size_t top_k = 0;
  float top_p = 1.0F;
  std::uint64_t seed = 0;
  std::size_t threads = 0;
  bool raw = false;
  bool json = false;
  std::string system;
  std::size_t logits = 0;  // --logits K: each step's K largest logits in the JSON
  std::size_t batch = 1;   // --batch N: sequences of the same prompt decoded together
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int run_generate(const GenerateOptions& opt) {
  const std::string cmd = "generate";
  const bm::SamplerConfig sampling{opt.temperature, opt.top_k, opt.top_p, opt.seed};
  if (auto s = bm::validate(sampling); !s) input_error(cmd, s.error().message);
  if (opt.max_tokens == 0 || opt.max_tokens > max_tokens_max) {
    input_error(cmd, "--max-tokens must be in 1.." + std::to_string(max_tokens_max));
  }
  if (opt.threads > bm::threads_max) input_error(cmd, "--threads must be at most " + std::to_string(bm::threads_max));
  if (opt.logits > 0 && !opt.json) input_error(cmd, "--logits needs --json (the logits are part of the JSON object)");
  if (opt.logits > bm::model_vocab_max) input_error(cmd, "--logits must be at most " + std::to_string(bm::model_vocab_max));
  if (opt.batch == 0 || opt.batch > bm::generate_batch_max) {
    input_error(cmd, "--batch must be in 1.." + std::to_string(bm::generate_batch_max) + " (sequences decoded together)");
  }
  if (opt.batch > 1 && opt.logits > 0) input_error(cmd, "--logits works with one sequence only; drop --batch or --logits");
  const fs::path path = resolve_model(cmd, opt.model);
  const auto load_start = std::chrono::steady_clock::now();
  auto generator = bm::Generator::load(path, opt.threads);
  if (!generator) input_error(cmd, generator.error().message);
  const double load_s = seconds_since(load_start);
  bm::GenerateRequest request;
  request.prompt = opt.prompt;
  request.system = opt.system;
  request.raw = opt.raw;
  request.max_tokens = opt.max_tokens;
  request.sampling = sampling;
  request.logits_top_k = opt.logits;
  // Batch 1 streams its text as it comes; a batch prints each sequence's text at the end.
  std::vector<bm::GenerateResult> sequences;
  double prefill_s = 0, decode_s = 0;
  std::size_t decoded = 0;
  if (opt.batch == 1) {
    auto result = (*generator)->generate(request, [&](std::string_view piece) {
      if (!opt.json) std::cout << piece << std::flush;
    });
    if (!result) input_error(cmd, result.error().message);
    prefill_s = result->prefill_s;
    decode_s = result->decode_s;
    decoded = result->decoded();
    sequences.push_back(std::move(result.value()));
  } else {
    auto result = (*generator)->generate_batch(request, opt.batch);
    if (!result) input_error(cmd, result.error().message);
    prefill_s = result->prefill_s;
    decode_s = result->decode_s;
    decoded = result->decoded();
    sequences = std::move(result->sequences);
  }
  const bm::GenerateResult& first = sequences.front();
  const std::vector<std::int32_t>* prompt_ids = &first.prompt_ids;
  const std::size_t threads = (*generator)->threads();
  const double prefill_tps = static_cast<double>(prompt_ids->size()) / prefill_s;
  // All sequences' tokens over the decode wall time.
  const double decode_tps = decoded == 0 ? 0.0 : static_cast<double>(decoded) / decode_s;
  const auto stop_name = [](const bm::GenerateResult& r) { return r.stopped ? "end_of_generation" : "max_tokens"; };
  if (opt.json) {
    nlohmann::json j{{"model", path.string()},
                     {"prompt_tokens", *prompt_ids},
                     {"chat_template", first.chat},
                     {"text", first.text},
                     {"tokens", first.ids},
                     {"stop", stop_name(first)},
                     {"threads", threads},
                     {"kernels", std::string(bm::isa_name(bm::best_isa()))},
                     {"batch", opt.batch},
                     {"decode_tok_s", decode_tps},
                     {"timings", {{"load_s", load_s},
                                  {"prefill_s", prefill_s},
                                  {"prefill_tokens_per_s", prefill_tps},
                                  {"decode_s", decode_s},
                                  {"decode_tokens_per_s", decode_tps}}}};
    nlohmann::json seqs = nlohmann::json::array();
    for (const auto& r : sequences) seqs.push_back({{"text", r.text}, {"tokens", r.ids}, {"stop", stop_name(r)}});
    j["sequences"] = std::move(seqs);
    if (opt.logits > 0) {
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& st : first.step_logits) steps.push_back({{"ids", st.ids}, {"logits", st.values}});
      j["step_logits"] = std::move(steps);
    }
    // Indented unless it carries logits (tens of thousands of numbers per step).
    std::cout << j.dump(opt.logits > 0 ? -1 : 2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    if (opt.batch == 1) {
      std::cout << std::endl;  // end the streamed text and flush it before the timings on stderr
    } else {
      for (std::size_t i = 0; i < sequences.size(); ++i) {
        std::cout << "[sequence " << i + 1 << "/" << sequences.size() << "] " << sequences[i].text << "\n";
      }
      std::cout << std::flush;
    }
    const std::string of_batch = opt.batch == 1 ? "" : " in " + std::to_string(opt.batch) + " sequences";
    char line[320];
    std::snprintf(line, sizeof line,
                  "prefill: %zu tokens in %.3f s (%.1f tokens/s); decode: %zu tokens%s in %.3f s (%.1f tokens/s); "
                  "%zu threads, %s kernels; load %.3f s\n",
                  prompt_ids->size(), prefill_s, prefill_tps, decoded, of_batch.c_str(), decode_s, decode_tps, threads,
                  std::string(bm::isa_name(bm::best_isa())).c_str(), load_s);
    std::cerr << line;
  }
  return exit_ok;
}

}  // namespace

void add_model_commands(CLI::App& app) {
  CLI::App* m = app.add_subcommand("model", "Inspect model files (GGUF)");
  m->require_subcommand(1);
  {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* info = m->add_subcommand("info", "Architecture, size, quantization, context, tokenizer and chat template of a GGUF model");
    info->add_option("FILE", *file, "A .gguf file, a Hugging Face model directory, or builtin:smollm2")->required();
    info->add_flag("--json", *json, "Machine-readable output");
    info->footer("Examples:\n  butterfly model info builtin:smollm2\n  butterfly model info models/SmolLM2-135M-Instruct.Q4_1.gguf --json");
    info->callback([=] { action() = [=] { return run_model_info(*file, *json); }; });
  }
  auto opt = std::make_shared<GenerateOptions>();
  CLI::App* g = app.add_subcommand("generate", "Generate text with a GGUF model on the CPU, streaming it as it comes");
  g->add_option("PROMPT", opt->prompt, "The prompt (a user message when the model has a chat template)")->required();
  g->add_option("--model", opt->model, "A .gguf file, a Hugging Face model directory, or builtin:smollm2 (default)");
  g->add_option("--max-tokens", opt->max_tokens, "Most tokens to generate (default 128)");
  g->add_option("--temperature", opt->temperature, "0 = greedy (default); higher is more random");
  g->add_option("--top-k", opt->top_k, "Sample only from the K most likely tokens (0 = off)");
  g->add_option("--top-p", opt->top_p, "Sample only from the smallest set with this much probability (1 = off)");
  g->add_option("--seed", opt->seed, "Random seed for sampling (default 0); same seed, same text");
  g->add_option("--threads", opt->threads, "Worker threads (default: all hardware threads)");
  g->add_flag("--raw", opt->raw, "Do not wrap the prompt in the model's chat template");
  g->add_option("--system", opt->system, "A system prompt for the chat template (default: the model's own)");
  g->add_flag("--json", opt->json, "One JSON object with text, token ids and timings instead of streaming");
  g->add_option("--logits", opt->logits,
                "With --json: each step's K largest logits (\"step_logits\": ids and values, before sampling); "
                "K = the vocabulary size gives them all");
  g->add_option("--batch", opt->batch,
                "Decode N sequences of the prompt together, 1.." + std::to_string(bm::generate_batch_max) +
                    " (default 1): one prefill, then each step reads the weights once for all; sequence i "
                    "samples with seed + i; --json adds each sequence's text and the total decode_tok_s");
  g->footer(
      "Prefill and decode speed go to stderr.\n"
      "Examples:\n"
      "  butterfly generate \"What is the capital of France?\"\n"
      "  butterfly generate --model models/SmolLM2-135M-Instruct.Q4_1.gguf --max-tokens 64 \\\n"
      "      --temperature 0.7 --top-p 0.9 --seed 7 \"Write a haiku about rivers.\"\n"
      "  butterfly generate --raw --json \"Once upon a time\"\n"
      "  butterfly generate --raw --batch 4 --temperature 0.8 --max-tokens 32 \"Once upon a time\"\n"
      "  butterfly generate --json --temperature 0 --max-tokens 8 --logits 1000 \"Why is the sky blue?\"");
  g->callback([=] { action() = [=] { return run_generate(*opt); }; });
}

}  // namespace bf::cli
