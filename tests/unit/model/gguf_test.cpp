// The GGUF reader on a small synthetic file built here and on the real SmolLM2 file: values and
// tensors read back; every truncation and many byte flips give an Error (never a crash, which the
// sanitizer pass would catch), and errors name what was wrong and where.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "model/gguf.hpp"
#include "model/model_paths.hpp"
#include "model/sampler.hpp"

namespace bf::model {
namespace {

class Builder {
 public:
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  void str(const std::string& s) {
    put<std::uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  std::vector<std::uint8_t> bytes;
};

// version 3; keys: general.architecture (string), general.alignment (u32 32), llama.block_count
// (u32), eps (f32), flag (bool), tokens (string array), ids (i32 array); two tensors.
std::vector<std::uint8_t> synthetic_gguf() {
  Builder b;
  b.put<std::uint32_t>(0x46554747);
  b.put<std::uint32_t>(3);
  b.put<std::uint64_t>(2);  // tensors
  b.put<std::uint64_t>(7);  // kv
  b.str("general.architecture"); b.put<std::uint32_t>(8); b.str("llama");
  b.str("general.alignment"); b.put<std::uint32_t>(4); b.put<std::uint32_t>(32);
  b.str("llama.block_count"); b.put<std::uint32_t>(4); b.put<std::uint32_t>(2);
  b.str("eps"); b.put<std::uint32_t>(6); b.put<float>(0.5F);
  b.str("flag"); b.put<std::uint32_t>(7); b.put<std::uint8_t>(1);
  b.str("tokens"); b.put<std::uint32_t>(9); b.put<std::uint32_t>(8); b.put<std::uint64_t>(3);
  b.str("a"); b.str("bc"); b.str("");
  b.str("ids"); b.put<std::uint32_t>(9); b.put<std::uint32_t>(5); b.put<std::uint64_t>(2);
  b.put<std::int32_t>(-4); b.put<std::int32_t>(9);
  // tensor "w": f32 [4, 2] at 0; tensor "q": q8_0 [32, 1] at 32
  b.str("w"); b.put<std::uint32_t>(2); b.put<std::uint64_t>(4); b.put<std::uint64_t>(2);
  b.put<std::uint32_t>(0); b.put<std::uint64_t>(0);
  b.str("q"); b.put<std::uint32_t>(2); b.put<std::uint64_t>(32); b.put<std::uint64_t>(1);
  b.put<std::uint32_t>(8); b.put<std::uint64_t>(64);
  while (b.bytes.size() % 32 != 0) b.bytes.push_back(0);  // the data section starts aligned
  const std::size_t data_start = b.bytes.size();
  for (int i = 0; i < 8; ++i) b.put<float>(static_cast<float>(i));  // "w" at 0
  b.bytes.resize(data_start + 64, 0);
  b.bytes.resize(data_start + 64 + 34, 7);  // "q" at 64: f16 scale 0x0707, then 32 int8
  return b.bytes;
}

TEST(Gguf, SyntheticFileReadsBack) {
  const auto bytes = synthetic_gguf();
  auto f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->version(), 3U);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_uint("llama.block_count"), 2U);
  EXPECT_EQ(f->get_float("eps"), 0.5);
  EXPECT_EQ(f->get_bool("flag"), true);
  EXPECT_EQ(f->get_string_array("tokens"), (std::vector<std::string_view>{"a", "bc", ""}));
  EXPECT_EQ(f->get_int_array("ids"), (std::vector<std::int64_t>{-4, 9}));
  EXPECT_FALSE(f->get_uint("eps").has_value());        // wrong type
  EXPECT_FALSE(f->get_string("missing").has_value());  // absent
  EXPECT_EQ(f->keys().size(), 7U);
  ASSERT_EQ(f->tensors().size(), 2U);
  const TensorInfo* w = f->tensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->elements(), 8U);
  ASSERT_EQ(w->data.size(), 32U);
  float third;
  std::memcpy(&third, w->data.data() + 12, 4);
  EXPECT_EQ(third, 3.0F);
  ASSERT_NE(f->tensor("q"), nullptr);
  EXPECT_EQ(f->tensor("q")->data.size(), 34U);
  EXPECT_EQ(f->tensor("nope"), nullptr);
}

TEST(Gguf, EveryTruncationOfSyntheticFileIsAnError) {
  const auto bytes = synthetic_gguf();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto f = GgufFile::parse(std::span(bytes).first(n));
    ASSERT_FALSE(f.ok()) << "truncated to " << n << " bytes";
    if (n >= 8) {
      EXPECT_NE(f.error().message.find("byte offset"), std::string::npos) << f.error().message;
    }
  }
}

TEST(Gguf, ErrorsNameTheKeyOrTensor) {
  auto bytes = synthetic_gguf();
  // Cut inside the "tokens" array: the message names the key.
  const std::string key = "tokens";
  const auto at = std::search(bytes.begin(), bytes.end(), key.begin(), key.end()) - bytes.begin();
  auto f = GgufFile::parse(std::span(bytes).first(static_cast<std::size_t>(at) + 20));
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("\"tokens\""), std::string::npos) << f.error().message;
  // Cut the data section: the message names the tensor.
  auto g = GgufFile::parse(std::span(bytes).first(bytes.size() - 1));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("\"q\""), std::string::npos) << g.error().message;
}

TEST(Gguf, RejectsBadMagicVersionAndLimits) {
  auto bytes = synthetic_gguf();
  auto bad = bytes;
  bad[0] = 'X';
  EXPECT_NE(GgufFile::parse(bad).error().message.find("not a GGUF"), std::string::npos);
  bad = bytes;
  bad[4] = 9;
  EXPECT_NE(GgufFile::parse(bad).error().message.find("version 9"), std::string::npos);
  bad = bytes;
  const std::uint64_t huge = gguf_tensor_count_max + 1;
  std::memcpy(&bad[8], &huge, 8);
  EXPECT_NE(GgufFile::parse(bad).error().message.find("tensor count"), std::string::npos);
  bad = bytes;
  const std::uint64_t at_limit = gguf_tensor_count_max;  // allowed count, but the file lacks them
  std::memcpy(&bad[8], &at_limit, 8);
  EXPECT_FALSE(GgufFile::parse(bad).ok());
}

TEST(Gguf, RandomByteFlipsNeverCrash) {
  const auto bytes = synthetic_gguf();
  Rng rng(2024);
  int accepted = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    auto copy = bytes;
    const int flips = 1 + static_cast<int>(rng.next() % 4);
    for (int i = 0; i < flips; ++i) copy[rng.next() % copy.size()] ^= static_cast<std::uint8_t>(1 + rng.next() % 255);
    auto f = GgufFile::parse(copy);
    if (!f) continue;
    ++accepted;  // a flip in a value or in tensor data is still a valid file; read everything back
    for (const auto& k : f->keys()) {
      (void)f->get_string(k), (void)f->get_uint(k), (void)f->get_float(k), (void)f->get_string_array(k);
      (void)f->get_int_array(k), (void)f->get_float_array(k), (void)f->get_bool(k);
    }
    for (const auto& t : f->tensors()) ASSERT_LE(t.data.data() + t.data.size(), copy.data() + copy.size());
  }
  EXPECT_GT(accepted, 0);
}

std::vector<std::uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary | std::ios::ate);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  return out;
}

TEST(Gguf, RealFileTruncatedAtManyOffsetsIsAnError) {
  const auto path = smollm2_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "models/SmolLM2-135M-Instruct*.gguf absent: run scripts/fetch-model";
  auto whole = GgufFile::open(*path);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  EXPECT_EQ(whole->tensors().size(), 272U);
  EXPECT_EQ(whole->get_string("general.architecture"), "llama");
  auto bytes = read_all(*path);
  // Every offset through the metadata's first 64 KiB is too slow for CI under sanitizers; take a
  // stride through the header (where parsing happens) and points across the data.
  std::vector<std::size_t> cuts;
  for (std::size_t n = 0; n < 4096; n += 7) cuts.push_back(n);
  for (std::size_t n = 4096; n < bytes.size(); n += bytes.size() / 97) cuts.push_back(n);
  cuts.push_back(bytes.size() - 1);
  for (const auto n : cuts) {
    auto f = GgufFile::parse(std::span(bytes).first(n));
    ASSERT_FALSE(f.ok()) << "truncated to " << n;
  }
  // Flipping bytes in the header gives an error or a file that still reads within its bounds.
  Rng rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t at = rng.next() % 2'000'000;  // the metadata and tensor directory
    const std::uint8_t flip = static_cast<std::uint8_t>(1 + rng.next() % 255);
    bytes[at] ^= flip;
    auto f = GgufFile::parse(bytes);
    if (f) {
      for (const auto& t : f->tensors()) ASSERT_LE(t.data.data() + t.data.size(), bytes.data() + bytes.size());
    }
    bytes[at] ^= flip;  // restore: one copy of the file serves every trial
  }
}

}  // namespace
}  // namespace bf::model
