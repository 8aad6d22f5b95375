#include "runtime/head_process.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <charconv>
#include <sstream>

#include "core/tally.hpp"
#include "runtime/auditor.hpp"
#include "runtime/head_logic.hpp"
#include "runtime/http_api.hpp"
#include "runtime/membership_file.hpp"
#include "runtime/net.hpp"
#include "runtime/process_common.hpp"
#include "runtime/producer.hpp"
#include "core/reputation.hpp"

namespace bf::runtime {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

Error head_error(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

void log_line(const std::string& line) {
  // One write per line so lines from several processes sharing a terminal do not interleave.
  // Milliseconds since the process started, so detection and recovery times can be read off.
  static const auto origin = Clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - origin).count();
  const std::string text = "head: " + std::to_string(ms) + " ms: " + line + "\n";
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

std::string sequence_name(std::uint64_t sequence) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06llu", static_cast<unsigned long long>(sequence));
  return buf;
}

// Writes a new file, with fsync when `sync`; never replaces one (a certificate once written is
// final). Without sync, the group commit (Head::flush) makes a whole batch durable with one
// syncfs, off the io_context thread, before any of its answers is returned.
core::Status write_new(const std::filesystem::path& path, std::span<const std::uint8_t> bytes, bool sync = false) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return head_error("cannot create " + path.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return head_error("cannot write " + path.string() + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (sync && ::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return head_error("fsync of " + path.string() + " failed: " + why);
  }
  if (::close(fd) != 0) return head_error("cannot write " + path.string() + ": " + std::strerror(errno));
  return core::Ok{};
}

core::Status write_durable(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  return write_new(path, bytes, true);
}

// Makes DIR's entries durable (fsync of the directory) and, with whole_filesystem, every file
// written so far too: syncfs(2) of its filesystem, one journal commit for a whole batch where an
// fsync per file costs one each.
core::Status sync_log(const std::filesystem::path& dir, bool whole_filesystem) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return head_error("cannot open " + dir.string() + ": " + std::strerror(errno));
  const bool synced = (!whole_filesystem || ::syncfs(fd) == 0) && ::fsync(fd) == 0;
  const std::string why = synced ? "" : std::strerror(errno);
  ::close(fd);
  if (!synced) return head_error("syncing the log " + dir.string() + " failed: " + why);
  return core::Ok{};
}

// A Prometheus histogram with fixed millisecond buckets.
class Histogram {
 public:
  static constexpr std::array<double, 15> bounds_ms = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
  void observe(double ms) {
    for (std::size_t i = 0; i < bounds_ms.size(); ++i) {
      if (ms <= bounds_ms[i]) ++counts_[i];
    }
    ++count_;
    sum_ += ms;
  }
  void render(std::ostringstream& out, const std::string& name, const std::string& labels) const {
    for (std::size_t i = 0; i < bounds_ms.size(); ++i) {
      out << name << "_bucket{" << labels << ",le=\"" << bounds_ms[i] << "\"} " << counts_[i] << "\n";
    }
    out << name << "_bucket{" << labels << ",le=\"+Inf\"} " << count_ << "\n";
    out << name << "_sum{" << labels << "} " << sum_ << "\n";
    out << name << "_count{" << labels << "} " << count_ << "\n";
  }

 private:
  std::array<std::uint64_t, bounds_ms.size()> counts_{};
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// Model text as people read it: without the trailing newline a script or server adds.
std::string trim_text(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

class Head {
 public:
  Head(HeadOptions options, HeadConfig config, std::vector<std::optional<tcp::endpoint>> endpoints)
      : options_(std::move(options)),
        membership_(config.membership),
        head_key_(config.head_key),
        logic_(std::move(config)),
        endpoints_(std::move(endpoints)),
        links_(endpoints_.size()),
        acceptor_(io_),
        tick_timer_(io_),
        signals_(io_),
        started_(Clock::now()) {}

  int run() {
    http::Handlers handlers;
    handlers.query = [this](http::QueryInput in) { return query(std::move(in)); };
    handlers.certificate = [this](std::uint64_t seq, bool as_json) { return certificate(seq, as_json); };
    handlers.status = [this] { return status_json(); };
    handlers.metrics = [this] { return metrics_text(); };
    http::HttpLimits limits;
    limits.request_timeout_ms = options_.request_timeout_ms;
    limits.rate_per_s = options_.http_rate_per_s;
    limits.rate_burst = 2 * options_.http_rate_per_s;
    server_ = std::make_shared<http::Server>(io_, std::move(handlers), limits);
    auto endpoint = net::parse_endpoint(options_.http);
    if (!endpoint) {
      log_line("--http: " + endpoint.error().message);
      return 2;
    }
    if (auto ok = server_->listen(*endpoint); !ok) {
      log_line(ok.error().message);
      return 2;
    }
    log_line("http listening on " + net::endpoint_text(server_->local_endpoint()) + ", log " +
             options_.log_dir.string() + ", " + std::to_string(endpoints_.size()) + " workers");
    signals_.wait([this](int signal) { stop(signal); });
    if (!options_.listen.empty()) {
      auto at = net::parse_endpoint(options_.listen);
      if (!at) {
        log_line("--listen: " + at.error().message);
        return 2;
      }
      if (const auto ec = process::listen_on(acceptor_, *at)) {
        log_line("cannot listen on " + options_.listen + ": " + ec.message() + "; pick a free port with --listen");
        return 2;
      }
      log_line("listening for workers on " + net::endpoint_text(acceptor_.local_endpoint()));
      asio::co_spawn(io_, accept_loop(), asio::detached);
    }
    for (std::size_t w = 0; w < endpoints_.size(); ++w) {
      // Workers without an address dial in (--listen); the others are dialled.
      if (endpoints_[w]) asio::co_spawn(io_, link_loop(static_cast<core::WorkerIndex>(w)), asio::detached);
    }
    io_.run();
    return exit_code_;
  }

 private:
  struct Link {
    std::shared_ptr<net::Channel> channel;
    Millis last_received = 0;
    std::uint64_t nonce = 0;
    bool was_connected = false;
    std::string last_error;
  };
  struct Waiter {
    explicit Waiter(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::optional<QueryDone> done;
    std::string path;
    double fusion_ms = 0;
    double commit_ms = 0;
    Clock::time_point commit_start{};  // the certificate's write began
    Clock::time_point decide_start{};  // when the logic call that decided began (timings_us)
  };
  struct PendingCert {
    std::filesystem::path file;  // empty bytes: nothing to write (a failed query), only a waiter
    Bytes bytes;
    std::shared_ptr<Waiter> waiter;  // null when the HTTP request is gone (timed out)
  };

  Millis now() const {
    return static_cast<Millis>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count());
  }
  std::string worker_name(core::WorkerIndex w) const {
    return "worker " + std::to_string(w) + " (" + membership_.record.workers[w].id + ")";
  }

  void stop(int signal) {
    if (stopping_) return;
    stopping_ = true;
    log_line("signal " + std::to_string(signal) + ": stopping");
    flush_now();  // certificates written but not yet synced are made durable before we go
    server_->stop();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& link : links_) {
      if (link.channel) link.channel->close("head shutting down");
    }
    tick_timer_.cancel();
    process::stop_after_grace(io_, [this] { log_line("stopped; " + std::to_string(queries_done_) + " queries answered"); });
  }

  // ---- connections to workers ----

  asio::awaitable<void> link_loop(core::WorkerIndex w) {
    Link& link = links_[w];
    std::uint32_t backoff_ms = options_.backoff_min_ms;
    asio::steady_timer wait(io_);
    net::ChannelLimits limits;
    while (!stopping_) {
      if (link.channel && link.channel->is_open()) {  // it dialled in: no second connection
        wait.expires_after(std::chrono::milliseconds(options_.backoff_max_ms));
        boost::system::error_code ec;
        co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      auto result = co_await net::connect_to_worker(*endpoints_[w], membership_, head_key_, w, limits,
                                                    [](std::string_view line) { log_line(std::string(line)); });
      if (stopping_) co_return;
      if (!result) {
        if (result.error().message != link.last_error) {  // log each new reason once, not every retry
          log_line("cannot reach " + worker_name(w) + " at " + net::endpoint_text(*endpoints_[w]) + ": " +
                   result.error().message + " (retrying)");
          link.last_error = result.error().message;
        }
        wait.expires_after(std::chrono::milliseconds(backoff_ms));
        boost::system::error_code ec;
        co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        backoff_ms = std::min(options_.backoff_max_ms, backoff_ms * 2);
        continue;
      }
      backoff_ms = options_.backoff_min_ms;
      link.last_error.clear();
      co_await serve_link(w, result.value());
      if (stopping_) co_return;
      wait.expires_after(std::chrono::milliseconds(options_.backoff_min_ms));
      boost::system::error_code ec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // --listen: workers that dial in. Each handshake runs in its own coroutine (a slow or hostile
  // client delays no one else), at most net::handshakes_in_flight_max at once.
  asio::awaitable<void> accept_loop() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (stopping_ || !acceptor_.is_open()) co_return;
      if (ec) continue;
      if (handshakes_ >= net::handshakes_in_flight_max) {
        socket.close(ec);
        continue;
      }
      ++handshakes_;
      asio::co_spawn(io_, [this, socket = std::move(socket)]() mutable -> asio::awaitable<void> {
        auto result = co_await net::accept_worker(std::move(socket), membership_, head_key_, {},
                                                  [](std::string_view line) { log_line(std::string(line)); });
        --handshakes_;
        if (!result || stopping_) co_return;
        co_await serve_link(result.value()->worker(), result.value());
      }, asio::detached);
    }
  }

  // One authenticated connection to worker w, until it closes. A newer connection of the same
  // worker (it redialled, or was dialled again) replaces an older one.
  asio::awaitable<void> serve_link(core::WorkerIndex w, std::shared_ptr<net::Channel> channel) {
    Link& link = links_[w];
    if (link.channel && link.channel != channel) link.channel->close("a newer connection of this worker replaces it");
    link.channel = channel;
    link.last_received = now();
    const auto connected_at = now();
    log_line("connected to " + channel->peer_text());
    logic_.on_connected(w, now());
    drain();
    asio::co_spawn(io_, heartbeat_loop(w, channel), asio::detached);
    std::string reason;
    for (;;) {
      auto message = co_await channel->receive();
      if (!message) {
        reason = message.error().message;
        break;
      }
      if (link.channel != channel) {
        reason = "replaced by a newer connection";
        break;
      }
      link.last_received = now();
      if (const auto* answer = std::get_if<proto::Answer>(&message.value())) {
        const auto t0 = Clock::now();
        logic_.on_answer(w, *answer, now());
        last_logic_start_ = t0;
        last_logic_ms_ = ms_between(t0, Clock::now());
        drain();
      } else if (const auto* beat = std::get_if<proto::Heartbeat>(&message.value())) {
        // A failed send closes the channel; the receive loop then reports the disconnection.
        if (!beat->pong) (void)co_await channel->send(proto::Heartbeat{beat->nonce, true});
      } else if (const auto* bye = std::get_if<proto::Goodbye>(&message.value())) {
        reason = "goodbye: " + bye->reason;
        break;
      } else {
        reason = "a worker sent an Ask";
        break;
      }
    }
    channel->close(reason);
    if (link.channel != channel || stopping_) co_return;  // replaced: the newer one carries on
    link.channel.reset();
    log_line("lost " + worker_name(w) + " after " + std::to_string(now() - connected_at) + " ms: " + reason);
    // A frame that fails authentication is an attack or corruption, not just a lost peer.
    const bool bad_frame = reason.find("MAC") != std::string::npos || reason.find("malformed") != std::string::npos ||
                           reason.find("replay") != std::string::npos || reason.find("oversized") != std::string::npos;
    if (bad_frame) log_line("detection: " + worker_name(w) + " bad-frame: " + reason);
    ++detections_[bad_frame ? "bad-frame" : "disconnect"];
    logic_.on_disconnected(w, now());
    drain();
  }

  // Pings every heartbeat_ms; a connection silent for heartbeat_missed_max periods is closed,
  // which ends its receive loop and reports the worker disconnected (crash detection).
  asio::awaitable<void> heartbeat_loop(core::WorkerIndex w, std::shared_ptr<net::Channel> channel) {
    asio::steady_timer timer(io_);
    const Millis dead_ms = Millis{options_.heartbeat_ms} * options_.heartbeat_missed_max;
    while (!stopping_ && channel->is_open() && links_[w].channel == channel) {
      timer.expires_after(std::chrono::milliseconds(options_.heartbeat_ms));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (stopping_ || !channel->is_open() || links_[w].channel != channel) co_return;
      const Millis silent = now() - links_[w].last_received;
      if (silent > dead_ms) {
        log_line("detection: " + worker_name(w) + " silent for " + std::to_string(silent) +
                 " ms (heartbeat deadline " + std::to_string(dead_ms) + " ms): declared dead");
        ++detections_["heartbeat-timeout"];
        channel->close("heartbeat deadline passed");
        co_return;
      }
      (void)co_await channel->send(proto::Heartbeat{++links_[w].nonce, false});  // failure: see the receive loop
    }
  }

  // ---- the logic's actions ----

  void drain() {
    for (;;) {
      auto actions = logic_.take_actions();
      if (actions.empty()) break;
      for (auto& action : actions) {
        if (auto* ask = std::get_if<SendAsk>(&action)) {
          auto channel = links_[ask->worker].channel;
          if (!channel || !channel->is_open()) continue;  // the logic learns of it via on_disconnected
          asio::co_spawn(io_, [channel, m = proto::Message(std::move(ask->ask))]() -> asio::awaitable<void> {
            (void)co_await channel->send(m);  // failure closes the channel: a disconnection
          }, asio::detached);
        } else if (auto* done = std::get_if<QueryDone>(&action)) {
          commit(std::move(*done));
        } else if (auto* isolated = std::get_if<WorkerIsolated>(&action)) {
          log_line("isolated " + worker_name(isolated->worker) + ": " + isolated->reason);
          ++detections_["isolated"];
          if (isolated->late_after_sequence != 0 && !isolated->evidence.empty()) {
            // No certificate carries this evidence: log it beside the query's certificate.
            const auto eq = options_.log_dir / (sequence_name(isolated->late_after_sequence) + "-late-" +
                                                std::to_string(isolated->worker) + ".equivocation");
            if (auto ok = write_durable(eq, isolated->evidence); !ok) log_line(ok.error().message);
          }
        } else if (auto* d = std::get_if<Detection>(&action)) {
          log_line("detection: " + worker_name(d->worker) + " " + d->kind + " at " + std::to_string(d->at) +
                   " ms" + (d->detail.empty() ? "" : ": " + d->detail));
          ++detections_[d->kind];
        }
      }
    }
    arm_tick();
  }

  void arm_tick() {
    const auto deadline = logic_.next_deadline();
    if (!deadline || stopping_) {
      tick_timer_.cancel();
      return;
    }
    tick_timer_.expires_at(started_ + std::chrono::milliseconds(*deadline));
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      const auto t0 = Clock::now();
      logic_.on_tick(now());
      last_logic_start_ = t0;
      last_logic_ms_ = ms_between(t0, Clock::now());
      drain();
    });
  }

  // Queues the certificate for the group commit (flush), which writes and syncs it off this
  // thread; equivocation records are written with fsync now (rare). The HTTP answer waits.
  void commit(QueryDone done) {
    auto it = waiters_.find(done.handle);
    std::shared_ptr<Waiter> waiter = it == waiters_.end() ? nullptr : it->second;
    const auto t0 = Clock::now();
    std::string path;
    PendingCert entry;
    if (!done.certificate.empty()) {
      entry.file = options_.log_dir / (sequence_name(done.sequence) + ".cert");
      entry.bytes = done.certificate;
      path = entry.file.string();
      for (std::size_t k = 0; k < done.equivocations.size(); ++k) {
        const auto eq = options_.log_dir / (sequence_name(done.sequence) + "-" + std::to_string(k) + ".equivocation");
        if (auto ok = write_durable(eq, done.equivocations[k]); !ok) log_line(ok.error().message);
      }
      ++outcomes_[core::outcome_name(done.outcome)];
      log_line("query " + std::to_string(done.handle) + " " + core::outcome_name(done.outcome) + " seq " +
               std::to_string(done.sequence) + " rounds " + std::to_string(done.rounds) + " in " +
               std::to_string(done.decided_at - done.submitted_at) + " ms");
    } else {
      ++outcomes_["error"];
      log_line("query " + std::to_string(done.handle) + " failed: " + done.error);
    }
    ++queries_done_;
    network_ms_.observe(static_cast<double>(done.timings.dispatch_to_first_answer));
    consensus_ms_.observe(static_cast<double>(done.decided_at - done.submitted_at));
    fusion_ms_.observe(last_logic_ms_);
    if (waiter) {
      waiter->path = path;
      waiter->fusion_ms = last_logic_ms_;
      waiter->decide_start = last_logic_start_;
      waiter->commit_start = t0;
      waiter->done = std::move(done);
    }
    entry.waiter = std::move(waiter);
    pending_.push_back(std::move(entry));
    if (!flush_posted_) {
      flush_posted_ = true;
      asio::post(io_, [this] { flush(); });
    }
  }

  // Group commit: the certificates written since the last sync become durable together on the
  // commit thread while the io_context goes on; the next batch gathers meanwhile and starts when
  // this one ends. An answer is returned only after its batch's sync succeeded.
  void flush() {
    flush_posted_ = false;
    if (syncing_ || pending_.empty()) return;
    syncing_ = true;
    auto batch = std::make_shared<std::vector<PendingCert>>(std::move(pending_));
    pending_.clear();
    asio::post(commit_thread_, [this, batch] {
      const auto t0 = Clock::now();
      auto ok = write_and_sync(*batch);
      const double sync_ms = ms_between(t0, Clock::now());
      asio::post(io_, [this, batch, ok = std::move(ok), sync_ms] {
        syncing_ = false;
        finish_batch(*batch, ok, sync_ms);
        flush();
      });
    });
  }

  // On the commit thread: the batch's files in sequence order, then one sync for all of them.
  // A small batch (light load) gets an fsync per file instead: syncfs costs CPU in proportion to
  // everything dirty on the filesystem, which a few fsyncs do not.
  core::Status write_and_sync(const std::vector<PendingCert>& batch) const {
    constexpr std::size_t fsync_each_max = 4;
    std::size_t files = 0;
    for (const auto& c : batch) files += c.bytes.empty() ? 0 : 1;
    const bool each = files <= fsync_each_max;
    for (const auto& c : batch) {
      if (c.bytes.empty()) continue;
      if (auto ok = each ? write_durable(c.file, c.bytes) : write_new(c.file, c.bytes); !ok) return ok;
    }
    return sync_log(options_.log_dir, !each);
  }

  void finish_batch(std::vector<PendingCert>& batch, const core::Status& ok, double sync_ms) {
    if (!ok) {
      // Safety first: an answer that cannot be logged is not returned.
      log_line("FATAL: " + ok.error().message + "; stopping so that no unlogged answer is returned");
      for (auto& c : batch) {
        if (c.waiter) c.waiter->done->error = ok.error().message;
      }
      exit_code_ = 1;
      stop(0);
    }
    commit_ms_.observe(sync_ms);
    const auto t = Clock::now();
    for (auto& c : batch) {
      if (!c.waiter) continue;
      c.waiter->commit_ms = ms_between(c.waiter->commit_start, t);
      c.waiter->timer.cancel();
    }
  }

  // At shutdown: the certificates written but not yet synced, synchronously.
  void flush_now() {
    if (pending_.empty()) return;
    auto batch = std::move(pending_);
    pending_.clear();
    const auto t0 = Clock::now();
    auto ok = write_and_sync(batch);
    finish_batch(batch, ok, ms_between(t0, Clock::now()));
  }

  // ---- HTTP handlers ----

  asio::awaitable<http::Reply> query(http::QueryInput in) {
    if (stopping_) co_return http::error_reply(503, "stopping", "the head is shutting down");
    const auto t0 = Clock::now();
    QueryRequest request{std::move(in.query), in.mode, in.agreement, in.agreement_param, std::move(in.task_checks)};
    auto waiter = std::make_shared<Waiter>(io_);
    waiter->timer.expires_after(std::chrono::milliseconds(options_.request_timeout_ms));
    waiter->decide_start = t0;  // a query finished inside submit waited for nothing
    const auto handle = logic_.submit(std::move(request), now());
    waiters_[handle] = waiter;
    drain();
    const auto dispatched = Clock::now();
    boost::system::error_code ec;
    if (!waiter->done) co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    waiters_.erase(handle);
    if (!waiter->done) {
      co_return http::error_reply(504, "timeout", "the query did not finish within " +
                                                      std::to_string(options_.request_timeout_ms) +
                                                      " ms; it may still be logged later");
    }
    const QueryDone& done = *waiter->done;
    if (!done.error.empty() || waiter->path.empty()) {
      co_return http::error_reply(503, "no_certificate", done.error.empty() ? "the query was not certified" : done.error);
    }
    const double total_ms = ms_between(t0, Clock::now());
    const double consensus = static_cast<double>(done.decided_at - done.submitted_at);
    const double scheduling = std::max(0.0, total_ms - consensus - waiter->commit_ms);
    scheduling_ms_.observe(scheduling);
    nlohmann::json signers = nlohmann::json::array();
    nlohmann::json outvoted = nlohmann::json::array();
    nlohmann::json silent = nlohmann::json::array();
    core::SignerMask answered = 0;
    if (auto cert = core::cert::decode_certificate(done.certificate); cert && !cert->rounds.empty()) {
      for (const auto& a : cert->rounds.back().answers) answered |= core::SignerMask{1} << a.worker;
    }
    for (std::size_t w = 0; w < membership_.record.workers.size(); ++w) {
      const auto bit = core::SignerMask{1} << w;
      const auto& id = membership_.record.workers[w].id;
      if ((done.signers & bit) != 0) {
        signers.push_back(id);
      } else if ((answered & bit) != 0) {
        outvoted.push_back(id);
      } else {
        silent.push_back(id);
      }
    }
    nlohmann::json isolated = nlohmann::json::array();
    for (const auto& ws : logic_.status().workers) {
      if (ws.reputation.isolated || !ws.eligible) isolated.push_back(ws.id);
    }
    nlohmann::json reply = {
        {"answer", trim_text(done.answer_text)},
        {"outcome", core::outcome_name(done.outcome)},
        {"signers", signers},
        {"outvoted", outvoted},
        {"silent", silent},
        {"isolated", isolated},
        {"sequence", done.sequence},
        {"query_id", hex(done.query_id)},
        {"certificate", hex(done.certificate)},
        {"certificate_hash", hex(done.certificate_hash)},
        {"certificate_path", std::filesystem::absolute(waiter->path).string()},
        {"rounds", done.rounds},
        {"fusion", done.fused_note},
        {"equivocations", done.equivocations.size()},
        {"timings_ms",
         {{"network", done.timings.dispatch_to_first_answer},
          {"consensus", consensus},
          {"debate", done.timings.debate},
          {"fusion", waiter->fusion_ms},
          {"commit", waiter->commit_ms},
          {"scheduling", scheduling},
          {"total", total_ms}}}};
    // Exact microseconds for benchmarks (butterfly bench run overhead; spec/http.md).
    const auto us = [](Clock::duration d) { return std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count()); };
    const std::int64_t total_us = us(Clock::now() - t0);
    const std::int64_t dispatch_us = us(dispatched - t0);
    const std::int64_t wait_us = us(waiter->decide_start - dispatched);
    const auto decide_us = static_cast<std::int64_t>(waiter->fusion_ms * 1000.0);
    const auto commit_us = static_cast<std::int64_t>(waiter->commit_ms * 1000.0);
    reply["timings_us"] = {{"dispatch", dispatch_us},
                           {"wait", wait_us},
                           {"decide", decide_us},
                           {"commit", commit_us},
                           {"reply", std::max<std::int64_t>(0, total_us - dispatch_us - wait_us - decide_us - commit_us)},
                           {"head", std::max<std::int64_t>(0, total_us - wait_us)},
                           {"total", total_us}};
    co_return http::json_reply(200, reply);
  }

  http::Reply certificate(std::uint64_t sequence, bool as_json) {
    const auto file = options_.log_dir / (sequence_name(sequence) + ".cert");
    auto bytes = read_file(file, core::cert::record_bytes_max, "certificate");
    if (!bytes) return http::error_reply(404, "not_found", "no certificate " + std::to_string(sequence) + " in the log");
    if (!as_json) return http::Reply{200, "application/octet-stream", std::string(bytes->begin(), bytes->end())};
    const auto report = verify_certificate(*bytes, membership_);
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& c : report.checks) checks.push_back({{"check", c.name}, {"state", check_state_name(c.state)}, {"detail", c.detail}});
    nlohmann::json j = {{"sequence", sequence}, {"path", file.string()}, {"hash", hex(report.hash)},
                        {"bytes", hex(*bytes)}, {"verdict", report.ok() ? "PASS" : "FAIL"}, {"checks", checks}};
    if (report.certificate) {
      const auto& c = *report.certificate;
      j["outcome"] = core::outcome_name(c.outcome);
      j["previous_hash"] = hex(c.previous_hash);
      j["query_id"] = hex(c.query_id);
      j["rounds"] = c.rounds.size();
      j["fused_output"] = hex(c.fused_output);
    }
    return http::json_reply(200, j);
  }

  nlohmann::json status_json() const {
    const auto s = logic_.status();
    nlohmann::json workers = nlohmann::json::array();
    for (const auto& w : s.workers) {
      workers.push_back({{"index", w.worker},
                         {"id", w.id},
                         {"address", membership_.addresses.size() > w.worker ? membership_.addresses[w.worker] : ""},
                         {"connected", w.connected},
                         {"reputation", static_cast<double>(w.reputation.value) / 1e6},
                         {"isolated", w.reputation.isolated},
                         {"eligible", w.eligible}});
    }
    std::size_t connected = 0;
    for (const auto& w : s.workers) connected += w.connected ? 1 : 0;
    return {{"workers", workers},
            {"connected", connected},
            {"n", membership_.record.n},
            {"f", membership_.record.f},
            {"q", membership_.record.q},
            {"membership_digest", hex(membership_.digest)},
            {"chain", {{"next_sequence", s.next_sequence}, {"previous_hash", hex(s.previous_hash)}}},
            {"queries_in_flight", s.queries_in_flight},
            {"queries_done", s.queries_done},
            {"log_dir", std::filesystem::absolute(options_.log_dir).string()}};
  }

  std::string metrics_text() const {
    std::ostringstream out;
    out << "# HELP butterfly_stage_ms Head latency per stage in milliseconds. network: dispatch to the first "
           "answer; consensus: dispatch to decision (all rounds); fusion: the logic call that decided, fused "
           "and signed; scheduling: HTTP time outside consensus and commit; commit: directory fsync batch.\n";
    out << "# TYPE butterfly_stage_ms histogram\n";
    network_ms_.render(out, "butterfly_stage_ms", "stage=\"network\"");
    consensus_ms_.render(out, "butterfly_stage_ms", "stage=\"consensus\"");
    fusion_ms_.render(out, "butterfly_stage_ms", "stage=\"fusion\"");
    scheduling_ms_.render(out, "butterfly_stage_ms", "stage=\"scheduling\"");
    commit_ms_.render(out, "butterfly_stage_ms", "stage=\"commit\"");
    out << "# HELP butterfly_queries_total Finished queries by outcome.\n# TYPE butterfly_queries_total counter\n";
    for (const auto& [outcome, count] : outcomes_) out << "butterfly_queries_total{outcome=\"" << outcome << "\"} " << count << "\n";
    out << "# HELP butterfly_detections_total Faults detected by kind.\n# TYPE butterfly_detections_total counter\n";
    for (const auto& [kind, count] : detections_) out << "butterfly_detections_total{kind=\"" << kind << "\"} " << count << "\n";
    const auto s = logic_.status();
    std::size_t connected = 0;
    for (const auto& w : s.workers) connected += w.connected ? 1 : 0;
    out << "# TYPE butterfly_workers_connected gauge\nbutterfly_workers_connected " << connected << "\n";
    out << "# TYPE butterfly_queries_in_flight gauge\nbutterfly_queries_in_flight " << s.queries_in_flight << "\n";
    out << "# TYPE butterfly_http_connections gauge\nbutterfly_http_connections " << (server_ ? server_->connections() : 0) << "\n";
    return out.str();
  }

  HeadOptions options_;
  Membership membership_;
  Keypair head_key_;
  asio::io_context io_;
  HeadLogic logic_;
  std::vector<std::optional<tcp::endpoint>> endpoints_;  // none: the worker dials in (--listen)
  std::vector<Link> links_;
  tcp::acceptor acceptor_;
  std::uint32_t handshakes_ = 0;
  asio::steady_timer tick_timer_;
  process::StopSignals signals_;
  Clock::time_point started_;
  std::shared_ptr<http::Server> server_;
  std::map<QueryHandle, std::shared_ptr<Waiter>> waiters_;
  std::vector<PendingCert> pending_;  // written and synced by the next flush
  bool flush_posted_ = false;
  bool syncing_ = false;  // a batch is on the commit thread
  bool stopping_ = false;
  int exit_code_ = 0;
  double last_logic_ms_ = 0;
  Clock::time_point last_logic_start_{};
  std::uint64_t queries_done_ = 0;
  std::map<std::string, std::uint64_t> outcomes_;
  std::map<std::string, std::uint64_t> detections_;
  Histogram network_ms_, consensus_ms_, fusion_ms_, scheduling_ms_, commit_ms_;
  // Last member, so it is joined first: a sync still running posts back to a live io_.
  asio::thread_pool commit_thread_{1};
};

}  // namespace

Result<ChainResume> resume_chain(const std::filesystem::path& dir, const Digest& membership_digest) {
  ChainResume r;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return r;
  std::map<std::uint64_t, std::filesystem::path> certificates;  // by sequence
  std::vector<std::filesystem::path> evidence;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    // Certificates are named by sequence: 6 to 20 digits, then ".cert".
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".equivocation")) evidence.push_back(entry.path());
    const std::string_view stem = std::string_view(name).substr(0, name.size() >= 5 ? name.size() - 5 : 0);
    if (!name.ends_with(".cert") || stem.size() < 6 || stem.size() > 20) continue;
    std::uint64_t seq = 0;
    const auto [end, parse_error] = std::from_chars(stem.data(), stem.data() + stem.size(), seq);
    if (parse_error != std::errc() || end != stem.data() + stem.size() || seq == 0) continue;
    certificates.emplace(seq, entry.path());
  }
  if (ec) return head_error("cannot list " + dir.string() + ": " + ec.message());
  if (certificates.empty()) return r;
  // Reputation: replay every certificate's events in chain order from the first snapshot, as the
  // head applied them; evidence logged on its own (late equivocation) isolates its worker.
  for (const auto& [seq, path] : certificates) {
    auto bytes = read_file(path, core::cert::record_bytes_max, "certificate");
    if (!bytes) return bytes.error();
    auto cert = core::cert::decode_certificate(*bytes);
    if (!cert) return head_error(path.string() + " does not decode (" + cert.error().message + "); move it aside to resume");
    if (cert->sequence != seq) {
      return head_error(path.string() + " carries sequence " + std::to_string(cert->sequence) + ", not its file name's");
    }
    if (cert->membership_digest != membership_digest) {
      if (seq == certificates.rbegin()->first) {
        return head_error(path.string() + " was made under another membership; give this membership its own --log-dir");
      }
      continue;  // an earlier epoch's certificate: its reputation is not this membership's
    }
    if (r.reputation.size() != cert->reputation.size()) r.reputation = cert->reputation;
    const auto events = reputation_events(*cert);
    for (std::size_t w = 0; w < events.size() && w < r.reputation.size(); ++w) {
      if (!events[w]) continue;
      const auto rep = core::reputation_update({r.reputation[w].value, r.reputation[w].isolated}, *events[w]);
      r.reputation[w] = {rep.value, rep.isolated};
    }
    r.next_sequence = seq + 1;
    r.previous_hash = blake2b(*bytes);
    r.last_file = path;
  }
  for (const auto& path : evidence) {
    auto bytes = read_file(path, core::cert::record_bytes_max, "equivocation record");
    if (!bytes) continue;
    auto e = core::cert::decode_equivocation(*bytes);
    if (!e || e->membership_digest != membership_digest || e->worker >= r.reputation.size()) continue;
    const auto rep = core::reputation_update({r.reputation[e->worker].value, r.reputation[e->worker].isolated},
                                             core::ReputationEvent::equivocate);
    r.reputation[e->worker] = {rep.value, rep.isolated};
  }
  return r;
}

Result<std::vector<core::cert::InvariantRef>> invariants_from_manifest(const std::filesystem::path& manifest) {
  auto m = read_manifest(manifest);
  if (!m) return m.error();
  std::vector<core::cert::InvariantRef> out;
  for (const char* id : {"F2", "Q1", "Q2", "Q3"}) {  // sorted by id, as certificates require
    if (auto it = m->find(id); it != m->end()) out.push_back({id, it->second});
  }
  return out;
}

std::filesystem::path find_manifest() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const auto candidate = exe.parent_path().parent_path().parent_path() / "proofs" / "MANIFEST";
  return std::filesystem::is_regular_file(candidate, ec) ? candidate : std::filesystem::path{};
}

int run_head(const HeadOptions& options) {
  auto files = process::read_key_and_membership(options.key_file, options.membership_file, log_line);
  if (!files) {
    log_line(files.error().message);
    return 2;
  }
  auto& key = files->key;
  auto& membership = files->membership;
  if (membership.record.head_key != key.public_key) {
    log_line("the key " + options.key_file.string() + " is not this membership's head key; give the head's key file");
    return 2;
  }
  std::vector<std::optional<tcp::endpoint>> endpoints;
  for (std::size_t w = 0; w < membership.record.workers.size(); ++w) {
    const std::string address = w < membership.addresses.size() ? membership.addresses[w] : "";
    if (address.empty() && !options.listen.empty()) {
      endpoints.emplace_back();  // it dials in
      continue;
    }
    if (address.empty()) {
      log_line("worker '" + membership.record.workers[w].id +
               "' has no \"address\" in the membership; add \"address\": \"host:port\" (butterfly cluster start "
               "writes them), or start the head with --listen HOST:PORT and the worker with --head HOST:PORT");
      return 2;
    }
    auto ep = net::parse_endpoint(address);
    if (!ep) {
      log_line("worker '" + membership.record.workers[w].id + "': " + ep.error().message);
      return 2;
    }
    endpoints.push_back(*ep);
  }
  std::error_code ec;
  std::filesystem::create_directories(options.log_dir, ec);
  if (ec) {
    log_line("cannot create the log directory " + options.log_dir.string() + ": " + ec.message());
    return 2;
  }
  auto resume = resume_chain(options.log_dir, membership.digest);
  if (!resume) {
    log_line(resume.error().message);
    return 2;
  }
  HeadConfig config;
  config.membership = membership;
  config.head_key = key;
  config.rounds_max = options.rounds_max;
  config.round_timeout_ms = options.round_timeout_ms;
  config.next_sequence = resume->next_sequence;
  config.previous_hash = resume->previous_hash;
  config.reputation = resume->reputation;
  const auto manifest = options.manifest.empty() ? find_manifest() : options.manifest;
  if (!manifest.empty()) {
    log_line("certificates name the proofs in " + manifest.string());
    auto inv = invariants_from_manifest(manifest);
    if (!inv) {
      log_line("--manifest: " + inv.error().message);
      return 2;
    }
    config.invariants = std::move(inv.value());
  }
  if (auto ok = check_head_config(config); !ok) {
    log_line(ok.error().message);
    return 2;
  }
  if (!resume->last_file.empty()) {
    log_line("resuming the chain after " + resume->last_file.string() + ": next sequence " +
             std::to_string(resume->next_sequence));
  }
  Head head(options, std::move(config), std::move(endpoints));
  return head.run();
}

}  // namespace bf::runtime
