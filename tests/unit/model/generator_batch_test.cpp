// Generator::generate_batch (`butterfly generate --batch N`): N sequences of one prompt decoded
// together give, greedily, exactly the one-sequence text; sequences that end early leave the batch.
// Skipped when the SmolLM2 GGUF is not fetched.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "model/generator.hpp"
#include "model/model_paths.hpp"

namespace bf::model {
namespace {

std::unique_ptr<Generator> load_smollm2() {
  const auto path = smollm2_path(BUTTERFLY_SOURCE_DIR);
  if (!path) return nullptr;
  auto generator = Generator::load(*path, 2);
  EXPECT_TRUE(generator.ok()) << generator.error().message;
  return generator ? std::move(generator.value()) : nullptr;
}

TEST(GeneratorBatch, GreedyBatchEqualsOneSequence) {
  auto generator = load_smollm2();
  if (!generator) GTEST_SKIP() << "models/SmolLM2-135M-Instruct*.gguf absent: run scripts/fetch-model";
  GenerateRequest request;
  request.prompt = "The capital of France is";
  request.raw = true;
  request.max_tokens = 16;
  auto alone = generator->generate(request);
  ASSERT_TRUE(alone.ok()) << alone.error().message;
  ASSERT_EQ(alone->ids.size(), request.max_tokens);  // no early stop: every step is compared
  for (const std::size_t batch : {std::size_t{1}, std::size_t{4}}) {
    auto together = generator->generate_batch(request, batch);
    ASSERT_TRUE(together.ok()) << together.error().message;
    ASSERT_EQ(together->sequences.size(), batch);
    for (std::size_t i = 0; i < batch; ++i) {
      const GenerateResult& seq = together->sequences[i];
      EXPECT_EQ(seq.prompt_ids, alone->prompt_ids) << "batch " << batch << " sequence " << i;
      EXPECT_EQ(seq.ids, alone->ids) << "batch " << batch << " sequence " << i;
      EXPECT_EQ(seq.text, alone->text) << "batch " << batch << " sequence " << i;
      EXPECT_FALSE(seq.stopped);
    }
    EXPECT_EQ(together->decoded(), batch * (request.max_tokens - 1));
    EXPECT_GT(together->decode_s, 0.0);
  }
}

// Sampled chat answers end at different steps; each sequence stops at its own end-of-generation
// id (the last one it has) or at max_tokens, and the others keep going.
TEST(GeneratorBatch, SequencesStopOnTheirOwn) {
  auto generator = load_smollm2();
  if (!generator) GTEST_SKIP() << "models/SmolLM2-135M-Instruct*.gguf absent: run scripts/fetch-model";
  GenerateRequest request;
  request.prompt = "Say hello in one short sentence.";
  request.max_tokens = 40;
  request.sampling = {1.0F, 40, 1.0F, 11};
  auto together = generator->generate_batch(request, 4);
  ASSERT_TRUE(together.ok()) << together.error().message;
  std::size_t shortest = request.max_tokens, longest = 0, decoded = 0;
  for (const auto& seq : together->sequences) {
    ASSERT_FALSE(seq.ids.empty());
    EXPECT_LE(seq.ids.size(), request.max_tokens);
    EXPECT_EQ(seq.stopped, generator->tokenizer().is_end_of_generation(seq.ids.back()));
    if (!seq.stopped) {
      EXPECT_EQ(seq.ids.size(), request.max_tokens);
    }
    for (std::size_t t = 0; t + 1 < seq.ids.size(); ++t) EXPECT_FALSE(generator->tokenizer().is_end_of_generation(seq.ids[t]));
    shortest = std::min(shortest, seq.ids.size());
    longest = std::max(longest, seq.ids.size());
    decoded += seq.ids.size() - 1;
  }
  EXPECT_EQ(together->decoded(), decoded);
  // The case this test is about: one sequence left the batch while another went on.
  EXPECT_LT(shortest, longest) << "all four sequences had the same length; pick another seed";
}

TEST(GeneratorBatch, RejectsBadBatchesAndOneSequenceFeatures) {
  auto generator = load_smollm2();
  if (!generator) GTEST_SKIP() << "models/SmolLM2-135M-Instruct*.gguf absent: run scripts/fetch-model";
  GenerateRequest request;
  request.prompt = "Hi";
  request.max_tokens = 2;
  EXPECT_FALSE(generator->generate_batch(request, 0).ok());
  EXPECT_FALSE(generator->generate_batch(request, generate_batch_max + 1).ok());
  EXPECT_TRUE(generator->generate_batch(request, generate_batch_max).ok());
  request.logits_top_k = 5;
  EXPECT_FALSE(generator->generate_batch(request, 2).ok());
}

}  // namespace
}  // namespace bf::model
