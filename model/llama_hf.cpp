// Model::load_hf: a Hugging Face LlamaForCausalLM directory (config.json + safetensors weights).
// Weights stay in the mapping (F32, F16, BF16 as stored) except q_proj and k_proj, whose rows are
// put back into the order the runtime's RoPE over pairs (2i, 2i+1) expects (see unpermute_rows).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "model/llama.hpp"
#include "model/safetensors.hpp"

namespace bf::model {
namespace {

using core::Errc;
using core::Error;
using core::Result;
using core::Status;

constexpr std::size_t hf_config_bytes_max = 1U << 20;
constexpr std::size_t hf_index_bytes_max = 64U << 20;
constexpr std::size_t hf_shards_max = 1024;

Error invalid(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

// Everything load_hf maps or copies; the Model keeps it alive through its byte-buffer pointer.
struct HfStorage {
  std::vector<SafetensorsFile> files;
  std::vector<std::uint8_t> permuted;  // q_proj and k_proj rows in the runtime's RoPE order
};

Result<nlohmann::json> read_json_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return invalid("cannot read " + path.string() + ": " + ec.message());
  if (size > max_bytes) return invalid(path.string() + " is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(max_bytes));
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (!in) return invalid("cannot read " + path.string());
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return invalid(path.string() + " is not a JSON object");
  return json;
}

Result<std::size_t> config_uint(const nlohmann::json& c, const char* key, std::size_t max,
                                std::optional<std::size_t> fallback = std::nullopt) {
  const auto it = c.find(key);
  if (it == c.end() || it->is_null()) {
    if (fallback) return *fallback;
    return invalid(std::string("config.json has no \"") + key + "\"; is it a LlamaForCausalLM model?");
  }
  if (!it->is_number_unsigned() || it->get<std::uint64_t>() == 0 || it->get<std::uint64_t>() > max) {
    return invalid(std::string("config.json \"") + key + "\" is not an integer in 1.." + std::to_string(max));
  }
  return static_cast<std::size_t>(it->get<std::uint64_t>());
}

Result<float> config_float(const nlohmann::json& c, const char* key, float fallback) {
  const auto it = c.find(key);
  if (it == c.end() || it->is_null()) return fallback;
  if (!it->is_number()) return invalid(std::string("config.json \"") + key + "\" is not a number");
  const auto v = static_cast<float>(it->get<double>());
  if (!(v > 0.0F) || !std::isfinite(v)) return invalid(std::string("config.json \"") + key + "\" must be positive and finite");
  return v;
}

// Features of some Llama-architecture checkpoints this forward pass does not implement: refused
// by name rather than run with silently wrong numerics.
Status check_supported(const nlohmann::json& c) {
  if (const auto it = c.find("architectures"); it != c.end() && it->is_array()) {
    bool llama = false;
    for (const auto& a : *it) llama = llama || (a.is_string() && a.get_ref<const std::string&>() == "LlamaForCausalLM");
    if (!llama) return invalid("config.json \"architectures\" does not list LlamaForCausalLM; only Llama-family models are supported");
  }
  if (const auto it = c.find("model_type"); it != c.end() && !(it->is_string() && it->get_ref<const std::string&>() == "llama")) {
    return invalid("config.json \"model_type\" is not \"llama\"; only Llama-family models are supported");
  }
  if (const auto it = c.find("hidden_act"); it != c.end() && !(it->is_string() && it->get_ref<const std::string&>() == "silu")) {
    return invalid("config.json \"hidden_act\" is not \"silu\"; the runtime implements SwiGLU only");
  }
  if (const auto it = c.find("rope_scaling"); it != c.end() && !it->is_null()) {
    return invalid("config.json has \"rope_scaling\"; scaled RoPE (e.g. Llama 3.1's) is not supported");
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (const auto it = c.find(key); it != c.end() && !(it->is_boolean() && !it->get<bool>())) {
      return invalid(std::string("config.json \"") + key + "\" is set; projections with biases are not supported");
    }
  }
  return core::Ok{};
}

// The same limits as the GGUF and llama2.c loaders (llama.cpp's check_config).
Status check_shape(const ModelConfig& c) {
  if (c.kv_heads > c.heads || c.heads % c.kv_heads != 0 || c.head_dim % 2 != 0 || c.head_dim > head_dim_max ||
      c.head_dim * c.heads > 4 * model_dim_max) {
    return invalid("config.json describes an unsupported attention shape (heads " + std::to_string(c.heads) + ", kv heads " +
                   std::to_string(c.kv_heads) + ", head_dim " + std::to_string(c.head_dim) + ")");
  }
  return core::Ok{};
}

Result<ModelConfig> parse_config(const nlohmann::json& j) {
  if (auto s = check_supported(j); !s) return s.error();
  ModelConfig c;
  c.architecture = "llama";
#define BF_HF_UINT(field, key, max)             \
  {                                             \
    auto v = config_uint(j, (key), (max));      \
    if (!v) return v.error();                   \
    c.field = *v;                               \
  }
  BF_HF_UINT(dim, "hidden_size", model_dim_max)
  BF_HF_UINT(hidden, "intermediate_size", 4 * model_dim_max)
  BF_HF_UINT(layers, "num_hidden_layers", model_layers_max)
  BF_HF_UINT(heads, "num_attention_heads", model_heads_max)
  BF_HF_UINT(vocab, "vocab_size", model_vocab_max)
  BF_HF_UINT(context, "max_position_embeddings", model_context_max)
#undef BF_HF_UINT
  auto kv = config_uint(j, "num_key_value_heads", model_heads_max, c.heads);
  if (!kv) return kv.error();
  c.kv_heads = *kv;
  auto head_dim = config_uint(j, "head_dim", head_dim_max, c.dim / c.heads);
  if (!head_dim) return head_dim.error();
  c.head_dim = *head_dim;
  auto eps = config_float(j, "rms_norm_eps", 1e-6F);  // LlamaConfig's default
  if (!eps) return eps.error();
  c.rms_eps = *eps;
  auto theta = config_float(j, "rope_theta", 10000.0F);
  if (!theta) return theta.error();
  c.rope_theta = *theta;
  const auto tie = j.find("tie_word_embeddings");
  if (tie != j.end() && !tie->is_boolean()) return invalid("config.json \"tie_word_embeddings\" is not true or false");
  c.tied_output = tie != j.end() && tie->get<bool>();  // LlamaConfig's default is false
  if (auto s = check_shape(c); !s) return s.error();
  return c;
}

// A shard name from the index must be a plain file name inside the model directory.
bool plain_file_name(const std::string& name) {
  return !name.empty() && name.size() <= 255 && name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
         name.front() != '.';
}

Status open_weights(const std::filesystem::path& dir, HfStorage& storage) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(dir / "model.safetensors", ec)) {
    auto f = SafetensorsFile::open(dir / "model.safetensors");
    if (!f) return f.error();
    storage.files.push_back(std::move(f.value()));
    return core::Ok{};
  }
  const auto index_path = dir / "model.safetensors.index.json";
  if (!std::filesystem::is_regular_file(index_path, ec)) {
    return invalid(dir.string() + " has neither model.safetensors nor model.safetensors.index.json; "
                   "PyTorch .bin checkpoints are not read: save the model with safe_serialization=True");
  }
  auto index = read_json_file(index_path, hf_index_bytes_max);
  if (!index) return index.error();
  const auto map = index->find("weight_map");
  if (map == index->end() || !map->is_object()) return invalid(index_path.string() + " has no \"weight_map\" object");
  std::set<std::string> shards;
  for (const auto& [tensor, file] : map->items()) {
    if (!file.is_string() || !plain_file_name(file.get_ref<const std::string&>())) {
      return invalid(index_path.string() + ": the shard of tensor \"" + tensor + "\" is not a plain file name");
    }
    shards.insert(file.get<std::string>());
    if (shards.size() > hf_shards_max) return invalid(index_path.string() + " names more than " + std::to_string(hf_shards_max) + " shards");
  }
  for (const auto& name : shards) {
    auto f = SafetensorsFile::open(dir / name);
    if (!f) return f.error();
    storage.files.push_back(std::move(f.value()));
  }
  return core::Ok{};
}

const SafetensorsTensor* find_tensor(const HfStorage& storage, const std::string& name) {
  for (const auto& f : storage.files) {
    if (const auto* t = f.tensor(name)) return t;
  }
  return nullptr;
}

GgmlType ggml_type_of(SafetensorsDtype d) {
  switch (d) {
    case SafetensorsDtype::f32: return GgmlType::f32;
    case SafetensorsDtype::f16: return GgmlType::f16;
    case SafetensorsDtype::bf16: return GgmlType::bf16;
  }
  return GgmlType::f32;
}

std::string shape_text(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// A view of tensor `name` as `rows` x `cols` (PyTorch's Linear weight: [out_features, in_features]).
Result<Matrix> hf_matrix(const HfStorage& storage, const std::string& name, std::size_t rows, std::size_t cols) {
  const SafetensorsTensor* t = find_tensor(storage, name);
  if (t == nullptr) return invalid("the safetensors weights have no tensor \"" + name + "\"; is it a LlamaForCausalLM model?");
  if (t->shape.size() != 2 || t->shape[0] != rows || t->shape[1] != cols) {
    return invalid("tensor \"" + name + "\" has shape " + shape_text(t->shape) + ", expected [" + std::to_string(rows) + ", " +
                   std::to_string(cols) + "] from config.json");
  }
  const std::size_t width = safetensors_dtype_bytes(t->dtype);
  return Matrix{ggml_type_of(t->dtype), rows, cols, cols * width, t->data};
}

Result<std::vector<float>> hf_vector(const HfStorage& storage, const std::string& name, std::size_t n) {
  const SafetensorsTensor* t = find_tensor(storage, name);
  if (t == nullptr) return invalid("the safetensors weights have no tensor \"" + name + "\"");
  if (t->shape.size() != 1 || t->shape[0] != n) {
    return invalid("tensor \"" + name + "\" has shape " + shape_text(t->shape) + ", expected [" + std::to_string(n) + "]");
  }
  std::vector<float> out(n);
  dequantize_row(ggml_type_of(t->dtype), t->data.data(), n, out.data());
  return out;
}

// Hugging Face stores q_proj and k_proj with each head's rows reordered for its rotate-half RoPE,
// which pairs dimension i with i + head_dim/2. The runtime rotates pairs (2i, 2i+1), as Meta's
// original weights and llama.cpp's converted GGUF files do. llama.cpp's converter (LlamaModel.permute:
// reshape to [heads, 2, head_dim/2, cols], swap axes 1 and 2) maps HF row h*hd + j*hd/2 + i to row
// h*hd + 2i + j; this does the same, row by row, for any element type.
void unpermute_rows(std::span<const std::uint8_t> hf, std::size_t heads, std::size_t head_dim, std::size_t row_bytes,
                    std::span<std::uint8_t> out) {
  const std::size_t half = head_dim / 2;
  for (std::size_t h = 0; h < heads; ++h) {
    for (std::size_t i = 0; i < half; ++i) {
      for (std::size_t j = 0; j < 2; ++j) {
        const std::size_t from = h * head_dim + j * half + i;
        const std::size_t to = h * head_dim + 2 * i + j;
        std::memcpy(out.data() + to * row_bytes, hf.data() + from * row_bytes, row_bytes);
      }
    }
  }
}

}  // namespace

bool Model::is_hf_dir(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) && std::filesystem::is_regular_file(path / "config.json", ec);
}

Result<Model> Model::load_hf(const std::filesystem::path& dir) {
  const auto fail = [&](const Error& e) { return Error{e.code, dir.string() + ": " + e.message}; };
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return invalid(dir.string() + " is not a directory; give a Hugging Face model directory");
  auto json = read_json_file(dir / "config.json", hf_config_bytes_max);
  if (!json) return json.error();
  auto config = parse_config(*json);
  if (!config) return fail(config.error());
  auto storage = std::make_shared<HfStorage>();
  if (auto s = open_weights(dir, *storage); !s) return s.error();

  Model m;
  ModelConfig& c = m.config_;
  c = *config;
  const std::size_t q_dim = c.heads * c.head_dim;
  const std::size_t kv_dim = c.kv_heads * c.head_dim;
  auto embedding = hf_matrix(*storage, "model.embed_tokens.weight", c.vocab, c.dim);
  if (!embedding) return fail(embedding.error());
  m.token_embedding_ = *embedding;
  if (!c.tied_output) {
    if (find_tensor(*storage, "lm_head.weight") == nullptr) {
      return fail(invalid("no tensor \"lm_head.weight\" and config.json does not set \"tie_word_embeddings\": true"));
    }
    auto out = hf_matrix(*storage, "lm_head.weight", c.vocab, c.dim);
    if (!out) return fail(out.error());
    m.output_ = *out;
  }
  auto norm = hf_vector(*storage, "model.norm.weight", c.dim);
  if (!norm) return fail(norm.error());
  m.final_norm_ = *norm;
  m.layers_.resize(c.layers);
  std::size_t permuted_bytes = 0;
  for (std::size_t i = 0; i < c.layers; ++i) {
    const std::string b = "model.layers." + std::to_string(i) + ".";
    LayerWeights& l = m.layers_[i];
    struct Want {
      Matrix* out;
      const char* name;
      std::size_t rows, cols;
    };
    const Want wants[] = {{&l.wq, "self_attn.q_proj.weight", q_dim, c.dim},   {&l.wk, "self_attn.k_proj.weight", kv_dim, c.dim},
                          {&l.wv, "self_attn.v_proj.weight", kv_dim, c.dim},  {&l.wo, "self_attn.o_proj.weight", c.dim, q_dim},
                          {&l.w_gate, "mlp.gate_proj.weight", c.hidden, c.dim}, {&l.w_down, "mlp.down_proj.weight", c.dim, c.hidden},
                          {&l.w_up, "mlp.up_proj.weight", c.hidden, c.dim}};
    for (const auto& w : wants) {
      auto mat = hf_matrix(*storage, b + w.name, w.rows, w.cols);
      if (!mat) return fail(mat.error());
      *w.out = *mat;
    }
    permuted_bytes += l.wq.data.size() + l.wk.data.size();
    auto an = hf_vector(*storage, b + "input_layernorm.weight", c.dim);
    if (!an) return fail(an.error());
    l.attn_norm = *an;
    auto fn = hf_vector(*storage, b + "post_attention_layernorm.weight", c.dim);
    if (!fn) return fail(fn.error());
    l.ffn_norm = *fn;
  }
  // One allocation for every permuted q/k: the spans into it stay valid.
  storage->permuted.resize(permuted_bytes);
  std::size_t at = 0;
  for (auto& l : m.layers_) {
    for (auto [w, heads] : {std::pair{&l.wq, c.heads}, std::pair{&l.wk, c.kv_heads}}) {
      const auto out = std::span<std::uint8_t>(storage->permuted).subspan(at, w->data.size());
      unpermute_rows(w->data, heads, c.head_dim, w->row_bytes, out);
      w->data = out;
      at += out.size();
    }
  }
  // The byte-buffer pointer shares ownership of the whole storage (mappings included).
  m.bytes_ = std::shared_ptr<const std::vector<std::uint8_t>>(storage, &storage->permuted);
  return m;
}

}  // namespace bf::model
