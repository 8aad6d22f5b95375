// The head's web dashboard (issue 8): server-rendered, accessible HTML pages built as strings.
//   GET /                    cluster status: workers (phonetic names), health, reputation, isolation, chain
//   GET /queries             recent queries with their outcome (a bounded ring kept by the HTTP server)
//   GET /certificates/{seq}  a certificate's fields and the auditor's checks (runtime/auditor.hpp), PASS/FAIL
//   GET /certificates?sequence=N  the same, from the lookup form (works without JavaScript)
//   GET /help                what the pages show and how to operate them by keyboard
//   GET /v1/queries          the recent-query ring as JSON (the live region reads it)
// No external assets: one inline style sheet and one small inline script that polls /v1/status and
// announces changes in an ARIA live region; every page is complete and usable without the script.
// Every string that reaches HTML goes through html_escape. The builders are pure: data in, text out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bf::runtime::dashboard {

inline constexpr std::size_t recent_queries_max = 50;   // the ring's capacity; the oldest is dropped
inline constexpr std::size_t record_text_bytes_max = 300;  // query/answer/error text kept per record
inline constexpr std::size_t record_names_max = 64;      // ids kept per signer/outvoted/... list
inline constexpr unsigned poll_interval_ms = 3000;       // the live region's /v1/status poll period

// Text for HTML text and attribute values: & < > " ' escaped; invalid UTF-8 and control characters
// (other than tab and newline) become U+FFFD, so a hostile query cannot break the markup or encoding.
std::string html_escape(std::string_view text);
// At most max_bytes of text, cut on a UTF-8 character boundary, with "…" when cut.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);
// alpha, bravo, ... zulu for workers 0..25; "worker 27" style beyond (1-based, as people count).
std::string phonetic_name(std::size_t index);
// "2026-11-23 15:43:22 UTC"
std::string utc_time(std::int64_t unix_s);
// A signed answer's payload (hex) as people read it: "\"42\"" when it is at most 48 bytes of
// printable UTF-8, else "hex " and the start of the hex (the payload may be a binary number).
std::string payload_text(std::string_view payload_hex);

// One finished (or failed) query as the dashboard shows it.
struct QueryRecord {
  std::uint64_t sequence = 0;  // 0: no certificate (the query failed)
  std::int64_t finished_unix_s = 0;
  unsigned http_status = 200;
  std::string query;
  std::string mode;
  std::string outcome;  // decided, no-consensus, ...; "failed" when there is no certificate
  std::string answer;
  std::string error;  // the error message when http_status != 200
  std::vector<std::string> signers, outvoted, silent, isolated;  // worker ids
  double total_ms = 0;
};

// From a POST /v1/query reply body (spec/http.md); a body that is not the expected JSON gives a
// "failed" record carrying what could be read. Every text is truncated to record_text_bytes_max.
QueryRecord record_from_reply(std::string_view query, std::string_view mode, unsigned http_status,
                              std::string_view body, std::int64_t finished_unix_s);

// A bounded ring, newest first.
class RecentQueries {
 public:
  explicit RecentQueries(std::size_t capacity = recent_queries_max) : capacity_(capacity) {}
  void add(QueryRecord record);
  [[nodiscard]] const std::deque<QueryRecord>& newest_first() const noexcept { return items_; }
  [[nodiscard]] std::uint64_t added() const noexcept { return added_; }

 private:
  std::size_t capacity_;
  std::deque<QueryRecord> items_;
  std::uint64_t added_ = 0;
};
nlohmann::json recent_json(const RecentQueries& recent);

// ---- pages (complete HTML documents) ----
// status: the /v1/status JSON (spec/http.md).
std::string status_page(const nlohmann::json& status);
std::string queries_page(const RecentQueries& recent, const nlohmann::json& status);
// verification: the /v1/certificates/{seq}?format=json JSON ("verdict", "checks": [{"check",
// "state", "detail"}], "path", "hash"); bytes: the certificate file, decoded here for its fields.
std::string certificate_page(std::uint64_t sequence, const nlohmann::json& verification,
                             std::span<const std::uint8_t> bytes, const nlohmann::json& status);
std::string certificate_missing_page(std::string_view requested, unsigned http_status, std::string_view message);
std::string help_page();
std::string not_found_page(std::string_view path);

// ---- routing ----
struct Page {
  unsigned status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
};
struct Fetched {
  unsigned status = 200;
  std::string body;
};
// Where the pages get their data: the same handlers the JSON API uses.
struct Sources {
  std::function<nlohmann::json()> status;
  std::function<Fetched(std::uint64_t sequence, bool as_json)> certificate;
  const RecentQueries* recent = nullptr;
};
// The page for a GET of path (?query_string); nullopt when the path is not the dashboard's.
std::optional<Page> route(std::string_view method, std::string_view path, std::string_view query_string,
                          const Sources& sources);
bool is_dashboard_path(std::string_view path);

}  // namespace bf::runtime::dashboard
