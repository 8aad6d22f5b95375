// The `fixed:MS[:TEXT]` model (runtime/answer_model.hpp): the scaling benchmark's synthetic worker
// model, answering after a fixed wall time without using the CPU.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <string>

#include "runtime/answer_model.hpp"

namespace bf::runtime {
namespace {

proto::Ask ask_with(std::string prompt) {
  proto::Ask a;
  a.prompt = std::move(prompt);
  return a;
}

double thread_cpu_ms() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

TEST(FixedModel, AnswersAfterAtLeastItsTimeWithoutUsingTheCpu) {
  auto model = make_answer_model("fixed:120");
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ((*model)->describe(), "fixed:120:4");
  const double cpu0 = thread_cpu_ms();
  const auto t0 = std::chrono::steady_clock::now();
  auto out = (*model)->run(ask_with("2+2?"), 1);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  const double cpu_ms = thread_cpu_ms() - cpu0;
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->text, "4");
  EXPECT_TRUE(out->distribution.empty());
  EXPECT_GE(elapsed, std::chrono::milliseconds(120));
  // A sleeping thread uses microseconds of CPU; a spinning one would use about 120 ms.
  EXPECT_LT(cpu_ms, 30.0) << "the model used " << cpu_ms << " ms of CPU: it must sleep, not spin";
}

TEST(FixedModel, AnswersItsTextAndZeroMsAnswersAtOnce) {
  auto model = make_answer_model("fixed:0:forty-two: with a colon");
  ASSERT_TRUE(model) << model.error().message;
  auto out = (*model)->run(ask_with("anything"), 0);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->text, "forty-two: with a colon");
  ModelOptions long_timeout;
  long_timeout.timeout_ms = 60'001;
  auto at_limit = make_answer_model("fixed:60000:x", long_timeout);
  EXPECT_TRUE(at_limit) << at_limit.error().message;
}

TEST(FixedModel, BadSpecsSayWhatIsWrong) {
  const auto error_of = [](const std::string& spec, ModelOptions options = {}) {
    auto m = make_answer_model(spec, options);
    return m ? std::string("accepted") : m.error().message;
  };
  for (const char* spec : {"fixed:", "fixed:abc", "fixed:-5", "fixed:1.5", "fixed:50ms", "fixed::x", "fixed:123456"}) {
    const auto message = error_of(spec);
    EXPECT_NE(message.find("MS must be a whole number"), std::string::npos) << spec << ": " << message;
    EXPECT_NE(message.find("fixed:MS:TEXT"), std::string::npos) << spec << ": " << message;
  }
  EXPECT_NE(error_of("fixed:60001").find("over 60000"), std::string::npos) << error_of("fixed:60001");
  // The default model timeout is 30 s: a longer fixed time could never answer.
  EXPECT_NE(error_of("fixed:30000").find("below the model timeout"), std::string::npos) << error_of("fixed:30000");
  ModelOptions small;
  small.output_bytes_max = 4;
  EXPECT_NE(error_of("fixed:50:12345", small).find("too long"), std::string::npos) << error_of("fixed:50:12345", small);
  EXPECT_NE(error_of("nonsense:x").find("fixed:MS[:TEXT]"), std::string::npos) << error_of("nonsense:x");
}

}  // namespace
}  // namespace bf::runtime
