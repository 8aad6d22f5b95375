// Llama-family decoder on the CPU: weights as they lie in the file (F32, F16, BF16, Q4_0, Q4_1,
// Q8_0; zero copy for GGUF), and a Session holding one sequence's f32 KV cache. The forward pass is
// llama2.c's / llama.cpp's LLM_ARCH_LLAMA: RMSNorm, "normal" RoPE over pairs (2i, 2i+1) (GGUF's
// q/k weights were permuted by llama.cpp's converter so this matches Hugging Face's rotate-half),
// grouped-query attention, SwiGLU, tied or separate output head.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "model/gguf.hpp"
#include "model/kernels.hpp"
#include "model/thread_pool.hpp"

namespace bf::model {

// Limits on a model's shape, checked when it is loaded.
inline constexpr std::size_t model_dim_max = 1U << 16;
inline constexpr std::size_t model_layers_max = 1024;
inline constexpr std::size_t model_heads_max = 1024;
inline constexpr std::size_t head_dim_max = 1024;  // attention keeps one head's query on the stack
inline constexpr std::size_t model_vocab_max = 1U << 21;
inline constexpr std::size_t model_context_max = 1U << 20;
inline constexpr std::size_t prefill_batch_max = 64;  // tokens per prefill matmul batch

struct ModelConfig {
  std::string architecture;  // "llama"
  std::size_t dim = 0;       // embedding width
  std::size_t hidden = 0;    // feed-forward width
  std::size_t layers = 0;
  std::size_t heads = 0;
  std::size_t kv_heads = 0;
  std::size_t head_dim = 0;
  std::size_t vocab = 0;
  std::size_t context = 0;  // the training context length
  float rope_theta = 10000.0F;
  float rms_eps = 1e-5F;
  bool tied_output = false;  // the output head is the token embedding
};

// A weight matrix of `rows` outputs by `cols` inputs, rows contiguous, in its file type.
struct Matrix {
  GgmlType type = GgmlType::f32;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::size_t row_bytes = 0;
  std::span<const std::uint8_t> data;
  const std::uint8_t* row(std::size_t r) const { return data.data() + r * row_bytes; }
};

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;  // small: copied out as f32
  Matrix wq, wk, wv, wo;
  Matrix w_gate, w_down, w_up;  // llama2.c's w1, w2, w3
};

class Model {
 public:
  static core::Result<Model> load_gguf(const std::filesystem::path& path);
  static core::Result<Model> from_gguf(std::shared_ptr<const GgufFile> file);
  // llama2.c "v0" checkpoint (header of 7 int32, then f32 weights); ids only, no tokenizer.
  static core::Result<Model> load_llama2c(const std::filesystem::path& path);
  static core::Result<Model> from_llama2c(std::shared_ptr<const std::vector<std::uint8_t>> bytes);
  // Hugging Face LlamaForCausalLM directory: config.json and model.safetensors (or the shards in
  // model.safetensors.index.json); F32/F16/BF16 weights, q/k rows un-permuted (model/llama_hf.cpp).
  static core::Result<Model> load_hf(const std::filesystem::path& dir);
  static bool is_hf_dir(const std::filesystem::path& path);  // a directory with a config.json

  const ModelConfig& config() const { return config_; }
  const Matrix& token_embedding() const { return token_embedding_; }
  const Matrix& output() const { return tied() ? token_embedding_ : output_; }
  const std::vector<float>& final_norm() const { return final_norm_; }
  std::span<const LayerWeights> layers() const { return layers_; }
  const GgufFile* gguf() const { return gguf_.get(); }  // null for llama2.c checkpoints
  std::uint64_t parameter_count() const;

 private:
  bool tied() const { return config_.tied_output; }
  ModelConfig config_;
  Matrix token_embedding_, output_;
  std::vector<float> final_norm_;
  std::vector<LayerWeights> layers_;
  std::shared_ptr<const GgufFile> gguf_;
  std::shared_ptr<const std::vector<std::uint8_t>> bytes_;
};

// y[t][r] = dot(w.row(r), x[t]) for t < n: each weight row is read once for the whole batch.
// x holds n rows of w.cols floats, y n rows of w.rows; q8 is scratch for the quantized activations.
void matmul(ThreadPool& pool, const Matrix& w, const float* x, std::size_t n, float* y,
            std::vector<BlockQ8>& q8);
// Several matrices with the same input width applied to the same x in one parallel region (one
// wake-up of the pool instead of one per matrix; the activations are quantized once).
struct MatmulTarget {
  const Matrix* w;
  float* y;
};
void matmul_many(ThreadPool& pool, std::span<const MatmulTarget> targets, const float* x, std::size_t n,
                 std::vector<BlockQ8>& q8);

// One sequence: its KV cache and scratch, allocated once. Borrows the model and the pool.
class Session {
 public:
  // context == 0: min(model context, session_context_default).
  static constexpr std::size_t session_context_default = 2048;
  Session(const Model& model, ThreadPool& pool, std::size_t context = 0);

  // Appends tokens at position() (prefill when several, decode when one) and returns the logits
  // (vocab floats) after the last one. Fails on an id outside the vocabulary or a full context.
  core::Result<std::span<const float>> forward(std::span<const std::int32_t> tokens);
  // One decode step for several sequences at once: sessions[i] (all of the same model, distinct)
  // takes tokens[i]; each weight row is read once for all of them. Runs on the first session's
  // pool and scratch. Each session's logits() then holds its next-token logits.
  static core::Status decode_batch(std::span<Session* const> sessions, std::span<const std::int32_t> tokens);
  std::span<const float> logits() const { return logits_; }
  std::size_t position() const { return position_; }
  std::size_t context() const { return context_; }
  // Whether the KV cache holds f16 (models with quantized attention weights, as llama.cpp's
  // default cache) rather than f32 (F32/F16/BF16 models: stories260K's numpy reference).
  bool kv_half() const { return kv_half_; }
  void reset() { position_ = 0; }

 private:
  // Rows of one batch: all this session's (owners empty, positions position_ + t) or one row per
  // owner session at its own position.
  void forward_batch(std::span<const std::int32_t> tokens, std::span<Session* const> owners);
  void attention(std::size_t layer, std::size_t n, std::span<Session* const> owners);

  const Model* model_;
  ThreadPool* pool_;
  std::size_t context_ = 0;
  std::size_t position_ = 0;
  bool kv_half_ = false;
  // Whether this call's attention sums as llama.cpp does for a batch of several tokens (tinyBLAS)
  // rather than for one (ggml_vec_dot_f16); see attention().
  bool batch_order_ = false;
  std::vector<float> key_cache_, value_cache_;  // [layer][position][kv_dim], when !kv_half_
  std::vector<std::uint16_t> key_cache16_, value_cache16_;  // the same in f16, when kv_half_
  std::vector<float> x_, xb_, q_, k_, v_, att_out_, gate_, up_, logits_, scores_, batch_logits_;
  std::vector<BlockQ8> q8_;
  std::vector<float> rope_cos_, rope_sin_;  // [position][head_dim / 2]
};

}  // namespace bf::model
