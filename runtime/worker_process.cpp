#include "runtime/worker_process.hpp"

#include <signal.h>
#include <fcntl.h>
#include <unistd.h>

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "runtime/answer_model.hpp"
#include "runtime/membership_file.hpp"
#include "runtime/net.hpp"
#include "runtime/process_common.hpp"
#include "runtime/worker_logic.hpp"

namespace bf::runtime {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class Worker {
 public:
  Worker(WorkerOptions options, WorkerConfig config, std::unique_ptr<AnswerModel> model,
         std::optional<tcp::endpoint> listen, std::optional<tcp::endpoint> head)
      : options_(std::move(options)),
        membership_(config.membership),
        key_(config.key),
        self_(config.self),
        name_(config.membership.record.workers[config.self].id),
        logic_(std::move(config)),
        model_(std::move(model)),
        pool_(options_.model_threads),
        acceptor_(io_),
        signals_(io_),
        listen_(listen),
        head_(head),
        started_(Clock::now()) {}

  int run() {
    const std::string byz = options_.byzantine == "none" ? std::string{} : ", byzantine " + options_.byzantine;
    if (listen_) {
      if (const auto ec = process::listen_on(acceptor_, *listen_)) {
        log("cannot listen on " + net::endpoint_text(*listen_) + ": " + ec.message() + "; pick a free port with --listen");
        return 2;
      }
      log("listening on " + net::endpoint_text(acceptor_.local_endpoint()) + ", model " + model_->describe() + byz);
      asio::co_spawn(io_, accept_loop(), asio::detached);
    }
    if (head_) {
      log("dialling the head at " + net::endpoint_text(*head_) + ", model " + model_->describe() + byz);
      asio::co_spawn(io_, dial_loop(*head_), asio::detached);
    }
    signals_.wait([this](int signal) { stop(signal); });
    io_.run();
    pool_.stop();  // queued model runs are dropped; a running one ends by its timeout
    pool_.join();
    return 0;
  }

 private:
  Millis now() const {
    return static_cast<Millis>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count());
  }
  void log(const std::string& line) const {
    const std::string text = "worker " + name_ + ": " + line + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  }

  void stop(int signal) {
    if (stopping_) return;
    stopping_ = true;
    log("signal " + std::to_string(signal) + ": stopping");
    boost::system::error_code ec;
    acceptor_.close(ec);
    if (channel_) channel_->close("worker shutting down");
    process::stop_after_grace(io_, [this] { log("stopped"); });
  }

  asio::awaitable<void> accept_loop() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (stopping_) co_return;
        continue;
      }
      if (handshakes_ >= net::handshakes_in_flight_max) {
        socket.close(ec);  // a flood of half-open connections delays no one
        continue;
      }
      asio::co_spawn(io_, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    // A model script spawned meanwhile must not inherit (and hold open) the connection.
    (void)::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
    ++handshakes_;
    auto result = co_await net::accept_head(std::move(socket), membership_, key_, self_, {},
                                            [this](std::string_view line) { log(std::string(line)); });
    --handshakes_;
    if (!result) {
      log("refused a connection: " + result.error().message);
      co_return;
    }
    co_await serve(result.value());
  }

  // --head: dial the head, serve the connection, and dial again with backoff when it ends.
  asio::awaitable<void> dial_loop(tcp::endpoint head) {
    constexpr std::uint32_t backoff_min_ms = 50;
    constexpr std::uint32_t backoff_max_ms = 1000;
    std::uint32_t backoff_ms = backoff_min_ms;
    std::string last_error;
    asio::steady_timer wait(io_);
    while (!stopping_) {
      auto result = co_await net::dial_head(head, membership_, key_, self_, {}, [](std::string_view) {});
      if (stopping_) co_return;
      if (result) {
        backoff_ms = backoff_min_ms;
        last_error.clear();
        co_await serve(result.value());
        if (stopping_) co_return;
      } else if (result.error().message != last_error) {  // each new reason once, not every retry
        last_error = result.error().message;
        log(last_error + " (retrying)");
      }
      wait.expires_after(std::chrono::milliseconds(backoff_ms));
      boost::system::error_code ec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      backoff_ms = std::min(backoff_max_ms, backoff_ms * 2);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<net::Channel> channel) {
    if (channel_) channel_->close("a newer head connection replaces this one");
    channel_ = channel;
    // --byzantine replay re-sends a genuine earlier frame byte for byte (attack_replay).
    if (options_.byzantine == "replay") channel->keep_last_frame_for_testing();
    log("head connected: " + channel->peer_text());
    std::string reason;
    for (;;) {
      auto message = co_await channel->receive();
      if (!message) {
        reason = message.error().message;
        break;
      }
      if (const auto* ask = std::get_if<proto::Ask>(&message.value())) {
        log("ask round " + std::to_string(ask->round) + " query " + hex(ask->query_id).substr(0, 12));
        logic_.on_ask(*ask, now());
        drain();
      } else if (const auto* beat = std::get_if<proto::Heartbeat>(&message.value())) {
        if (!beat->pong) (void)co_await channel->send(proto::Heartbeat{beat->nonce, true});  // failure ends the session
      } else if (const auto* bye = std::get_if<proto::Goodbye>(&message.value())) {
        reason = "goodbye: " + bye->reason;
        break;
      } else {
        reason = "the head sent an Answer";
        break;
      }
    }
    channel->close(reason);
    if (channel_ == channel) {
      channel_.reset();
    }
    if (!stopping_) log("head connection closed: " + reason);
  }

  void drain() {
    for (auto& action : logic_.take_actions()) {
      if (auto* run = std::get_if<RunModel>(&action)) {
        start_model(run->job, std::move(run->ask));
      } else if (auto* send = std::get_if<SendAnswer>(&action)) {
        asio::co_spawn(io_, send_answer(std::move(send->answer), send->not_before), asio::detached);
      } else if (const auto* bad = std::get_if<SendMalformed>(&action)) {
        attack_malformed(bad->job);
      } else if (const auto* replay = std::get_if<ReplayLast>(&action)) {
        attack_replay(replay->job);
      } else if (const auto* failed = std::get_if<ModelFailed>(&action)) {
        log("model failed on job " + std::to_string(failed->job) + ": " + failed->reason);
      }
    }
  }

  void start_model(std::uint64_t job, proto::Ask ask) {
    // The model blocks; it runs on the pool and posts its result back to the logic's thread.
    asio::post(pool_, [this, job, ask = std::move(ask)] {
      const auto t0 = Clock::now();
      auto output = std::make_shared<core::Result<ModelOutput>>(model_->run(ask, options_.seed ^ job));
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
      asio::post(io_, [this, job, output, ms] {
        if (stopping_) return;
        if (output->ok()) {
          log("model done job " + std::to_string(job) + " in " + std::to_string(ms) + " ms");
        }
        logic_.on_model_done(job, *output, now());
        drain();
      });
    });
  }

  asio::awaitable<void> send_answer(proto::Answer answer, Millis not_before) {
    if (not_before > now()) {
      asio::steady_timer timer(io_, std::chrono::milliseconds(not_before - now()));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    auto channel = channel_;
    if (!channel || !channel->is_open()) {
      log("answer for round " + std::to_string(answer.round) + " dropped: no head connected");
      co_return;
    }
    const auto round = answer.round;
    auto sent = co_await channel->send(proto::Message(std::move(answer)));
    if (!sent) {
      log("sending an answer failed: " + sent.error().message);
    } else {
      log("answered round " + std::to_string(round));
    }
  }

  // A frame with a plausible length prefix and garbage inside: the head must close this
  // connection only (MAC failure) and keep deciding with the others.
  void attack_malformed(std::uint64_t job) {
    if (!channel_) return;
    Bytes frame = {42, 0, 0, 0};
    for (std::uint8_t i = 0; i < 42; ++i) frame.push_back(static_cast<std::uint8_t>(job * 31 + i * 7));
    frame[4] = proto::protocol_version;
    log("byzantine: sending a malformed frame (job " + std::to_string(job) + ")");
    send_unsealed(std::move(frame));
  }

  // A genuine replay: the exact bytes of the last sealed frame (valid MAC, used sequence number),
  // queued behind the answer just sent. The head must refuse it as a replay and close only this
  // connection; the answer already accepted still counts.
  void attack_replay(std::uint64_t job) {
    if (!channel_) return;
    auto channel = channel_;
    asio::co_spawn(io_, [this, channel, job]() -> asio::awaitable<void> {
      Bytes frame = channel->last_frame_for_testing();  // read when this runs: after the answer's send
      if (frame.empty()) co_return;                      // nothing sealed yet: nothing to replay
      log("byzantine: replaying frame " + std::to_string(channel->frames_sent() - 1) + " byte for byte (job " +
          std::to_string(job) + ")");
      (void)co_await channel->send_unsealed_for_testing(std::move(frame));
    }, asio::detached);
  }

  void send_unsealed(Bytes bytes) {
    auto channel = channel_;
    asio::co_spawn(io_, [channel, bytes = std::move(bytes)]() mutable -> asio::awaitable<void> {
      (void)co_await channel->send_unsealed_for_testing(std::move(bytes));
    }, asio::detached);
  }

  WorkerOptions options_;
  Membership membership_;
  Keypair key_;
  core::WorkerIndex self_;
  std::string name_;
  WorkerLogic logic_;
  std::unique_ptr<AnswerModel> model_;
  asio::io_context io_;
  asio::thread_pool pool_;
  tcp::acceptor acceptor_;
  process::StopSignals signals_;
  std::optional<tcp::endpoint> listen_;
  std::optional<tcp::endpoint> head_;
  Clock::time_point started_;
  std::shared_ptr<net::Channel> channel_;
  std::uint32_t handshakes_ = 0;
  bool stopping_ = false;
};

void log_plain(const std::string& line) {
  const std::string text = "worker: " + line + "\n";
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace

WorkerOptions apply_specialist(WorkerOptions options, const Specialist& specialist) {
  if (specialist.name.empty()) return options;
  if (!options.system_prompt_given) options.system_prompt = specialist.system_prompt;
  if (!options.temperature_given) options.temperature = specialist.temperature;
  if (!options.seed_given) options.seed = specialist.seed;
  return options;
}

int run_worker(const WorkerOptions& given) {
  WorkerOptions options = given;  // the specialist's settings are filled in once this worker is known
  ::signal(SIGPIPE, SIG_IGN);  // a script model that exits early must not kill the worker
  auto files = process::read_key_and_membership(options.key_file, options.membership_file, log_plain);
  if (!files) {
    log_plain(files.error().message);
    return 2;
  }
  const auto& key = files->key;
  const auto& membership = files->membership;
  std::optional<core::WorkerIndex> self;
  for (std::size_t i = 0; i < membership.record.workers.size(); ++i) {
    if (membership.record.workers[i].key == key.public_key) self = static_cast<core::WorkerIndex>(i);
  }
  if (!self) {
    log_plain("the key " + options.key_file.string() + " is not a worker key of " + options.membership_file.string() +
              "; give this worker's own key file");
    return 2;
  }
  if (*self < membership.specialists.size() && !membership.specialists[*self].name.empty()) {
    options = apply_specialist(options, membership.specialists[*self]);
    char temperature[32];
    std::snprintf(temperature, sizeof temperature, "%.2f", static_cast<double>(options.temperature));
    log_plain("specialist " + membership.specialists[*self].name + " (from the membership): temperature " +
              temperature + ", seed " + std::to_string(options.seed) +
              (options.system_prompt_given ? ", system prompt from --system" : ""));
  }
  const auto kind = byzantine_from_name(options.byzantine);
  if (!kind) {
    log_plain("unknown --byzantine '" + options.byzantine +
              "'; use none, wrong, random, equivocate, collude, slow, silent, malformed or replay");
    return 2;
  }
  std::optional<tcp::endpoint> head;
  if (!options.head.empty()) {
    auto ep = net::parse_endpoint(options.head);
    if (!ep) {
      log_plain("--head: " + ep.error().message);
      return 2;
    }
    head = *ep;
  }
  std::string listen = options.listen;
  if (listen.empty() && !head && *self < membership.addresses.size()) listen = membership.addresses[*self];
  if (listen.empty() && !head) {
    log_plain("no --listen, no --head and no address for this worker in the membership; give --listen HOST:PORT "
              "(the head dials this worker) or --head HOST:PORT (this worker dials a head started with --listen)");
    return 2;
  }
  std::optional<tcp::endpoint> endpoint;
  if (!listen.empty()) {
    auto ep = net::parse_endpoint(listen);
    if (!ep) {
      log_plain("--listen: " + ep.error().message);
      return 2;
    }
    endpoint = *ep;
  }
  ModelOptions model_options;
  model_options.timeout_ms = options.model_timeout_ms;
  model_options.system_prompt = options.system_prompt;
  model_options.max_tokens = options.max_tokens;
  model_options.temperature = options.temperature;
  model_options.compute_threads = options.compute_threads;
  auto model = make_answer_model(options.model, model_options);
  if (!model) {
    log_plain("--model: " + model.error().message);
    return 2;
  }
  if (options.model_threads == 0 || options.model_threads > 64) {
    log_plain("--model-threads must be 1..64");
    return 2;
  }
  WorkerConfig config;
  config.membership = membership;
  config.key = key;
  config.self = *self;
  config.byzantine = *kind;
  config.seed = options.seed;
  config.slow_ms = options.slow_ms;
  Worker worker(options, std::move(config), std::move(model.value()), endpoint, head);
  return worker.run();
}

}  // namespace bf::runtime
