#include "runtime/net.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <chrono>
#include <iostream>
#include <utility>

namespace bf::runtime::net {
namespace {

using boost::system::error_code;
using core::Errc;
using core::Error;
using core::Result;

auto use_ec(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

Error net_error(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

void emit(const LogSink& log, std::string_view line) {
  if (log) {
    log(line);
  } else {
    std::cerr << "butterfly net: " << line << '\n';
  }
}

std::string remote_text(const tcp::socket& socket) {
  error_code ec;
  const tcp::endpoint ep = socket.remote_endpoint(ec);
  return ec ? std::string("an unknown address") : endpoint_text(ep);
}

// Closes a socket when the time runs out before the guarded operations finish, so a pending read
// or write ends at once. The handler checks `active`, so it never touches a socket that was moved
// or destroyed after the guard ended (single-threaded: the destructor runs before any late handler).
class Deadline {
 public:
  Deadline(tcp::socket& socket, std::uint32_t ms)
      : state_(std::make_shared<State>()), timer_(socket.get_executor()) {
    timer_.expires_after(std::chrono::milliseconds(ms));
    timer_.async_wait([state = state_, &socket](const error_code& ec) {
      if (ec || !state->active) return;
      state->expired = true;
      error_code ignored;
      socket.close(ignored);
    });
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() {
    state_->active = false;
    timer_.cancel();
  }
  [[nodiscard]] bool expired() const noexcept { return state_->expired; }

 private:
  struct State {
    bool active = true;
    bool expired = false;
  };
  std::shared_ptr<State> state_;
  asio::steady_timer timer_;
};

// A handshake's deadline: a failure after it expired is reported as the timeout it was.
class HandshakeDeadline : public Deadline {
 public:
  HandshakeDeadline(tcp::socket& socket, std::uint32_t ms) : Deadline(socket, ms), ms_(ms) {}
  [[nodiscard]] std::string timed(const std::string& reason) const {
    return expired() ? "handshake timed out after " + std::to_string(ms_) + " ms" : reason;
  }

 private:
  std::uint32_t ms_;
};

// An acceptor's refusal of a connection: logged, the socket closed, returned as the error.
Error refuse(const LogSink& log, tcp::socket& socket, const std::string& who, const std::string& reason) {
  const std::string line = "refused the connection from " + who + ": " + reason;
  emit(log, line);
  error_code ignored;
  socket.close(ignored);
  return net_error(line);
}

std::string io_problem(const error_code& ec) {
  if (ec == asio::error::eof) return "closed by the peer";
  if (ec == asio::error::connection_reset) return "connection reset by the peer";
  return ec.message();
}

// One handshake message: a length prefix (at most handshake_bytes_max) and its body.
asio::awaitable<Result<Bytes>> read_handshake_message(tcp::socket& socket, std::string_view what) {
  std::array<std::uint8_t, proto::length_prefix_bytes> prefix{};
  error_code ec;
  co_await asio::async_read(socket, asio::buffer(prefix), use_ec(ec));
  if (ec) co_return net_error("reading the " + std::string(what) + ": " + io_problem(ec));
  const std::uint32_t len = static_cast<std::uint32_t>(prefix[0]) | static_cast<std::uint32_t>(prefix[1]) << 8 |
                            static_cast<std::uint32_t>(prefix[2]) << 16 | static_cast<std::uint32_t>(prefix[3]) << 24;
  if (len > proto::handshake_bytes_max) {
    co_return net_error("the " + std::string(what) + " claims " + std::to_string(len) +
                        " bytes, over the handshake limit of " + std::to_string(proto::handshake_bytes_max) +
                        " (not a butterfly peer, or another protocol)");
  }
  Bytes body(len);
  co_await asio::async_read(socket, asio::buffer(body), use_ec(ec));
  if (ec) co_return net_error("reading the " + std::string(what) + ": " + io_problem(ec));
  co_return body;
}

asio::awaitable<core::Status> write_all(tcp::socket& socket, std::span<const std::uint8_t> bytes, std::string_view what) {
  error_code ec;
  co_await asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()), use_ec(ec));
  if (ec) co_return net_error("writing the " + std::string(what) + ": " + io_problem(ec));
  co_return core::Ok{};
}

// A peer-supplied text made safe for one log line.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  return out;
}

std::string worker_name(const Membership& m, core::WorkerIndex i) {
  std::string out = "worker " + std::to_string(i);
  if (i < m.record.workers.size()) out += " (" + m.record.workers[i].id + ")";
  return out;
}

}  // namespace

// ---- Channel ----

Channel::Channel(tcp::socket socket, proto::Session session, Side side, std::string peer_name,
                 ChannelLimits limits, LogSink log)
    : socket_(std::move(socket)),
      session_(session),
      side_(side),
      peer_name_(std::move(peer_name)),
      peer_address_(remote_text(socket_)),
      limits_(limits),
      log_(std::move(log)),
      sealer_(session.send_key),
      opener_(session.recv_key),
      idle_timer_(socket_.get_executor()),
      last_frame_at_(std::chrono::steady_clock::now()) {
  // Session keys now live in the sealer and opener only.
  session_.send_key.fill(0);
  session_.recv_key.fill(0);
}

Channel::~Channel() {
  error_code ignored;
  socket_.close(ignored);
}

std::string Channel::peer_text() const { return peer_name_ + " at " + peer_address_; }

void Channel::log(const std::string& line) const { emit(log_, line); }

void Channel::fail(const std::string& reason) {
  if (!closing_) {
    closing_ = true;
    close_reason_ = reason;
    log("closed the connection to " + peer_text() + ": " + reason);
  }
  queue_.clear();
  idle_timer_.cancel();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

asio::awaitable<core::Status> Channel::send(const proto::Message& m) {
  auto self = shared_from_this();
  if (closing_ || !socket_.is_open()) {
    co_return net_error("the connection to " + peer_text() + " is closed: " + close_reason_);
  }
  // Checked before sealing: a sealed frame that is not sent would leave a gap in the sequence.
  if (queue_.size() >= limits_.send_queue_frames_max) {
    co_return net_error("the send queue to " + peer_text() + " is full (" +
                        std::to_string(limits_.send_queue_frames_max) + " frames): the peer is not reading");
  }
  auto frame = sealer_.seal(m, limits_.frame_bytes_max);
  if (!frame) co_return frame.error();
  if (keep_last_frame_) last_frame_ = frame.value();
  co_return co_await enqueue(std::move(frame.value()));
}

asio::awaitable<core::Status> Channel::send_unsealed_for_testing(Bytes bytes) {
  auto self = shared_from_this();
  if (closing_ || !socket_.is_open()) {
    co_return net_error("the connection to " + peer_text() + " is closed: " + close_reason_);
  }
  co_return co_await enqueue(std::move(bytes));
}

// Queues a frame; the first sender drains the queue in order while later ones return at once.
asio::awaitable<core::Status> Channel::enqueue(Bytes frame) {
  auto self = shared_from_this();
  if (queue_.size() >= limits_.send_queue_frames_max) {
    co_return net_error("the send queue to " + peer_text() + " is full (" +
                        std::to_string(limits_.send_queue_frames_max) + " frames): the peer is not reading");
  }
  queue_.push_back(std::move(frame));
  if (!writing_) {
    writing_ = true;
    co_await drain();
  }
  if (closing_ && close_reason_.rfind("closed locally", 0) != 0) {
    co_return net_error("the connection to " + peer_text() + " failed: " + close_reason_);
  }
  co_return core::Ok{};
}

// Writes queued frames in sequence order; only one drain runs at a time (writing_). After a
// local close() it writes what is queued (ending with the Goodbye) and then closes the socket.
asio::awaitable<void> Channel::drain() {
  auto self = shared_from_this();
  while (!queue_.empty() && socket_.is_open()) {
    const Bytes frame = std::move(queue_.front());
    queue_.pop_front();
    error_code ec;
    bool expired = false;
    {
      Deadline deadline(socket_, limits_.write_timeout_ms);
      co_await asio::async_write(socket_, asio::buffer(frame), use_ec(ec));
      expired = deadline.expired();
    }
    if (expired) {
      fail("a frame write took longer than " + std::to_string(limits_.write_timeout_ms) +
           " ms (the peer stopped reading)");
    } else if (ec) {
      fail("write failed: " + io_problem(ec));
    }
  }
  writing_ = false;
  if (closing_) fail(close_reason_);
}

asio::awaitable<core::Result<proto::Message>> Channel::receive() {
  auto self = shared_from_this();
  if (closing_ || !socket_.is_open()) {
    co_return net_error("the connection to " + peer_text() + " is closed: " + close_reason_);
  }
  std::array<std::uint8_t, proto::length_prefix_bytes> prefix{};
  error_code ec;
  co_await asio::async_read(socket_, asio::buffer(prefix), use_ec(ec));
  if (ec) {
    if (!closing_) fail(io_problem(ec) + (peer_goodbye_.empty() ? "" : " after its goodbye: " + peer_goodbye_));
    co_return net_error("the connection to " + peer_text() + " is closed: " + close_reason_);
  }
  auto len = proto::frame_body_length(prefix, limits_.frame_bytes_max);
  if (!len) {
    fail(len.error().message);
    co_return len.error();
  }
  Bytes body(*len);
  bool expired = false;
  {
    Deadline deadline(socket_, limits_.frame_body_timeout_ms);
    co_await asio::async_read(socket_, asio::buffer(body), use_ec(ec));
    expired = deadline.expired();
  }
  if (expired) {
    const std::string reason = "a frame's body did not arrive within " + std::to_string(limits_.frame_body_timeout_ms) + " ms";
    fail(reason);
    co_return net_error(reason);
  }
  if (ec) {
    if (!closing_) fail(io_problem(ec));
    co_return net_error("the connection to " + peer_text() + " is closed: " + close_reason_);
  }
  auto m = opener_.open(body);
  if (!m) {
    fail(m.error().message);
    co_return m.error();
  }
  last_frame_at_ = std::chrono::steady_clock::now();
  if (const auto* goodbye = std::get_if<proto::Goodbye>(&m.value())) {
    peer_goodbye_ = goodbye->reason.empty() ? "(no reason)" : printable(goodbye->reason);
  }
  co_return m;
}

void Channel::close(std::string_view reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = "closed locally: " + std::string(reason);
  // Best-effort Goodbye: clip the reason to the limit so it always seals.
  auto goodbye = sealer_.seal(proto::Goodbye{std::string(reason.substr(0, proto::reason_bytes_max))},
                              limits_.frame_bytes_max);
  if (goodbye && socket_.is_open()) queue_.push_back(std::move(goodbye.value()));
  if (writing_) return;  // the running drain writes the Goodbye and closes
  writing_ = true;
  asio::co_spawn(socket_.get_executor(), [self = shared_from_this()]() { return self->drain(); }, asio::detached);
}

void Channel::start_idle_watchdog(std::uint32_t idle_ms) {
  asio::co_spawn(socket_.get_executor(), [self = shared_from_this(), idle_ms]() { return self->watch_idle(idle_ms); },
                 asio::detached);
}

asio::awaitable<void> Channel::watch_idle(std::uint32_t idle_ms) {
  auto self = shared_from_this();
  const auto idle = std::chrono::milliseconds(idle_ms);
  last_frame_at_ = std::chrono::steady_clock::now();
  while (!closing_ && socket_.is_open()) {
    idle_timer_.expires_at(last_frame_at_ + idle);
    error_code ec;
    co_await idle_timer_.async_wait(use_ec(ec));
    if (closing_ || !socket_.is_open()) co_return;  // fail() cancelled the timer
    if (std::chrono::steady_clock::now() - last_frame_at_ >= idle) {
      fail("no frame from the peer for " + std::to_string(idle_ms) + " ms");
      co_return;
    }
  }
}

// ---- Handshakes ----

// The head's half of the handshake on a connected socket: Hello, HelloReply, Finish.
asio::awaitable<core::Status> run_initiator(tcp::socket& socket, proto::HandshakeInitiator& init) {
  const Bytes hello = proto::with_length_prefix(init.hello());
  if (auto w = co_await write_all(socket, hello, "hello"); !w) co_return w.error();
  auto reply = co_await read_handshake_message(socket, "hello reply");
  if (!reply) co_return reply.error();
  auto finish = init.on_reply(*reply);
  if (!finish) co_return finish.error();
  if (auto w = co_await write_all(socket, proto::with_length_prefix(*finish), "finish"); !w) co_return w.error();
  co_return core::Ok{};
}

asio::awaitable<Result<std::shared_ptr<Channel>>> connect_to_worker(tcp::endpoint endpoint, Membership membership,
                                                                    Keypair head_key, core::WorkerIndex expected_worker,
                                                                    ChannelLimits limits, LogSink log) {
  const std::string who = worker_name(membership, expected_worker) + " at " + endpoint_text(endpoint);
  auto fail = [&](const std::string& reason) {
    const std::string line = "connection to " + who + " failed: " + reason;
    emit(log, line);
    return net_error(line);
  };
  auto init = proto::HandshakeInitiator::make(membership, head_key, expected_worker, proto::random_handshake());
  if (!init) co_return fail(init.error().message);
  tcp::socket socket(co_await asio::this_coro::executor);
  HandshakeDeadline deadline(socket, limits.handshake_timeout_ms);
  error_code ec;
  co_await socket.async_connect(endpoint, use_ec(ec));
  if (ec) co_return fail(deadline.timed("connect: " + ec.message()));
  socket.set_option(tcp::no_delay(true), ec);  // small frames; latency matters more than packets
  if (auto ok = co_await run_initiator(socket, init.value()); !ok) co_return fail(deadline.timed(ok.error().message));
  if (deadline.expired() || !socket.is_open()) co_return fail(deadline.timed("the socket closed during the handshake"));
  co_return std::make_shared<Channel>(std::move(socket), init->session(), Channel::Side::head,
                                      worker_name(membership, expected_worker), limits, std::move(log));
}

asio::awaitable<Result<std::shared_ptr<Channel>>> accept_head(tcp::socket socket, Membership membership,
                                                              Keypair worker_key, core::WorkerIndex self,
                                                              ChannelLimits limits, LogSink log) {
  const std::string from = remote_text(socket);
  auto fail = [&](const std::string& reason) { return refuse(log, socket, from, reason); };
  auto resp = proto::HandshakeResponder::make(membership, worker_key, self, proto::random_handshake());
  if (!resp) co_return fail(resp.error().message);
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  HandshakeDeadline deadline(socket, limits.handshake_timeout_ms);
  auto hello = co_await read_handshake_message(socket, "hello");
  if (!hello) co_return fail(deadline.timed(hello.error().message));
  auto reply = resp.value().on_hello(*hello);
  if (!reply) {
    // Tell the head why (best-effort, still under the deadline), so its log names the cause.
    (void)co_await write_all(socket, proto::with_length_prefix(proto::handshake_refusal(reply.error().message)),
                             "refusal");
    co_return fail(reply.error().message);
  }
  if (auto w = co_await write_all(socket, proto::with_length_prefix(*reply), "hello reply"); !w) {
    co_return fail(deadline.timed(w.error().message));
  }
  auto finish = co_await read_handshake_message(socket, "finish");
  if (!finish) co_return fail(deadline.timed(finish.error().message));
  auto session = resp.value().on_finish(*finish);
  if (!session) co_return fail(session.error().message);
  if (deadline.expired() || !socket.is_open()) co_return fail(deadline.timed("the socket closed during the handshake"));
  co_return std::make_shared<Channel>(std::move(socket), *session, Channel::Side::worker, "head", limits,
                                      std::move(log));
}

asio::awaitable<Result<std::shared_ptr<Channel>>> accept_worker(tcp::socket socket, Membership membership,
                                                                Keypair head_key, ChannelLimits limits, LogSink log) {
  const std::string from = remote_text(socket);
  std::string who = "a worker at " + from;
  auto fail = [&](const std::string& reason) { return refuse(log, socket, who, reason); };
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  HandshakeDeadline deadline(socket, limits.handshake_timeout_ms);
  auto claim = co_await read_handshake_message(socket, "dial-in");
  if (!claim) co_return fail(deadline.timed(claim.error().message));
  auto index = proto::parse_dial_in(*claim, membership);
  if (!index) co_return fail(index.error().message);
  who = worker_name(membership, *index) + " (claimed) at " + from;
  auto init = proto::HandshakeInitiator::make(membership, head_key, *index, proto::random_handshake());
  if (!init) co_return fail(init.error().message);
  if (auto ok = co_await run_initiator(socket, init.value()); !ok) co_return fail(deadline.timed(ok.error().message));
  if (deadline.expired() || !socket.is_open()) co_return fail(deadline.timed("the socket closed during the handshake"));
  co_return std::make_shared<Channel>(std::move(socket), init->session(), Channel::Side::head,
                                      worker_name(membership, *index), limits, std::move(log));
}

asio::awaitable<Result<std::shared_ptr<Channel>>> dial_head(tcp::endpoint endpoint, Membership membership,
                                                            Keypair worker_key, core::WorkerIndex self,
                                                            ChannelLimits limits, LogSink log) {
  tcp::socket socket(co_await asio::this_coro::executor);
  {
    Deadline deadline(socket, limits.handshake_timeout_ms);
    error_code ec;
    co_await socket.async_connect(endpoint, use_ec(ec));
    if (!ec) {
      if (auto w = co_await write_all(socket, proto::with_length_prefix(proto::dial_in(membership.digest, self)),
                                      "dial-in");
          !w) {
        ec = asio::error::broken_pipe;
      }
    }
    if (ec || deadline.expired()) {
      const std::string line = "dialling the head at " + endpoint_text(endpoint) + " failed: " +
                               (deadline.expired() ? "timed out after " + std::to_string(limits.handshake_timeout_ms) + " ms"
                                                   : ec.message());
      emit(log, line);
      co_return net_error(line);
    }
  }
  co_return co_await accept_head(std::move(socket), std::move(membership), std::move(worker_key), self, limits,
                                 std::move(log));
}

asio::awaitable<void> accept_heads(tcp::acceptor& acceptor, Membership membership, Keypair worker_key,
                                   core::WorkerIndex self, ChannelHandler on_channel, ChannelLimits limits,
                                   LogSink log) {
  auto executor = co_await asio::this_coro::executor;
  // Shared with the handshake coroutines, which may outlive this loop.
  auto in_flight = std::make_shared<std::uint32_t>(0);
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(use_ec(ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // E.g. out of file descriptors: say so and pause briefly rather than spin.
      emit(log, "accept failed: " + ec.message());
      asio::steady_timer pause(executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_ec(ec));
      continue;
    }
    if (*in_flight >= handshakes_in_flight_max) {
      emit(log, "refused the connection from " + remote_text(socket) + ": " +
                    std::to_string(handshakes_in_flight_max) + " handshakes are already in progress");
      socket.close(ec);
      continue;
    }
    ++*in_flight;
    asio::co_spawn(
        executor,
        [socket = std::move(socket), membership, worker_key, self, on_channel, limits, log,
         in_flight]() mutable -> asio::awaitable<void> {
          auto channel = co_await accept_head(std::move(socket), membership, worker_key, self, limits, log);
          --*in_flight;
          if (channel && on_channel) co_await on_channel(std::move(channel.value()));
        },
        asio::detached);
  }
}

// ---- Addresses ----

core::Result<tcp::endpoint> parse_endpoint(std::string_view text) {
  auto bad = [&](const std::string& problem) {
    return net_error("address '" + std::string(text) + "': " + problem +
                     "; expected HOST:PORT such as 127.0.0.1:7001, [::1]:7001 or localhost:7001");
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("no ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("no ':PORT' after ']'");
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no ':PORT'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("an IPv6 address must be in brackets");
  }
  if (host.empty()) return bad("the host is empty");
  if (port.empty() || port.size() > 5) return bad("the port must be 0..65535");
  unsigned value = 0;
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (err != std::errc() || end != port.data() + port.size() || value > 65535) {
    return bad("the port must be 0..65535");
  }
  error_code ec;
  const asio::ip::address address =
      host == "localhost" ? asio::ip::address(asio::ip::address_v4::loopback())
                          : asio::ip::make_address(std::string(host), ec);
  if (ec) return bad("'" + std::string(host) + "' is not an IP address (names other than localhost are not looked up)");
  return tcp::endpoint(address, static_cast<unsigned short>(value));
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

}  // namespace bf::runtime::net
