// Shared parts of the `butterfly bench run` suites (cli/cmd_bench.cpp: overhead, detection;
// cli/bench_*.cpp: the others): statistics, machine description, an HTTP client, the load
// generator and a loopback cluster that stops itself. Header-only: each suite is one file.
#pragma once

#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange
#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/cli.hpp"
#include "cli/cluster.hpp"
#include "runtime/head_process.hpp"
#include "runtime/net.hpp"

#ifndef BUTTERFLY_BUILD_TYPE
#define BUTTERFLY_BUILD_TYPE "unknown"
#endif

namespace bf::cli::bench {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline constexpr std::size_t reply_bytes_max = 4u << 20;
inline constexpr std::uint32_t bench_workers_max = 64;
inline constexpr std::uint32_t concurrency_max = 200;  // the head closes connections past 256
inline constexpr std::size_t backlog_max = 1'000'000;  // open loop: queries waiting for a connection
inline constexpr std::uint32_t trials_max = 1000;
inline constexpr double duration_s_max = 3600;
// Every cluster of a benchmark lifts the head's per-client HTTP rate limit: all load comes from
// 127.0.0.1, and the default (200/s) would measure the limiter, not the head.
inline constexpr const char* bench_http_rate = "1000000000";

[[noreturn]] inline void fail(const std::string& message, int code = exit_usage) {
  std::cerr << "butterfly bench run: " << message << "\n";
  throw Exit{code};
}

inline double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// ---- statistics ----

struct Summary {
  std::size_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;
};

// Nearest-rank percentile of sorted values: the smallest value with at least p% at or below it.
inline double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

inline Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.count = v.size();
  s.p50 = percentile(v, 50);
  s.p95 = percentile(v, 95);
  s.p99 = percentile(v, 99);
  s.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

inline json summary_json(const Summary& s) {
  return {{"count", s.count}, {"p50", s.p50}, {"p95", s.p95}, {"p99", s.p99}, {"max", s.max}, {"mean", s.mean}};
}

inline std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ---- where and what ran ----

inline std::string first_line_of(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[256];
    if (std::fgets(buf, sizeof buf, p) != nullptr) out = buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

inline json machine_json() {
  std::string cpu = "unknown";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("model name")) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  utsname u{};
  ::uname(&u);
  // The source tree this binary was built from (BUILD/bin/butterfly), as find_manifest() finds it.
  const auto manifest = runtime::find_manifest();
  std::string commit = "unknown";
  if (!manifest.empty()) {
    const std::string src = manifest.parent_path().parent_path().string();
    commit = first_line_of("git -C '" + src + "' rev-parse --short HEAD 2>/dev/null");
    if (!first_line_of("git -C '" + src + "' status --porcelain --untracked-files=no 2>/dev/null").empty()) {
      commit += " + uncommitted changes";
    }
  }
  return {{"cpu", cpu},
          {"cores", std::thread::hardware_concurrency()},
          {"kernel", std::string(u.release)},
          {"load_average_1m_at_start", load},
          {"build_type", BUTTERFLY_BUILD_TYPE},
          {"commit", commit}};
}

inline void print_machine(const json& m, const std::string& command) {
  std::cout << "machine: " << m["cpu"].get<std::string>() << ", " << m["cores"].get<unsigned>()
            << " cores (load generator, head and workers share them), kernel " << m["kernel"].get<std::string>()
            << ", load average " << m["load_average_1m_at_start"].get<std::string>() << "\n"
            << "build:   " << m["build_type"].get<std::string>() << ", commit " << m["commit"].get<std::string>() << "\n"
            << "rerun:   " << command << "\n";
}

// CPU seconds (user + system) a process has used so far, from /proc/PID/stat; -1 when gone.
inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15: utime, stime in clock ticks
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// ---- HTTP ----

struct HttpReply {
  bool ok = false;  // a response arrived (any status)
  unsigned status = 0;
  std::string body;  // or what went wrong
};

// One keep-alive connection for sequential requests, each with a deadline (status polls).
class Client {
 public:
  explicit Client(tcp::endpoint endpoint) : endpoint_(endpoint) {}

  HttpReply call(bhttp::verb verb, const std::string& target, const std::string& body, std::uint32_t timeout_ms) {
    HttpReply r = once(verb, target, body, timeout_ms);
    if (!r.ok) {  // the head may have closed an idle keep-alive connection: one fresh try
      stream_.reset();
      r = once(verb, target, body, timeout_ms);
    }
    return r;
  }

 private:
  HttpReply once(bhttp::verb verb, const std::string& target, const std::string& body, std::uint32_t timeout_ms) {
    HttpReply result{false, 0, "no reply"};
    io_.restart();
    asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
      boost::system::error_code ec;
      auto await_ec = asio::redirect_error(asio::use_awaitable, ec);
      if (!stream_) {
        stream_ = std::make_unique<beast::tcp_stream>(io_);
        stream_->expires_after(std::chrono::milliseconds(timeout_ms));
        co_await stream_->async_connect(endpoint_, await_ec);
        if (ec) {
          result.body = "cannot connect: " + ec.message();
          stream_.reset();
          co_return;
        }
      }
      bhttp::request<bhttp::string_body> req{verb, target, 11};
      req.set(bhttp::field::host, "butterfly");
      if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
      stream_->expires_after(std::chrono::milliseconds(timeout_ms));
      co_await bhttp::async_write(*stream_, req, await_ec);
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(reply_bytes_max);
      if (!ec) co_await bhttp::async_read(*stream_, buffer_, parser, await_ec);
      if (ec) {
        result.body = ec.message();
        stream_.reset();
        buffer_.clear();
        co_return;
      }
      result = {true, parser.get().result_int(), std::move(parser.get().body())};
      if (!parser.get().keep_alive()) stream_.reset();
    }, asio::detached);
    io_.run();
    return result;
  }

  tcp::endpoint endpoint_;
  asio::io_context io_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

// ---- the head's view (GET /v1/status, /metrics): detection and faults ----

// The head's view of one worker: connected or not (-1: no answer).
inline int worker_connected(Client& client, std::size_t w) {
  const auto r = client.call(bhttp::verb::get, "/v1/status", "", 2000);
  if (!r.ok || r.status != 200) return -1;
  const auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("workers") || j["workers"].size() <= w) return -1;
  return j["workers"][w].value("connected", false) ? 1 : 0;
}

// Polls /v1/status until worker w's state is `want`; the time it was first seen, or nothing.
inline std::optional<Clock::time_point> wait_state(Client& client, std::size_t w, int want, std::uint32_t timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (worker_connected(client, w) == want) return Clock::now();
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return std::nullopt;
}

// butterfly_detections_total by kind (nothing: no answer).
inline std::optional<std::map<std::string, double>> detections_by_kind(Client& client) {
  const auto r = client.call(bhttp::verb::get, "/metrics", "", 2000);
  if (!r.ok || r.status != 200) return std::nullopt;
  std::map<std::string, double> out;
  const std::string prefix = "butterfly_detections_total{kind=\"";
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(prefix)) continue;
    const auto close = line.find("\"} ", prefix.size());
    if (close == std::string::npos) continue;
    out[line.substr(prefix.size(), close - prefix.size())] += std::strtod(line.c_str() + close + 3, nullptr);
  }
  return out;
}

// Sum of butterfly_detections_total over the given kinds (-1: no answer).
inline double detections(Client& client, const std::vector<std::string>& kinds) {
  const auto by_kind = detections_by_kind(client);
  if (!by_kind) return -1;
  double total = 0;
  for (const auto& k : kinds) {
    if (auto it = by_kind->find(k); it != by_kind->end()) total += it->second;
  }
  return total;
}

// ---- the load generator ----

// The per-query stages the head reports in "timings_us" (runtime/head_process.cpp, spec/http.md).
constexpr const char* head_stages[] = {"dispatch", "wait", "decide", "commit", "reply", "head", "total"};

// The JSON body of query k (distinct texts, so no two queries share a query id).
inline std::string default_query_body(std::uint64_t k) { return R"({"query": "2+2? )" + std::to_string(k) + R"("})"; }

// One query as the load generator saw it, for suites that judge each reply (bench_faults.cpp).
struct QueryRecord {
  std::uint64_t k = 0;  // body_of(k) was its body
  Clock::time_point scheduled, done;
  bool sent = false;     // false: no connection, the query never left
  unsigned status = 0;   // HTTP status; 0: no reply (error says why)
  std::string error;
  std::string_view body;  // the reply, valid only during the call
};

struct LoadSpec {
  std::function<std::string(std::uint64_t)> body_of = default_query_body;
  std::function<void(const QueryRecord&)> on_reply;  // optional: every query, warm-up included
  tcp::endpoint endpoint;
  double duration_s = 10;
  double warmup_s = 1;            // results of the first seconds are dropped (connections, caches)
  std::uint32_t concurrency = 32;  // connections
  double rate = 0;                 // 0: closed loop; else queries per second, open loop
};

struct LoadResult {
  std::uint64_t sent = 0;  // after the warm-up
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> errors;  // kind -> count (after the warm-up)
  std::vector<double> latency_us;
  std::map<std::string, std::vector<double>> stages_us;
  std::uint64_t missing_timings = 0;
  double measured_s = 0;
};

// Reads the flat "timings_us" object out of a /v1/query reply without parsing the whole reply
// (it carries the certificate in hex: parsing all of it would load the shared cores).
inline std::optional<json> timings_of(const std::string& body) {
  const auto at = body.find("\"timings_us\":");
  if (at == std::string::npos) return std::nullopt;
  const auto open = body.find('{', at);
  const auto close = open == std::string::npos ? open : body.find('}', open);
  if (close == std::string::npos) return std::nullopt;
  auto j = json::parse(body.begin() + static_cast<std::ptrdiff_t>(open), body.begin() + static_cast<std::ptrdiff_t>(close) + 1,
                       nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

class LoadGenerator {
 public:
  explicit LoadGenerator(LoadSpec spec) : spec_(spec) {}

  LoadResult run() {
    start_ = Clock::now();
    measure_from_ = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec_.warmup_s));
    end_ = measure_from_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec_.duration_s));
    connections_.resize(spec_.concurrency);
    if (spec_.rate > 0) {
      asio::co_spawn(io_, schedule(), asio::detached);
    } else {
      for (std::size_t c = 0; c < connections_.size(); ++c) asio::co_spawn(io_, closed_loop(c), asio::detached);
    }
    io_.run();
    result_.measured_s = std::chrono::duration<double>(end_ - measure_from_).count();
    return std::move(result_);
  }

 private:
  struct Connection {
    std::unique_ptr<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    bool busy = false;
  };

  bool measuring(Clock::time_point t) const { return t >= measure_from_ && t < end_; }

  void error(Clock::time_point sent_at, const std::string& kind) {
    if (measuring(sent_at)) ++result_.errors[kind];
  }

  // One query on connection c, sent at `scheduled` (open loop) or now (closed loop).
  asio::awaitable<void> one_query(std::size_t c, Clock::time_point scheduled) {
    Connection& conn = connections_[c];
    boost::system::error_code ec;
    auto await_ec = asio::redirect_error(asio::use_awaitable, ec);
    if (!conn.stream) {
      conn.stream = std::make_unique<beast::tcp_stream>(io_);
      conn.buffer.clear();
      conn.stream->expires_after(std::chrono::seconds(10));
      co_await conn.stream->async_connect(spec_.endpoint, await_ec);
      if (ec) {
        error(scheduled, "connect: " + ec.message());
        if (spec_.on_reply) spec_.on_reply({0, scheduled, Clock::now(), false, 0, "connect: " + ec.message(), {}});
        conn.stream.reset();
        // Do not spin on a head that refuses connections.
        asio::steady_timer pause(io_, std::chrono::milliseconds(10));
        co_await pause.async_wait(await_ec);
        co_return;
      }
      conn.stream->socket().set_option(tcp::no_delay(true), ec);
    }
    const bool counted = measuring(scheduled);
    if (counted) ++result_.sent;
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/query", 11};
    req.set(bhttp::field::host, "butterfly");
    req.set(bhttp::field::content_type, "application/json");
    const std::uint64_t k = next_query_++;
    req.body() = spec_.body_of(k);
    req.keep_alive(true);
    req.prepare_payload();
    conn.stream->expires_after(std::chrono::seconds(30));
    co_await bhttp::async_write(*conn.stream, req, await_ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(reply_bytes_max);
    if (!ec) co_await bhttp::async_read(*conn.stream, conn.buffer, parser, await_ec);
    const auto done = Clock::now();
    if (ec) {
      error(scheduled, ec == beast::error::timeout ? "timeout (30 s)" : "io: " + ec.message());
      if (spec_.on_reply) spec_.on_reply({k, scheduled, done, true, 0, ec == beast::error::timeout ? "timeout (30 s)" : "io: " + ec.message(), {}});
      conn.stream.reset();
      co_return;
    }
    auto& res = parser.get();
    if (spec_.on_reply) spec_.on_reply({k, scheduled, done, true, res.result_int(), {}, res.body()});
    if (!res.keep_alive()) conn.stream.reset();
    if (res.result_int() == 200) ++answered_total_;
    if (!counted) co_return;
    if (res.result_int() != 200) {
      ++result_.errors["http " + std::to_string(res.result_int())];
      return_error_excerpt(res.body());
      co_return;
    }
    ++result_.ok;
    result_.latency_us.push_back(us_between(scheduled, done));
    if (auto t = timings_of(res.body())) {
      for (const char* stage : head_stages) {
        if (t->contains(stage) && (*t)[stage].is_number()) result_.stages_us[stage].push_back((*t)[stage].get<double>());
      }
    } else {
      ++result_.missing_timings;
    }
  }

  void return_error_excerpt(const std::string& body) {
    if (first_error_.empty()) first_error_ = body.substr(0, 300);
  }

  asio::awaitable<void> closed_loop(std::size_t c) {
    while (Clock::now() < end_) co_await one_query(c, Clock::now());
  }

  // Open loop: query k is due at start + k / rate; a free connection takes it at once, else it
  // waits in the backlog for the next connection to free up (its wait counts in its latency).
  asio::awaitable<void> schedule() {
    asio::steady_timer timer(io_);
    const double period_s = 1.0 / spec_.rate;
    for (std::uint64_t k = 0;; ++k) {
      const auto due = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(period_s * static_cast<double>(k)));
      if (due >= end_) break;
      if (due > Clock::now()) {
        timer.expires_at(due);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      if (backlog_.size() >= backlog_max) {
        error(due, "backlog full");
        continue;
      }
      backlog_.push_back(due);
      for (std::size_t c = 0; c < connections_.size(); ++c) {
        if (!connections_[c].busy) {
          connections_[c].busy = true;
          asio::co_spawn(io_, drain_backlog(c), asio::detached);
          break;
        }
      }
    }
  }

  asio::awaitable<void> drain_backlog(std::size_t c) {
    while (!backlog_.empty()) {
      const auto due = backlog_.front();
      backlog_.pop_front();
      co_await one_query(c, due);
    }
    connections_[c].busy = false;
  }

  LoadSpec spec_;
  asio::io_context io_;
  std::vector<Connection> connections_;
  std::deque<Clock::time_point> backlog_;
  Clock::time_point start_, measure_from_, end_;
  std::uint64_t next_query_ = 0;
  LoadResult result_;

 public:
  std::string first_error_;
  std::uint64_t answered_total_ = 0;  // warm-up included
};

// ---- clusters ----

struct BenchOptions {
  std::string suite;
  std::string workers = "4,16";
  double duration_s = 10;
  double warmup_s = 1;
  std::uint32_t concurrency = 32;
  double rate = 0;
  std::uint32_t trials = 10;
  bool json_out = false;
  std::string out = "bench/results";
  std::string dir;
  bool keep = false;
  bool smoke = false;  // every suite: a short run that still takes every code path (CI)
  double faults_rate = 100;     // faults: open-loop queries/s during every scenario
  double faults_phase_s = 10;   // faults: seconds of load before, during and after each fault
  double faults_fp_s = 10;      // faults: seconds of closed-loop load on an honest cluster (false positives)
  bool workers_given = false;   // --workers was on the command line (suites with their own default)
  std::uint32_t scaling_model_ms = 50;        // scaling: the synthetic model's time (fixed:MS)
  std::uint32_t scaling_queries = 20;         // scaling: sequential queries per n, synthetic model
  double scaling_per_worker_qps = 5;          // scaling: offered load per worker (weak scaling)
  std::string scaling_real_workers = "1,2,4";  // scaling: n with builtin:smollm2 ("none": skip)
  std::uint32_t scaling_real_queries = 4;     // scaling: sequential queries per n, real model
  std::uint32_t scaling_max_tokens = 16;      // scaling: the real model's answer budget
  std::string accuracy_data = "data";          // accuracy: where arith.jsonl, formal.jsonl, arc-*.jsonl are
  std::uint32_t accuracy_items = 0;            // accuracy: items per set (0: accuracy_items_default, 1 with --smoke)
};

inline constexpr std::uint32_t accuracy_items_default = 5;  // accuracy: 6 took 525 s at load average 11 (budget 480 s)

inline std::vector<std::uint32_t> parse_workers(const std::string& text) {
  std::vector<std::uint32_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    std::uint32_t n = 0;
    const auto [end, err] = std::from_chars(item.data(), item.data() + item.size(), n);
    if (err != std::errc{} || end != item.data() + item.size() || n < 1 || n > bench_workers_max) {
      fail("--workers: '" + item + "' is not a worker count 1..64; write e.g. --workers 4,16");
    }
    out.push_back(n);
  }
  if (out.empty()) fail("--workers: give at least one count, e.g. --workers 4,16");
  return out;
}

// A started cluster; stopped (SIGTERM, then SIGKILL) when it goes out of scope.
class Cluster {
 public:
  // MODEL is a worker --model SPEC; HEAD_ARGS and WORKER_ARGS are added to the head's and every
  // worker's command line.
  Cluster(fs::path dir, std::uint32_t n, std::uint32_t byzantine, const std::string& kind,
          const std::string& model = "instant:4", const std::vector<std::string>& head_args = {},
          std::uint32_t round_timeout_ms = cluster_round_timeout_ms_default,
          const std::vector<std::string>& worker_args = {})
      : dir_(std::move(dir)) {
    StartOptions o;
    o.workers = n;
    o.byzantine = byzantine;
    o.kind = kind;
    o.model = model;
    o.dir = dir_.string();
    o.quiet = true;
    o.round_timeout_ms = round_timeout_ms;
    o.worker_args = worker_args;
    o.head_args = {"--http-rate", bench_http_rate};
    o.head_args.insert(o.head_args.end(), head_args.begin(), head_args.end());
    int started = exit_failed;
    try {
      started = run_cluster_start(o);
    } catch (const Exit&) {  // it said why; stop whatever it had started
    }
    if (started != exit_ok) {
      if (fs::exists(dir_ / "cluster.json")) (void)run_cluster_stop(dir_.string(), false, true);
      fail("the cluster in " + dir_.string() + " did not start: see its logs in " + (dir_ / "logs").string(), exit_failed);
    }
    started_ = true;
    std::ifstream in(dir_ / "cluster.json");
    info_ = json::parse(in, nullptr, false);
    if (info_.is_discarded()) fail("cannot read " + (dir_ / "cluster.json").string(), exit_failed);
    auto ep = runtime::net::parse_endpoint(info_["http"].get<std::string>());
    if (!ep) fail(ep.error().message, exit_failed);
    endpoint_ = *ep;
  }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;
  ~Cluster() {
    if (!started_) return;
    try {
      (void)run_cluster_stop(dir_.string(), false, true);
      reap();
    } catch (...) {  // a destructor must not throw; the processes were signalled or are gone
    }
  }

  [[nodiscard]] tcp::endpoint endpoint() const { return endpoint_; }
  [[nodiscard]] pid_t worker_pid(std::size_t w) const { return info_["workers"][w]["pid"].get<pid_t>(); }
  [[nodiscard]] std::size_t n() const { return info_["workers"].size(); }
  [[nodiscard]] pid_t head_pid() const { return info_["head"]["pid"].get<pid_t>(); }

  // Starts worker w again with its original command line (after a crash trial).
  void restart_worker(std::size_t w) {
    auto& entry = info_["workers"][w];
    const auto args = entry["args"].get<std::vector<std::string>>();
    const pid_t pid = spawn_detached("bench run", args, entry["log"].get<std::string>());
    entry["pid"] = pid;
    // cluster stop reads the pids from cluster.json: keep it current.
    std::ofstream(dir_ / "cluster.json") << info_.dump(2) << "\n";
  }

 private:
  // The processes are our children (posix_spawn): collect them so no zombie stays behind.
  void reap() const {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  fs::path dir_;
  bool started_ = false;
  json info_;
  tcp::endpoint endpoint_;
};

inline fs::path make_work_dir(const BenchOptions& o) {
  if (!o.dir.empty()) {
    std::error_code ec;
    fs::create_directories(o.dir, ec);
    if (ec) fail("cannot create " + o.dir + ": " + ec.message());
    return fs::absolute(o.dir);
  }
  std::string templ = (fs::temp_directory_path() / "butterfly-bench-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) fail("cannot create a directory in " + fs::temp_directory_path().string(), exit_failed);
  return templ;
}

inline void write_results(const BenchOptions& o, const std::string& name, const json& j) {
  std::error_code ec;
  fs::create_directories(o.out, ec);
  const fs::path path = fs::path(o.out) / (name + ".json");
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) fail("cannot write " + path.string(), exit_failed);
  std::cout << "results: " << fs::absolute(path).string() << "\n";
}

int run_accuracy(const BenchOptions& o);  // cli/bench_accuracy.cpp
int run_scaling(const BenchOptions& o);  // cli/bench_scaling.cpp
int run_faults(const BenchOptions& o);  // cli/bench_faults.cpp

}  // namespace bf::cli::bench
