// The forward pass against references no one here wrote: stories260K against a numpy version of
// llama2.c's run.c (tests/reference/stories260k.py), SmolLM2 against an fp32 numpy reference on
// the gguf package's dequantization (tests/reference/smollm2_fp32.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "model/llama.hpp"
#include "model/model_paths.hpp"

namespace bf::model {
namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::int32_t argmax(std::span<const float> v) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return static_cast<std::int32_t>(best);
}

TEST(Stories260k, GreedyIdsAndLogitsMatchNumpyReference) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found (../shared/models/stories260K/ or $BUTTERFLY_STORIES260K)";
  auto model = Model::load_llama2c(*path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model->config().dim, 64U);
  EXPECT_EQ(model->config().kv_heads, 4U);
  EXPECT_TRUE(model->config().tied_output);
  const auto expected = read_json(std::filesystem::path(BUTTERFLY_SOURCE_DIR) / "tests/reference/stories260k_expected.json");
  const auto& ids = expected.at("ids");
  const auto& logits = expected.at("logits");
  ASSERT_EQ(ids.size(), 32U);
  for (const std::size_t threads : {1U, 2U}) {
    ThreadPool pool(threads);
    Session session(*model, pool);
    EXPECT_FALSE(session.kv_half());  // an F32 model keeps an f32 cache: the reference's numerics
    std::int32_t token = 1;  // BOS
    double worst = 0.0;
    for (std::size_t step = 0; step < ids.size(); ++step) {
      auto out = session.forward(std::span<const std::int32_t>(&token, 1));
      ASSERT_TRUE(out.ok()) << out.error().message;
      ASSERT_EQ(out->size(), logits[step].size());
      for (std::size_t i = 0; i < out->size(); ++i) {
        worst = std::max(worst, std::fabs(static_cast<double>((*out)[i]) - logits[step][i].get<double>()));
      }
      token = argmax(*out);
      ASSERT_EQ(token, ids[step].get<std::int32_t>()) << "step " << step << ", threads " << threads;
    }
    EXPECT_LE(worst, 1e-4) << "threads " << threads;
  }
}

// Prefill of a whole prompt in one batch gives the same last logits as feeding it token by token.
TEST(Stories260k, PrefillBatchEqualsTokenByToken) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found";
  auto model = Model::load_llama2c(*path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  std::vector<std::int32_t> prompt;
  for (std::int32_t i = 0; i < 100; ++i) prompt.push_back(1 + (i * 37) % 500);  // spans two batches
  ThreadPool pool(2);
  Session batch(*model, pool);
  auto a = batch.forward(prompt);
  ASSERT_TRUE(a.ok());
  const std::vector<float> batched(a->begin(), a->end());
  Session single(*model, pool);
  std::span<const float> last;
  for (const auto id : prompt) {
    auto b = single.forward(std::span<const std::int32_t>(&id, 1));
    ASSERT_TRUE(b.ok());
    last = *b;
  }
  for (std::size_t i = 0; i < batched.size(); ++i) EXPECT_NEAR(batched[i], last[i], 1e-5) << i;
  EXPECT_EQ(batch.position(), 100U);
}

TEST(Stories260k, RejectsBadTokensAndFullContext) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found";
  auto model = Model::load_llama2c(*path);
  ASSERT_TRUE(model.ok());
  ThreadPool pool(1);
  Session session(*model, pool, 4);
  const std::int32_t bad[] = {512};
  EXPECT_FALSE(session.forward(bad).ok());
  const std::int32_t negative[] = {-1};
  EXPECT_FALSE(session.forward(negative).ok());
  const std::int32_t four[] = {1, 2, 3, 4};
  EXPECT_TRUE(session.forward(four).ok());
  const std::int32_t one[] = {1};
  auto full = session.forward(one);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("context"), std::string::npos);
}

TEST(Llama2c, RejectsWrongSizeAndBadHeader) {
  auto tiny = std::make_shared<std::vector<std::uint8_t>>(10, 0);
  EXPECT_FALSE(Model::from_llama2c(tiny).ok());
  std::int32_t header[7] = {64, 172, 5, 8, 4, 512, 512};
  auto bytes = std::make_shared<std::vector<std::uint8_t>>(28 + 400, 0);
  std::memcpy(bytes->data(), header, 28);
  auto r = Model::from_llama2c(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bytes"), std::string::npos) << r.error().message;
  header[3] = 0;
  std::memcpy(bytes->data(), header, 28);
  EXPECT_FALSE(Model::from_llama2c(bytes).ok());
}

}  // namespace
}  // namespace bf::model

namespace bf::model {
namespace {

// SmolLM2 Q4_1 with our Q8-activation kernels against the fp32 numpy reference on the gguf
// package's dequantization: identical greedy ids, and cosine similarity >= 0.999 of the
// mean-centred logits over the reference's top 1000 tokens at every step.
TEST(SmolLM2, GreedyIdsAndLogitsMatchFp32Reference) {
  const auto path = smollm2_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "models/SmolLM2-135M-Instruct*.gguf absent: run scripts/fetch-model";
  auto model = Model::load_gguf(*path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model->config().layers, 30U);
  EXPECT_EQ(model->config().kv_heads, 3U);
  EXPECT_TRUE(model->config().tied_output);
  const auto expected = read_json(std::filesystem::path(BUTTERFLY_SOURCE_DIR) / "tests/reference/smollm2_fp32_expected.json");
  const auto prompt = expected.at("prompt").get<std::vector<std::int32_t>>();
  const auto ids = expected.at("ids").get<std::vector<std::int32_t>>();
  const auto& steps = expected.at("steps");
  ThreadPool pool(2);
  Session session(*model, pool, 64);
  EXPECT_TRUE(session.kv_half());  // quantized weights: an f16 cache, as llama.cpp's
  auto out = session.forward(prompt);
  double worst_cosine = 1.0;
  for (std::size_t step = 0; step < ids.size(); ++step) {
    ASSERT_TRUE(out.ok()) << out.error().message;
    const std::span<const float> logits = *out;
    double mean = 0.0;
    for (const float v : logits) mean += v;
    mean /= static_cast<double>(logits.size());
    const double ref_mean = steps[step].at("mean").get<double>();
    double dot = 0.0, ours = 0.0, theirs = 0.0;
    for (const auto& entry : steps[step].at("top")) {
      const double a = logits[entry[0].get<std::size_t>()] - mean;
      const double b = entry[1].get<double>() - ref_mean;
      dot += a * b;
      ours += a * a;
      theirs += b * b;
    }
    const double cosine = dot / std::sqrt(ours * theirs);
    EXPECT_GE(cosine, 0.999) << "step " << step;
    worst_cosine = std::min(worst_cosine, cosine);
    const std::int32_t token = argmax(logits);
    ASSERT_EQ(token, ids[step]) << "step " << step;
    out = session.forward(std::span<const std::int32_t>(&token, 1));
  }
  std::cout << "SmolLM2 vs fp32 reference: " << ids.size() << " greedy ids equal; lowest cosine " << worst_cosine
            << " (kernels " << isa_name(best_isa()) << ")\n";
}

// A prefill matmul over n tokens gives every token the bits a decode step's matmul (one token) gives
// it, on SmolLM2's own Q4_1 (and, where the file has them, other) matrices split across two threads:
// the tiled kernels change speed, not results, so the forward pass stays on llama.cpp's bits.
TEST(SmolLM2, PrefillMatmulEqualsOneTokenMatmulsBitForBit) {
  const auto path = smollm2_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "models/SmolLM2-135M-Instruct*.gguf absent: run scripts/fetch-model";
  auto model = Model::load_gguf(*path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  const LayerWeights& layer = model->layers()[3];
  ThreadPool pool(2);
  std::vector<BlockQ8> q8;
  for (const Matrix* w : {&layer.wq, &layer.wk, &layer.w_gate, &layer.w_down}) {
    for (const std::size_t n : {1U, 3U, 4U, 7U, 64U}) {
      std::vector<float> x(n * w->cols);
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37F * static_cast<float>(i)) * (1.0F + static_cast<float>(i % 13));
      std::vector<float> batched(n * w->rows);
      matmul(pool, *w, x.data(), n, batched.data(), q8);
      std::vector<float> single(n * w->rows);
      for (std::size_t t = 0; t < n; ++t) matmul(pool, *w, x.data() + t * w->cols, 1, single.data() + t * w->rows, q8);
      EXPECT_EQ(std::memcmp(batched.data(), single.data(), batched.size() * sizeof(float)), 0)
          << ggml_type_name(w->type) << " " << w->rows << "x" << w->cols << " n " << n;
    }
  }
}

}  // namespace
}  // namespace bf::model

namespace bf::model {
namespace {

// Several sequences decoded together give each the same logits as decoding it alone.
TEST(Stories260k, DecodeBatchEqualsSeparateSessions) {
  const auto path = stories260k_path(BUTTERFLY_SOURCE_DIR);
  if (!path) GTEST_SKIP() << "stories260K.bin not found";
  auto model = Model::load_llama2c(*path);
  ASSERT_TRUE(model.ok());
  ThreadPool pool(2);
  // Three sequences with different prompts and lengths (so different positions), contexts 64/128/32.
  const std::vector<std::vector<std::int32_t>> prompts = {{1, 5, 9}, {1, 200, 300, 400, 17}, {1}};
  const std::size_t contexts[] = {64, 128, 32};
  std::vector<std::unique_ptr<Session>> batched, alone;
  std::vector<Session*> ptrs;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    batched.push_back(std::make_unique<Session>(*model, pool, contexts[i]));
    alone.push_back(std::make_unique<Session>(*model, pool, contexts[i]));
    ASSERT_TRUE(batched[i]->forward(prompts[i]).ok());
    ASSERT_TRUE(alone[i]->forward(prompts[i]).ok());
    ptrs.push_back(batched[i].get());
  }
  for (int step = 0; step < 6; ++step) {
    std::vector<std::int32_t> next;
    for (std::size_t i = 0; i < prompts.size(); ++i) next.push_back(argmax(batched[i]->logits()));
    ASSERT_TRUE(Session::decode_batch(ptrs, next).ok());
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      auto want = alone[i]->forward(std::span<const std::int32_t>(&next[i], 1));
      ASSERT_TRUE(want.ok());
      const auto got = batched[i]->logits();
      for (std::size_t v = 0; v < got.size(); ++v) ASSERT_NEAR(got[v], (*want)[v], 1e-5) << "seq " << i << " step " << step;
      EXPECT_EQ(batched[i]->position(), alone[i]->position());
    }
  }
  const std::int32_t two[] = {1, 2};
  Session* twice[] = {ptrs[0], ptrs[0]};
  EXPECT_FALSE(Session::decode_batch(twice, two).ok());
  EXPECT_FALSE(Session::decode_batch(std::span<Session* const>(ptrs).first(1), two).ok());
}

}  // namespace
}  // namespace bf::model
