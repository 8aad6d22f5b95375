// The process layer's pure and in-process parts: membership addresses (not in the digest), the
// model adapters (script: with a local script; openai: against a tiny in-test Beast server), the
// HTTP API's parsers, rate limiter and server (an in-process client), and the head's chain resume.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/reputation.hpp"
#include "runtime/answer_model.hpp"
#include "runtime/examples.hpp"
#include "runtime/head_process.hpp"
#include "runtime/http_api.hpp"
#include "runtime/membership_file.hpp"
#include "runtime/producer.hpp"
#include "runtime/worker_process.hpp"

namespace bf::runtime {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/bf-process-test-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

fs::path write_script(const fs::path& dir, const std::string& name, const std::string& body) {
  const auto p = dir / name;
  std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
  fs::permissions(p, fs::perms::owner_all);
  return p;
}

proto::Ask ask_of(std::string prompt, std::uint32_t round = 0) {
  proto::Ask a;
  a.query_id.fill(0xab);
  a.round = round;
  a.prompt = std::move(prompt);
  return a;
}

// ---- membership addresses ----

TEST(MembershipAddress, RoundTripsAndStaysOutOfTheDigest) {
  auto ex = make_examples();
  ASSERT_TRUE(ex.ok());
  Membership m = ex->membership;
  const Digest before = m.digest;
  const std::string id = m.record.workers[1].id;
  ASSERT_TRUE(set_worker_address(m, id, "127.0.0.1:7001").ok());
  EXPECT_EQ(m.digest, before);
  const auto j = membership_json(m);
  EXPECT_EQ(j["workers"][1]["address"], "127.0.0.1:7001");
  EXPECT_FALSE(j["workers"][0].contains("address"));
  auto back = membership_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->digest, before);
  EXPECT_EQ(back->addresses[1], "127.0.0.1:7001");
  EXPECT_EQ(back->addresses[0], "");
}

TEST(MembershipAddress, BadAddressesAreRefusedByName) {
  for (const char* bad : {"", "nohost", ":80", "host:", "host:0", "host:65536", "host:7x"}) {
    EXPECT_FALSE(check_address(bad).ok()) << bad;
  }
  EXPECT_TRUE(check_address("localhost:65535").ok());
  EXPECT_TRUE(check_address("[::1]:1").ok());
  auto ex = make_examples();
  ASSERT_TRUE(ex.ok());
  auto j = membership_json(ex->membership);
  j["workers"][0]["address"] = "no-port";
  auto r = membership_from_json(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("host:port"), std::string::npos);
  j["workers"][0]["address"] = 7;
  EXPECT_FALSE(membership_from_json(j).ok());
  Membership m = ex->membership;
  EXPECT_FALSE(set_worker_address(m, "nobody", "127.0.0.1:1").ok());
}

// Specialists (seed section 3) are declared per worker in the membership, outside the digest like
// addresses; a worker fills from its entry what its command line did not give.
TEST(MembershipSpecialist, RoundTripsOutsideTheDigestAndFillsUnsetOptions) {
  auto ex = make_examples();
  ASSERT_TRUE(ex.ok());
  Membership m = ex->membership;
  const Digest before = m.digest;
  const std::string id = m.record.workers[2].id;
  ASSERT_TRUE(set_worker_specialist(m, id, {"creative", "You are creative.", 0.5F, 7}).ok());
  EXPECT_EQ(m.digest, before);
  const auto j = membership_json(m);
  EXPECT_EQ(j["workers"][2]["specialist"]["name"], "creative");
  EXPECT_FALSE(j["workers"][0].contains("specialist"));
  auto back = membership_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->digest, before);
  EXPECT_EQ(back->specialists[2].system_prompt, "You are creative.");
  EXPECT_FLOAT_EQ(back->specialists[2].temperature, 0.5F);
  EXPECT_EQ(back->specialists[2].seed, 7U);
  EXPECT_TRUE(back->specialists[0].name.empty());

  WorkerOptions given;
  given.system_prompt = "from the flag";
  given.system_prompt_given = true;
  const WorkerOptions filled = apply_specialist(given, back->specialists[2]);
  EXPECT_EQ(filled.system_prompt, "from the flag");  // the command line wins
  EXPECT_FLOAT_EQ(filled.temperature, 0.5F);
  EXPECT_EQ(filled.seed, 7U);
  const WorkerOptions unchanged = apply_specialist(given, back->specialists[0]);  // none declared
  EXPECT_EQ(unchanged.seed, 0U);
}

TEST(MembershipSpecialist, BadSpecialistsAreRefusedByField) {
  auto ex = make_examples();
  ASSERT_TRUE(ex.ok());
  Membership m = ex->membership;
  const std::string id = m.record.workers[0].id;
  EXPECT_FALSE(set_worker_specialist(m, id, {"", "x", 0.0F, 1}).ok());
  EXPECT_FALSE(set_worker_specialist(m, id, {"has space", "x", 0.0F, 1}).ok());
  EXPECT_FALSE(set_worker_specialist(m, id, {"hot", "x", 2.5F, 1}).ok());
  EXPECT_FALSE(set_worker_specialist(m, id, {"long", std::string(specialist_system_bytes_max + 1, 'a'), 0.0F, 1}).ok());
  EXPECT_FALSE(set_worker_specialist(m, "nobody", {"logic", "x", 0.0F, 1}).ok());
  ASSERT_TRUE(set_worker_specialist(m, id, {"logic", "x", 0.0F, 1}).ok());
  const auto good = membership_json(m);
  for (const auto& [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"temperature", -1}, {"temperature", "hot"}, {"seed", -3}, {"name", 5}, {"extra", 1}}) {
    auto j = good;
    j["workers"][0]["specialist"][field] = value;
    auto r = membership_from_json(j);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_NE(r.error().message.find("specialist"), std::string::npos) << r.error().message;
  }
  auto j = good;
  j["workers"][0]["specialist"].erase("seed");
  EXPECT_FALSE(membership_from_json(j).ok());
}

// ---- script: model ----

TEST(ScriptModel, GetsPromptAndEnvironmentDeterministically) {
  TempDir t;
  const auto s = write_script(t.path, "m.sh", "read -r line; echo \"$line|$BUTTERFLY_ROUND|$BUTTERFLY_SEED|${BUTTERFLY_QUERY_ID%????????????????????????????????????????????????????????}\"");
  auto model = make_answer_model("script:" + s.string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto a = model.value()->run(ask_of("what is 2+2", 2), 7);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->text, "what is 2+2|2|7|abababab\n");
  auto b = model.value()->run(ask_of("what is 2+2", 2), 7);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->text, b->text);
}

TEST(ScriptModel, TimeoutOutputLimitAndFailuresAreErrors) {
  TempDir t;
  ModelOptions o;
  o.timeout_ms = 200;
  o.output_bytes_max = 1000;
  auto slow = make_answer_model("script:" + write_script(t.path, "slow.sh", "sleep 5; echo late").string(), o);
  ASSERT_TRUE(slow.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto r = slow.value()->run(ask_of("x"), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("killed"), std::string::npos) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));

  auto big = make_answer_model("script:" + write_script(t.path, "big.sh", "head -c 5000 /dev/zero").string(), o);
  ASSERT_TRUE(big.ok());
  r = big.value()->run(ask_of("x"), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("more than 1000 bytes"), std::string::npos) << r.error().message;

  // Exactly at the limit is fine.
  auto edge = make_answer_model("script:" + write_script(t.path, "edge.sh", "head -c 1000 /dev/zero").string(), o);
  ASSERT_TRUE(edge.ok());
  EXPECT_TRUE(edge.value()->run(ask_of("x"), 0).ok());

  auto failing = make_answer_model("script:" + write_script(t.path, "fail.sh", "exit 3").string(), o);
  ASSERT_TRUE(failing.ok());
  r = failing.value()->run(ask_of("x"), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("exit status 3"), std::string::npos) << r.error().message;

  // A script that ignores a large prompt on stdin still works (no SIGPIPE, no deadlock).
  auto ignoring = make_answer_model("script:" + write_script(t.path, "ign.sh", "echo ok").string(), o);
  ASSERT_TRUE(ignoring.ok());
  auto ok = ignoring.value()->run(ask_of(std::string(60000, 'p')), 0);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->text, "ok\n");
}

TEST(ModelSpec, UnknownMissingAndDamagedModelsAreClearErrors) {
  TempDir t;
  auto r = make_answer_model("script:" + (t.path / "missing.sh").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no such file"), std::string::npos);
  const auto p = t.path / "noexec.sh";
  std::ofstream(p) << "echo";
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
  r = make_answer_model("script:" + p.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("chmod +x"), std::string::npos);
  r = make_answer_model("builtin:llama-9000");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("the built-in model is builtin:smollm2"), std::string::npos) << r.error().message;
  r = make_answer_model((t.path / "absent.gguf").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("absent.gguf"), std::string::npos) << r.error().message;
  const auto damaged = t.path / "damaged.gguf";
  std::ofstream(damaged) << "GGUF\x03";  // a header cut short
  r = make_answer_model(damaged.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("damaged.gguf"), std::string::npos) << r.error().message;
  r = make_answer_model("magic:thing");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("script:PATH"), std::string::npos);
}

TEST(ModelSpec, BuiltinSmollm2AnswersAnAsk) {
  auto r = make_answer_model("builtin:smollm2");
  if (!r.ok() && r.error().message.find("not downloaded") != std::string::npos) {
    GTEST_SKIP() << "SmolLM2 is not fetched (run scripts/fetch-model): " << r.error().message;
  }
  ASSERT_TRUE(r.ok()) << r.error().message;
  proto::Ask ask;
  ask.prompt = "What is 2+2?";
  auto out = (*r)->run(ask, 1);
  ASSERT_TRUE(out.ok()) << out.error().message;
  // The numeric rule reads the model's own answer: SmolLM2 says 4 (greedy, deterministic).
  auto payload = canonical_payload(core::cert::AgreementRule::numeric, 0, out->text);
  ASSERT_TRUE(payload.ok()) << out->text;
  EXPECT_EQ(core::cert::i64_from(*payload, "answer").value(), 4'000'000) << out->text;
  ASSERT_FALSE(out->distribution.empty());
  std::uint64_t total = 0;
  for (const auto& t : out->distribution) total += t.q31;
  EXPECT_EQ(total, 1ULL << 31);  // the Q31 distribution sums exactly to one
}

TEST(ModelSpec, OpenAiUrls) {
  auto e = parse_openai_spec("http://127.0.0.1:8081#smollm2");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, "8081");
  EXPECT_EQ(e->path, "/v1/chat/completions");
  EXPECT_EQ(e->model, "smollm2");
  e = parse_openai_spec("http://localhost/v1/");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->port, "80");
  EXPECT_EQ(e->path, "/v1/chat/completions");
  EXPECT_EQ(e->model, "");
  EXPECT_FALSE(parse_openai_spec("https://x:1").ok());
  EXPECT_FALSE(parse_openai_spec("ftp://x:1").ok());
  EXPECT_FALSE(parse_openai_spec("http://:1").ok());
  EXPECT_FALSE(parse_openai_spec("http://x:port").ok());
}

// A one-thread Beast server standing in for an OpenAI endpoint: answers every request with
// `status` and `body`, and records the last request body.
class FakeOpenAi {
 public:
  FakeOpenAi(unsigned status, std::string body) : status_(status), body_(std::move(body)), acceptor_(io_) {
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    asio::co_spawn(io_, serve(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeOpenAi() {
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  std::string last_request;

 private:
  asio::awaitable<void> serve() {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      beast::flat_buffer buffer;
      bhttp::request<bhttp::string_body> req;
      co_await bhttp::async_read(socket, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) continue;
      last_request = req.target().to_string() + " " + req.body();
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status_), 11};
      res.body() = body_;
      res.prepare_payload();
      co_await bhttp::async_write(socket, res, asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  unsigned status_;
  std::string body_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST(OpenAiModel, ParsesChoicesContentAndSendsTheModel) {
  FakeOpenAi server(200, R"({"choices":[{"message":{"role":"assistant","content":"Paris"}}]})");
  auto model = make_answer_model("openai:" + server.url() + "#tiny");
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto r = model.value()->run(ask_of("capital of France?"), 3);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->text, "Paris");
  EXPECT_NE(server.last_request.find("/v1/chat/completions "), std::string::npos);
  EXPECT_NE(server.last_request.find("\"model\":\"tiny\""), std::string::npos);
  EXPECT_NE(server.last_request.find("capital of France?"), std::string::npos);
}

TEST(OpenAiModel, Non200BadJsonAndRefusedAreClearErrors) {
  {
    FakeOpenAi server(500, "overloaded");
    auto r = make_answer_model("openai:" + server.url()).value()->run(ask_of("q"), 0);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("HTTP 500"), std::string::npos) << r.error().message;
  }
  {
    FakeOpenAi server(200, "{not json");
    auto r = make_answer_model("openai:" + server.url()).value()->run(ask_of("q"), 0);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("not JSON"), std::string::npos) << r.error().message;
  }
  {
    FakeOpenAi server(200, R"({"choices":[]})");
    auto r = make_answer_model("openai:" + server.url()).value()->run(ask_of("q"), 0);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("choices[0].message.content"), std::string::npos);
  }
  std::string url;
  {
    FakeOpenAi gone(200, "");
    url = gone.url();
  }  // closed: nothing listens there now
  auto r = make_answer_model("openai:" + url).value()->run(ask_of("q"), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot connect"), std::string::npos) << r.error().message;
}

// ---- HTTP API ----

TEST(HttpApi, QueryBodies) {
  auto q = http::parse_query_body(R"({"query":"2+2?","mode":"debate","agreement":"numeric","decimals":2})");
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->query, "2+2?");
  EXPECT_EQ(q->mode, proto::Mode::debate);
  EXPECT_EQ(q->agreement, core::cert::AgreementRule::numeric);
  EXPECT_EQ(q->agreement_param, 2);
  for (const char* bad : {"", "[]", R"({"query":1})", R"({"query":""})", R"({"query":"x","mode":"chant"})",
                          R"({"query":"x","agreement":"fuzzy"})", R"({"query":"x","extra":1})",
                          R"({"query":"x","decimals":7})"}) {
    EXPECT_FALSE(http::parse_query_body(bad).ok()) << bad;
  }
  const std::string at_limit = "{\"query\":\"" + std::string(http::query_bytes_max, 'a') + "\"}";
  const std::string over = "{\"query\":\"" + std::string(http::query_bytes_max + 1, 'a') + "\"}";
  EXPECT_TRUE(http::parse_query_body(at_limit).ok());
  EXPECT_FALSE(http::parse_query_body(over).ok());
}

TEST(HttpApi, ChatBodiesUseTheLastUserMessage) {
  auto q = http::parse_chat_body(
      R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"first"},{"role":"assistant","content":"a"},{"role":"user","content":"last"}],"butterfly":{"mode":"sctt"}})");
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->query, "last");
  EXPECT_EQ(q->mode, proto::Mode::sctt);
  EXPECT_FALSE(http::parse_chat_body(R"({"messages":[]})").ok());
  EXPECT_FALSE(http::parse_chat_body(R"({"messages":[{"role":"system","content":"s"}]})").ok());
  EXPECT_FALSE(http::parse_chat_body(R"({"messages":[{"role":"user","content":"x"}],"stream":true})").ok());
  const auto resp = http::chat_response({{"answer", "4"}, {"sequence", 9}}, 1);
  EXPECT_EQ(resp["choices"][0]["message"]["content"], "4");
  EXPECT_EQ(resp["butterfly"]["sequence"], 9);
  EXPECT_EQ(resp["object"], "chat.completion");
}

TEST(HttpApi, RateLimiterIsATokenBucketPerClient) {
  http::RateLimiter r(10, 3, 2);
  EXPECT_TRUE(r.allow("a", 0));
  EXPECT_TRUE(r.allow("a", 0));
  EXPECT_TRUE(r.allow("a", 0));
  EXPECT_FALSE(r.allow("a", 0));  // burst of 3 spent
  EXPECT_TRUE(r.allow("b", 0));   // another client has its own bucket
  EXPECT_FALSE(r.allow("a", 0.05));
  EXPECT_TRUE(r.allow("a", 0.11));  // 10 per second refills one token in 0.1 s
  EXPECT_TRUE(r.allow("c", 1));     // a third client evicts the oldest (bounded memory)
}

struct Exchange {
  unsigned status = 0;
  std::string body;
};

// An in-process client: sends requests one after another on ONE connection (keep-alive).
std::vector<Exchange> exchange(asio::io_context& io, tcp::endpoint at,
                               std::vector<bhttp::request<bhttp::string_body>> requests) {
  std::vector<Exchange> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(io);
    boost::system::error_code ec;
    co_await stream.async_connect(at, asio::redirect_error(asio::use_awaitable, ec));
    beast::flat_buffer buffer;
    for (auto& req : requests) {
      req.prepare_payload();
      co_await bhttp::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
      bhttp::response<bhttp::string_body> res;
      if (!ec) co_await bhttp::async_read(stream, buffer, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      out.push_back({res.result_int(), res.body()});
    }
  }, [&io](std::exception_ptr) { io.stop(); });  // the server keeps io busy; stop when done
  io.run_for(std::chrono::seconds(5));
  io.restart();
  return out;
}

bhttp::request<bhttp::string_body> request(bhttp::verb verb, std::string target, std::string body = {}) {
  bhttp::request<bhttp::string_body> r{verb, target, 11};
  r.set(bhttp::field::host, "test");
  r.body() = std::move(body);
  return r;
}

TEST(HttpApi, ServerRoutesLimitsAndKeepsAlive) {
  asio::io_context io;
  http::Handlers h;
  int queries = 0;
  h.query = [&](http::QueryInput in) -> asio::awaitable<http::Reply> {
    ++queries;
    co_return http::json_reply(200, {{"answer", in.query + "!"}, {"sequence", 5}});
  };
  h.status = [] { return nlohmann::json{{"connected", 4}}; };
  h.metrics = [] { return std::string("butterfly_up 1\n"); };
  h.certificate = [](std::uint64_t seq, bool) {
    return seq == 5 ? http::Reply{200, "application/octet-stream", "BFCT"} : http::error_reply(404, "not_found", "none");
  };
  http::HttpLimits limits;
  limits.body_bytes_max = 1024;
  auto server = std::make_shared<http::Server>(io, h, limits);
  ASSERT_TRUE(server->listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)).ok());
  const auto at = server->local_endpoint();

  auto r = exchange(io, at, {request(bhttp::verb::post, "/v1/query", R"({"query":"hi"})"),
                             request(bhttp::verb::post, "/v1/chat/completions", R"({"messages":[{"role":"user","content":"yo"}]})"),
                             request(bhttp::verb::get, "/v1/status"), request(bhttp::verb::get, "/metrics"),
                             request(bhttp::verb::get, "/v1/certificates/5"),
                             request(bhttp::verb::get, "/v1/certificates/6"),
                             request(bhttp::verb::get, "/v1/certificates/x"),
                             request(bhttp::verb::get, "/v1/query"), request(bhttp::verb::get, "/nowhere"),
                             request(bhttp::verb::post, "/v1/query", "{bad")});
  ASSERT_EQ(r.size(), 10u);  // all on one keep-alive connection
  EXPECT_EQ(r[0].status, 200u);
  EXPECT_NE(r[0].body.find("hi!"), std::string::npos);
  EXPECT_EQ(r[1].status, 200u);
  EXPECT_NE(r[1].body.find("\"content\":\"yo!\""), std::string::npos) << r[1].body;
  EXPECT_NE(r[2].body.find("\"connected\":4"), std::string::npos);
  EXPECT_EQ(r[3].body, "butterfly_up 1\n");
  EXPECT_EQ(r[4].body, "BFCT");
  EXPECT_EQ(r[5].status, 404u);
  EXPECT_EQ(r[6].status, 400u);
  EXPECT_EQ(r[7].status, 405u);
  EXPECT_EQ(r[8].status, 404u);
  EXPECT_EQ(r[9].status, 400u);
  EXPECT_NE(r[9].body.find("\"code\":\"invalid_request\""), std::string::npos);
  EXPECT_EQ(queries, 2);

  // Body limit: at the limit is parsed (and refused as JSON), one byte over is 413.
  r = exchange(io, at, {request(bhttp::verb::post, "/v1/query", std::string(1024, ' '))});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 400u);
  r = exchange(io, at, {request(bhttp::verb::post, "/v1/query", std::string(1025, ' '))});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 413u);
  server->stop();
}

TEST(HttpApi, RateLimitAnswers429) {
  asio::io_context io;
  http::Handlers h;
  h.status = [] { return nlohmann::json::object(); };
  http::HttpLimits limits;
  limits.rate_per_s = 0.001;
  limits.rate_burst = 2;
  auto server = std::make_shared<http::Server>(io, h, limits);
  ASSERT_TRUE(server->listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)).ok());
  auto r = exchange(io, server->local_endpoint(),
                    {request(bhttp::verb::get, "/v1/status"), request(bhttp::verb::get, "/v1/status"),
                     request(bhttp::verb::get, "/v1/status")});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].status, 200u);
  EXPECT_EQ(r[2].status, 429u);
  EXPECT_NE(r[2].body.find("rate_limited"), std::string::npos);
  server->stop();
}

// ---- the head's chain resume ----

TEST(HeadResume, ContinuesAfterTheNewestCertificate) {
  TempDir t;
  auto ex = make_examples();
  ASSERT_TRUE(ex.ok());
  auto fresh = resume_chain(t.path, ex->membership.digest);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->next_sequence, 1u);
  EXPECT_TRUE(fresh->reputation.empty());
  const ExampleFile* newest = nullptr;
  for (const auto& f : ex->log) {
    if (!f.name.ends_with(".cert")) continue;
    std::ofstream(t.path / f.name, std::ios::binary).write(reinterpret_cast<const char*>(f.bytes.data()),
                                                             static_cast<std::streamsize>(f.bytes.size()));
    newest = &f;
  }
  ASSERT_NE(newest, nullptr);
  {
    // The first certificate alone: delta was outvoted in it, so the state after it differs from
    // its snapshot (the state before it), and a resumed head must have the state after.
    TempDir one;
    const auto& first = ex->log.front();
    ASSERT_EQ(first.name, "000001.cert");
    std::ofstream(one.path / first.name, std::ios::binary)
        .write(reinterpret_cast<const char*>(first.bytes.data()), static_cast<std::streamsize>(first.bytes.size()));
    auto r1 = resume_chain(one.path, ex->membership.digest);
    ASSERT_TRUE(r1.ok()) << r1.error().message;
    auto c1 = core::cert::decode_certificate(first.bytes);
    ASSERT_TRUE(c1.ok());
    EXPECT_EQ(c1->reputation[3].value, core::ReputationParams::start);
    EXPECT_LT(r1->reputation[3].value, core::ReputationParams::start);  // delta's disagreement counted
    EXPECT_EQ(r1->reputation[0].value, core::ReputationParams::start);
  }
  auto r = resume_chain(t.path, ex->membership.digest);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto cert = core::cert::decode_certificate(newest->bytes);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(r->next_sequence, cert->sequence + 1);
  EXPECT_EQ(r->previous_hash, blake2b(newest->bytes));
  // The newest certificate's own update is applied on top of its snapshot (examples are sequential).
  auto expected = cert->reputation;
  const auto events = reputation_events(*cert);
  bool changed = false;
  for (std::size_t w = 0; w < expected.size(); ++w) {
    if (!events[w]) continue;
    const auto rep = core::reputation_update({expected[w].value, expected[w].isolated}, *events[w]);
    changed = changed || rep.value != expected[w].value;
    expected[w] = {rep.value, rep.isolated};
  }
  (void)changed;
  EXPECT_EQ(r->reputation, expected);
  // Evidence logged on its own (a late equivocation) isolates its worker after a restart.
  for (const auto& f : ex->log) {
    if (!f.name.ends_with(".equivocation")) continue;
    auto e = core::cert::decode_equivocation(f.bytes);
    ASSERT_TRUE(e.ok());
    std::ofstream(t.path / ("999999-late-" + std::to_string(e->worker) + ".equivocation"), std::ios::binary)
        .write(reinterpret_cast<const char*>(f.bytes.data()), static_cast<std::streamsize>(f.bytes.size()));
    auto r2 = resume_chain(t.path, ex->membership.digest);
    ASSERT_TRUE(r2.ok()) << r2.error().message;
    EXPECT_TRUE(r2->reputation[e->worker].isolated);
    break;
  }
  Digest other{};
  other.fill(1);
  EXPECT_FALSE(resume_chain(t.path, other).ok());  // another membership's log is refused
}

}  // namespace
}  // namespace bf::runtime
