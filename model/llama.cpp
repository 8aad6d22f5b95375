#include "model/llama.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <fstream>

namespace bf::model {
namespace {

using core::Errc;
using core::Error;
using core::Result;
using core::Status;

Error invalid(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

// A matrix view of a GGUF tensor with ggml dims [cols, rows], checked against the expected shape.
Result<Matrix> gguf_matrix(const GgufFile& file, const std::string& name, std::size_t rows, std::size_t cols) {
  const TensorInfo* t = file.tensor(name);
  if (t == nullptr) return invalid("model file has no tensor \"" + name + "\"; is it a Llama-family GGUF?");
  if (t->dims.size() != 2 || t->dims[0] != cols || t->dims[1] != rows) {
    std::string shape;
    for (const auto d : t->dims) {
      if (!shape.empty()) shape.push_back('x');
      shape.append(std::to_string(d));
    }
    return invalid("tensor \"" + name + "\" has shape " + shape + ", expected " + std::to_string(cols) +
                   "x" + std::to_string(rows) + " from the model's metadata");
  }
  const auto traits = *ggml_type_traits(static_cast<std::uint32_t>(t->type));
  if (t->type != GgmlType::f32 && t->type != GgmlType::f16 && t->type != GgmlType::bf16 &&
      !uses_q8_activations(t->type)) {
    return invalid("tensor \"" + name + "\" has an unsupported type");
  }
  if (cols % q_block != 0 && uses_q8_activations(t->type)) {
    return invalid("tensor \"" + name + "\" is quantized but its rows are not whole blocks");
  }
  Matrix m;
  m.type = t->type;
  m.rows = rows;
  m.cols = cols;
  m.row_bytes = static_cast<std::size_t>(cols / traits.block_elements * traits.block_bytes);
  m.data = t->data;
  return m;
}

Result<std::vector<float>> gguf_vector(const GgufFile& file, const std::string& name, std::size_t n) {
  const TensorInfo* t = file.tensor(name);
  if (t == nullptr) return invalid("model file has no tensor \"" + name + "\"");
  if (t->dims.size() != 1 || t->dims[0] != n) {
    return invalid("tensor \"" + name + "\" should be a vector of " + std::to_string(n) + " elements");
  }
  if (uses_q8_activations(t->type) && n % q_block != 0) return invalid("tensor \"" + name + "\" is malformed");
  std::vector<float> out(n);
  dequantize_row(t->type, t->data.data(), n, out.data());
  return out;
}

Result<std::size_t> required_uint(const GgufFile& file, const std::string& key, std::size_t max) {
  const auto v = file.get_uint(key);
  if (!v) return invalid("model file has no integer \"" + key + "\"; is it a Llama-family GGUF?");
  if (*v == 0 || *v > max) {
    return invalid("\"" + key + "\" = " + std::to_string(*v) + " is outside 1.." + std::to_string(max));
  }
  return static_cast<std::size_t>(*v);
}

Status check_config(const ModelConfig& c) {
  if (c.dim == 0 || c.dim > model_dim_max || c.hidden == 0 || c.hidden > 4 * model_dim_max ||
      c.layers == 0 || c.layers > model_layers_max || c.heads == 0 || c.heads > model_heads_max ||
      c.kv_heads == 0 || c.kv_heads > c.heads || c.heads % c.kv_heads != 0 || c.vocab == 0 ||
      c.vocab > model_vocab_max || c.context == 0 || c.context > model_context_max ||
      c.head_dim == 0 || c.head_dim % 2 != 0 || c.head_dim > head_dim_max || c.head_dim * c.heads > 4 * model_dim_max) {
    return invalid("model shape is out of range (dim " + std::to_string(c.dim) + ", hidden " +
                   std::to_string(c.hidden) + ", layers " + std::to_string(c.layers) + ", heads " +
                   std::to_string(c.heads) + "/" + std::to_string(c.kv_heads) + ", head_dim " +
                   std::to_string(c.head_dim) + ", vocab " + std::to_string(c.vocab) + ", context " +
                   std::to_string(c.context) + ")");
  }
  if (!(c.rms_eps > 0.0F) || !(c.rope_theta > 0.0F) || !std::isfinite(c.rope_theta)) {
    return invalid("model has a non-positive rms epsilon or rope frequency base");
  }
  return core::Ok{};
}

// As ggml_compute_forward_rms_norm_f32: squares summed in double, the mean and scale in float.
void rmsnorm(const float* x, const float* weight, std::size_t n, float eps, float* out) {
  double ss = 0.0;
  for (std::size_t i = 0; i < n; ++i) ss += static_cast<double>(x[i] * x[i]);
  const auto mean = static_cast<float>(ss / static_cast<double>(n));
  const float scale = 1.0F / std::sqrt(mean + eps);
  for (std::size_t i = 0; i < n; ++i) out[i] = weight[i] * (scale * x[i]);
}

// Below this many multiply-adds (positions x heads x head_dim) attention runs on the calling thread.
constexpr std::size_t attention_inline_max = 1U << 17;

// scores[p] = exp(scores[p] - max); returns 1 / their sum, as ggml_vec_soft_max_f32 (sum in double).
float softmax_in_place(float* scores, std::size_t n, float max) {
  double sum = 0.0;
  for (std::size_t p = 0; p < n; ++p) {
    scores[p] = std::exp(scores[p] - max);
    sum += static_cast<double>(scores[p]);
  }
  return static_cast<float>(1.0 / sum);
}

}  // namespace


std::uint64_t Model::parameter_count() const {
  const auto count = [](const Matrix& m) { return static_cast<std::uint64_t>(m.rows) * m.cols; };
  std::uint64_t n = count(token_embedding_) + final_norm_.size();
  if (!tied()) n += count(output_);
  for (const auto& l : layers_) {
    n += l.attn_norm.size() + l.ffn_norm.size() + count(l.wq) + count(l.wk) + count(l.wv) + count(l.wo) +
         count(l.w_gate) + count(l.w_down) + count(l.w_up);
  }
  return n;
}

Result<Model> Model::load_gguf(const std::filesystem::path& path) {
  auto file = GgufFile::open(path);
  if (!file) return file.error();
  return from_gguf(std::make_shared<const GgufFile>(std::move(file.value())));
}

Result<Model> Model::from_gguf(std::shared_ptr<const GgufFile> file) {
  const GgufFile& f = *file;
  Model m;
  const auto arch = f.get_string("general.architecture");
  if (!arch) return invalid("model file has no general.architecture");
  if (*arch != "llama") {
    return invalid("architecture \"" + std::string(*arch) + "\" is not supported; only llama-family models");
  }
  ModelConfig& c = m.config_;
  c.architecture = std::string(*arch);
  const std::string p = "llama.";
#define BF_REQUIRE(field, key, max)                     \
  {                                                     \
    auto v = required_uint(f, p + (key), (max));        \
    if (!v) return v.error();                           \
    c.field = *v;                                       \
  }
  BF_REQUIRE(dim, "embedding_length", model_dim_max)
  BF_REQUIRE(hidden, "feed_forward_length", 4 * model_dim_max)
  BF_REQUIRE(layers, "block_count", model_layers_max)
  BF_REQUIRE(heads, "attention.head_count", model_heads_max)
  BF_REQUIRE(context, "context_length", model_context_max)
#undef BF_REQUIRE
  c.kv_heads = static_cast<std::size_t>(f.get_uint(p + "attention.head_count_kv").value_or(c.heads));
  c.head_dim = c.dim / c.heads;
  if (const auto rope_dims = f.get_uint(p + "rope.dimension_count")) {
    if (*rope_dims != c.head_dim) return invalid("llama.rope.dimension_count differs from the head size; partial RoPE is not supported");
  }
  if (const auto key_length = f.get_uint(p + "attention.key_length")) {
    if (*key_length > model_dim_max) return invalid("llama.attention.key_length is out of range");
    c.head_dim = static_cast<std::size_t>(*key_length);
  }
  c.rope_theta = static_cast<float>(f.get_float(p + "rope.freq_base").value_or(10000.0));
  c.rms_eps = static_cast<float>(f.get_float(p + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  const TensorInfo* embd = f.tensor("token_embd.weight");
  if (embd == nullptr || embd->dims.size() != 2) return invalid("model file has no 2-D tensor \"token_embd.weight\"");
  c.vocab = static_cast<std::size_t>(std::min<std::uint64_t>(embd->dims[1], model_vocab_max + 1));
  c.tied_output = f.tensor("output.weight") == nullptr;
  if (auto s = check_config(c); !s) return s.error();

  const std::size_t q_dim = c.heads * c.head_dim;
  const std::size_t kv_dim = c.kv_heads * c.head_dim;
  auto embedding = gguf_matrix(f, "token_embd.weight", c.vocab, c.dim);
  if (!embedding) return embedding.error();
  m.token_embedding_ = *embedding;
  if (!c.tied_output) {
    auto out = gguf_matrix(f, "output.weight", c.vocab, c.dim);
    if (!out) return out.error();
    m.output_ = *out;
  }
  auto norm = gguf_vector(f, "output_norm.weight", c.dim);
  if (!norm) return norm.error();
  m.final_norm_ = *norm;
  m.layers_.resize(c.layers);
  for (std::size_t i = 0; i < c.layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    LayerWeights& l = m.layers_[i];
    struct Want {
      Matrix* out;
      const char* name;
      std::size_t rows, cols;
    };
    const Want wants[] = {{&l.wq, "attn_q.weight", q_dim, c.dim},      {&l.wk, "attn_k.weight", kv_dim, c.dim},
                          {&l.wv, "attn_v.weight", kv_dim, c.dim},     {&l.wo, "attn_output.weight", c.dim, q_dim},
                          {&l.w_gate, "ffn_gate.weight", c.hidden, c.dim}, {&l.w_down, "ffn_down.weight", c.dim, c.hidden},
                          {&l.w_up, "ffn_up.weight", c.hidden, c.dim}};
    for (const auto& w : wants) {
      auto mat = gguf_matrix(f, b + w.name, w.rows, w.cols);
      if (!mat) return mat.error();
      *w.out = *mat;
    }
    auto an = gguf_vector(f, b + "attn_norm.weight", c.dim);
    if (!an) return an.error();
    l.attn_norm = *an;
    auto fn = gguf_vector(f, b + "ffn_norm.weight", c.dim);
    if (!fn) return fn.error();
    l.ffn_norm = *fn;
  }
  m.gguf_ = std::move(file);
  return m;
}

Result<Model> Model::load_llama2c(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid("cannot open checkpoint " + path.string() + "; check the path");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(in.tellg());
  if (size <= 0 || size > (std::streamoff{1} << 34)) return invalid("checkpoint " + path.string() + " is empty or too large");
  in.seekg(0);
  auto bytes = std::make_shared<std::vector<std::uint8_t>>(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes->data()), size);
  if (!in) return invalid("cannot read checkpoint " + path.string());
  auto m = from_llama2c(std::move(bytes));
  if (!m) return Error{m.error().code, path.string() + ": " + m.error().message};
  return m;
}

Result<Model> Model::from_llama2c(std::shared_ptr<const std::vector<std::uint8_t>> bytes) {
  constexpr std::size_t header_bytes = 7 * 4;
  const std::span<const std::uint8_t> all(*bytes);
  if (all.size() < header_bytes) return invalid("llama2.c checkpoint is shorter than its 28-byte header");
  std::int32_t h[7];
  std::memcpy(h, all.data(), header_bytes);
  for (int i = 0; i < 7; ++i) {
    if (h[i] == 0 || (i != 5 && h[i] < 0)) return invalid("llama2.c checkpoint header field " + std::to_string(i) + " is out of range");
  }
  Model m;
  ModelConfig& c = m.config_;
  c.architecture = "llama";
  c.dim = static_cast<std::size_t>(h[0]);
  c.hidden = static_cast<std::size_t>(h[1]);
  c.layers = static_cast<std::size_t>(h[2]);
  c.heads = static_cast<std::size_t>(h[3]);
  c.kv_heads = static_cast<std::size_t>(h[4]);
  c.tied_output = h[5] > 0;  // llama2.c: a negative vocab size means a separate classifier
  c.vocab = static_cast<std::size_t>(h[5] > 0 ? h[5] : -static_cast<std::int64_t>(h[5]));
  c.context = static_cast<std::size_t>(h[6]);
  c.head_dim = c.heads == 0 ? 0 : c.dim / c.heads;
  if (c.head_dim * c.heads != c.dim) return invalid("llama2.c checkpoint: dim is not a multiple of heads");
  if (auto s = check_config(c); !s) return s.error();

  const std::size_t kv_dim = c.kv_heads * c.head_dim;
  const std::size_t L = c.layers;
  // Floats in file order; the two RoPE tables llama2.c stored are skipped (computed instead).
  const std::size_t floats = c.vocab * c.dim + L * c.dim + L * c.dim * c.dim + 2 * L * kv_dim * c.dim +
                             L * c.dim * c.dim + L * c.dim + 3 * L * c.hidden * c.dim + c.dim +
                             c.context * c.head_dim + (c.tied_output ? 0 : c.vocab * c.dim);
  if (all.size() != header_bytes + floats * 4) {
    return invalid("llama2.c checkpoint has " + std::to_string(all.size()) + " bytes; its header describes " +
                   std::to_string(header_bytes + floats * 4));
  }
  std::size_t at = header_bytes;
  const auto take = [&](std::size_t n) {
    auto s = all.subspan(at, n * 4);
    at += n * 4;
    return s;
  };
  const auto matrix = [&](std::size_t rows, std::size_t cols) {
    return Matrix{GgmlType::f32, rows, cols, cols * 4, take(rows * cols)};
  };
  const auto vec = [&](std::size_t n) {
    std::vector<float> v(n);
    const auto s = take(n);
    std::memcpy(v.data(), s.data(), n * 4);
    return v;
  };
  m.token_embedding_ = matrix(c.vocab, c.dim);
  m.layers_.resize(L);
  for (auto& l : m.layers_) l.attn_norm = vec(c.dim);
  for (auto& l : m.layers_) l.wq = matrix(c.dim, c.dim);
  for (auto& l : m.layers_) l.wk = matrix(kv_dim, c.dim);
  for (auto& l : m.layers_) l.wv = matrix(kv_dim, c.dim);
  for (auto& l : m.layers_) l.wo = matrix(c.dim, c.dim);
  for (auto& l : m.layers_) l.ffn_norm = vec(c.dim);
  for (auto& l : m.layers_) l.w_gate = matrix(c.hidden, c.dim);
  for (auto& l : m.layers_) l.w_down = matrix(c.dim, c.hidden);
  for (auto& l : m.layers_) l.w_up = matrix(c.hidden, c.dim);
  m.final_norm_ = vec(c.dim);
  take(c.context * c.head_dim);  // freq_cis_real and freq_cis_imag: half a head each
  if (!c.tied_output) m.output_ = matrix(c.vocab, c.dim);
  assert(at == all.size());
  m.bytes_ = std::move(bytes);
  return m;
}

void matmul_many(ThreadPool& pool, std::span<const MatmulTarget> targets, const float* x, std::size_t n,
                 std::vector<BlockQ8>& q8) {
  const Kernels& k = kernels();
  assert(!targets.empty());
  const std::size_t cols = targets[0].w->cols;
  bool quantized = false;
  std::size_t total_rows = 0;
  for (const auto& t : targets) {
    assert(t.w->cols == cols);
    quantized = quantized || uses_q8_activations(t.w->type);
    total_rows += t.w->rows;
  }
  const std::size_t blocks = cols / q_block;
  if (quantized) {
    if (q8.size() < n * blocks) q8.resize(n * blocks);
    for (std::size_t t = 0; t < n; ++t) k.quantize_q8(x + t * cols, q8.data() + t * blocks, blocks);
  }
  const BlockQ8* a = q8.data();
  // Rows of all targets are numbered consecutively; each thread takes a contiguous range.
  pool.run(total_rows, [&](std::size_t begin, std::size_t end) {
    std::size_t first = 0;
    for (const auto& target : targets) {
      const Matrix& w = *target.w;
      const std::size_t lo = std::max(begin, first);
      const std::size_t hi = std::min(end, first + w.rows);
      first += w.rows;
      if (lo >= hi) continue;
      const std::size_t rows = w.rows;
      float* y = target.y;
      switch (w.type) {
        case GgmlType::q4_0:
        case GgmlType::q4_1:
        case GgmlType::q8_0: {
          const std::size_t r0 = lo - (first - rows);
          // Prefill gives each token the bits the decode kernel (matvec) gives it, as llama.cpp's
          // vec_dot does for both: the gemv kernels sum in another order, which changed q and k in the
          // last bit on some prompts and broke parity. matmul_* tiles rows x tokens with matvec's
          // per-pair operations (kernels.hpp; unit.model.Kernels.MatmulEqualsMatvecBitForBit*).
          const auto matmul = w.type == GgmlType::q4_1   ? k.matmul_q4_1
                              : w.type == GgmlType::q8_0 ? k.matmul_q8_0
                                                         : k.matmul_q4_0;
          matmul(w.row(r0), w.row_bytes, hi - lo, a, blocks, n, y + r0, rows);
          break;
        }
        case GgmlType::f32:
        case GgmlType::f16:
        case GgmlType::bf16: {
          const auto dot = w.type == GgmlType::f32 ? k.dot_f32 : w.type == GgmlType::f16 ? k.dot_f16 : k.dot_bf16;
          for (std::size_t r = lo - (first - rows); r < hi - (first - rows); ++r) {
            for (std::size_t t = 0; t < n; ++t) y[t * rows + r] = dot(w.row(r), x + t * cols, cols);
          }
          break;
        }
      }
    }
  }, 16);
}

void matmul(ThreadPool& pool, const Matrix& w, const float* x, std::size_t n, float* y, std::vector<BlockQ8>& q8) {
  const MatmulTarget one[] = {{&w, y}};
  matmul_many(pool, one, x, n, q8);
}

Session::Session(const Model& model, ThreadPool& pool, std::size_t context) : model_(&model), pool_(&pool) {
  const ModelConfig& c = model.config();
  context_ = context == 0 ? std::min(c.context, session_context_default) : std::min(context, c.context);
  const std::size_t kv_dim = c.kv_heads * c.head_dim;
  const std::size_t q_dim = c.heads * c.head_dim;
  const std::size_t B = prefill_batch_max;
  kv_half_ = !model.layers().empty() && uses_q8_activations(model.layers()[0].wk.type);
  if (kv_half_) {
    key_cache16_.assign(c.layers * context_ * kv_dim, 0);
    value_cache16_.assign(c.layers * context_ * kv_dim, 0);
  } else {
    key_cache_.assign(c.layers * context_ * kv_dim, 0.0F);
    value_cache_.assign(c.layers * context_ * kv_dim, 0.0F);
  }
  x_.resize(B * c.dim);
  xb_.resize(B * std::max(c.dim, q_dim));
  q_.resize(B * q_dim);
  k_.resize(B * kv_dim);
  v_.resize(B * kv_dim);
  att_out_.resize(B * q_dim);
  gate_.resize(B * c.hidden);
  up_.resize(B * c.hidden);
  logits_.resize(c.vocab);
  scores_.resize(B * c.heads * context_);
  const std::size_t half = c.head_dim / 2;
  rope_cos_.resize(context_ * half);
  rope_sin_.resize(context_ * half);
  // The angles as ggml_rope_cache_init computes them (float, theta multiplied by theta_scale pair
  // by pair), so positions far into the context rotate exactly as in llama.cpp.
  const float theta_scale = std::pow(c.rope_theta, -2.0F / static_cast<float>(c.head_dim));
  for (std::size_t pos = 0; pos < context_; ++pos) {
    float theta = static_cast<float>(pos);
    for (std::size_t i = 0; i < half; ++i) {
      rope_cos_[pos * half + i] = std::cos(theta);
      rope_sin_[pos * half + i] = std::sin(theta);
      theta *= theta_scale;
    }
  }
}

Result<std::span<const float>> Session::forward(std::span<const std::int32_t> tokens) {
  const ModelConfig& c = model_->config();
  if (tokens.empty()) return invalid("forward() needs at least one token");
  if (tokens.size() > context_ - position_) {
    return invalid("the sequence would exceed the session's context of " + std::to_string(context_) +
                   " tokens (at " + std::to_string(position_) + ", adding " + std::to_string(tokens.size()) + ")");
  }
  for (const auto id : tokens) {
    if (id < 0 || static_cast<std::size_t>(id) >= c.vocab) {
      return invalid("token id " + std::to_string(id) + " is outside the vocabulary 0.." + std::to_string(c.vocab - 1));
    }
  }
  batch_order_ = tokens.size() > 1;
  for (std::size_t begin = 0; begin < tokens.size(); begin += prefill_batch_max) {
    forward_batch(tokens.subspan(begin, std::min(prefill_batch_max, tokens.size() - begin)), {});
  }
  return std::span<const float>(logits_);
}

Status Session::decode_batch(std::span<Session* const> sessions, std::span<const std::int32_t> tokens) {
  if (sessions.empty() || sessions.size() != tokens.size()) {
    return invalid("decode_batch needs one token per session (" + std::to_string(sessions.size()) + " sessions, " +
                   std::to_string(tokens.size()) + " tokens)");
  }
  if (sessions.size() > prefill_batch_max) {
    return invalid("decode_batch takes at most " + std::to_string(prefill_batch_max) + " sessions");
  }
  const Model* model = sessions[0]->model_;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    const Session* s = sessions[i];
    if (s->model_ != model) return invalid("decode_batch: the sessions run different models");
    for (std::size_t j = 0; j < i; ++j) {
      if (sessions[j] == s) return invalid("decode_batch: a session appears twice");
    }
    if (s->position_ >= s->context_) return invalid("decode_batch: session " + std::to_string(i) + " is at its context limit");
    if (tokens[i] < 0 || static_cast<std::size_t>(tokens[i]) >= model->config().vocab) {
      return invalid("token id " + std::to_string(tokens[i]) + " is outside the vocabulary");
    }
  }
  sessions[0]->batch_order_ = sessions.size() > 1;
  sessions[0]->forward_batch(tokens, sessions);
  return core::Ok{};
}

void Session::forward_batch(std::span<const std::int32_t> tokens, std::span<Session* const> owners) {
  const ModelConfig& c = model_->config();
  const std::size_t n = tokens.size();
  const auto owner = [&](std::size_t t) { return owners.empty() ? this : owners[t]; };
  const auto row_pos = [&](std::size_t t) { return owners.empty() ? position_ + t : owners[t]->position_; };
  const std::size_t dim = c.dim;
  const std::size_t kv_dim = c.kv_heads * c.head_dim;
  const std::size_t q_dim = c.heads * c.head_dim;
  const std::size_t half = c.head_dim / 2;
  const Matrix& embedding = model_->token_embedding();
  for (std::size_t t = 0; t < n; ++t) {
    dequantize_row(embedding.type, embedding.row(static_cast<std::size_t>(tokens[t])), dim, x_.data() + t * dim);
  }
  for (std::size_t li = 0; li < c.layers; ++li) {
    const LayerWeights& l = model_->layers()[li];
    for (std::size_t t = 0; t < n; ++t) rmsnorm(x_.data() + t * dim, l.attn_norm.data(), dim, c.rms_eps, xb_.data() + t * dim);
    const MatmulTarget qkv[] = {{&l.wq, q_.data()}, {&l.wk, k_.data()}, {&l.wv, v_.data()}};
    matmul_many(*pool_, qkv, xb_.data(), n, q8_);
    for (std::size_t t = 0; t < n; ++t) {
      Session& o = *owner(t);
      const std::size_t pos = row_pos(t);
      const float* cs = o.rope_cos_.data() + pos * half;
      const float* sn = o.rope_sin_.data() + pos * half;
      const auto rotate = [&](float* vec, std::size_t heads) {
        for (std::size_t h = 0; h < heads; ++h) {
          float* p = vec + h * c.head_dim;
          for (std::size_t i = 0; i < half; ++i) {
            const float a = p[2 * i];
            const float b = p[2 * i + 1];
            // As ggml's rope compiles (FMA-contracted): a last-bit difference here flips f16 roundings
            // of q and k later, which is what separated Butterfly's logits from llama.cpp's.
            p[2 * i] = std::fma(a, cs[i], -(b * sn[i]));
            p[2 * i + 1] = std::fma(a, sn[i], b * cs[i]);
          }
        }
      };
      rotate(q_.data() + t * q_dim, c.heads);
      rotate(k_.data() + t * kv_dim, c.kv_heads);
      const std::size_t cache_at = (li * o.context_ + pos) * kv_dim;
      if (o.kv_half_) {
        for (std::size_t i = 0; i < kv_dim; ++i) {
          o.key_cache16_[cache_at + i] = f32_to_f16(k_[t * kv_dim + i]);
          o.value_cache16_[cache_at + i] = f32_to_f16(v_[t * kv_dim + i]);
        }
      } else {
        std::copy_n(k_.data() + t * kv_dim, kv_dim, o.key_cache_.data() + cache_at);
        std::copy_n(v_.data() + t * kv_dim, kv_dim, o.value_cache_.data() + cache_at);
      }
    }
    attention(li, n, owners);
    matmul(*pool_, l.wo, att_out_.data(), n, xb_.data(), q8_);
    for (std::size_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];
    for (std::size_t t = 0; t < n; ++t) rmsnorm(x_.data() + t * dim, l.ffn_norm.data(), dim, c.rms_eps, xb_.data() + t * dim);
    const MatmulTarget gate_up[] = {{&l.w_gate, gate_.data()}, {&l.w_up, up_.data()}};
    matmul_many(*pool_, gate_up, xb_.data(), n, q8_);
    kernels().swiglu(gate_.data(), up_.data(), n * c.hidden);  // SwiGLU: silu(gate) * up
    matmul(*pool_, l.w_down, gate_.data(), n, xb_.data(), q8_);
    for (std::size_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];
  }
  if (owners.empty()) {
    // Only the last token's logits are needed: the next token follows from them.
    rmsnorm(x_.data() + (n - 1) * dim, model_->final_norm().data(), dim, c.rms_eps, xb_.data());
    matmul(*pool_, model_->output(), xb_.data(), 1, logits_.data(), q8_);
    position_ += n;
    return;
  }
  for (std::size_t t = 0; t < n; ++t) {
    rmsnorm(x_.data() + t * dim, model_->final_norm().data(), dim, c.rms_eps, xb_.data() + t * dim);
  }
  batch_logits_.resize(n * c.vocab);
  matmul(*pool_, model_->output(), xb_.data(), n, batch_logits_.data(), q8_);
  for (std::size_t t = 0; t < n; ++t) {
    std::copy_n(batch_logits_.data() + t * c.vocab, c.vocab, owners[t]->logits_.data());
    ++owners[t]->position_;
  }
}

void Session::attention(std::size_t layer, std::size_t n, std::span<Session* const> owners) {
  const ModelConfig& c = model_->config();
  const std::size_t kv_dim = c.kv_heads * c.head_dim;
  const std::size_t q_dim = c.heads * c.head_dim;
  const std::size_t group = c.heads / c.kv_heads;
  const float scale = 1.0F / std::sqrt(static_cast<float>(c.head_dim));
  const Kernels& kern = kernels();
  // Each (token, head) task has a row of scores as long as the longest context in the batch.
  std::size_t stride = context_;
  for (const Session* o : owners) stride = std::max(stride, o->context_);
  if (scores_.size() < n * c.heads * stride) scores_.resize(n * c.heads * stride);

  const std::size_t total = n * c.heads;
  const auto heads = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      // Causal attention costs grow with the position: zigzag the order (first, last, second,
      // second last, ...) so each thread's contiguous range gets early and late tokens alike.
      const std::size_t task = i % 2 == 0 ? i / 2 : total - 1 - i / 2;
      const std::size_t t = task / c.heads;
      const std::size_t h = task % c.heads;
      const std::size_t kv_h = h / group;
      const Session& o = owners.empty() ? *this : *owners[t];
      // causal: this token and those before it in its own sequence
      const std::size_t len = (owners.empty() ? position_ + t : o.position_) + 1;
      const std::size_t head_at = layer * o.context_ * kv_dim + kv_h * c.head_dim;
      const float* q = q_.data() + t * q_dim + h * c.head_dim;
      float* scores = scores_.data() + task * stride;
      float* out = att_out_.data() + t * q_dim + h * c.head_dim;
      std::fill_n(out, c.head_dim, 0.0F);
      float max = -INFINITY;
      if (o.kv_half_) {
        // llama.cpp's attention over an f16 cache: q and the probabilities are rounded to f16
        // before their products (ggml converts a mul_mat's f32 operand to the f16 one's type).
        // Sums in llama.cpp's order too (kernels.hpp): a batch of tokens as its tinyBLAS matmuls, one
        // token as ggml_vec_dot_f16 over n_kv = len rounded up to 32 cells (the masked ones add 0).
        float q16[head_dim_max];
        for (std::size_t d = 0; d < c.head_dim; ++d) q16[d] = f16_to_f32(f32_to_f16(q[d]));
        const bool gemm = batch_order_;
        for (std::size_t p = 0; p < len; ++p) {
          scores[p] = kern.dot_f16_ggml(o.key_cache16_.data() + head_at + p * kv_dim, q16, c.head_dim, gemm) * scale;
          max = std::max(max, scores[p]);
        }
        const auto inv = static_cast<float>(1.0 / kern.softmax_exp(scores, len, max));
        // Each output is a dot over positions: position p goes to lane p % 16 (tinyBLAS) or to lane
        // p % 64 of ggml_vec_dot_f16's 4 x 16 below n_kv & ~63, the rest summed in double after.
        const std::size_t n_kv = (len + 31) / 32 * 32;
        const std::size_t in_lanes = std::min(len, gemm ? n_kv : n_kv & ~static_cast<std::size_t>(63));
        const std::size_t hd = c.head_dim;
        // Only the lanes that receive a position are stored; the others are 0 (adding 0 is exact).
        const std::size_t used = std::min(in_lanes, gemm ? std::size_t{16} : std::size_t{64});
        thread_local std::vector<float> lanes;
        if (lanes.size() < 64 * hd) lanes.resize(64 * hd);
        std::fill_n(lanes.begin(), used * hd, 0.0F);
        for (std::size_t p = 0; p < in_lanes; ++p) {
          const float a = f16_to_f32(f32_to_f16(scores[p] * inv));
          kern.axpy_f16(a, o.value_cache16_.data() + head_at + p * kv_dim, lanes.data() + (gemm ? p % 16 : p % 64) * hd, hd);
        }
        const float* L = lanes.data();
        const auto lane = [&](std::size_t l, std::size_t d) { return l < used ? L[l * hd + d] : 0.0F; };
        for (std::size_t d = 0; d < hd; ++d) {
          float x[16];
          for (std::size_t l = 0; l < 16; ++l) {
            x[l] = gemm ? lane(l, d) : (lane(l, d) + lane(32 + l, d)) + (lane(16 + l, d) + lane(48 + l, d));
          }
          out[d] = used == 0 ? 0.0F : reduce16(x);
        }
        if (in_lanes < len) {
          double sum[head_dim_max];
          for (std::size_t d = 0; d < hd; ++d) sum[d] = static_cast<double>(out[d]);
          for (std::size_t p = in_lanes; p < len; ++p) {
            const float a = f16_to_f32(f32_to_f16(scores[p] * inv));
            const std::uint16_t* v = o.value_cache16_.data() + head_at + p * kv_dim;
            for (std::size_t d = 0; d < hd; ++d) sum[d] += static_cast<double>(a * f16_to_f32(v[d]));
          }
          for (std::size_t d = 0; d < hd; ++d) out[d] = static_cast<float>(sum[d]);
        }
      } else {
        for (std::size_t p = 0; p < len; ++p) {
          const float* k = o.key_cache_.data() + head_at + p * kv_dim;
          scores[p] = kern.dot_f32(reinterpret_cast<const std::uint8_t*>(k), q, c.head_dim) * scale;
          max = std::max(max, scores[p]);
        }
        const float inv = softmax_in_place(scores, len, max);
        for (std::size_t p = 0; p < len; ++p) {
          kern.axpy_f32(scores[p] * inv, o.value_cache_.data() + head_at + p * kv_dim, out, c.head_dim);
        }
      }
    }
  };
  // A decode step's attention over a short context is a few microseconds of work: less than waking
  // the pool, so it runs on this thread (one synchronisation fewer per layer).
  std::size_t work = 0;
  for (std::size_t t = 0; t < n; ++t) work += (owners.empty() ? position_ + t : owners[t]->position_) + 1;
  if (work * c.heads * c.head_dim < attention_inline_max) {
    heads(0, total);
  } else {
    pool_->run(total, heads);
  }
}

}  // namespace bf::model
