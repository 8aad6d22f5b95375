// butterfly bench run overhead|detection: the cluster head's benchmarks (issue 5 "Performance",
// issue 9 suites `overhead` and `faults`). Each suite starts a real loopback cluster of separate
// processes (the same one `butterfly cluster start` makes, cli/cluster.hpp) with `instant:`
// workers, so no model time is in the figures, measures it from this process, and stops it.
//
//   overhead   an HTTP load generator (Beast, in this process, one thread) against POST /v1/query:
//              closed loop (C keep-alive connections, each sends its next query when the last
//              answer arrives) or open loop (--rate: queries scheduled at a fixed rate, latency
//              counted from the scheduled time so a slow head cannot hide its queueing). Reports
//              achieved QPS, errors by kind, client latency and the head's own per-stage split
//              (the "timings_us" of each reply, spec/http.md).
//   detection  crash (SIGKILL of a worker), partition (SIGSTOP: the worker's traffic stops while
//              its sockets stay open) and Byzantine (a worker that lies or equivocates) detection
//              times over repeated trials, with the head's default timeouts.
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

namespace bf::cli {
namespace {

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

[[noreturn]] void fail(const std::string& message, int code = exit_usage) {
  std::cerr << "butterfly bench run: " << message << "\n";
  throw Exit{code};
}

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// ---- statistics ----

struct Summary {
  std::size_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;
};

// Nearest-rank percentile of sorted values: the smallest value with at least p% at or below it.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

Summary summarize(std::vector<double> v) {
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

json summary_json(const Summary& s) {
  return {{"count", s.count}, {"p50", s.p50}, {"p95", s.p95}, {"p99", s.p99}, {"max", s.max}, {"mean", s.mean}};
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ---- where and what ran ----

std::string first_line_of(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[256];
    if (std::fgets(buf, sizeof buf, p) != nullptr) out = buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

json machine_json() {
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

void print_machine(const json& m, const std::string& command) {
  std::cout << "machine: " << m["cpu"].get<std::string>() << ", " << m["cores"].get<unsigned>()
            << " cores (load generator, head and workers share them), kernel " << m["kernel"].get<std::string>()
            << ", load average " << m["load_average_1m_at_start"].get<std::string>() << "\n"
            << "build:   " << m["build_type"].get<std::string>() << ", commit " << m["commit"].get<std::string>() << "\n"
            << "rerun:   " << command << "\n";
}

// CPU seconds (user + system) a process has used so far, from /proc/PID/stat; -1 when gone.
double cpu_seconds(pid_t pid) {
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

// ---- the load generator ----

// The per-query stages the head reports in "timings_us" (runtime/head_process.cpp, spec/http.md).
constexpr const char* head_stages[] = {"dispatch", "wait", "decide", "commit", "reply", "head", "total"};

struct LoadSpec {
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
std::optional<json> timings_of(const std::string& body) {
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
    // A distinct text per query, so no two queries share a query id.
    req.body() = R"({"query": "2+2? )" + std::to_string(next_query_++) + R"("})";
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
      conn.stream.reset();
      co_return;
    }
    auto& res = parser.get();
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
};

std::vector<std::uint32_t> parse_workers(const std::string& text) {
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
  Cluster(fs::path dir, std::uint32_t n, std::uint32_t byzantine, const std::string& kind) : dir_(std::move(dir)) {
    StartOptions o;
    o.workers = n;
    o.byzantine = byzantine;
    o.kind = kind;
    o.model = "instant:4";
    o.dir = dir_.string();
    o.quiet = true;
    o.head_args = {"--http-rate", bench_http_rate};
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

fs::path make_work_dir(const BenchOptions& o) {
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

void write_results(const BenchOptions& o, const std::string& name, const json& j) {
  std::error_code ec;
  fs::create_directories(o.out, ec);
  const fs::path path = fs::path(o.out) / (name + ".json");
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) fail("cannot write " + path.string(), exit_failed);
  std::cout << "results: " << fs::absolute(path).string() << "\n";
}

// ---- overhead ----

std::string overhead_command(const BenchOptions& o) {
  std::string c = "butterfly bench run overhead --workers " + o.workers + " --duration-s " + fixed(o.duration_s, 1) +
                   " --concurrency " + std::to_string(o.concurrency);
  if (o.rate > 0) c += " --rate " + fixed(o.rate, 0);
  if (o.json_out) c += " --json --out " + o.out;
  return c;
}

// The head's stages as the issue names them, from the reply's timings_us (spec/http.md).
struct StageRow {
  const char* name;
  std::vector<const char*> parts;  // summed per query
  const char* meaning;
};
const std::vector<StageRow>& stage_rows() {
  static const std::vector<StageRow> rows = {
      {"network", {"wait"}, "Asks sent until the deciding answer is taken up: loopback, the workers' verify+sign, the head's handling of the other answers and queueing"},
      {"consensus+fusion", {"decide"}, "the logic call that verified the deciding answer, tallied, decided, fused and signed the certificate"},
      {"commit", {"commit"}, "certificate file write+fsync and the group directory fsync"},
      {"scheduling", {"dispatch", "reply"}, "submit and encode the Asks, then wake the request and build the reply"},
      {"head overhead", {"head"}, "all of the head's time for the query except `network` (total - wait)"},
      {"head excl. commit", {"dispatch", "decide", "reply"}, "the head's work on the query's path without the wait for the disk (dispatch + decide + reply)"},
      {"head total", {"total"}, "request handler entry to reply built (excludes HTTP parsing and the socket write)"},
  };
  return rows;
}

json run_overhead_once(const BenchOptions& o, const fs::path& work, std::uint32_t n) {
  Cluster cluster(work / ("overhead-n" + std::to_string(n)), n, 0, "wrong");
  LoadSpec spec;
  spec.endpoint = cluster.endpoint();
  spec.duration_s = o.duration_s;
  spec.warmup_s = o.warmup_s;
  spec.concurrency = o.concurrency;
  spec.rate = o.rate;
  // CPU used per answered query by each party: independent of what else shares the cores.
  const auto cpu_now = [&] {
    std::vector<double> v = {cpu_seconds(cluster.head_pid()), 0.0, cpu_seconds(::getpid())};
    for (std::size_t w = 0; w < cluster.n(); ++w) v[1] += cpu_seconds(cluster.worker_pid(w));
    return v;
  };
  LoadGenerator gen(spec);
  const auto cpu_before = cpu_now();
  auto r = gen.run();
  const auto cpu_after = cpu_now();
  Client status_client(cluster.endpoint());
  const auto status = status_client.call(bhttp::verb::get, "/v1/status", "", 5000);
  std::size_t eligible = 0;
  if (const auto sj = json::parse(status.body, nullptr, false); !sj.is_discarded() && sj.contains("workers")) {
    for (const auto& w : sj["workers"]) eligible += w.value("eligible", false) && w.value("connected", false) ? 1 : 0;
  }
  const double qps = static_cast<double>(r.ok) / r.measured_s;
  std::uint64_t errors = 0;
  json errors_json = json::object();
  for (const auto& [kind, count] : r.errors) {
    errors += count;
    errors_json[kind] = count;
  }
  json stages = json::object();
  for (const auto& [name, values] : r.stages_us) stages[name] = summary_json(summarize(values));
  json split = json::array();
  std::cout << "\nn = " << n << " (f = " << (n - 1) / 3 << "), " << (o.rate > 0 ? "open loop at " + fixed(o.rate, 0) + " queries/s, " : "closed loop, ")
            << o.concurrency << " connections, " << fixed(r.measured_s, 1) << " s measured after " << fixed(o.warmup_s, 1)
            << " s warm-up\n";
  std::cout << "  achieved: " << fixed(qps, 0) << " queries/s (" << r.ok << " answered, " << errors << " errors)\n";
  for (const auto& [kind, count] : r.errors) std::cout << "    error " << kind << ": " << count << "\n";
  if (!gen.first_error_.empty()) std::cout << "    first error reply: " << gen.first_error_ << "\n";
  const auto lat = summarize(r.latency_us);
  // The warm-up's queries are in the CPU figures too: divide by every answered query.
  const double all_answered = static_cast<double>(std::max<std::uint64_t>(1, gen.answered_total_));
  json cpu = {{"head_us_per_query", (cpu_after[0] - cpu_before[0]) * 1e6 / all_answered},
              {"workers_us_per_query", (cpu_after[1] - cpu_before[1]) * 1e6 / all_answered},
              {"load_generator_us_per_query", (cpu_after[2] - cpu_before[2]) * 1e6 / all_answered}};
  std::cout << "  CPU per query: head " << fixed(cpu["head_us_per_query"].get<double>(), 0) << " us, " << n
            << " workers together " << fixed(cpu["workers_us_per_query"].get<double>(), 0) << " us, load generator "
            << fixed(cpu["load_generator_us_per_query"].get<double>(), 0) << " us\n";
  std::cout << "  workers eligible and connected at the end: " << eligible << " of " << n << "\n";
  std::cout << "  client latency: p50 " << fixed(lat.p50 / 1000, 3) << " ms, p99 " << fixed(lat.p99 / 1000, 3)
            << " ms, max " << fixed(lat.max / 1000, 3) << " ms\n";
  std::cout << "  head stages (from each reply's timings_us), p50 / p99 ms:\n";
  for (const auto& row : stage_rows()) {
    std::vector<double> per_query;
    const auto& first = r.stages_us[row.parts[0]];
    per_query.resize(first.size(), 0.0);
    for (const char* part : row.parts) {
      const auto& v = r.stages_us[part];
      for (std::size_t i = 0; i < per_query.size() && i < v.size(); ++i) per_query[i] += v[i];
    }
    const auto s = summarize(per_query);
    std::cout << "    " << row.name << std::string(18 - std::min<std::size_t>(17, std::string(row.name).size()), ' ')
              << fixed(s.p50 / 1000, 3) << " / " << fixed(s.p99 / 1000, 3) << "\n";
    split.push_back({{"stage", row.name}, {"parts", row.parts}, {"meaning", row.meaning}, {"us", summary_json(s)}});
  }
  return {{"n", n},
          {"f", (n - 1) / 3},
          {"mode", o.rate > 0 ? "open" : "closed"},
          {"rate_target", o.rate},
          {"connections", o.concurrency},
          {"measured_s", r.measured_s},
          {"warmup_s", o.warmup_s},
          {"sent", r.sent},
          {"answered", r.ok},
          {"qps", qps},
          {"errors", errors},
          {"errors_by_kind", errors_json},
          {"replies_without_timings", r.missing_timings},
          {"latency_us", summary_json(lat)},
          {"cpu", cpu},
          {"eligible_workers_at_end", eligible},
          {"head_timings_us", stages},
          {"stages", split}};
}

int run_overhead(const BenchOptions& o) {
  const auto counts = parse_workers(o.workers);
  const auto machine = machine_json();
  const std::string command = overhead_command(o);
  std::cout << "butterfly bench run overhead: instant workers (model instant:4, no process per query), head and "
               "workers as separate processes on loopback\n";
  print_machine(machine, command);
  const fs::path work = make_work_dir(o);
  json runs = json::array();
  std::uint64_t errors = 0;
  for (std::uint32_t n : counts) {
    runs.push_back(run_overhead_once(o, work, n));
    errors += runs.back()["errors"].get<std::uint64_t>();
  }
  if (!o.keep && o.dir.empty()) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  const json result = {{"suite", "overhead"}, {"machine", machine}, {"command", command}, {"runs", runs},
                       {"definitions", "timings_us per reply, spec/http.md; latency_us: client side, from the send "
                                       "(closed loop) or the scheduled time (open loop) to the whole reply read"}};
  if (o.json_out) write_results(o, o.rate > 0 ? "overhead-open" : "overhead", result);
  return errors == 0 ? exit_ok : exit_failed;
}

// ---- detection ----

// The head's view of one worker: connected or not (-1: no answer).
int worker_connected(Client& client, std::size_t w) {
  const auto r = client.call(bhttp::verb::get, "/v1/status", "", 2000);
  if (!r.ok || r.status != 200) return -1;
  const auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("workers") || j["workers"].size() <= w) return -1;
  return j["workers"][w].value("connected", false) ? 1 : 0;
}

// Polls /v1/status until worker w's state is `want`; the time it was first seen, or nothing.
std::optional<Clock::time_point> wait_state(Client& client, std::size_t w, int want, std::uint32_t timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (worker_connected(client, w) == want) return Clock::now();
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return std::nullopt;
}

// Sum of butterfly_detections_total over the given kinds (-1: no answer).
double detections(Client& client, const std::vector<std::string>& kinds) {
  const auto r = client.call(bhttp::verb::get, "/metrics", "", 2000);
  if (!r.ok || r.status != 200) return -1;
  double total = 0;
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    for (const auto& k : kinds) {
      const std::string prefix = "butterfly_detections_total{kind=\"" + k + "\"} ";
      if (line.starts_with(prefix)) total += std::stod(line.substr(prefix.size()));
    }
  }
  return total;
}

struct Trials {
  std::vector<double> ms;
  std::vector<double> queries;  // Byzantine: queries sent until the detection
  std::uint32_t missed = 0;
};

json trials_json(const std::string& kind, const Trials& t, double seed_ms, const std::string& definition) {
  const auto s = summarize(t.ms);
  json j = {{"fault", kind}, {"trials", t.ms.size() + t.missed}, {"detected", t.ms.size()}, {"missed", t.missed},
            {"ms", summary_json(s)}, {"samples_ms", t.ms}, {"seed_claim_ms", seed_ms}, {"target_ms", seed_ms / 5},
            {"target_met", t.missed == 0 && !t.ms.empty() && s.p95 <= seed_ms / 5}, {"definition", definition}};
  if (!t.queries.empty()) j["queries_until_detected"] = summary_json(summarize(t.queries));
  std::cout << "  " << kind << ": p50 " << fixed(s.p50, 1) << " ms, p95 " << fixed(s.p95, 1) << " ms, max "
            << fixed(s.max, 1) << " ms over " << t.ms.size() << " trials" << (t.missed ? " (" + std::to_string(t.missed) + " missed)" : "")
            << "; seed claims " << fixed(seed_ms, 0) << " ms, target " << fixed(seed_ms / 5, 1) << " ms: "
            << (j["target_met"].get<bool>() ? "met" : "MISSED") << "\n";
  return j;
}

// Crash (SIGKILL) or partition (SIGSTOP) of worker t % n in each trial.
Trials process_fault_trials(Cluster& cluster, std::uint32_t trials, bool partition) {
  Client client(cluster.endpoint());
  Trials t;
  for (std::uint32_t i = 0; i < trials; ++i) {
    const std::size_t w = i % cluster.n();
    // Every trial starts from a whole cluster: the last trial's worker is back too.
    for (const std::size_t v : {w, (i + cluster.n() - 1) % cluster.n()}) {
      if (!wait_state(client, v, 1, 10'000)) fail("worker " + std::to_string(v) + " did not (re)connect within 10 s", exit_failed);
    }
    const pid_t pid = cluster.worker_pid(w);
    const auto t0 = Clock::now();
    ::kill(pid, partition ? SIGSTOP : SIGKILL);
    const auto seen = wait_state(client, w, 0, 10'000);
    if (seen) {
      t.ms.push_back(us_between(t0, *seen) / 1000.0);
    } else {
      ++t.missed;
    }
    if (partition) {
      ::kill(pid, SIGCONT);
    } else {
      ::waitpid(pid, nullptr, 0);
      cluster.restart_worker(w);
    }
  }
  if (!wait_state(client, (trials - 1) % cluster.n(), 1, 10'000)) fail("a worker did not reconnect within 10 s", exit_failed);
  return t;
}

// A fresh cluster per trial (the head's reputation isolates a lying worker after a few queries,
// and a restarted head resumes that reputation from its log). Queries go one after another from
// this thread while another polls /metrics every 0.5 ms, so the time is the head's detection and
// not the certificate's commit that the reply waits for.
Trials byzantine_trials(const BenchOptions& o, const fs::path& work, std::uint32_t n, const std::string& kind) {
  Trials t;
  const std::vector<std::string> kinds = {"wrong-answer", "equivocation", "invalid-signature", "malformed", "isolated"};
  for (std::uint32_t i = 0; i < o.trials; ++i) {
    Cluster cluster(work / ("byzantine-" + kind + "-" + std::to_string(i)), n, 1, kind);
    Client client(cluster.endpoint());
    const double before = detections(client, kinds);
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> seen_at_ns{-1};
    const auto t0 = Clock::now();
    std::thread poller([&, endpoint = cluster.endpoint()] {
      Client metrics(endpoint);
      while (!stop.load()) {
        if (detections(metrics, kinds) > before) {
          seen_at_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
          return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    });
    int sent = 0;
    for (int q = 1; q <= 50 && seen_at_ns.load() < 0; ++q) {
      const auto r = client.call(bhttp::verb::post, "/v1/query", R"({"query": "2+2? )" + std::to_string(q) + R"("})", 30'000);
      sent = q;
      if (!r.ok) break;
    }
    // The last reply may come before the poller's next look: give it a moment.
    for (int k = 0; k < 200 && seen_at_ns.load() < 0; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stop = true;
    poller.join();
    if (seen_at_ns.load() >= 0) {
      t.ms.push_back(static_cast<double>(seen_at_ns.load()) / 1e6);
      t.queries.push_back(sent);
    } else {
      ++t.missed;
    }
  }
  return t;
}

int run_detection(const BenchOptions& o) {
  const auto counts = parse_workers(o.workers);
  const std::uint32_t n = counts.front();
  if (n < 4) fail("detection needs --workers 4 or more (f >= 1), so the cluster keeps deciding with one worker down");
  const auto machine = machine_json();
  std::string command = "butterfly bench run detection --workers " + std::to_string(n) + " --trials " + std::to_string(o.trials);
  if (o.json_out) command += " --json --out " + o.out;
  std::cout << "butterfly bench run detection: n = " << n << ", instant workers, the head's default timeouts (heartbeat "
            << runtime::HeadOptions{}.heartbeat_ms << " ms x " << runtime::HeadOptions{}.heartbeat_missed_max << " missed)\n";
  print_machine(machine, command);
  const fs::path work = make_work_dir(o);
  json faults = json::array();
  {
    Cluster cluster(work / "crash-partition", n, 0, "wrong");
    const auto crash = process_fault_trials(cluster, o.trials, false);
    faults.push_back(trials_json("crash", crash, 247,
                                 "SIGKILL of a worker until the head's GET /v1/status (polled every 0.5 ms) first shows it "
                                 "disconnected; the kernel closes the dead process's sockets, so the head sees the "
                                 "connection end"));
    const auto partition = process_fault_trials(cluster, o.trials, true);
    faults.push_back(trials_json("partition", partition, 1247,
                                 "SIGSTOP of a worker (its sockets stay open and its traffic stops) until GET "
                                 "/v1/status first shows it disconnected: the heartbeat deadline (silence, "
                                 "counted from the worker's last frame, longer than heartbeat_ms x "
                                 "heartbeat_missed_max, checked every heartbeat_ms)"));
  }
  for (const std::string kind : {"wrong", "equivocate"}) {
    const auto t = byzantine_trials(o, work, n, kind);
    faults.push_back(trials_json("byzantine-" + kind, t, 156,
                                 "a fresh cluster with one --byzantine " + kind + " worker, queries sent one after "
                                 "another: from the first query's send until /metrics (polled every 0.5 ms) "
                                 "counts a detection (wrong-answer, equivocation, invalid-signature, malformed "
                                 "or isolated)"));
  }
  if (!o.keep && o.dir.empty()) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  const json result = {{"suite", "detection"}, {"machine", machine}, {"command", command}, {"n", n},
                       {"head_defaults", {{"heartbeat_ms", runtime::HeadOptions{}.heartbeat_ms},
                                          {"heartbeat_missed_max", runtime::HeadOptions{}.heartbeat_missed_max},
                                          {"round_timeout_ms", cluster_round_timeout_ms_default}}},
                       {"faults", faults}};
  if (o.json_out) write_results(o, "detection", result);
  bool all_detected = true;
  for (const auto& f : faults) all_detected = all_detected && f["missed"].get<std::uint32_t>() == 0;
  return all_detected ? exit_ok : exit_failed;
}

}  // namespace

void add_bench_commands(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks of a real local cluster (head overhead, detection times)");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchOptions>();
  CLI::App* run = bench->add_subcommand("run", "Run a benchmark suite: overhead or detection");
  run->add_option("SUITE", o->suite, "overhead or detection")->required()->check(CLI::IsMember({"overhead", "detection"}));
  run->add_option("--workers", o->workers, "Worker counts n, comma separated (default 4,16; detection uses the first)");
  run->add_option("--duration-s", o->duration_s, "overhead: measured seconds per n (default 10)")->check(CLI::Range(0.1, duration_s_max));
  run->add_option("--warmup-s", o->warmup_s, "overhead: seconds of load before measuring (default 1)")->check(CLI::Range(0.0, 60.0));
  run->add_option("--concurrency", o->concurrency, "overhead: HTTP connections (default 32)")->check(CLI::Range(1u, concurrency_max));
  run->add_option("--rate", o->rate, "overhead: open loop at this many queries/s (default: closed loop)")->check(CLI::Range(0.0, 1e6));
  run->add_option("--trials", o->trials, "detection: trials per fault (default 10)")->check(CLI::Range(1u, trials_max));
  run->add_flag("--json", o->json_out,
                "Also write the results as JSON: --out DIR/overhead.json (overhead-open.json with --rate), detection.json");
  run->add_option("--out", o->out, "Where --json writes (default bench/results)");
  run->add_option("--dir", o->dir, "Where the clusters go (default: a new temporary directory, removed afterwards)");
  run->add_flag("--keep", o->keep, "Keep the clusters' directories (logs, certificates)");
  run->footer(
      "Examples:\n"
      "  butterfly bench run overhead                     n = 4 and 16, closed loop, 32 connections, 10 s each\n"
      "  butterfly bench run overhead --workers 4 --rate 2000 --duration-s 5\n"
      "  butterfly bench run detection --trials 10 --json --out bench/results\n"
      "Everything runs on this machine: the load generator, the head and the workers share its cores.");
  run->callback([o] {
    action() = [o] { return o->suite == "overhead" ? run_overhead(*o) : run_detection(*o); };
  });
}

}  // namespace bf::cli
