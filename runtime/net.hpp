// The Asio transport between the head and its workers (spec/protocol.md): TCP, the authenticated
// handshake of runtime/protocol.hpp, then MAC'd frames in both directions.
//
// Threading: a Channel belongs to one io_context run by one thread (or one strand). Several
// coroutines may call send() at once; one coroutine at a time calls receive(). Every failure closes
// only the connection it happened on, with a reason given to the log sink (never key material).
// Heartbeats, deadlines and reconnecting are the processes' policy, not the Channel's.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// (keep the line above first)
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "runtime/crypto.hpp"
#include "runtime/membership_file.hpp"
#include "runtime/messages.hpp"
#include "runtime/protocol.hpp"

namespace bf::runtime::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Where a Channel reports why it closed a connection; empty means one line on stderr.
using LogSink = std::function<void(std::string_view)>;

struct ChannelLimits {
  std::uint32_t frame_bytes_max = proto::frame_bytes_max;
  std::uint32_t handshake_timeout_ms = 2000;  // connect + the three handshake messages
  std::uint32_t write_timeout_ms = 5000;      // one frame's write; a peer that stops reading is cut
  std::uint32_t frame_body_timeout_ms = 5000;  // from a frame's length prefix to its last byte
  std::uint32_t send_queue_frames_max = 1024;  // frames waiting to be written; more fails send()
};

// After a successful handshake.
class Channel : public std::enable_shared_from_this<Channel> {
 public:
  enum class Side : std::uint8_t { head, worker };  // which end this process is

  Channel(tcp::socket socket, proto::Session session, Side side, std::string peer_name,
          ChannelLimits limits, LogSink log);
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel();

  // Seals the message under the next sequence number and queues it; the first sender drains the
  // queue in order. An error when the channel is closed, the queue is full or the message is
  // outside the protocol's limits; a failed write closes the channel.
  asio::awaitable<core::Status> send(const proto::Message& m);
  // The next authenticated message. An error says why: closed (by the peer or locally), malformed,
  // MAC, replay/reorder, oversized. After an error the channel is closed.
  asio::awaitable<core::Result<proto::Message>> receive();
  // Sends Goodbye{reason} best-effort (bounded by write_timeout_ms), then closes the socket.
  // Idempotent; pending receive() calls end with "closed locally: <reason>".
  void close(std::string_view reason);

  // Closes the channel ("no frame from the peer for N ms") once receive() has taken no frame for
  // idle_ms. Call at most once, after the handshake; the processes pair it with heartbeats sent
  // more often than idle_ms, so a hung or partitioned peer is detected within idle_ms.
  void start_idle_watchdog(std::uint32_t idle_ms);

  // Byzantine test modes only (butterfly worker --byzantine malformed|replay): queue bytes exactly
  // as given, unsealed (no sequence number is used), and keep a copy of the last sealed frame so
  // it can be sent again as a genuine replay. Never used on an honest path.
  asio::awaitable<core::Status> send_unsealed_for_testing(Bytes bytes);
  void keep_last_frame_for_testing() noexcept { keep_last_frame_ = true; }
  [[nodiscard]] const Bytes& last_frame_for_testing() const noexcept { return last_frame_; }

  [[nodiscard]] bool is_open() const noexcept { return !closing_ && socket_.is_open(); }
  // Why the channel closed ("closed locally: ...", "closed by the peer", a frame check); empty while open.
  [[nodiscard]] const std::string& close_reason() const noexcept { return close_reason_; }
  // The authenticated worker index of this connection (the peer on the head, self on a worker).
  [[nodiscard]] core::WorkerIndex worker() const noexcept { return session_.worker; }
  // "worker 2 (bravo) at 127.0.0.1:7001" on the head, "head at 127.0.0.1:53012" on a worker.
  [[nodiscard]] std::string peer_text() const;
  [[nodiscard]] Side side() const noexcept { return side_; }
  // Frames sent and received so far (the next sequence numbers).
  [[nodiscard]] std::uint64_t frames_sent() const noexcept { return sealer_.next_sequence(); }
  [[nodiscard]] std::uint64_t frames_received() const noexcept { return opener_.next_sequence(); }
  asio::any_io_executor get_executor() { return socket_.get_executor(); }

 private:
  asio::awaitable<core::Status> enqueue(Bytes frame);
  asio::awaitable<void> drain();
  asio::awaitable<void> watch_idle(std::uint32_t idle_ms);
  void fail(const std::string& reason);
  void log(const std::string& line) const;

  tcp::socket socket_;
  proto::Session session_;
  Side side_;
  std::string peer_name_;
  std::string peer_address_;
  ChannelLimits limits_;
  LogSink log_;
  proto::FrameSealer sealer_;
  proto::FrameOpener opener_;
  std::deque<Bytes> queue_;
  bool writing_ = false;
  bool closing_ = false;
  std::string close_reason_;
  std::string peer_goodbye_;
  bool keep_last_frame_ = false;
  Bytes last_frame_;
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_frame_at_;  // the peer's Goodbye reason, printable, for the close log line
};

// Head side: connect to a worker's address and run the handshake as initiator. Fails (with the
// reason) on connect errors, the handshake timeout, a worker whose key or membership differs.
// Arguments are taken by value: the coroutine may outlive the caller's temporaries.
asio::awaitable<core::Result<std::shared_ptr<Channel>>> connect_to_worker(
    tcp::endpoint endpoint, Membership membership, Keypair head_key,
    core::WorkerIndex expected_worker, ChannelLimits limits = {}, LogSink log = {});

// Head side, for workers that dial in (`butterfly head --listen`): reads the worker's dial-in
// message, then runs the handshake as initiator for the index it claims, which the handshake
// authenticates. Fails (with the reason) like connect_to_worker.
asio::awaitable<core::Result<std::shared_ptr<Channel>>> accept_worker(
    tcp::socket socket, Membership membership, Keypair head_key, ChannelLimits limits = {}, LogSink log = {});

// Worker side (`butterfly worker --head ADDR`): connect to a listening head, send the dial-in
// message, then run the handshake as responder, as accept_head does.
asio::awaitable<core::Result<std::shared_ptr<Channel>>> dial_head(
    tcp::endpoint endpoint, Membership membership, Keypair worker_key, core::WorkerIndex self,
    ChannelLimits limits = {}, LogSink log = {});

// Worker side: run the handshake as responder on an accepted socket. On failure the socket is
// closed (after a best-effort refusal naming the reason, e.g. a membership digest mismatch).
asio::awaitable<core::Result<std::shared_ptr<Channel>>> accept_head(
    tcp::socket socket, Membership membership, Keypair worker_key,
    core::WorkerIndex self, ChannelLimits limits = {}, LogSink log = {});

// Worker side: accepts connections forever (until the acceptor is closed), running each handshake
// in its own coroutine so a slow or hostile client delays no one else; at most
// handshakes_in_flight_max at once (more are closed at once). Each established channel is handed
// to on_channel, spawned detached on the acceptor's executor.
inline constexpr std::uint32_t handshakes_in_flight_max = 64;
using ChannelHandler = std::function<asio::awaitable<void>(std::shared_ptr<Channel>)>;
asio::awaitable<void> accept_heads(tcp::acceptor& acceptor, Membership membership,
                                   Keypair worker_key, core::WorkerIndex self,
                                   ChannelHandler on_channel, ChannelLimits limits = {},
                                   LogSink log = {});

// "host:port" into an endpoint: an IPv4 literal, "[v6]" literal or "localhost"; port 0..65535
// (0 lets a listener pick one). No DNS lookups. An error says what was wrong and the form expected.
core::Result<tcp::endpoint> parse_endpoint(std::string_view text);
// "127.0.0.1:7001" or "[::1]:7001".
std::string endpoint_text(const tcp::endpoint& endpoint);

}  // namespace bf::runtime::net
