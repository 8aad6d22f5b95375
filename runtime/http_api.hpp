// The head's HTTP API on Boost.Beast (spec/http.md):
//   POST /v1/query                  {"query", "mode", "agreement", "task_checks"} -> answer, outcome, certificate
//   POST /v1/chat/completions       OpenAI-compatible; the certificate in the "butterfly" field
//   GET  /v1/certificates/{seq}     the certificate bytes (?format=json: its JSON form)
//   GET  /v1/status                 workers, reputation, isolation, chain position
//   GET  /metrics                   Prometheus text
//   GET  /, /queries, /certificates/{seq}, /help, /v1/queries: the web dashboard (runtime/dashboard.hpp)
// Every limit is a named constant below. A bad request ends that request (or its connection)
// only, with {"error": {"code", "message"}} and a proper status.
//
// The server runs on the caller's io_context (the head's single logic thread); the handlers are
// called on it, so they may touch the head's state without locks.
#pragma once

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/certificate.hpp"
#include "core/result.hpp"
#include "runtime/dashboard.hpp"
#include "runtime/messages.hpp"

namespace bf::runtime::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HttpLimits {
  std::size_t body_bytes_max = 64u << 10;     // larger: 413
  std::size_t header_bytes_max = 8u << 10;    // larger: 431 (Beast: header limit)
  std::size_t connections_max = 256;          // more are closed at accept
  std::uint32_t request_timeout_ms = 60'000;  // reading a request and producing its response
  std::uint32_t idle_timeout_ms = 30'000;     // keep-alive connection with no request
  double rate_per_s = 200;                    // token bucket per client address
  double rate_burst = 400;
  std::size_t rate_clients_max = 4096;        // tracked addresses; the oldest are forgotten
  std::size_t requests_per_connection_max = 100'000;
};

// A parsed query request, before the head turns it into a HeadLogic QueryRequest.
struct QueryInput {
  std::string query;
  proto::Mode mode = proto::Mode::vote;
  core::cert::AgreementRule agreement = core::cert::AgreementRule::exact;
  std::uint8_t agreement_param = 0;
  // /v1/query's optional "task_checks": the head signs them into the certificate unchanged (it never
  // runs Z3); `cert verify --z3` re-runs each. At most core::cert::task_checks_max, each text within
  // core::cert::task_text_bytes_max (the body limit, body_bytes_max, binds first).
  std::vector<core::cert::TaskCheck> task_checks = {};
};
inline constexpr std::size_t query_bytes_max = proto::prompt_bytes_max / 2;

// What a handler returns: a status and a body; JSON unless content_type says otherwise.
struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};
Reply json_reply(unsigned status, const nlohmann::json& body);
Reply error_reply(unsigned status, std::string_view code, std::string_view message);

struct Handlers {
  // The /v1/query response JSON (with "answer" and the rest), or an error reply.
  std::function<asio::awaitable<Reply>(QueryInput)> query;
  std::function<Reply(std::uint64_t sequence, bool as_json)> certificate;
  std::function<nlohmann::json()> status;
  std::function<std::string()> metrics;
};

// Parsers of request bodies (exposed for tests). Errors say which field and what is allowed.
core::Result<QueryInput> parse_query_body(std::string_view body);
// The "task_checks" value of a /v1/query body: [{"smtlib": "...", "expected": "sat"|"unsat"}, ...].
core::Result<std::vector<core::cert::TaskCheck>> parse_task_checks(const nlohmann::json& value);
// The last "user" message's content is the query; "butterfly": {"mode", "agreement", "decimals",
// "task_checks"} optional.
core::Result<QueryInput> parse_chat_body(std::string_view body);
// An OpenAI chat.completion response around a /v1/query response JSON.
nlohmann::json chat_response(const nlohmann::json& query_reply, std::uint64_t created_s);

std::optional<proto::Mode> mode_from_name(std::string_view name);
const char* mode_name(proto::Mode mode);

// Per-client token bucket (exposed for tests). Time in seconds from any steady origin.
class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst, std::size_t clients_max);
  bool allow(const std::string& client, double now_s);

 private:
  struct Bucket {
    double tokens = 0;
    double last_s = 0;
  };
  double rate_per_s_;
  double burst_;
  std::size_t clients_max_;
  std::map<std::string, Bucket> buckets_;
};

class Server : public std::enable_shared_from_this<Server> {
 public:
  Server(asio::io_context& io, Handlers handlers, HttpLimits limits = {});
  // Binds and starts accepting; the error names the address.
  core::Status listen(const tcp::endpoint& endpoint);
  [[nodiscard]] tcp::endpoint local_endpoint() const;
  // Stops accepting and closes every connection.
  void stop();
  [[nodiscard]] std::size_t connections() const noexcept { return connections_; }

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  asio::awaitable<Reply> route(const std::string& method, const std::string& target, const std::string& body,
                               const std::string& client);

  asio::io_context& io_;
  Handlers handlers_;
  HttpLimits limits_;
  tcp::acceptor acceptor_;
  RateLimiter rate_;
  std::size_t connections_ = 0;
  bool stopped_ = false;
  std::map<std::uint64_t, std::function<void()>> closers_;  // for stop(): closes each connection
  std::uint64_t next_id_ = 0;
  dashboard::RecentQueries recent_;  // the dashboard's recent-query ring (bounded)
};

}  // namespace bf::runtime::http
