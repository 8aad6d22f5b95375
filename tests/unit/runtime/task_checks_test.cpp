// POST /v1/query's optional "task_checks" (spec/http.md): parsing, the limits of
// core::cert::task_checks_max and task_text_bytes_max at the boundary, the byte rule of
// spec/certificate.md, and errors that name the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "runtime/http_api.hpp"

namespace bf::runtime {
namespace {

namespace cc = core::cert;

std::string body_with(const nlohmann::json& task_checks) {
  return nlohmann::json{{"query", "Is P or not P a tautology?"}, {"task_checks", task_checks}}.dump();
}

nlohmann::json check(std::string smtlib, std::string expected) {
  return {{"smtlib", std::move(smtlib)}, {"expected", std::move(expected)}};
}

// The error message of a body that must be refused (empty when it was accepted: the test fails).
std::string refusal(const std::string& body) {
  auto q = http::parse_query_body(body);
  EXPECT_FALSE(q.ok()) << body.substr(0, 200);
  return q.ok() ? std::string{} : q.error().message;
}

TEST(HttpTaskChecks, ParsedInOrderWithKindAndExpected) {
  const auto q = http::parse_query_body(body_with(
      {check("(declare-const p Bool)\n(assert (not (or p (not p))))\n(check-sat)\n", "unsat"),
       check("(declare-const x Int)\r\n\t(assert (> x 2))\n(check-sat)", "sat")}));
  ASSERT_TRUE(q.ok()) << q.error().message;
  ASSERT_EQ(q->task_checks.size(), 2U);
  EXPECT_EQ(q->task_checks[0].kind, cc::TaskKind::z3_smtlib);
  EXPECT_EQ(q->task_checks[0].expected, cc::TaskExpect::unsat);
  EXPECT_EQ(q->task_checks[0].text, "(declare-const p Bool)\n(assert (not (or p (not p))))\n(check-sat)\n");
  EXPECT_EQ(q->task_checks[1].expected, cc::TaskExpect::sat);
  EXPECT_EQ(q->task_checks[1].text, "(declare-const x Int)\r\n\t(assert (> x 2))\n(check-sat)");
}

TEST(HttpTaskChecks, AbsentOrEmptyMeansNone) {
  const auto absent = http::parse_query_body(R"({"query":"2+2?"})");
  ASSERT_TRUE(absent.ok());
  EXPECT_TRUE(absent->task_checks.empty());
  const auto empty = http::parse_query_body(body_with(nlohmann::json::array()));
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->task_checks.empty());
}

TEST(HttpTaskChecks, CountLimitAtTheBoundary) {
  nlohmann::json at_limit = nlohmann::json::array();
  for (std::uint32_t i = 0; i < cc::task_checks_max; ++i) at_limit.push_back(check("(check-sat)", "sat"));
  const auto ok = http::parse_query_body(body_with(at_limit));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->task_checks.size(), cc::task_checks_max);
  at_limit.push_back(check("(check-sat)", "sat"));
  const std::string message = refusal(body_with(at_limit));
  EXPECT_NE(message.find("'task_checks' has " + std::to_string(cc::task_checks_max + 1) + " entries"), std::string::npos)
      << message;
}

TEST(HttpTaskChecks, TextLengthLimitAtTheBoundary) {
  // The parser alone (the server's body limit of 64 KiB refuses such a body before it, with 413).
  const auto ok = http::parse_task_checks(nlohmann::json::array({check(std::string(cc::task_text_bytes_max, ' '), "sat")}));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->at(0).text.size(), cc::task_text_bytes_max);
  const auto over = http::parse_task_checks(nlohmann::json::array({check(std::string(cc::task_text_bytes_max + 1, ' '), "sat")}));
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("'task_checks[0].smtlib' has " + std::to_string(cc::task_text_bytes_max + 1) + " bytes"),
            std::string::npos)
      << over.error().message;
  const std::string empty = refusal(body_with(nlohmann::json::array({check("", "sat")})));
  EXPECT_NE(empty.find("'task_checks[0].smtlib' has 0 bytes"), std::string::npos) << empty;
}

TEST(HttpTaskChecks, OnlyPrintableAsciiTabLfCr) {
  // 0x7f (DEL), a NUL, and a UTF-8 letter: each named with its offset.
  const struct {
    std::string text;
    std::string says;
  } cases[] = {{std::string("(check-sat)\x7f"), "byte 127 at offset 11"},
               {std::string("(check-sat)\0", 12), "byte 0 at offset 11"},
               {"(check-sat) ; \xc3\xa9", "byte 195 at offset 14"}};
  for (const auto& c : cases) {
    const std::string message = refusal(body_with({check("(check-sat)", "sat"), check(c.text, "sat")}));
    EXPECT_NE(message.find("'task_checks[1].smtlib' has " + c.says), std::string::npos) << message;
  }
}

TEST(HttpTaskChecks, ShapeErrorsNameTheField) {
  const struct {
    nlohmann::json value;
    std::string says;
  } cases[] = {
      {"(check-sat)", "'task_checks' must be an array"},
      {nlohmann::json::array({"(check-sat)"}), "'task_checks[0]' must be an object"},
      {nlohmann::json::array({{{"expected", "sat"}}}), "'task_checks[0].smtlib' must be a string"},
      {nlohmann::json::array({{{"smtlib", 7}, {"expected", "sat"}}}), "'task_checks[0].smtlib' must be a string"},
      {nlohmann::json::array({{{"smtlib", "(check-sat)"}}}), "'task_checks[0].expected' must be"},
      {nlohmann::json::array({check("(check-sat)", "valid")}), "unknown 'task_checks[0].expected' 'valid'"},
      {nlohmann::json::array({check("(check-sat)", "sat"), {{"smtlib", "(check-sat)"}, {"expected", "sat"}, {"kind", "z3"}}}),
       "unknown field 'task_checks[1].kind'"},
  };
  for (const auto& c : cases) {
    const std::string message = refusal(body_with(c.value));
    EXPECT_NE(message.find(c.says), std::string::npos) << c.value.dump() << " -> " << message;
  }
}

TEST(HttpTaskChecks, ChatCompletionsTakeThemInTheExtension) {
  const auto chat = http::parse_chat_body(
      R"js({"messages":[{"role":"user","content":"x"}],"butterfly":{"task_checks":[{"smtlib":"(check-sat)","expected":"sat"}]}})js");
  ASSERT_TRUE(chat.ok()) << chat.error().message;
  ASSERT_EQ(chat->task_checks.size(), 1U);
  EXPECT_EQ(chat->task_checks[0].text, "(check-sat)");
  const auto bad = http::parse_chat_body(
      R"js({"messages":[{"role":"user","content":"x"}],"butterfly":{"task_checks":[{"smtlib":"(check-sat)","expected":"maybe"}]}})js");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("task_checks[0].expected"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace bf::runtime
