// The web dashboard's HTML builders (runtime/dashboard.hpp, issue 8): escaping of everything from
// outside, the live region, heading order, table semantics, phonetic worker names, the bounded
// query ring, and the certificate viewer showing the auditor's FAIL with its reason.
#include "runtime/dashboard.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/auditor.hpp"
#include "runtime/examples.hpp"

namespace bf::runtime::dashboard {
namespace {

using nlohmann::json;

json example_status(const std::string& second_id = "worker-02") {
  json workers = json::array();
  const std::vector<std::string> ids = {"worker-01", second_id, "worker-03", "worker-04"};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    workers.push_back({{"index", i}, {"id", ids[i]}, {"address", "127.0.0.1:700" + std::to_string(i)},
                       {"connected", i != 2}, {"reputation", i == 3 ? 0.1 : 1.0}, {"isolated", i == 3},
                       {"eligible", i != 3}});
  }
  return {{"workers", workers}, {"connected", 3}, {"n", 4}, {"f", 1}, {"q", 3},
          {"membership_digest", std::string(64, 'a')},
          {"chain", {{"next_sequence", 6}, {"previous_hash", std::string(64, 'b')}}},
          {"queries_in_flight", 0}, {"queries_done", 5}, {"log_dir", "/tmp/log"}};
}

// The levels of h1..h6 in document order. A plain scan: std::regex trips GCC 12's
// -Wmaybe-uninitialized inside libstdc++ in the sanitizer build.
std::vector<int> heading_levels(const std::string& html) {
  std::vector<int> levels;
  for (std::size_t pos = html.find("<h"); pos != std::string::npos; pos = html.find("<h", pos + 2)) {
    if (pos + 3 >= html.size()) break;
    const char digit = html[pos + 2];
    const char after = html[pos + 3];
    if (digit >= '1' && digit <= '6' && (after == '>' || after == ' ')) levels.push_back(digit - '0');
  }
  return levels;
}

// Every page: language, skip link to main, one h1 first, no heading level skipped, a polite live
// region, and no table without a caption or a header cell without scope.
void expect_accessible_structure(const std::string& html) {
  EXPECT_NE(html.find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(html.find("<a class=\"skip\" href=\"#main\">"), std::string::npos);
  EXPECT_NE(html.find("<main id=\"main\""), std::string::npos);
  EXPECT_NE(html.find("<nav aria-label=\"Main\">"), std::string::npos);
  EXPECT_NE(html.find("role=\"status\" aria-live=\"polite\""), std::string::npos);
  EXPECT_NE(html.find(":focus-visible { outline: 3px solid"), std::string::npos);
  const auto levels = heading_levels(html);
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.front(), 1);
  EXPECT_EQ(std::count(levels.begin(), levels.end(), 1), 1) << "exactly one h1";
  for (std::size_t i = 1; i < levels.size(); ++i) EXPECT_LE(levels[i], levels[i - 1] + 1) << "heading " << i;
  std::size_t tables = 0, captions = 0, pos = 0;
  while ((pos = html.find("<table>", pos)) != std::string::npos) ++tables, ++pos;
  pos = 0;
  while ((pos = html.find("<caption>", pos)) != std::string::npos) ++captions, ++pos;
  EXPECT_EQ(tables, captions);
  EXPECT_EQ(html.find("<th>"), std::string::npos) << "a header cell without scope";
}

TEST(DashboardEscape, EscapesMarkupAndQuotes) {
  EXPECT_EQ(html_escape("<script>alert(\"x\")</script> & 'y'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;");
}

TEST(DashboardEscape, ReplacesInvalidUtf8AndControlsKeepsValidText) {
  EXPECT_EQ(html_escape("caf\xC3\xA9 \xE2\x9C\x93"), "caf\xC3\xA9 \xE2\x9C\x93");  // café ✓ unchanged
  EXPECT_EQ(html_escape("a\xFF" "b"), "a\xEF\xBF\xBD" "b");                       // stray byte
  EXPECT_EQ(html_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(html_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");   // surrogate
  EXPECT_EQ(html_escape("\xE2\x9C"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // cut short
  EXPECT_EQ(html_escape(std::string("x\0y\x1b", 4)), "x\xEF\xBF\xBDy\xEF\xBF\xBD");
  EXPECT_EQ(html_escape("a\tb\nc"), "a\tb\nc");
}

TEST(DashboardEscape, TruncateNeverSplitsACharacter) {
  EXPECT_EQ(truncate_utf8("abc", 3), "abc");
  EXPECT_EQ(truncate_utf8("abcd", 3), "abc\xE2\x80\xA6");
  EXPECT_EQ(truncate_utf8("a\xC3\xA9z", 2), "a\xE2\x80\xA6");  // would cut é in half: cut before it
  EXPECT_EQ(truncate_utf8("a\xC3\xA9z", 3), "a\xC3\xA9\xE2\x80\xA6");
}

TEST(DashboardEscape, PayloadAsTextOnlyWhenPrintable) {
  EXPECT_EQ(payload_text("3432"), "\"42\"");
  EXPECT_EQ(payload_text("636166c3a9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(payload_text("002a"), "hex 002a");        // a control byte: binary
  EXPECT_EQ(payload_text("c3"), "hex c3");            // a cut UTF-8 sequence
  EXPECT_EQ(payload_text("zz"), "zz");                // not hex at all: shown as it came (escaped later)
  std::string long_text;  // 49 printable bytes "AAAA...": over the limit, shown as hex
  for (int i = 0; i < 49; ++i) long_text += "41";
  EXPECT_EQ(payload_text(long_text), "hex " + long_text.substr(0, 64) + "\xE2\x80\xA6");
  EXPECT_EQ(payload_text(long_text.substr(0, 96)), "\"" + std::string(48, 'A') + "\"");  // 48: text
}

TEST(DashboardNames, PhoneticNamesByIndex) {
  EXPECT_EQ(phonetic_name(0), "alpha");
  EXPECT_EQ(phonetic_name(1), "bravo");
  EXPECT_EQ(phonetic_name(3), "delta");
  EXPECT_EQ(phonetic_name(25), "zulu");
  EXPECT_EQ(phonetic_name(26), "worker 27");
  EXPECT_EQ(utc_time(0), "1970-01-01 00:00:00 UTC");
}

TEST(DashboardQueries, RingIsBoundedNewestFirst) {
  RecentQueries ring(3);
  for (int i = 1; i <= 5; ++i) {
    QueryRecord r;
    r.sequence = static_cast<std::uint64_t>(i);
    ring.add(r);
  }
  ASSERT_EQ(ring.newest_first().size(), 3u);
  EXPECT_EQ(ring.newest_first().front().sequence, 5u);
  EXPECT_EQ(ring.newest_first().back().sequence, 3u);
  EXPECT_EQ(ring.added(), 5u);
  EXPECT_EQ(recent_json(ring)["queries"].size(), 3u);
}

TEST(DashboardQueries, RecordFromReplies) {
  const json ok = {{"answer", "4"}, {"outcome", "decided"}, {"sequence", 7}, {"signers", {"worker-01", "worker-02"}},
                   {"outvoted", {"worker-04"}}, {"silent", json::array()}, {"isolated", json::array()},
                   {"timings_ms", {{"total", 12.5}}}};
  auto r = record_from_reply("2+2?", "vote", 200, ok.dump(), 100);
  EXPECT_EQ(r.sequence, 7u);
  EXPECT_EQ(r.outcome, "decided");
  EXPECT_EQ(r.answer, "4");
  EXPECT_EQ(r.signers.size(), 2u);
  EXPECT_EQ(r.outvoted, std::vector<std::string>{"worker-04"});
  EXPECT_DOUBLE_EQ(r.total_ms, 12.5);

  r = record_from_reply("2+2?", "vote", 503, R"({"error":{"code":"no_certificate","message":"too many in flight"}})", 100);
  EXPECT_EQ(r.outcome, "failed");
  EXPECT_EQ(r.sequence, 0u);
  EXPECT_EQ(r.error, "HTTP 503: too many in flight");

  r = record_from_reply(std::string(5000, 'q'), "vote", 200, "not json", 100);
  EXPECT_EQ(r.outcome, "failed");
  EXPECT_LE(r.query.size(), record_text_bytes_max + 3);  // + the ellipsis
}

TEST(DashboardPages, StatusPageStructureNamesAndIsolationInWords) {
  const auto html = status_page(example_status());
  expect_accessible_structure(html);
  EXPECT_NE(html.find("<th scope=\"row\">alpha (worker-01)</th>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">delta (worker-04)</th>"), std::string::npos);
  EXPECT_NE(html.find("<td>isolated</td>"), std::string::npos);  // not colour alone
  EXPECT_NE(html.find("<td>disconnected</td>"), std::string::npos);
  EXPECT_NE(html.find("3 of 4 workers connected, 1 isolated"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"/certificates/5\">Certificate 5</a>"), std::string::npos);
  EXPECT_NE(html.find("<caption>Workers, in membership order</caption>"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"/\" aria-current=\"page\">"), std::string::npos);
}

TEST(DashboardPages, HostileWorkerIdAndQueryAreEscaped) {
  const std::string evil = "<img src=x onerror=alert(1)>";
  const auto status = example_status(evil);
  const auto html = status_page(status);
  EXPECT_EQ(html.find(evil), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);

  RecentQueries ring;
  ring.add(record_from_reply(evil + "\"'", "vote", 200,
                             json{{"answer", "</td><script>x()</script>"}, {"outcome", "decided"}, {"sequence", 1},
                                  {"signers", {evil}}}.dump(), 0));
  const auto q = queries_page(ring, status);
  expect_accessible_structure(q);
  EXPECT_EQ(q.find(evil), std::string::npos);
  EXPECT_EQ(q.find("<script>x()"), std::string::npos);
  EXPECT_NE(q.find("&lt;/td&gt;&lt;script&gt;x()&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(q.find("<a href=\"/certificates/1\">Certificate 1</a>"), std::string::npos);
  EXPECT_NE(q.find("PASS</span> decided"), std::string::npos);  // outcome in words next to the badge
}

TEST(DashboardPages, HelpAndNotFoundAreStructured) {
  expect_accessible_structure(help_page());
  const auto nf = not_found_page("/<x>");
  expect_accessible_structure(nf);
  EXPECT_NE(nf.find("/&lt;x&gt;"), std::string::npos);
  RecentQueries empty;
  expect_accessible_structure(queries_page(empty, example_status()));
}

json verification_json(const Report& report) {
  json checks = json::array();
  for (const auto& c : report.checks) {
    checks.push_back({{"check", c.name}, {"state", check_state_name(c.state)}, {"detail", c.detail}});
  }
  return {{"verdict", report.ok() ? "PASS" : "FAIL"}, {"checks", checks}, {"path", "/tmp/log/000001.cert"}};
}

TEST(DashboardCertificate, ValidCertificateShowsEveryCheckPassAndItsFields) {
  auto ex = make_examples();
  ASSERT_TRUE(ex) << ex.error().message;
  const auto& bytes = ex->log[0].bytes;
  const auto report = verify_certificate(bytes, ex->membership);
  ASSERT_TRUE(report.ok());
  const auto html = certificate_page(1, verification_json(report), bytes, example_status());
  expect_accessible_structure(html);
  EXPECT_NE(html.find("every check passed"), std::string::npos);
  EXPECT_EQ(html.find(">FAIL<"), std::string::npos);
  for (const auto& c : report.checks) {
    EXPECT_NE(html.find("<th scope=\"row\">" + html_escape(c.name) + "</th>"), std::string::npos) << c.name;
  }
  EXPECT_NE(html.find("<dt>Outcome</dt><dd>decided</dd>"), std::string::npos);
  EXPECT_NE(html.find("Round 1: signed answers"), std::string::npos);
}

TEST(DashboardCertificate, FailingCheckRendersFailWithItsReason) {
  auto ex = make_examples();
  ASSERT_TRUE(ex) << ex.error().message;
  auto bytes = ex->log[0].bytes;
  bytes.back() ^= 0x01;  // the head signature's last byte: still decodes, no longer verifies
  const auto report = verify_certificate(bytes, ex->membership);
  ASSERT_FALSE(report.ok());
  const Check* failure = report.first_failure();
  ASSERT_NE(failure, nullptr);
  ASSERT_FALSE(failure->detail.empty());
  const auto html = certificate_page(1, verification_json(report), bytes, example_status());
  expect_accessible_structure(html);
  EXPECT_NE(html.find("Verdict: <span class=\"state fail\">FAIL</span>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">" + html_escape(failure->name) + "</th><td><span class=\"state fail\">FAIL</span></td><td>" +
                      html_escape(failure->detail) + "</td>"),
            std::string::npos)
      << failure->name << ": " << failure->detail;
  EXPECT_NE(html.find("the first: " + html_escape(failure->name + ": " + failure->detail)), std::string::npos);
}

TEST(DashboardCertificate, UndecodableBytesSayWhy) {
  const std::vector<std::uint8_t> junk = {1, 2, 3};
  const json v = {{"verdict", "FAIL"}, {"checks", {{{"check", "encoding"}, {"state", "FAIL"}, {"detail", "too short"}}}}};
  const auto html = certificate_page(9, v, junk, json::object());
  expect_accessible_structure(html);
  EXPECT_NE(html.find("The certificate does not decode"), std::string::npos);
  EXPECT_NE(html.find("<td><span class=\"state fail\">FAIL</span></td><td>too short</td>"), std::string::npos);
}

TEST(DashboardRoute, RoutesAndErrors) {
  auto ex = make_examples();
  ASSERT_TRUE(ex) << ex.error().message;
  RecentQueries ring;
  Sources sources;
  int certificate_calls = 0;
  sources.status = [] { return example_status(); };
  sources.certificate = [&](std::uint64_t sequence, bool as_json) {
    ++certificate_calls;
    if (sequence != 1) return Fetched{404, R"({"error":{"code":"not_found","message":"no certificate 2 in the log"}})"};
    const auto& bytes = ex->log[0].bytes;
    if (!as_json) return Fetched{200, std::string(bytes.begin(), bytes.end())};
    return Fetched{200, verification_json(verify_certificate(bytes, ex->membership)).dump()};
  };
  sources.recent = &ring;
  EXPECT_FALSE(route("GET", "/v1/status", "", sources).has_value());
  EXPECT_FALSE(route("GET", "/nope", "", sources).has_value());
  EXPECT_EQ(route("POST", "/", "", sources)->status, 405u);
  EXPECT_EQ(route("GET", "/", "", sources)->status, 200u);
  EXPECT_EQ(route("GET", "/help", "", sources)->status, 200u);
  EXPECT_EQ(route("GET", "/queries", "", sources)->status, 200u);
  const auto api = route("GET", "/v1/queries", "", sources);
  EXPECT_EQ(api->content_type, "application/json");
  EXPECT_EQ(json::parse(api->body)["added"], 0);
  EXPECT_EQ(route("GET", "/certificates/abc", "", sources)->status, 400u);
  EXPECT_EQ(route("GET", "/certificates/0", "", sources)->status, 400u);
  EXPECT_EQ(route("GET", "/certificates/99999999999999999999999", "", sources)->status, 400u);
  EXPECT_EQ(certificate_calls, 0);
  const auto missing = route("GET", "/certificates/2", "", sources);
  EXPECT_EQ(missing->status, 404u);
  EXPECT_NE(missing->body.find("no certificate 2 in the log"), std::string::npos);
  const auto by_form = route("GET", "/certificates", "sequence=1", sources);
  EXPECT_EQ(by_form->status, 200u);
  EXPECT_NE(by_form->body.find("<h1>Certificate 1</h1>"), std::string::npos);
  EXPECT_NE(by_form->body.find("every check passed"), std::string::npos);
}

}  // namespace
}  // namespace bf::runtime::dashboard
