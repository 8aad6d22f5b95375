// butterfly cluster start|stop|status and butterfly query ask: a local cluster on loopback (a head
// and N workers as detached child processes of this binary) and a client that asks it a question
// and audits the certificate it gets back offline (runtime/auditor, as `butterfly cert verify`).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli.hpp"
#include "cli/cluster.hpp"
#include "cli/sentences.hpp"
#include "runtime/auditor.hpp"
#include "runtime/crypto.hpp"
#include "runtime/head_process.hpp"
#include "runtime/membership_file.hpp"
#include "runtime/net.hpp"
#include "runtime/sonify.hpp"
#include "runtime/speech.hpp"
#include "runtime/wav.hpp"

extern char** environ;

namespace bf::cli {
namespace {

namespace rt = runtime;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

inline constexpr std::uint32_t cluster_workers_max = 64;
inline constexpr std::size_t cluster_file_bytes_max = 1u << 20;
inline constexpr std::size_t response_bytes_max = 16u << 20;

[[noreturn]] void fail(const std::string& command, const std::string& message, int code = exit_usage) {
  std::cerr << "butterfly " << command << ": " << message << "\n";
  throw Exit{code};
}

// The built-in deterministic answer program: "A op B" arithmetic on the prompt's first line.
// Honest by construction; --byzantine makes the worker's logic lie, not this script.
constexpr const char* answer_script = R"SH(#!/bin/sh
# Butterfly's test model (written by `butterfly cluster start`): answers "A op B" arithmetic on the
# first line of the prompt (2+2?, 6*7, 10 / 4); anything else gets a fixed sentence. Deterministic.
head -n 1 | awk '{
  line = $0; gsub(/[?=]/, " ", line); gsub(/x/, "*", line)
  if (match(line, /-?[0-9]+(\.[0-9]+)? *[-+*\/] *-?[0-9]+(\.[0-9]+)?/)) {
    e = substr(line, RSTART, RLENGTH)
    if (match(e, /^-?[0-9]+(\.[0-9]+)?/)) { a = substr(e, 1, RLENGTH) + 0; rest = substr(e, RLENGTH + 1) }
    sub(/^ */, "", rest); op = substr(rest, 1, 1); b = substr(rest, 2) + 0
    if (op == "+") r = a + b; else if (op == "-") r = a - b; else if (op == "*") r = a * b;
    else if (b == 0) { print "undefined"; exit 0 } else r = a / b
    print r; exit 0
  }
  print "I can only do arithmetic."; exit 0
}'
)SH";

// One HTTP/1.1 request with a deadline, on a private io_context.
HttpResult http_call(const std::string& address, bhttp::verb verb, const std::string& target, const std::string& body,
                     std::uint32_t timeout_ms) {
  auto endpoint = rt::net::parse_endpoint(address);
  if (!endpoint) return {false, 0, endpoint.error().message};
  asio::io_context io;
  HttpResult result{false, 0, "no reply"};
  auto task = [&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(io);
    boost::system::error_code ec;
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    co_await stream.async_connect(*endpoint, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      result.body = "cannot connect to " + address + ": " + ec.message();
      co_return;
    }
    bhttp::request<bhttp::string_body> req{verb, target, 11};
    req.set(bhttp::field::host, address);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    co_await bhttp::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(response_bytes_max);
    if (!ec) co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      result.body = "HTTP exchange with " + address + " failed: " + ec.message();
      co_return;
    }
    result = {true, parser.get().result_int(), parser.get().body()};
  };
  asio::co_spawn(io, task(), [](std::exception_ptr) {});
  io.run();
  return result;
}

json read_json_file(const std::string& command, const fs::path& path) {
  auto raw = rt::read_file(path, cluster_file_bytes_max, path.filename().string());
  if (!raw) fail(command, raw.error().message + "; is there a cluster in this directory? (butterfly cluster start)");
  auto j = json::parse(raw->begin(), raw->end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(command, path.string() + " is not a JSON object");
  return j;
}

void write_text_file(const std::string& command, const fs::path& path, const std::string& text, fs::perms perms) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) fail(command, "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::permissions(tmp, perms, ec);
  fs::rename(tmp, path, ec);
  if (ec) fail(command, "cannot write " + path.string() + ": " + ec.message());
}

// A port free now, below Linux's ephemeral range (32768-60999): a port the kernel picks for us
// could be handed out again moments later as the local port of the head's outgoing connections
// before the worker binds it.
std::uint16_t free_port(std::vector<std::uint16_t>& taken) {
  static std::uint64_t state = static_cast<std::uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ull ^
                               static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  asio::io_context io;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const auto port = static_cast<std::uint16_t>(20000 + (state >> 33) % 12000);
    if (std::find(taken.begin(), taken.end(), port) != taken.end()) continue;
    boost::system::error_code ec;
    tcp::acceptor a(io);
    a.open(tcp::v4(), ec);
    if (!ec) a.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (ec) continue;
    taken.push_back(port);
    return port;
  }
  fail("cluster start", "found no free port in 20000-31999; give --base-port", exit_failed);
}

// Running (a zombie waiting for its new parent to reap it counts as gone).
bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

// Is `pid` still one of our butterfly processes (not a recycled pid)?
bool is_butterfly(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmdline.find("--membership") != std::string::npos;
}

}  // namespace

pid_t spawn_detached(const std::string& command, const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv_text = args;
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);  // detached: its own session, no terminal
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) fail(command, "cannot start " + args[1] + ": " + std::strerror(rc), exit_failed);
  return pid;
}

namespace {

constexpr std::uint32_t round_timeout_ms_default = cluster_round_timeout_ms_default;

// Built-in model workers: one system prompt each, in membership order.
// Built-in model workers: one specialist each, in membership order (written into the membership).
struct Specialist {
  const char* name;
  const char* system_prompt;
  float temperature;  // logic and formal decode greedily; pattern and creative sample a little
};
constexpr Specialist specialists[] = {
    {"logic", "You are a careful logician. Answer the question correctly and briefly.", 0.0F},
    {"pattern", "You are good at spotting patterns. Answer the question correctly in one short sentence.", 0.2F},
    {"formal", "You are a precise mathematician. State the correct answer plainly.", 0.0F},
    {"creative", "You are a creative thinker who always states the correct answer clearly.", 0.5F},
};

}  // namespace

int run_cluster_start(const StartOptions& o) {
  const std::string cmd = "cluster start";
  if (o.workers == 0 || o.workers > cluster_workers_max) fail(cmd, "--workers must be 1..64");
  const std::uint32_t f = o.f < 0 ? (o.workers - 1) / 3 : static_cast<std::uint32_t>(o.f);
  if (3 * f >= o.workers) fail(cmd, "--f " + std::to_string(f) + " needs more than 3f workers; lower --f or add workers");
  if (o.byzantine > o.workers) fail(cmd, "--byzantine exceeds --workers");
  const fs::path dir = fs::absolute(o.dir);
  if (fs::exists(dir / "cluster.json")) {
    const auto j = read_json_file(cmd, dir / "cluster.json");
    if (j.contains("head") && alive(j["head"].value("pid", 0)) && is_butterfly(j["head"].value("pid", 0))) {
      fail(cmd, "a cluster is already running in " + dir.string() + "; run 'butterfly cluster stop --dir " + o.dir + "' first");
    }
  }
  std::error_code ec;
  for (const char* sub : {"keys", "logs", "log"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) fail(cmd, "cannot create " + (dir / sub).string() + ": " + ec.message());
  }
  fs::permissions(dir / "keys", fs::perms::owner_all, ec);
  // Keys: reused when present (a restarted cluster keeps its identity and its log chain).
  for (std::uint32_t i = 0; i <= o.workers; ++i) {
    const fs::path path = dir / "keys" / (i == 0 ? std::string("head.key") : "worker-" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".key");
    if (fs::exists(path)) {
      if (auto k = rt::read_key_file(path); !k) fail(cmd, k.error().message);
    } else if (auto k = rt::generate_key_file(path); !k) {
      fail(cmd, k.error().message);
    }
  }
  const auto head_key = rt::read_key_file(dir / "keys" / "head.key").value().key;
  std::vector<core::cert::MemberKey> members;
  std::vector<std::string> ids;
  for (std::uint32_t i = 1; i <= o.workers; ++i) {
    const std::string id = "worker-" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    ids.push_back(id);
    members.push_back({id, rt::read_key_file(dir / "keys" / (id + ".key")).value().key.public_key});
  }
  auto membership = rt::make_membership_record("butterfly-local", 1, f, head_key.public_key, members);
  if (!membership) fail(cmd, membership.error().message);
  // Ports: consecutive from --base-port, else free ones the kernel picks now.
  std::vector<std::uint16_t> taken;
  const std::uint16_t http_port = o.base_port != 0 ? static_cast<std::uint16_t>(o.base_port) : free_port(taken);
  std::vector<std::uint16_t> ports;
  for (std::uint32_t i = 0; i < o.workers; ++i) {
    ports.push_back(o.base_port != 0 ? static_cast<std::uint16_t>(o.base_port + 1 + i) : free_port(taken));
  }
  for (std::uint32_t i = 0; i < o.workers; ++i) {
    if (auto ok = rt::set_worker_address(membership.value(), ids[i], "127.0.0.1:" + std::to_string(ports[i])); !ok) {
      fail(cmd, ok.error().message);
    }
  }
  std::string model = o.model;
  if (model.empty()) {
    write_text_file(cmd, dir / "answer.sh", answer_script, fs::perms::owner_all | fs::perms::group_read |
                                                              fs::perms::group_exec | fs::perms::others_read |
                                                              fs::perms::others_exec);
    model = "script:" + (dir / "answer.sh").string();
  }
  // The built-in model answers in seconds, not milliseconds: unless the user chose a deadline, a
  // round waits up to a minute. Its workers are specialists (seed section 3), declared in the
  // membership: the same weights under different system prompts, temperatures and seeds, so the
  // ensemble has some diversity.
  const bool builtin_model = model.starts_with("builtin:") || model.ends_with(".gguf");
  if (builtin_model) {
    for (std::uint32_t i = 0; i < o.workers; ++i) {
      const Specialist& sp = specialists[i % std::size(specialists)];
      if (auto ok = rt::set_worker_specialist(membership.value(), ids[i], {sp.name, sp.system_prompt, sp.temperature, i + 1ULL});
          !ok) {
        fail(cmd, ok.error().message);
      }
    }
  }
  const fs::path membership_path = dir / "membership.json";
  write_text_file(cmd, membership_path, rt::membership_json(*membership).dump(2) + "\n",
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  const std::uint32_t round_timeout_ms =
      builtin_model && o.round_timeout_ms == round_timeout_ms_default ? 60'000 : o.round_timeout_ms;
  const std::string http = "127.0.0.1:" + std::to_string(http_port);
  json cluster = {{"dir", dir.string()}, {"membership", membership_path.string()}, {"log_dir", (dir / "log").string()},
                  {"http", http}, {"n", o.workers}, {"f", f}, {"model", model}};
  json workers = json::array();
  for (std::uint32_t i = 0; i < o.workers; ++i) {
    // The membership sorts workers by id; ids are zero-padded so index i is ids[i].
    const bool byz = i >= o.workers - o.byzantine;
    std::vector<std::string> args = {"butterfly", "worker", "--key", (dir / "keys" / (ids[i] + ".key")).string(),
                                     "--membership", membership_path.string(), "--listen",
                                     "127.0.0.1:" + std::to_string(ports[i]), "--model", model};
    // Built-in model: the seed (and prompt, temperature) come from the worker's specialist entry.
    if (!builtin_model) args.insert(args.end(), {"--seed", std::to_string(i + 1)});
    args.insert(args.end(), o.worker_args.begin(), o.worker_args.end());
    if (byz) {
      args.insert(args.end(), {"--byzantine", o.kind});
      if (o.kind == "slow") args.insert(args.end(), {"--slow-ms", std::to_string(round_timeout_ms * 2)});
    }
    const pid_t pid = spawn_detached(cmd, args, dir / "logs" / (ids[i] + ".log"));
    workers.push_back({{"id", ids[i]}, {"pid", pid}, {"args", args},
                       {"specialist", builtin_model ? specialists[i % std::size(specialists)].name : "script"}, {"address", "127.0.0.1:" + std::to_string(ports[i])},
                       {"byzantine", byz ? o.kind : "none"}, {"log", (dir / "logs" / (ids[i] + ".log")).string()}});
  }
  std::vector<std::string> head_args = {"butterfly", "head", "--key", (dir / "keys" / "head.key").string(),
                                        "--membership", membership_path.string(), "--http", http, "--log-dir",
                                        (dir / "log").string(), "--round-timeout-ms", std::to_string(round_timeout_ms),
                                        "--heartbeat-ms", std::to_string(o.heartbeat_ms)};
  if (!o.manifest.empty()) head_args.insert(head_args.end(), {"--manifest", fs::absolute(o.manifest).string()});
  head_args.insert(head_args.end(), o.head_args.begin(), o.head_args.end());
  const pid_t head_pid = spawn_detached(cmd, head_args, dir / "logs" / "head.log");
  cluster["head"] = {{"pid", head_pid}, {"log", (dir / "logs" / "head.log").string()}, {"args", head_args}};
  cluster["workers"] = workers;
  write_text_file(cmd, dir / "cluster.json", cluster.dump(2) + "\n",
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);

  // Wait until the head reports every worker connected.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.wait_ms);
  std::size_t connected = 0;
  std::size_t shown = SIZE_MAX;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive(head_pid)) {
      fail(cmd, "the head exited during start-up; see " + (dir / "logs" / "head.log").string(), exit_failed);
    }
    const auto r = http_call(http, bhttp::verb::get, "/v1/status", "", 1000);
    if (r.ok && r.status == 200) {
      const auto j = json::parse(r.body, nullptr, false);
      if (!j.is_discarded()) connected = j.value("connected", std::size_t{0});
    }
    // Screen readers get the first and the last count as sentences, not every change.
    const bool sr = style().screen_reader;
    if (connected != shown && !o.json_out && !o.quiet && (!sr || shown == SIZE_MAX || connected == o.workers)) {
      if (sr) {
        std::cerr << connected << " of " << o.workers << " workers connected.\n";
      } else {
        std::cerr << "butterfly cluster start: " << connected << "/" << o.workers << " workers connected\n";
      }
      shown = connected;
    }
    if (connected == o.workers) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  cluster["connected"] = connected;
  if (o.json_out && !o.quiet) {
    std::cout << cluster.dump(2) << "\n";
  } else if (!o.quiet && style().screen_reader) {
    for (const auto& line : cluster_started_sentences(cluster, o.dir, o.byzantine, o.kind)) std::cout << line << "\n";
  } else if (!o.quiet) {
    std::cout << "cluster running in " << dir.string() << ": head at http://" << http << ", " << o.workers
              << " workers (n = " << o.workers << ", f = " << f << ")";
    if (o.byzantine > 0) std::cout << ", the last " << o.byzantine << " --byzantine " << o.kind;
    std::cout << "\n  ask:    butterfly query ask \"2+2?\" --dir " << o.dir << "\n"
              << "  http:   curl -s http://" << http << "/v1/query -d '{\"query\": \"2+2?\"}'\n"
              << "  status: butterfly cluster status --dir " << o.dir << "\n"
              << "  stop:   butterfly cluster stop --dir " << o.dir << "\n"
              << "  logs:   " << (dir / "logs").string() << "\n";
  }
  if (connected != o.workers) {
    std::cerr << "butterfly cluster start: only " << connected << " of " << o.workers
              << " workers connected in time; see the logs in " << (dir / "logs").string() << "\n";
    for (const auto& w : workers) {
      if (!alive(w["pid"].get<pid_t>())) {
        std::cerr << "  " << w["id"].get<std::string>() << " exited; its log " << w["log"].get<std::string>() << " ends:\n";
        std::ifstream in(w["log"].get<std::string>());
        std::string line, last;
        while (std::getline(in, line)) last = line;
        std::cerr << "    " << last << "\n";
      }
    }
    return exit_failed;
  }
  return exit_ok;
}

int run_cluster_stop(const std::string& dir_text, bool json_out, bool quiet) {
  const std::string cmd = "cluster stop";
  const fs::path dir = fs::absolute(dir_text);
  const auto j = read_json_file(cmd, dir / "cluster.json");
  std::vector<std::pair<std::string, pid_t>> procs;
  if (j.contains("head")) procs.emplace_back("head", j["head"].value("pid", 0));
  for (const auto& w : j.value("workers", json::array())) procs.emplace_back(w.value("id", "?"), w.value("pid", 0));
  json report = json::array();
  std::vector<bool> signaled;
  for (const auto& [name, pid] : procs) {
    signaled.push_back(alive(pid) && is_butterfly(pid) && ::kill(pid, SIGTERM) == 0);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (std::size_t i = 0; i < procs.size(); ++i) {
    const auto& [name, pid] = procs[i];
    std::string state = "was not running";
    if (signaled[i]) {
      while (alive(pid) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (alive(pid)) {
        ::kill(pid, SIGKILL);
        state = "killed (did not stop within 5 s of SIGTERM)";
      } else {
        state = "stopped";
      }
    }
    report.push_back({{"name", name}, {"pid", pid}, {"state", state}});
    if (!json_out && !quiet) std::cout << worker_label(name) << " (pid " << pid << "): " << state << "\n";
  }
  if (json_out && !quiet) std::cout << report.dump(2) << "\n";
  return exit_ok;
}

namespace {

std::string http_of(const std::string& cmd, const std::string& dir, const std::string& http) {
  if (!http.empty()) return http;
  const auto j = read_json_file(cmd, fs::absolute(dir) / "cluster.json");
  return j.value("http", std::string{});
}

int run_cluster_status(const std::string& dir, const std::string& http_arg, bool json_out) {
  const std::string cmd = "cluster status";
  const std::string http = http_of(cmd, dir, http_arg);
  const auto r = http_call(http, bhttp::verb::get, "/v1/status", "", 3000);
  if (!r.ok || r.status != 200) {
    fail(cmd, "the head at " + http + " does not answer: " + r.body + ". 'butterfly status --dir " + dir +
                  "' shows which processes are alive and their logs.",
         exit_failed);
  }
  const auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) fail(cmd, "the head's status is not JSON", exit_failed);
  if (json_out) {
    std::cout << j.dump(2) << "\n";
    return exit_ok;
  }
  if (style().screen_reader) {
    for (const auto& line : head_status_sentences(j, http)) std::cout << line << "\n";
    return exit_ok;
  }
  std::cout << "head at http://" << http << ": " << j.value("connected", 0) << "/" << j.value("n", 0)
            << " workers connected, next sequence " << j["chain"].value("next_sequence", 0) << ", "
            << j.value("queries_in_flight", 0) << " queries in flight\n";
  for (const auto& w : j["workers"]) {
    std::cout << "  " << worker_label(w.value("id", "?")) << "  " << w.value("address", "") << "  "
              << (w.value("connected", false) ? style().good("connected") : style().bad("disconnected"))
              << "  reputation " << w.value("reputation", 0.0) << (w.value("isolated", false) ? "  ISOLATED" : "")
              << "\n";
  }
  return exit_ok;
}

struct AskOptions {
  std::string text;
  std::string mode = "vote";
  std::string agreement = "exact";
  std::string dir = "butterfly-cluster";
  std::string http;
  std::string membership;
  std::uint32_t timeout_ms = 60'000;
  bool json_out = false;
  bool speak = false;
  std::string speak_out;  // WAV; default DIR/speech/answer.wav
  bool sound = false;     // tones: DIR/sound/submitted.wav at once, DIR/sound/outcome.wav after
};

// Joins a helper thread on every way out of a scope (fail() throws).
struct JoinOnExit {
  std::thread& t;
  ~JoinOnExit() {
    if (t.joinable()) t.join();
  }
};

double unix_now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One event's tone, written to `file` (replacing the last ask's) and played where a device exists.
// Returns when the samples were in the file (unix ms), for scripts/bench-accessibility. With
// `player`, playing happens on that thread (the caller joins it) so the query need not wait for it.
core::Result<double> sound_tone(const fs::path& file, rt::audio::EventKind kind, double latency_ms,
                                std::thread* player = nullptr) {
  const rt::audio::Event e{0, kind, std::nullopt, latency_ms};
  rt::audio::RenderOptions ro;
  ro.workers = 1;
  ro.tail_ms = 0;
  auto pcm = rt::audio::render_events(std::span(&e, 1), ro);
  if (!pcm) return pcm.error();
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  fs::remove(file, ec);
  if (auto ok = rt::audio::write_wav(file, *pcm); !ok) return ok.error();
  const double written = unix_now_ms();
  // No audio device is normal (servers, CI): the file is the record.
  if (player != nullptr) {
    *player = std::thread([p = std::move(*pcm)] { (void)rt::audio::play_pcm(p); });
  } else {
    (void)rt::audio::play_pcm(*pcm);
  }
  return written;
}

rt::audio::EventKind outcome_tone(const std::string& outcome) {
  if (outcome == "decided") return rt::audio::EventKind::query_decided;
  if (outcome == "no-quorum") return rt::audio::EventKind::partition;
  return rt::audio::EventKind::no_consensus;
}

int run_query_ask(const AskOptions& o) {
  const std::string cmd = "query ask";
  const std::string http = http_of(cmd, o.dir, o.http);
  std::string membership_path = o.membership;
  if (membership_path.empty()) membership_path = (fs::absolute(o.dir) / "membership.json").string();
  auto membership = rt::read_membership_file(membership_path);
  if (!membership) fail(cmd, membership.error().message + "; give --membership to verify the certificate");
  const json body = {{"query", o.text}, {"mode", o.mode}, {"agreement", o.agreement}};
  // Acknowledge at once: a real model takes most of a second, and silence until then cannot be told
  // from a lost query. Progress goes to stderr (stdout starts with the result); --speak says it too,
  // while the workers answer, and the answer is spoken after it.
  const std::string submitted = ask_submitted_sentence(membership->record.n, membership->record.q);
  if (!o.json_out && style().screen_reader) std::cerr << submitted << std::endl;
  const fs::path speech_dir = o.speak_out.empty() ? fs::absolute(o.dir) / "speech" : fs::path(o.speak_out).parent_path();
  std::thread acknowledging;
  core::Status acknowledged = core::Ok{};
  rt::audio::SpeakTimings ack_timings;
  if (o.speak) {
    std::error_code ec;
    fs::create_directories(speech_dir, ec);
    acknowledging = std::thread([&] {
      rt::audio::SpeakOptions ack;
      ack.out = speech_dir / "submitted.wav";
      ack.replace_out = true;
      std::string not_played;
      ack.note = &not_played;
      ack.timings = &ack_timings;
      acknowledged = rt::audio::speak_stream(std::vector<std::string>{submitted}, ack);
    });
  }
  json sound_report = json::object();
  const fs::path sound_dir = fs::absolute(o.dir) / "sound";
  std::thread ticking;
  const JoinOnExit join_tick{ticking};
  if (o.sound) {
    auto t = sound_tone(sound_dir / "submitted.wav", rt::audio::EventKind::query_sent, -1, &ticking);
    if (!t) fail(cmd, "could not sound the submission: " + t.error().message, exit_failed);
    sound_report["submitted"] = {{"file", (sound_dir / "submitted.wav").string()}, {"delivered_unix_ms", *t}};
  }
  const JoinOnExit join_ack{acknowledging};
  const auto r = http_call(http, bhttp::verb::post, "/v1/query", body.dump(), o.timeout_ms);
  if (!r.ok) {
    fail(cmd, r.body + (o.http.empty() ? ". Is the cluster running? 'butterfly status --dir " + o.dir +
                                             "' shows what it remembers; 'butterfly cluster start --dir " + o.dir +
                                             "' starts it."
                                       : ""),
         exit_failed);
  }
  auto reply = json::parse(r.body, nullptr, false);
  if (reply.is_discarded()) fail(cmd, "the head's reply is not JSON", exit_failed);
  if (r.status != 200) {
    const auto msg = reply.contains("error") ? reply["error"].value("message", r.body) : r.body;
    fail(cmd, "HTTP " + std::to_string(r.status) + ": " + msg, exit_failed);
  }
  // Verify offline: the bytes from the log file when we can read it, else the reply's hex.
  rt::Bytes bytes;
  const std::string path = reply.value("certificate_path", std::string{});
  if (auto b = rt::read_file(path, core::cert::record_bytes_max, "certificate"); b) {
    bytes = std::move(b.value());
  } else {
    const std::string h = reply.value("certificate", std::string{});
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) bytes.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  rt::VerifyOptions verify_options;
  if (const auto manifest = rt::find_manifest(); !manifest.empty()) {
    if (auto m = rt::read_manifest(manifest); m) verify_options.manifest = std::move(m.value());
  }
  const auto report = rt::verify_certificate(bytes, *membership, verify_options);
  json checks = json::array();
  for (const auto& c : report.checks) {
    checks.push_back({{"check", c.name}, {"state", rt::check_state_name(c.state)}, {"detail", c.detail}});
  }
  const bool pass = report.ok();
  if (o.sound) {
    const auto& timings = reply.contains("timings_ms") ? reply["timings_ms"] : json();
    const double latency = timings.is_object() && timings.contains("total") && timings["total"].is_number()
                               ? timings["total"].get<double>() : -1.0;
    if (ticking.joinable()) ticking.join();  // one tone after the other
    auto t = sound_tone(sound_dir / "outcome.wav", outcome_tone(reply.value("outcome", std::string{})), latency);
    if (!t) fail(cmd, "could not sound the outcome: " + t.error().message, exit_failed);
    sound_report["outcome"] = {{"file", (sound_dir / "outcome.wav").string()}, {"delivered_unix_ms", *t}};
    reply["sound"] = sound_report;
  }
  if (o.json_out) {
    reply.erase("certificate");  // the file has it; keep the output readable
    reply["verification"] = {{"verdict", pass ? "PASS" : "FAIL"}, {"checks", checks}, {"membership", membership_path}};
    if (!o.speak) std::cout << reply.dump(2) << "\n";  // with --speak: after the speech, with its timings
  } else if (style().screen_reader) {
    // Results first as sentences, then the details.
    const auto* failed = report.first_failure();
    for (const auto& line : ask_result_sentences(reply, pass, failed ? failed->name : "")) std::cout << line << "\n";
    std::cout << "Certificate file: " << path << ".\nAudited against " << membership_path << ".\n";
    for (const auto& c : report.checks) {
      std::cout << "Check " << c.name << ": " << rt::check_state_name(c.state) << (c.detail.empty() ? "" : ", " + c.detail)
                << ".\n";
    }
  } else {
    auto list = [](const json& a) {
      std::string s;
      for (const auto& x : a) s += (s.empty() ? "" : ", ") + worker_label(x.get<std::string>());
      return s.empty() ? std::string("none") : s;
    };
    std::string answer = reply.value("answer", std::string{});
    while (!answer.empty() && (answer.back() == '\n' || answer.back() == ' ')) answer.pop_back();
    std::cout << "answer:      " << answer << "\n"
              << "outcome:     " << reply.value("outcome", "?") << " (sequence " << reply.value("sequence", 0)
              << ", " << reply.value("rounds", 0) << " round(s))\n"
              << "signers:     " << list(reply["signers"]) << "\n"
              << "outvoted:    " << list(reply["outvoted"]) << "\n"
              << "silent:      " << list(reply["silent"]) << "\n"
              << "isolated:    " << list(reply["isolated"]) << "\n"
              << "certificate: " << path << "\n";
    for (const auto& c : report.checks) {
      std::cout << "  " << rt::check_state_name(c.state) << "  " << c.name << (c.detail.empty() ? "" : ": " + c.detail) << "\n";
    }
    std::cout << "verdict:     " << (pass ? style().good("PASS") : style().bad("FAIL")) << " (offline audit against "
              << membership_path << ")\n";
  }
  if (o.speak) {
    std::cout << std::flush;  // the text is on screen before the first word is spoken
    if (acknowledging.joinable()) acknowledging.join();  // never over the acknowledgement
    if (!acknowledged) std::cerr << "butterfly query ask: could not speak the acknowledgement: " << acknowledged.error().message << "\n";
    const auto* failed = report.first_failure();
    const auto sentences = ask_result_sentences(reply, pass, failed ? failed->name : "");
    rt::audio::SpeakOptions speak;
    speak.out = o.speak_out.empty() ? speech_dir / "answer.wav" : fs::path(o.speak_out);
    speak.replace_out = true;  // the latest answer's speech; each ask replaces the last one
    std::error_code ec;
    fs::create_directories(speak.out.parent_path(), ec);
    bool played = false;
    std::string note;
    speak.played = &played;
    speak.note = &note;
    rt::audio::SpeakTimings answer_timings;
    speak.timings = &answer_timings;
    if (auto spoken = rt::audio::speak_stream(sentences, speak); !spoken) {
      fail(cmd, "could not speak the answer: " + spoken.error().message, exit_failed);
    }
    if (o.json_out) {
      const auto timing = [](const rt::audio::SpeakTimings& t, const fs::path& file) {
        return json{{"file", file.string()}, {"start_unix_ms", t.start_unix_ms},
                    {"first_write_unix_ms", t.first_write_unix_ms}, {"leading_silence_ms", t.leading_silence_ms}};
      };
      reply["speech"] = {{"submitted", timing(ack_timings, speech_dir / "submitted.wav")}, {"answer", timing(answer_timings, speak.out)}};
      std::cout << reply.dump(2) << "\n";
    }
    std::cerr << (style().screen_reader ? "" : "butterfly query ask: ") << "Speech written to " << (speech_dir / "submitted.wav").string() << " and " << speak.out.string()
              << (played ? " and played." : ".") << (note.empty() || played ? "" : " Not played: " + note + ".") << "\n";
  }
  return pass ? exit_ok : exit_failed;
}

}  // namespace

HttpResult http_request(const std::string& address, bool post, const std::string& target, const std::string& body,
                        std::uint32_t timeout_ms) {
  return http_call(address, post ? bhttp::verb::post : bhttp::verb::get, target, body, timeout_ms);
}

void add_cluster_commands(CLI::App& app) {
  CLI::App* cluster = app.add_subcommand("cluster", "A local cluster on loopback: a head and N workers");
  cluster->require_subcommand(1);
  {
    auto o = std::make_shared<StartOptions>();
    CLI::App* start = cluster->add_subcommand("start", "Generate keys and a membership, start a head and N workers");
    start->add_option("--workers", o->workers, "Number of workers n (default 4)")->check(CLI::Range(1u, cluster_workers_max));
    start->add_option("--f", o->f, "Byzantine workers tolerated (default (n-1)/3)")->check(CLI::Range(0, 21));
    start->add_option("--byzantine", o->byzantine, "How many of the last workers misbehave (default 0)");
    start->add_option("--kind", o->kind, "wrong, random, equivocate, collude, slow, silent, malformed, replay (default wrong)")
        ->check(CLI::IsMember({"wrong", "random", "equivocate", "collude", "slow", "silent", "malformed", "replay"}));
    start->add_option("--model", o->model, "Model spec for every worker (default: a built-in arithmetic script)");
    start->add_option("--dir", o->dir, "Cluster directory (default ./butterfly-cluster)");
    start->add_option("--base-port", o->base_port, "HTTP on this port, workers on the next n (default: free ports)")
        ->check(CLI::Range(1u, 65'000u));
    start->add_option("--round-timeout-ms", o->round_timeout_ms, "The head's round deadline (default 2000; 60000 with a built-in model)");
    start->add_option("--heartbeat-ms", o->heartbeat_ms, "The head's heartbeat period (default 50)");
    start->add_option("--manifest", o->manifest, "proofs/MANIFEST, so certificates name their proofs");
    start->add_option("--wait-ms", o->wait_ms, "How long to wait for every worker to connect (default 20000)");
    start->add_flag("--json", o->json_out, "Print cluster.json");
    start->footer(
        "Examples:\n"
        "  butterfly cluster start --workers 4 --byzantine 1\n"
        "  butterfly cluster start --workers 7 --byzantine 2 --kind collude --dir /tmp/c7\n"
        "  butterfly cluster start --workers 4 --model openai:http://127.0.0.1:8081#smollm2");
    start->callback([o] { action() = [o] { return run_cluster_start(*o); }; });
  }
  {
    auto dir = std::make_shared<std::string>("butterfly-cluster");
    auto json_out = std::make_shared<bool>(false);
    CLI::App* stop = cluster->add_subcommand("stop", "Stop the cluster's processes (SIGTERM, then wait)");
    stop->add_option("--dir", *dir, "Cluster directory (default ./butterfly-cluster)");
    stop->add_flag("--json", *json_out, "Print the report as JSON");
    stop->footer("Examples:\n  butterfly cluster stop\n  butterfly cluster stop --dir /tmp/c7");
    stop->callback([=] { action() = [=] { return run_cluster_stop(*dir, *json_out); }; });
  }
  {
    auto dir = std::make_shared<std::string>("butterfly-cluster");
    auto http = std::make_shared<std::string>();
    auto json_out = std::make_shared<bool>(false);
    CLI::App* status = cluster->add_subcommand("status", "The head's view: workers, reputation, isolation, chain");
    status->add_option("--dir", *dir, "Cluster directory (default ./butterfly-cluster)");
    status->add_option("--http", *http, "The head's HTTP address instead of --dir");
    status->add_flag("--json", *json_out, "Print the head's /v1/status JSON");
    status->footer("Examples:\n  butterfly cluster status\n  butterfly cluster status --http 127.0.0.1:8080 --json");
    status->callback([=] { action() = [=] { return run_cluster_status(*dir, *http, *json_out); }; });
  }
  CLI::App* query = app.add_subcommand("query", "Ask a running cluster");
  query->require_subcommand(1);
  {
    auto o = std::make_shared<AskOptions>();
    CLI::App* ask = query->add_subcommand("ask", "Ask a question; print the answer and audit its certificate offline");
    ask->add_option("TEXT", o->text, "The question")->required();
    ask->add_option("--mode", o->mode, "vote, attention, sctt or debate (default vote)")
        ->check(CLI::IsMember({"vote", "attention", "sctt", "debate"}));
    ask->add_option("--agreement", o->agreement, "exact or numeric (default exact)")->check(CLI::IsMember({"exact", "numeric"}));
    ask->add_option("--dir", o->dir, "Cluster directory (default ./butterfly-cluster)");
    ask->add_option("--http", o->http, "The head's HTTP address instead of --dir");
    ask->add_option("--membership", o->membership, "Membership to audit against (default DIR/membership.json)");
    ask->add_option("--timeout-ms", o->timeout_ms, "Give up after this long (default 60000)");
    ask->add_flag("--json", o->json_out, "Print the reply and the audit as JSON");
    ask->add_flag("--speak", o->speak, "Also speak: at once that the query was sent (DIR/speech/submitted.wav), then the result sentences, answer first");
    ask->add_flag("--sound", o->sound, "Tones: query-sent at once (DIR/sound/submitted.wav), the outcome's tone after (DIR/sound/outcome.wav); played where there is an audio device");
    ask->add_option("--speak-out", o->speak_out, "WAV file for --speak (default DIR/speech/answer.wav)");
    ask->footer(
        "Exit status: 0 when the certificate verifies, 1 when it does not or the query failed.\n"
        "Examples:\n"
        "  butterfly query ask \"2+2?\"\n"
        "  butterfly query ask \"6*7\" --agreement numeric --json\n"
        "  butterfly --screen-reader query ask \"2+2?\" --speak\n"
        "  butterfly query ask \"2+2?\" --sound\n"
        "  butterfly query ask \"What is the capital of France?\" --mode debate --http 127.0.0.1:8080 \\\n"
        "      --membership membership.json");
    ask->callback([o] { action() = [o] { return run_query_ask(*o); }; });
  }
}

}  // namespace bf::cli
