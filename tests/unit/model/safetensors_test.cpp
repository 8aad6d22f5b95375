// The safetensors reader (model/safetensors.hpp) on hand-made files, and Model::load_hf against the
// llama2.c path: the stories260K checkpoint is converted here into a Hugging Face directory (q/k
// rows permuted the way transformers' convert_llama_weights_to_hf does), and loading it must give
// the same logits and greedy ids as loading the checkpoint directly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "model/generator.hpp"
#include "model/gguf.hpp"
#include "model/kernels.hpp"
#include "model/llama.hpp"
#include "model/model_paths.hpp"
#include "model/safetensors.hpp"
#include "model/tokenizer_hf.hpp"

namespace bf::model {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes with_length(std::uint64_t length, const std::string& header, const Bytes& data) {
  Bytes out(8 + header.size() + data.size());
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(length >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}
Bytes file_of(const std::string& header, const Bytes& data) { return with_length(header.size(), header, data); }

std::string parse_error(const Bytes& bytes) {
  auto f = SafetensorsFile::parse(bytes);
  return f.ok() ? std::string("(parsed)") : f.error().message;
}

// Two F32 tensors of 2x3 and 4 elements, and metadata.
const std::string good_header =
    R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[4],"data_offsets":[24,40]},)"
    R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})";

Bytes good_data() {
  Bytes d(40);
  for (std::size_t i = 0; i < 10; ++i) {
    const float v = static_cast<float>(i) + 0.5F;
    std::memcpy(d.data() + 4 * i, &v, 4);
  }
  return d;
}

TEST(Safetensors, ParsesTensorsAndMetadata) {
  const Bytes bytes = file_of(good_header, good_data());
  auto f = SafetensorsFile::parse(bytes);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->tensors().size(), 2U);
  EXPECT_EQ(f->tensors()[0].name, "a");  // sorted by name
  EXPECT_EQ(f->metadata().at("format"), "pt");
  const auto* a = f->tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(a->elements(), 6U);
  EXPECT_EQ(a->data.data(), bytes.data() + 8 + good_header.size());
  auto b = f->tensor_data("b");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 16U);
  float first = 0;
  std::memcpy(&first, b->data(), 4);
  EXPECT_EQ(first, 6.5F);
  EXPECT_EQ(f->tensor("c"), nullptr);
  auto c = f->tensor_data("c");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("\"c\""), std::string::npos);
}

TEST(Safetensors, RejectsTruncatedFiles) {
  const Bytes bytes = file_of(good_header, good_data());
  EXPECT_NE(parse_error(Bytes(bytes.begin(), bytes.begin() + 5)).find("fewer than the 8-byte"), std::string::npos);
  // Cut inside the header: its declared length runs past the end.
  EXPECT_NE(parse_error(Bytes(bytes.begin(), bytes.begin() + 30)).find("runs past the end"), std::string::npos);
  // Cut inside the data: the last tensor's range ends beyond the data section, and the error names it.
  const std::string cut = parse_error(Bytes(bytes.begin(), bytes.end() - 1));
  EXPECT_NE(cut.find("tensor \"b\""), std::string::npos) << cut;
  EXPECT_NE(cut.find("data_offsets [24, 40)"), std::string::npos) << cut;
  // Every prefix is handled (no crash), and only the whole file parses.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(SafetensorsFile::parse(std::span(bytes.data(), n)).ok()) << n;
  }
}

TEST(Safetensors, RejectsHeaderOverTheLimit) {
  const std::string e = parse_error(with_length(safetensors_header_bytes_max + 1, "{}", {}));
  EXPECT_NE(e.find("exceeds the limit"), std::string::npos) << e;
  EXPECT_NE(parse_error(with_length(~std::uint64_t{0}, "{}", {})).find("exceeds the limit"), std::string::npos);
}

TEST(Safetensors, RejectsBadJson) {
  EXPECT_NE(parse_error(file_of(R"({"a":{"dtype":"F32",)", {})).find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error(file_of("[1,2]", {})).find("not an object"), std::string::npos);
  EXPECT_NE(parse_error(file_of(R"({"a":3})", {})).find("tensor \"a\": entry is not a JSON object"), std::string::npos);
  EXPECT_NE(parse_error(file_of(R"({"__metadata__":{"k":1}})", {})).find("__metadata__"), std::string::npos);
  EXPECT_NE(parse_error(file_of(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", {})).find("shape[0]"),
            std::string::npos);
  EXPECT_NE(parse_error(file_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", {})).find("\"data_offsets\""),
            std::string::npos);
  EXPECT_NE(parse_error(file_of(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", Bytes(4))).find("\"dtype\""), std::string::npos);
  // Trailing spaces (the padding writers add for alignment) are fine.
  EXPECT_TRUE(SafetensorsFile::parse(file_of(good_header + "      ", good_data())).ok());
  // An empty header is a valid file with no tensors.
  auto empty = SafetensorsFile::parse(file_of("{}", {}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->tensors().empty());
}

TEST(Safetensors, RejectsOffsetsOutOfRangeOrOfTheWrongSize) {
  const auto one = [](const std::string& entry, std::size_t data_bytes) {
    return parse_error(file_of(R"({"w":)" + entry + "}", Bytes(data_bytes)));
  };
  std::string e = one(R"({"dtype":"F32","shape":[2],"data_offsets":[8,16]})", 12);
  EXPECT_NE(e.find("tensor \"w\": data_offsets [8, 16) ends beyond the data section of 12 bytes"), std::string::npos) << e;
  e = one(R"({"dtype":"F32","shape":[0],"data_offsets":[8,4]})", 12);
  EXPECT_NE(e.find("begins after it ends"), std::string::npos) << e;
  e = one(R"({"dtype":"F16","shape":[3],"data_offsets":[0,8]})", 8);
  EXPECT_NE(e.find("holds 8 bytes but its shape and dtype need 6"), std::string::npos) << e;
  e = one(R"({"dtype":"BF16","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]})", 8);
  EXPECT_NE(e.find("overflows 64 bits"), std::string::npos) << e;
  e = one(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]})", 8);
  EXPECT_NE(e.find("overflows 64 bits"), std::string::npos) << e;
  e = one(R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,18446744073709551615]})", 8);
  EXPECT_NE(e.find("ends beyond the data section"), std::string::npos) << e;
  // A zero-element tensor at the very end is inside.
  EXPECT_EQ(one(R"({"dtype":"F32","shape":[0],"data_offsets":[12,12]})", 12), "(parsed)");
}

TEST(Safetensors, NamesUnsupportedAndUnknownDtypes) {
  std::string e = parse_error(file_of(R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", Bytes(8)));
  EXPECT_NE(e.find("\"ids\" has dtype I64, which this runtime does not read (F32, F16 and BF16"), std::string::npos) << e;
  e = parse_error(file_of(R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", Bytes(1)));
  EXPECT_NE(e.find("tensor \"w\": unknown dtype \"Q7\""), std::string::npos) << e;
}

// ---- Hugging Face directory from stories260K ----

void write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::uint16_t to_bf16(float f) {  // round to nearest even, as torch's .to(torch.bfloat16)
  std::uint32_t bits = 0;
  std::memcpy(&bits, &f, 4);
  return static_cast<std::uint16_t>((bits + 0x7FFFU + ((bits >> 16) & 1U)) >> 16);
}

// Builds model.safetensors from named f32 tensors, stored as `dtype`.
struct SafetensorsWriter {
  explicit SafetensorsWriter(std::string d) : dtype(std::move(d)) {}
  std::string dtype;  // "F32", "F16" or "BF16"
  nlohmann::json header = nlohmann::json::object();
  Bytes data;
  std::string round_to;  // with dtype "F32": store each value rounded to "F16" or "BF16" first
  void add(const std::string& name, std::vector<std::uint64_t> shape, std::span<const float> values) {
    const std::size_t begin = data.size();
    for (float v : values) {
      if (round_to == "F16") v = f16_to_f32(f32_to_f16(v));
      if (round_to == "BF16") v = bf16_to_f32(to_bf16(v));
      if (dtype == "F32") {
        const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
        data.insert(data.end(), p, p + 4);
      } else {
        const std::uint16_t h = dtype == "F16" ? f32_to_f16(v) : to_bf16(v);
        data.push_back(static_cast<std::uint8_t>(h & 0xFF));
        data.push_back(static_cast<std::uint8_t>(h >> 8));
      }
    }
    header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
  }
  Bytes bytes() {
    header["__metadata__"] = {{"format", "pt"}};
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // as the safetensors library pads
    return file_of(text, data);
  }
};

std::vector<float> floats_of(const Matrix& m) {
  std::vector<float> v(m.rows * m.cols);
  std::memcpy(v.data(), m.data.data(), v.size() * 4);
  return v;
}

// transformers' convert_llama_weights_to_hf permute: Meta's rows (pairs 2i, 2i+1 per head) viewed as
// [heads, head_dim/2, 2, cols], transposed to [heads, 2, head_dim/2, cols].
std::vector<float> hf_permute(const Matrix& m, std::size_t heads) {
  const std::size_t hd = m.rows / heads, half = hd / 2;
  const std::vector<float> meta = floats_of(m);
  std::vector<float> hf(meta.size());
  for (std::size_t h = 0; h < heads; ++h) {
    for (std::size_t i = 0; i < half; ++i) {
      for (std::size_t j = 0; j < 2; ++j) {
        std::memcpy(&hf[(h * hd + j * half + i) * m.cols], &meta[(h * hd + 2 * i + j) * m.cols], m.cols * 4);
      }
    }
  }
  return hf;
}

struct HfOptions {
  std::string dtype = "F32";
  bool untied = false;   // write lm_head.weight and tie_word_embeddings false
  std::string round_to;  // see SafetensorsWriter
};

// Writes `dir` as transformers would save stories260K as a LlamaForCausalLM.
void write_hf_dir(const Model& src, const std::filesystem::path& dir, const HfOptions& o) {
  const ModelConfig& c = src.config();
  std::filesystem::create_directories(dir);
  nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_act", "silu"},
                           {"hidden_size", c.dim}, {"intermediate_size", c.hidden}, {"num_hidden_layers", c.layers},
                           {"num_attention_heads", c.heads}, {"num_key_value_heads", c.kv_heads},
                           {"rms_norm_eps", c.rms_eps}, {"rope_theta", c.rope_theta}, {"vocab_size", c.vocab},
                           {"max_position_embeddings", c.context}, {"tie_word_embeddings", !o.untied},
                           {"rope_scaling", nullptr}, {"torch_dtype", "float32"}};
  std::ofstream(dir / "config.json") << config.dump(2);
  SafetensorsWriter w(o.dtype);
  w.round_to = o.round_to;
  const auto mat = [&](const std::string& name, const Matrix& m) { w.add(name, {m.rows, m.cols}, floats_of(m)); };
  mat("model.embed_tokens.weight", src.token_embedding());
  if (o.untied) mat("lm_head.weight", src.token_embedding());
  w.add("model.norm.weight", {c.dim}, src.final_norm());
  for (std::size_t i = 0; i < c.layers; ++i) {
    const std::string b = "model.layers." + std::to_string(i) + ".";
    const LayerWeights& l = src.layers()[i];
    w.add(b + "self_attn.q_proj.weight", {l.wq.rows, l.wq.cols}, hf_permute(l.wq, c.heads));
    w.add(b + "self_attn.k_proj.weight", {l.wk.rows, l.wk.cols}, hf_permute(l.wk, c.kv_heads));
    mat(b + "self_attn.v_proj.weight", l.wv);
    mat(b + "self_attn.o_proj.weight", l.wo);
    mat(b + "mlp.gate_proj.weight", l.w_gate);
    mat(b + "mlp.up_proj.weight", l.w_up);
    mat(b + "mlp.down_proj.weight", l.w_down);
    w.add(b + "input_layernorm.weight", {c.dim}, l.attn_norm);
    w.add(b + "post_attention_layernorm.weight", {c.dim}, l.ffn_norm);
  }
  write_bytes(dir / "model.safetensors", w.bytes());
}

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("bf_hf_" + std::to_string(::getpid()) + "_" + name)) {
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::int32_t argmax(std::span<const float> v) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return static_cast<std::int32_t>(best);
}

// Greedy steps from BOS: each step's logits. With `forced`, step s+1 is fed forced[s] instead of
// the model's own choice, so two models are compared on the same context at every step.
std::vector<std::vector<float>> greedy_logits(const Model& model, std::size_t steps,
                                              const std::vector<std::int32_t>& forced = {}) {
  ThreadPool pool(2);
  Session session(model, pool);
  std::vector<std::vector<float>> out;
  std::int32_t token = 1;
  for (std::size_t s = 0; s < steps; ++s) {
    auto logits = session.forward(std::span<const std::int32_t>(&token, 1));
    EXPECT_TRUE(logits.ok()) << logits.error().message;
    if (!logits.ok()) break;
    out.emplace_back(logits->begin(), logits->end());
    token = s < forced.size() ? forced[s] : argmax(*logits);
  }
  return out;
}

struct Comparison {
  bool same_ids = true;
  std::size_t same_steps = 0;  // steps whose argmax agrees
  double worst = 0.0;
};
Comparison compare(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  Comparison c;
  EXPECT_EQ(a.size(), b.size());
  for (std::size_t s = 0; s < std::min(a.size(), b.size()); ++s) {
    c.same_ids = c.same_ids && argmax(a[s]) == argmax(b[s]);
    c.same_steps += argmax(a[s]) == argmax(b[s]) ? 1 : 0;
    for (std::size_t i = 0; i < a[s].size(); ++i) {
      c.worst = std::max(c.worst, std::fabs(static_cast<double>(a[s][i]) - static_cast<double>(b[s][i])));
    }
  }
  return c;
}

constexpr std::size_t greedy_steps = 24;

TEST(HfLlama, Stories260kF32EqualsLlama2cPath) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found (../shared/models/stories260K/ or $BUTTERFLY_STORIES260K)";
  auto ref = Model::load_llama2c(*path);
  ASSERT_TRUE(ref.ok()) << ref.error().message;
  ASSERT_LT(ref->config().kv_heads, ref->config().heads);  // grouped-query: k_proj permuted by kv heads
  TempDir dir("f32");
  write_hf_dir(*ref, dir.path, {});
  ASSERT_TRUE(Model::is_hf_dir(dir.path));
  auto hf = Model::load_hf(dir.path);
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  EXPECT_EQ(hf->config().dim, ref->config().dim);
  EXPECT_EQ(hf->config().kv_heads, ref->config().kv_heads);
  EXPECT_TRUE(hf->config().tied_output);
  EXPECT_EQ(hf->parameter_count(), ref->parameter_count());
  const auto c = compare(greedy_logits(*ref, greedy_steps), greedy_logits(*hf, greedy_steps));
  EXPECT_TRUE(c.same_ids);
  EXPECT_EQ(c.worst, 0.0);  // the same f32 weights through the same kernels: bitwise equal
}

// The loader restores exactly the llama2.c row order of every q and k, which the file does not hold.
TEST(HfLlama, Stories260kQkRowsRestored) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found";
  auto ref = Model::load_llama2c(*path);
  ASSERT_TRUE(ref.ok());
  TempDir dir("f32_rows");
  write_hf_dir(*ref, dir.path, {});
  auto hf = Model::load_hf(dir.path);
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  auto file = SafetensorsFile::open(dir.path / "model.safetensors");
  ASSERT_TRUE(file.ok()) << file.error().message;
  for (std::size_t i = 0; i < ref->config().layers; ++i) {
    const auto& want = ref->layers()[i];
    const auto& got = hf->layers()[i];
    for (const auto& [a, b, name] : {std::tuple{&got.wq, &want.wq, "q_proj"}, std::tuple{&got.wk, &want.wk, "k_proj"}}) {
      ASSERT_EQ(a->data.size(), b->data.size());
      EXPECT_EQ(std::memcmp(a->data.data(), b->data.data(), a->data.size()), 0) << "layer " << i << " " << name;
      const auto raw = file->tensor_data("model.layers." + std::to_string(i) + ".self_attn." + name + ".weight");
      ASSERT_TRUE(raw.ok());
      EXPECT_NE(std::memcmp(raw->data(), b->data.data(), raw->size()), 0) << "the file's rows were not permuted";
    }
  }
}

// F16 and BF16 files: the loader keeps them in their type (the F16/BF16 kernels). Against an F32
// file holding the same rounded values they must agree to summation-order noise; against the
// original F32 weights the rounding itself moves the logits, which is reported and bounded.
TEST(HfLlama, Stories260kHalfPrecision) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found";
  auto ref = Model::load_llama2c(*path);
  ASSERT_TRUE(ref.ok());
  const auto original = greedy_logits(*ref, greedy_steps);
  std::vector<std::int32_t> ids;
  for (const auto& step : original) ids.push_back(argmax(step));
  struct Case {
    const char* dtype;
    bool untied;
    double rounding_bound;  // largest logit change from rounding the weights, on F32's greedy context
  };
  // Bounds: a few times the measured 0.069 (F16) and 1.39 (BF16: 8 significant bits, 3 fewer).
  for (const Case k : {Case{"F16", false, 0.25}, Case{"BF16", true, 4.0}}) {
    TempDir dir(k.dtype), same(std::string(k.dtype) + "_as_f32");
    write_hf_dir(*ref, dir.path, {k.dtype, k.untied, ""});
    write_hf_dir(*ref, same.path, {"F32", k.untied, k.dtype});
    auto hf = Model::load_hf(dir.path);
    ASSERT_TRUE(hf.ok()) << hf.error().message;
    auto as_f32 = Model::load_hf(same.path);
    ASSERT_TRUE(as_f32.ok()) << as_f32.error().message;
    EXPECT_EQ(hf->token_embedding().type, std::string(k.dtype) == "F16" ? GgmlType::f16 : GgmlType::bf16);
    EXPECT_EQ(hf->layers()[0].wq.type, hf->token_embedding().type);
    EXPECT_EQ(hf->config().tied_output, !k.untied);

    const auto exact = compare(greedy_logits(*as_f32, greedy_steps), greedy_logits(*hf, greedy_steps));
    EXPECT_TRUE(exact.same_ids) << k.dtype;
    EXPECT_LE(exact.worst, 1e-4) << k.dtype << " kernels against F32 ones on the same values";

    const auto rounded = compare(original, greedy_logits(*hf, greedy_steps, ids));
    const auto free_run = compare(original, greedy_logits(*hf, greedy_steps));
    std::cout << k.dtype << ": logits within " << exact.worst << " of an F32 file with the same values; rounding"
              << " moved them by up to " << rounded.worst << " (argmax kept on " << rounded.same_steps << " of "
              << greedy_steps << " steps; free-running greedy ids " << (free_run.same_ids ? "identical" : "differ")
              << ")\n";
    EXPECT_GT(rounded.worst, 0.0) << k.dtype << ": the weights were not actually rounded";
    EXPECT_LE(rounded.worst, k.rounding_bound) << k.dtype;
    if (std::string(k.dtype) == "F16") {
      EXPECT_TRUE(free_run.same_ids);
    }
  }
}

TEST(HfLlama, RejectsBadDirectories) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found";
  auto ref = Model::load_llama2c(*path);
  ASSERT_TRUE(ref.ok());
  TempDir dir("bad");
  const auto error_of = [&] {
    auto m = Model::load_hf(dir.path);
    return m.ok() ? std::string("(loaded)") : m.error().message;
  };
  EXPECT_NE(error_of().find("not a directory"), std::string::npos);
  write_hf_dir(*ref, dir.path, {});
  const auto config_path = dir.path / "config.json";
  const auto config = nlohmann::json::parse(std::ifstream(config_path));
  const auto with = [&](const std::string& key, const nlohmann::json& value) {
    auto c = config;
    c[key] = value;
    std::ofstream(config_path) << c.dump();
    return error_of();
  };
  EXPECT_NE(with("rope_scaling", {{"rope_type", "llama3"}}).find("rope_scaling"), std::string::npos);
  EXPECT_NE(with("architectures", {"MistralForCausalLM"}).find("LlamaForCausalLM"), std::string::npos);
  EXPECT_NE(with("hidden_size", -4).find("\"hidden_size\""), std::string::npos);
  EXPECT_NE(with("num_key_value_heads", 3).find("attention shape"), std::string::npos);
  std::string e = with("hidden_size", 128);
  EXPECT_NE(e.find("\"model.embed_tokens.weight\" has shape [512, 64], expected [512, 128]"), std::string::npos) << e;
  e = with("tie_word_embeddings", false);
  EXPECT_NE(e.find("lm_head.weight"), std::string::npos) << e;
  std::ofstream(config_path) << config.dump();
  EXPECT_EQ(error_of(), "(loaded)");
  std::filesystem::remove(dir.path / "model.safetensors");
  e = error_of();
  EXPECT_NE(e.find("neither model.safetensors nor model.safetensors.index.json"), std::string::npos) << e;
}

// Sharded checkpoints: the index's weight_map names the files; tensors may sit in any of them.
TEST(HfLlama, LoadsShardedWeights) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found";
  auto ref = Model::load_llama2c(*path);
  ASSERT_TRUE(ref.ok());
  TempDir whole("whole");
  write_hf_dir(*ref, whole.path, {});
  auto file = SafetensorsFile::open(whole.path / "model.safetensors");
  ASSERT_TRUE(file.ok());
  // Split into two shards: tensors alternate between them.
  TempDir dir("sharded");
  std::filesystem::create_directories(dir.path);
  std::filesystem::copy_file(whole.path / "config.json", dir.path / "config.json");
  SafetensorsWriter shard[2] = {SafetensorsWriter("F32"), SafetensorsWriter("F32")};
  nlohmann::json map = nlohmann::json::object();
  std::size_t n = 0;
  for (const auto& t : file->tensors()) {
    const std::size_t s = n++ % 2;
    std::vector<float> v(t.elements());
    std::memcpy(v.data(), t.data.data(), t.data.size());
    shard[s].add(t.name, t.shape, v);
    map[t.name] = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
  }
  for (std::size_t s = 0; s < 2; ++s) {
    write_bytes(dir.path / ("model-0000" + std::to_string(s + 1) + "-of-00002.safetensors"), shard[s].bytes());
  }
  std::ofstream(dir.path / "model.safetensors.index.json") << nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump();
  auto hf = Model::load_hf(dir.path);
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  const auto c = compare(greedy_logits(*ref, 8), greedy_logits(*hf, 8));
  EXPECT_TRUE(c.same_ids);
  EXPECT_EQ(c.worst, 0.0);
  // A shard name that leaves the directory is refused.
  map.begin().value() = "../model.safetensors";
  std::ofstream(dir.path / "model.safetensors.index.json") << nlohmann::json{{"weight_map", map}}.dump();
  auto bad = Model::load_hf(dir.path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not a plain file name"), std::string::npos) << bad.error().message;
}


// ---- tokenizer.json ----

// GPT-2's byte-to-character table (bytes_to_unicode), UTF-8 encoded.
std::vector<std::string> byte_chars() {
  std::vector<std::string> out(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const int cp = printable ? b : 256 + extra++;
    std::string u;
    if (cp < 0x80) {
      u.push_back(static_cast<char>(cp));
    } else {
      u.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      u.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    out[static_cast<std::size_t>(b)] = u;
  }
  return out;
}

nlohmann::json tokenizer_json(const TokenizerData& d) {
  nlohmann::json vocab = nlohmann::json::object();
  nlohmann::json added = nlohmann::json::array();
  for (std::size_t i = 0; i < d.tokens.size(); ++i) {
    const auto type = d.token_types.empty() ? 1 : d.token_types[i];
    if (type == static_cast<std::int32_t>(TokenType::control) || type == static_cast<std::int32_t>(TokenType::user_defined)) {
      added.push_back({{"id", i}, {"content", d.tokens[i]}, {"special", type == static_cast<std::int32_t>(TokenType::control)}});
    } else {
      vocab[d.tokens[i]] = i;
    }
  }
  const nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  const nlohmann::json pre = d.pre == "smollm"
                                 ? nlohmann::json{{"type", "Sequence"},
                                                  {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}}
                                 : byte_level;
  return {{"version", "1.0"}, {"normalizer", nullptr}, {"pre_tokenizer", pre}, {"added_tokens", added},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", d.merges}}}};
}

// SmolLM2's tokenizer written as tokenizer.json + tokenizer_config.json reads back as the GGUF's.
TEST(HfTokenizer, SmolLM2RoundTripsThroughTokenizerJson) {
  const auto path = smollm2_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "models/SmolLM2-135M-Instruct*.gguf absent: run scripts/fetch-model";
  auto gguf = GgufFile::open(*path);
  ASSERT_TRUE(gguf.ok()) << gguf.error().message;
  auto want = tokenizer_data_from_gguf(*gguf);
  ASSERT_TRUE(want.ok()) << want.error().message;
  TempDir dir("tokenizer");
  std::filesystem::create_directories(dir.path);
  std::ofstream(dir.path / "tokenizer.json") << tokenizer_json(*want).dump();
  std::ofstream(dir.path / "tokenizer_config.json")
      << nlohmann::json{{"bos_token", want->tokens[static_cast<std::size_t>(want->bos)]},
                        {"eos_token", {{"content", want->tokens[static_cast<std::size_t>(want->eos)]}}},
                        {"add_bos_token", want->add_bos}, {"chat_template", want->chat_template}}.dump();
  auto got = tokenizer_data_from_hf(dir.path);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->pre, want->pre);
  EXPECT_EQ(got->tokens, want->tokens);
  EXPECT_EQ(got->merges, want->merges);
  EXPECT_EQ(got->bos, want->bos);
  EXPECT_EQ(got->eos, want->eos);
  EXPECT_EQ(got->chat_template, want->chat_template);
  auto a = Tokenizer::create(*want);
  auto b = Tokenizer::create(*got);
  ASSERT_TRUE(a.ok() && b.ok());
  for (const char* text : {"Hello, world! 12345", "<|im_start|>user\nWhat is 2+2?<|im_end|>", "caf\xc3\xa9 \xe2\x82\xac 3.14"}) {
    EXPECT_EQ(a->encode(text, true, true), b->encode(text, true, true)) << text;
  }
  // Unsupported tokenizers are refused by name.
  auto j = tokenizer_json(*want);
  j["model"]["type"] = "Unigram";
  std::ofstream(dir.path / "tokenizer.json") << j.dump();
  auto bad = tokenizer_data_from_hf(dir.path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not of type BPE"), std::string::npos) << bad.error().message;
}

// Generator::load on a Hugging Face directory: stories260K's weights with a 512-token byte-level
// BPE vocabulary (256 bytes and 256 two-letter merges); greedy generation must equal the llama2.c
// path fed the same prompt ids.
TEST(HfTokenizer, GeneratorRunsHfDirectory) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found";
  auto ref = Model::load_llama2c(*path);
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(ref->config().vocab, 512U);
  TempDir dir("generator");
  write_hf_dir(*ref, dir.path, {});
  TokenizerData d;
  d.model = "gpt2";
  d.pre = "gpt-2";
  d.tokens = byte_chars();
  for (char x = 'a'; x <= 'p'; ++x) {
    for (char y = 'a'; y <= 'p'; ++y) {
      d.tokens.push_back(std::string{x, y});
      d.merges.push_back(std::string{x, ' ', y});
    }
  }
  std::ofstream(dir.path / "tokenizer.json") << tokenizer_json(d).dump();
  auto generator = Generator::load(dir.path, 2);
  ASSERT_TRUE(generator.ok()) << generator.error().message;
  GenerateRequest request;
  request.prompt = "once upon a time";
  request.raw = true;
  request.max_tokens = 12;
  auto result = (*generator)->generate(request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_FALSE(result->prompt_ids.empty());
  EXPECT_EQ(result->prompt_ids[0], 256 + ('o' - 'a') * 16 + ('n' - 'a'));  // "on" merged

  ThreadPool pool(1);
  Session session(*ref, pool);
  auto logits = session.forward(result->prompt_ids);
  ASSERT_TRUE(logits.ok());
  std::vector<std::int32_t> ids;
  while (ids.size() < request.max_tokens) {
    ids.push_back(argmax(*logits));
    if (ids.size() == request.max_tokens) break;
    logits = session.forward(std::span<const std::int32_t>(&ids.back(), 1));
    ASSERT_TRUE(logits.ok());
  }
  EXPECT_EQ(result->ids, ids);
}

}  // namespace
}  // namespace bf::model
