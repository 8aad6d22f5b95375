// The `instant:` model (runtime/answer_model.hpp): the benchmarks' worker model, in process.
#include <gtest/gtest.h>

#include "runtime/answer_model.hpp"

namespace bf::runtime {
namespace {

proto::Ask ask_with(std::string prompt) {
  proto::Ask a;
  a.prompt = std::move(prompt);
  return a;
}

TEST(InstantModel, AnswersItsTextAtOnceWhateverTheAsk) {
  auto model = make_answer_model("instant:forty-two");
  ASSERT_TRUE(model) << model.error().message;
  for (const char* prompt : {"2+2?", "", "What is the capital of France?"}) {
    auto out = (*model)->run(ask_with(prompt), 7);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->text, "forty-two");
    EXPECT_TRUE(out->distribution.empty());
  }
  EXPECT_EQ((*model)->describe(), "instant:forty-two");
}

TEST(InstantModel, EmptyTextAnswersFourAndOverlongTextIsRefused) {
  auto model = make_answer_model("instant:");
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ((*model)->run(ask_with("2+2?"), 0).value().text, "4");
  ModelOptions small;
  small.output_bytes_max = 4;
  auto refused = make_answer_model("instant:12345", small);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("too long"), std::string::npos) << refused.error().message;
  // The unknown-spec message lists instant: among the forms.
  auto unknown = make_answer_model("nonsense:x");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("instant:TEXT"), std::string::npos) << unknown.error().message;
}

}  // namespace
}  // namespace bf::runtime
