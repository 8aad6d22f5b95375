#include "runtime/http_api.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

namespace bf::runtime::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using Clock = std::chrono::steady_clock;

core::Error bad_request(std::string message) { return core::Error{core::Errc::invalid_argument, std::move(message)}; }

core::Result<QueryInput> query_options(const nlohmann::json& j, QueryInput in) {
  if (j.contains("mode")) {
    if (!j["mode"].is_string()) return bad_request("'mode' must be a string: vote, attention, sctt or debate");
    auto mode = mode_from_name(j["mode"].get<std::string>());
    if (!mode) return bad_request("unknown 'mode' '" + j["mode"].get<std::string>() + "'; use vote, attention, sctt or debate");
    in.mode = *mode;
  }
  if (j.contains("agreement")) {
    if (!j["agreement"].is_string()) return bad_request("'agreement' must be \"exact\" or \"numeric\"");
    const auto a = j["agreement"].get<std::string>();
    if (a == "exact") {
      in.agreement = core::cert::AgreementRule::exact;
    } else if (a == "numeric") {
      in.agreement = core::cert::AgreementRule::numeric;
    } else {
      return bad_request("unknown 'agreement' '" + a + "'; use exact or numeric");
    }
  }
  if (j.contains("decimals")) {
    if (!j["decimals"].is_number_unsigned() || j["decimals"].get<std::uint64_t>() > 6) {
      return bad_request("'decimals' must be an integer 0..6 (numeric agreement rounds to it)");
    }
    in.agreement_param = static_cast<std::uint8_t>(j["decimals"].get<std::uint64_t>());
  }
  return in;
}

core::Result<QueryInput> check_query(QueryInput in) {
  if (in.query.empty()) return bad_request("the query is empty");
  if (in.query.size() > query_bytes_max) {
    return bad_request("the query is longer than " + std::to_string(query_bytes_max) + " bytes");
  }
  return in;
}

}  // namespace

std::optional<proto::Mode> mode_from_name(std::string_view name) {
  if (name == "vote") return proto::Mode::vote;
  if (name == "attention") return proto::Mode::attention;
  if (name == "sctt") return proto::Mode::sctt;
  if (name == "debate") return proto::Mode::debate;
  return std::nullopt;
}

const char* mode_name(proto::Mode mode) {
  switch (mode) {
    case proto::Mode::vote: return "vote";
    case proto::Mode::attention: return "attention";
    case proto::Mode::sctt: return "sctt";
    case proto::Mode::debate: return "debate";
  }
  return "unknown";
}

Reply json_reply(unsigned status, const nlohmann::json& body) {
  return Reply{status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

Reply error_reply(unsigned status, std::string_view code, std::string_view message) {
  return json_reply(status, {{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}});
}

namespace {

// The byte rule of spec/certificate.md for task text (the certificate encoder enforces it too):
// checked here so a bad text is a 400 naming the field, not a failed certificate after the round.
bool task_text_byte(char c) {
  const auto b = static_cast<unsigned char>(c);
  return b == '\t' || b == '\n' || b == '\r' || (b >= 0x20 && b <= 0x7e);
}

core::Result<core::cert::TaskCheck> parse_task_check(const nlohmann::json& j, const std::string& at) {
  if (!j.is_object()) return bad_request("'" + at + "' must be an object {\"smtlib\": \"...\", \"expected\": \"sat\"|\"unsat\"}");
  for (const auto& item : j.items()) {
    if (item.key() != "smtlib" && item.key() != "expected") {
      return bad_request("unknown field '" + at + "." + item.key() + "'; a task check has smtlib and expected");
    }
  }
  if (!j.contains("smtlib") || !j["smtlib"].is_string()) return bad_request("'" + at + ".smtlib' must be a string (an SMT-LIB 2 script)");
  core::cert::TaskCheck t;
  t.kind = core::cert::TaskKind::z3_smtlib;
  t.text = j["smtlib"].get<std::string>();
  if (t.text.empty() || t.text.size() > core::cert::task_text_bytes_max) {
    return bad_request("'" + at + ".smtlib' has " + std::to_string(t.text.size()) + " bytes; it must have 1.." +
                       std::to_string(core::cert::task_text_bytes_max));
  }
  if (const auto bad = std::find_if_not(t.text.begin(), t.text.end(), task_text_byte); bad != t.text.end()) {
    return bad_request("'" + at + ".smtlib' has byte " + std::to_string(static_cast<unsigned char>(*bad)) + " at offset " +
                       std::to_string(bad - t.text.begin()) + "; only printable ASCII, tab, LF and CR are allowed");
  }
  if (!j.contains("expected") || !j["expected"].is_string()) return bad_request("'" + at + ".expected' must be \"sat\" or \"unsat\"");
  const auto expected = j["expected"].get<std::string>();
  if (expected == "sat") {
    t.expected = core::cert::TaskExpect::sat;
  } else if (expected == "unsat") {
    t.expected = core::cert::TaskExpect::unsat;
  } else {
    return bad_request("unknown '" + at + ".expected' '" + expected + "'; use sat or unsat");
  }
  return t;
}

}  // namespace

core::Result<std::vector<core::cert::TaskCheck>> parse_task_checks(const nlohmann::json& value) {
  if (!value.is_array()) return bad_request("'task_checks' must be an array of {\"smtlib\", \"expected\"}");
  if (value.size() > core::cert::task_checks_max) {
    return bad_request("'task_checks' has " + std::to_string(value.size()) + " entries; at most " +
                       std::to_string(core::cert::task_checks_max));
  }
  std::vector<core::cert::TaskCheck> checks;
  checks.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    auto t = parse_task_check(value[i], "task_checks[" + std::to_string(i) + "]");
    if (!t) return t.error();
    checks.push_back(std::move(t.value()));
  }
  return checks;
}

core::Result<QueryInput> parse_query_body(std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad_request("the body must be a JSON object like {\"query\": \"2+2?\"}");
  static const char* known[] = {"query", "mode", "agreement", "decimals", "task_checks"};
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return key == k; }) == std::end(known)) {
      return bad_request("unknown field '" + key + "'; use query, mode, agreement, decimals, task_checks");
    }
  }
  if (!j.contains("query") || !j["query"].is_string()) return bad_request("'query' must be a string");
  QueryInput in;
  in.query = j["query"].get<std::string>();
  if (j.contains("task_checks")) {
    auto checks = parse_task_checks(j["task_checks"]);
    if (!checks) return checks.error();
    in.task_checks = std::move(checks.value());
  }
  auto with = query_options(j, std::move(in));
  if (!with) return with;
  return check_query(std::move(with.value()));
}

core::Result<QueryInput> parse_chat_body(std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad_request("the body must be a JSON object with 'messages'");
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty()) {
    return bad_request("'messages' must be a non-empty array of {\"role\", \"content\"}");
  }
  if (j.contains("stream") && j["stream"].is_boolean() && j["stream"].get<bool>()) {
    return bad_request("'stream': true is not supported; a certified answer is returned whole");
  }
  QueryInput in;
  bool found = false;
  for (const auto& m : j["messages"]) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) return bad_request("each message needs a 'role' string");
    if (m["role"] == "user") {
      if (!m.contains("content") || !m["content"].is_string()) return bad_request("a user message's 'content' must be a string");
      in.query = m["content"].get<std::string>();
      found = true;
    }
  }
  if (!found) return bad_request("no message with role 'user'; the last user message is the query");
  if (j.contains("butterfly")) {
    if (!j["butterfly"].is_object()) return bad_request("'butterfly' must be an object {\"mode\", \"agreement\"}");
    auto with = query_options(j["butterfly"], std::move(in));
    if (!with) return with;
    in = std::move(with.value());
    if (j["butterfly"].contains("task_checks")) {
      auto checks = parse_task_checks(j["butterfly"]["task_checks"]);
      if (!checks) return checks.error();
      in.task_checks = std::move(checks.value());
    }
  }
  return check_query(std::move(in));
}

nlohmann::json chat_response(const nlohmann::json& reply, std::uint64_t created_s) {
  const std::string answer = reply.value("answer", std::string{});
  std::string id = "chatcmpl-butterfly";
  if (reply.contains("sequence") && reply["sequence"].is_number_unsigned()) id += "-" + std::to_string(reply["sequence"].get<std::uint64_t>());
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created_s},
          {"model", "butterfly"},
          {"choices", nlohmann::json::array({{{"index", 0},
                                              {"message", {{"role", "assistant"}, {"content", answer}}},
                                              {"finish_reason", "stop"}}})},
          {"usage", {{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}}},
          {"butterfly", reply}};
}

RateLimiter::RateLimiter(double rate_per_s, double burst, std::size_t clients_max)
    : rate_per_s_(rate_per_s), burst_(burst), clients_max_(clients_max) {}

bool RateLimiter::allow(const std::string& client, double now_s) {
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    // Bounded memory: forget the least recently seen client (a linear scan; rare).
    if (buckets_.size() >= clients_max_) {
      auto oldest = buckets_.begin();
      for (auto b = buckets_.begin(); b != buckets_.end(); ++b) {
        if (b->second.last_s < oldest->second.last_s) oldest = b;
      }
      buckets_.erase(oldest);
    }
    it = buckets_.emplace(client, Bucket{burst_, now_s}).first;
  }
  auto& b = it->second;
  b.tokens = std::min(burst_, b.tokens + (now_s - b.last_s) * rate_per_s_);
  b.last_s = now_s;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

Server::Server(asio::io_context& io, Handlers handlers, HttpLimits limits)
    : io_(io),
      handlers_(std::move(handlers)),
      limits_(limits),
      acceptor_(io),
      rate_(limits.rate_per_s, limits.rate_burst, limits.rate_clients_max) {}

core::Status Server::listen(const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return core::Error{core::Errc::invalid_argument, "http: cannot listen on " + endpoint.address().to_string() + ":" +
                                             std::to_string(endpoint.port()) + ": " + ec.message() +
                                             "; pick a free port with --http"};
  }
  asio::co_spawn(io_, [self = shared_from_this()] { return self->accept_loop(); }, asio::detached);
  return core::Ok{};
}

tcp::endpoint Server::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Server::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  auto closers = std::move(closers_);
  for (auto& [id, close] : closers) close();
}

asio::awaitable<void> Server::accept_loop() {
  auto self = shared_from_this();
  while (!stopped_) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. too many open files: keep serving the connections we have
    }
    if (connections_ >= limits_.connections_max) {
      socket.close(ec);  // over the connection limit: refuse this one only
      continue;
    }
    asio::co_spawn(io_, [self, s = std::move(socket)]() mutable { return self->serve(std::move(s)); },
                   asio::detached);
  }
}

asio::awaitable<void> Server::serve(tcp::socket socket) {
  auto self = shared_from_this();
  ++connections_;
  const std::uint64_t id = next_id_++;
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const std::string client = ec ? std::string("unknown") : remote.address().to_string();
  auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
  closers_[id] = [stream] {
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->socket().close(ignored);
  };
  beast::flat_buffer buffer;
  for (std::size_t served = 0; served < limits_.requests_per_connection_max && !stopped_; ++served) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(limits_.body_bytes_max);
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_bytes_max));
    stream->expires_after(std::chrono::milliseconds(served == 0 ? limits_.request_timeout_ms : limits_.idle_timeout_ms));
    co_await bhttp::async_read(*stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    Reply reply;
    bool keep_alive = false;
    unsigned version = 11;
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      break;
    }
    if (ec == bhttp::error::body_limit) {
      reply = error_reply(413, "body_too_large", "the request body is larger than " +
                                                     std::to_string(limits_.body_bytes_max) + " bytes");
    } else if (ec == bhttp::error::header_limit) {
      reply = error_reply(431, "header_too_large", "the request header is larger than " +
                                                       std::to_string(limits_.header_bytes_max) + " bytes");
    } else if (ec) {
      reply = error_reply(400, "bad_request", "the request is not valid HTTP/1.1: " + ec.message());
    } else {
      auto& req = parser.get();
      keep_alive = req.keep_alive();
      version = req.version();
      const double now_s = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
      if (!rate_.allow(client, now_s)) {
        reply = error_reply(429, "rate_limited", "too many requests from " + client + "; at most " +
                                                     std::to_string(static_cast<int>(limits_.rate_per_s)) +
                                                     " per second, bursts of " +
                                                     std::to_string(static_cast<int>(limits_.rate_burst)));
      } else {
        stream->expires_never();  // a query may wait for its round deadlines; the head bounds it
        reply = co_await route(std::string(req.method_string()), std::string(req.target()), req.body(), client);
      }
    }
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), version};
    res.set(bhttp::field::server, "butterfly");
    res.set(bhttp::field::content_type, reply.content_type);
    res.keep_alive(keep_alive && !ec);
    res.body() = std::move(reply.body);
    res.prepare_payload();
    stream->expires_after(std::chrono::milliseconds(limits_.request_timeout_ms));
    boost::system::error_code wec;
    co_await bhttp::async_write(*stream, res, asio::redirect_error(asio::use_awaitable, wec));
    if (wec || !res.keep_alive()) break;
  }
  stream->socket().shutdown(tcp::socket::shutdown_send, ec);
  stream->socket().close(ec);
  closers_.erase(id);
  --connections_;
}

asio::awaitable<Reply> Server::route(const std::string& method, const std::string& target, const std::string& body,
                                     const std::string& client) {
  (void)client;
  std::string_view path = target;
  std::string_view query_string;
  if (const auto q = path.find('?'); q != std::string_view::npos) {
    query_string = path.substr(q + 1);
    path = path.substr(0, q);
  }
  const auto wrong_method = [&](const char* allowed) {
    return error_reply(405, "method_not_allowed", std::string(path) + " accepts " + allowed + " only");
  };
  if (path == "/v1/query" || path == "/v1/chat/completions") {
    if (method != "POST") co_return wrong_method("POST");
    const bool chat = path == "/v1/chat/completions";
    auto in = chat ? parse_chat_body(body) : parse_query_body(body);
    if (!in) co_return error_reply(400, "invalid_request", in.error().message);
    if (!handlers_.query) co_return error_reply(503, "unavailable", "this server answers no queries");
    const std::string query_text = in.value().query;
    const char* query_mode = mode_name(in.value().mode);
    Reply reply = co_await handlers_.query(std::move(in.value()));
    const auto finished_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    recent_.add(dashboard::record_from_reply(query_text, query_mode, reply.status, reply.body, finished_s));
    if (!chat || reply.status != 200) co_return reply;
    const auto j = nlohmann::json::parse(reply.body, nullptr, false);
    if (j.is_discarded()) co_return error_reply(500, "internal", "the head produced a reply that is not JSON");
    const auto now_s = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    co_return json_reply(200, chat_response(j, now_s));
  }
  if (path.starts_with("/v1/certificates/")) {
    if (method != "GET") co_return wrong_method("GET");
    const auto digits = path.substr(std::string_view("/v1/certificates/").size());
    std::uint64_t sequence = 0;
    const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), sequence);
    if (digits.empty() || err != std::errc{} || end != digits.data() + digits.size() || sequence == 0) {
      co_return error_reply(400, "invalid_sequence", "the certificate sequence must be a positive integer, e.g. /v1/certificates/1");
    }
    const bool as_json = query_string == "format=json";
    if (!query_string.empty() && !as_json) {
      co_return error_reply(400, "invalid_format", "the only query parameter is format=json");
    }
    co_return handlers_.certificate ? handlers_.certificate(sequence, as_json)
                                    : error_reply(404, "not_found", "no certificates here");
  }
  if (path == "/v1/status") {
    if (method != "GET") co_return wrong_method("GET");
    co_return json_reply(200, handlers_.status ? handlers_.status() : nlohmann::json::object());
  }
  if (path == "/metrics") {
    if (method != "GET") co_return wrong_method("GET");
    co_return Reply{200, "text/plain; version=0.0.4", handlers_.metrics ? handlers_.metrics() : std::string{}};
  }
  if (dashboard::is_dashboard_path(path)) {
    dashboard::Sources sources;
    sources.status = handlers_.status;
    if (handlers_.certificate) {
      sources.certificate = [this](std::uint64_t sequence, bool as_json) {
        Reply r = handlers_.certificate(sequence, as_json);
        return dashboard::Fetched{r.status, std::move(r.body)};
      };
    }
    sources.recent = &recent_;
    if (auto page = dashboard::route(method, path, query_string, sources)) {
      co_return Reply{page->status, std::move(page->content_type), std::move(page->body)};
    }
  }
  co_return error_reply(404, "not_found", "no route " + std::string(path) +
                                              "; try POST /v1/query, POST /v1/chat/completions, GET "
                                              "/v1/certificates/{sequence}, GET /v1/status, GET /metrics, or the dashboard at GET /");
}

}  // namespace bf::runtime::http
