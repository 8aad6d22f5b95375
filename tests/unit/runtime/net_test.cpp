// The Asio transport (runtime/net.hpp) over loopback in one process: handshake and messages both
// ways, and each hostile client (wrong key, other membership, garbage, oversized length, a frame
// replayed onto a fresh connection, a silent slow-loris) closes only its own connection while the
// listener keeps serving.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "runtime/net.hpp"

namespace bf::runtime::net {
namespace {

namespace cc = core::cert;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

auto use_ec(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

Seed seed_of(std::uint8_t b) {
  Seed s{};
  s.fill(b);
  return s;
}

struct Cluster {
  Keypair head = keypair_from_seed(seed_of(0x10));
  std::vector<Keypair> workers;
  Membership membership;
  explicit Cluster(const std::string& cluster_id = "net-test") {
    std::vector<cc::MemberKey> members;
    for (std::uint8_t i = 0; i < 4; ++i) {
      workers.push_back(keypair_from_seed(seed_of(static_cast<std::uint8_t>(0x20 + i))));
      members.push_back({std::string("w") + static_cast<char>('a' + i), workers.back().public_key});
    }
    membership = make_membership_record(cluster_id, 1, 1, head.public_key, members).value();
  }
};

bool contains(const std::vector<std::string>& lines, std::string_view needle) {
  for (const auto& l : lines) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

asio::awaitable<void> sleep_ms(int ms) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  error_code ec;
  co_await t.async_wait(use_ec(ec));
}

// A worker's listener: answers each Ask with an Answer echoing the prompt, each ping with a pong.
struct Server {
  asio::io_context& ctx;
  tcp::acceptor acceptor;
  std::vector<std::string> log;
  std::vector<std::string> receive_errors;
  std::vector<std::weak_ptr<Channel>> channels;
  int served = 0;
  bool mute = false;  // accept, then never read (a peer that stopped reading)

  explicit Server(asio::io_context& c) : ctx(c), acceptor(c, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {}
  tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }

  void start(const Cluster& cluster, core::WorkerIndex self, ChannelLimits limits = {}) {
    auto handler = [this](std::shared_ptr<Channel> ch) -> asio::awaitable<void> {
      ++served;
      channels.push_back(ch);
      while (mute && ch->is_open()) co_await sleep_ms(20);
      for (;;) {
        auto m = co_await ch->receive();
        if (!m) {
          receive_errors.push_back(m.error().message);
          co_return;
        }
        if (const auto* ask = std::get_if<proto::Ask>(&m.value())) {
          proto::Answer a;
          a.query_id = ask->query_id;
          a.round = ask->round;
          a.answer.worker = ch->worker();
          a.text = "echo: " + ask->prompt;
          (void)co_await ch->send(a);
        } else if (const auto* hb = std::get_if<proto::Heartbeat>(&m.value()); hb && !hb->pong) {
          (void)co_await ch->send(proto::Heartbeat{hb->nonce, true});
        } else if (std::holds_alternative<proto::Goodbye>(m.value())) {
          receive_errors.push_back("goodbye: " + std::get<proto::Goodbye>(m.value()).reason);
          ch->close("bye");
          co_return;
        }
      }
    };
    asio::co_spawn(ctx,
                   accept_heads(acceptor, cluster.membership, cluster.workers[self], self, handler, limits,
                                [this](std::string_view line) { log.emplace_back(line); }),
                   asio::detached);
  }
  void stop() {
    error_code ignored;
    acceptor.close(ignored);
    for (auto& w : channels) {
      if (auto ch = w.lock()) ch->close("test over");
    }
  }
};

// Runs a test body coroutine to completion (bounded), then lets every other coroutine finish.
void run(asio::io_context& ctx, std::function<asio::awaitable<void>()> body) {
  bool done = false;
  asio::co_spawn(
      ctx, [&]() -> asio::awaitable<void> { co_await body(); done = true; }, asio::detached);
  ctx.run_for(std::chrono::seconds(20));
  EXPECT_TRUE(done) << "the test body did not finish";
}

// A head that speaks the protocol by hand, so tests can put any bytes on an established session.
struct RawHead {
  tcp::socket socket;
  proto::Session session;
  explicit RawHead(asio::io_context& ctx) : socket(ctx) {}
};

asio::awaitable<core::Status> raw_handshake(RawHead& h, tcp::endpoint ep, const Cluster& c, core::WorkerIndex w) {
  error_code ec;
  co_await h.socket.async_connect(ep, use_ec(ec));
  if (ec) co_return core::Error{core::Errc::invalid_argument, "connect: " + ec.message()};
  auto init = proto::HandshakeInitiator::make(c.membership, c.head, w, proto::random_handshake()).value();
  co_await asio::async_write(h.socket, asio::buffer(proto::with_length_prefix(init.hello())), use_ec(ec));
  std::array<std::uint8_t, 4> prefix{};
  co_await asio::async_read(h.socket, asio::buffer(prefix), use_ec(ec));
  Bytes reply(prefix[0] | prefix[1] << 8);
  co_await asio::async_read(h.socket, asio::buffer(reply), use_ec(ec));
  if (ec) co_return core::Error{core::Errc::invalid_argument, "read: " + ec.message()};
  auto finish = init.on_reply(reply);
  if (!finish) co_return finish.error();
  co_await asio::async_write(h.socket, asio::buffer(proto::with_length_prefix(*finish)), use_ec(ec));
  if (ec) co_return core::Error{core::Errc::invalid_argument, "write: " + ec.message()};
  h.session = init.session();
  co_return core::Ok{};
}

// Reads until the peer closes; true when it closed (EOF or reset) rather than sent more bytes.
asio::awaitable<bool> closed_by_peer(tcp::socket& s) {
  std::array<std::uint8_t, 256> buf{};
  error_code ec;
  co_await s.async_read_some(asio::buffer(buf), use_ec(ec));
  co_return ec == asio::error::eof || ec == asio::error::connection_reset;
}

TEST(Net, ConnectAcceptAndExchangeBothWays) {
  asio::io_context ctx;
  const Cluster c;
  Server server(ctx);
  server.start(c, 2);
  std::vector<std::string> head_log;
  run(ctx, [&]() -> asio::awaitable<void> {
    auto ch = co_await connect_to_worker(server.endpoint(), c.membership, c.head, 2, {},
                                         [&](std::string_view l) { head_log.emplace_back(l); });
    EXPECT_TRUE(ch.ok()) << ch.error().message;
    if (!ch) co_return;
    auto channel = ch.value();
    EXPECT_EQ(channel->worker(), 2u);
    EXPECT_EQ(channel->peer_text(), "worker 2 (wc) at " + endpoint_text(server.endpoint()));
    proto::Ask ask;
    ask.query_id.fill(3);
    ask.prompt = "2+2?";
    EXPECT_TRUE((co_await channel->send(ask)).ok());
    auto answer = co_await channel->receive();
    EXPECT_TRUE(answer.ok()) << answer.error().message;
    if (answer) {
      const auto& a = std::get<proto::Answer>(answer.value());
      EXPECT_EQ(a.text, "echo: 2+2?");
      EXPECT_EQ(a.answer.worker, 2u);
      EXPECT_EQ(a.query_id, ask.query_id);
    }
    // Several coroutines send at once: every frame arrives, in sequence order.
    constexpr int senders = 5, per_sender = 20;
    int sent_ok = 0;
    for (int s = 0; s < senders; ++s) {
      asio::co_spawn(
          ctx,
          [&, s]() -> asio::awaitable<void> {
            for (int i = 0; i < per_sender; ++i) {
              if ((co_await channel->send(proto::Heartbeat{static_cast<std::uint64_t>(s * 100 + i), false})).ok()) ++sent_ok;
            }
          },
          asio::detached);
    }
    int pongs = 0;
    for (int i = 0; i < senders * per_sender; ++i) {
      auto m = co_await channel->receive();
      if (!m) break;
      if (const auto* hb = std::get_if<proto::Heartbeat>(&m.value()); hb && hb->pong) ++pongs;
    }
    EXPECT_EQ(sent_ok, senders * per_sender);
    EXPECT_EQ(pongs, senders * per_sender);
    EXPECT_EQ(channel->frames_sent(), 1u + senders * per_sender);
    channel->close("test done");
    EXPECT_FALSE((co_await channel->send(proto::Heartbeat{})).ok());
    co_await sleep_ms(50);
    server.stop();
  });
  EXPECT_EQ(server.served, 1);
  EXPECT_TRUE(contains(server.receive_errors, "goodbye: test done")) << joined(server.receive_errors);
  EXPECT_TRUE(head_log.empty()) << joined(head_log);
}

TEST(Net, WrongKeysAndOtherMembershipAreRefusedAndTheListenerKeepsServing) {
  asio::io_context ctx;
  const Cluster c;
  Server server(ctx);
  server.start(c, 1);
  std::vector<std::string> head_log;
  auto sink = [&](std::string_view l) { head_log.emplace_back(l); };
  run(ctx, [&]() -> asio::awaitable<void> {
    // A head with a key the membership does not list: the worker refuses its Finish.
    const Keypair impostor = keypair_from_seed(seed_of(0x66));
    Membership lying = c.membership;  // same digest, but it names the impostor as head
    lying.record.head_key = impostor.public_key;
    auto bad = co_await connect_to_worker(server.endpoint(), lying, impostor, 1, {}, sink);
    if (bad) {
      // The head side cannot tell until the worker closes: its first receive fails.
      auto m = co_await bad.value()->receive();
      EXPECT_FALSE(m.ok());
    }
    // A head dialling a worker that is not the one at this address (index 1 listens, head wants 0):
    // the worker's key is not worker 0's, and the worker names the mix-up.
    auto wrong_worker = co_await connect_to_worker(server.endpoint(), c.membership, c.head, 0, {}, sink);
    EXPECT_FALSE(wrong_worker.ok());
    if (!wrong_worker) {
      EXPECT_NE(wrong_worker.error().message.find("dialled worker 0 but this is worker 1"), std::string::npos) << wrong_worker.error().message;
    }
    // Another membership: refused by name.
    const Cluster other("other-cluster");
    auto foreign = co_await connect_to_worker(server.endpoint(), other.membership, other.head, 1, {}, sink);
    EXPECT_FALSE(foreign.ok());
    if (!foreign) {
      EXPECT_NE(foreign.error().message.find("membership digest differs"), std::string::npos) << foreign.error().message;
    }
    // The listener still serves a good head.
    auto good = co_await connect_to_worker(server.endpoint(), c.membership, c.head, 1, {}, sink);
    EXPECT_TRUE(good.ok()) << (good ? "" : good.error().message);
    if (good) {
      EXPECT_TRUE((co_await good.value()->send(proto::Heartbeat{7, false})).ok());
      auto pong = co_await good.value()->receive();
      EXPECT_TRUE(pong.ok() && std::get<proto::Heartbeat>(pong.value()).pong);
      good.value()->close("done");
    }
    co_await sleep_ms(20);
    server.stop();
  });
  EXPECT_EQ(server.served, 1);
  EXPECT_TRUE(contains(server.log, "finish signature does not verify")) << joined(server.log);
  EXPECT_TRUE(contains(server.log, "membership digest differs")) << joined(server.log);
  EXPECT_TRUE(contains(head_log, "connection to worker 0 (wa) at")) << joined(head_log);
}

TEST(Net, WorkerWithTheWrongKeyIsRefusedByTheHead) {
  asio::io_context ctx;
  const Cluster c;
  // A worker process started with worker 3's key but told it is worker 1 refuses to start its
  // handshakes; one whose membership lists its own key (forged) answers, and the head refuses it.
  Cluster forged_cluster;
  forged_cluster.workers[1] = c.workers[3];
  forged_cluster.membership.record.workers[1].key = c.workers[3].public_key;  // digest unchanged
  Server server(ctx);
  server.start(forged_cluster, 1);
  std::vector<std::string> head_log;
  run(ctx, [&]() -> asio::awaitable<void> {
    auto ch = co_await connect_to_worker(server.endpoint(), c.membership, c.head, 1, {},
                                         [&](std::string_view l) { head_log.emplace_back(l); });
    EXPECT_FALSE(ch.ok());
    server.stop();
  });
  EXPECT_TRUE(contains(head_log, "does not verify under worker 1")) << joined(head_log);
  EXPECT_EQ(server.served, 0);
}

TEST(Net, GarbageAndOversizedLengthCloseOnlyThatConnection) {
  asio::io_context ctx;
  const Cluster c;
  Server server(ctx);
  server.start(c, 0);
  run(ctx, [&]() -> asio::awaitable<void> {
    error_code ec;
    // Garbage instead of a Hello (an HTTP request): the length prefix is far over the handshake limit.
    tcp::socket garbage(ctx);
    co_await garbage.async_connect(server.endpoint(), use_ec(ec));
    const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    co_await asio::async_write(garbage, asio::buffer(http), use_ec(ec));
    EXPECT_TRUE(co_await closed_by_peer(garbage));

    // An established session, then a length prefix over frame_bytes_max.
    RawHead raw(ctx);
    auto hs = co_await raw_handshake(raw, server.endpoint(), c, 0);
    EXPECT_TRUE(hs.ok()) << (hs ? "" : hs.error().message);
    const std::uint32_t over = proto::frame_bytes_max + 1;
    const std::array<std::uint8_t, 4> prefix{static_cast<std::uint8_t>(over), static_cast<std::uint8_t>(over >> 8),
                                             static_cast<std::uint8_t>(over >> 16), static_cast<std::uint8_t>(over >> 24)};
    co_await asio::async_write(raw.socket, asio::buffer(prefix), use_ec(ec));
    EXPECT_TRUE(co_await closed_by_peer(raw.socket));

    // A good head is still served.
    auto good = co_await connect_to_worker(server.endpoint(), c.membership, c.head, 0);
    EXPECT_TRUE(good.ok());
    if (good) {
      EXPECT_TRUE((co_await good.value()->send(proto::Heartbeat{1, false})).ok());
      EXPECT_TRUE((co_await good.value()->receive()).ok());
      good.value()->close("done");
    }
    co_await sleep_ms(20);
    server.stop();
  });
  EXPECT_TRUE(contains(server.log, "over the handshake limit")) << joined(server.log);
  EXPECT_TRUE(contains(server.receive_errors, "oversized")) << joined(server.receive_errors);
  EXPECT_TRUE(contains(server.log, "oversized")) << joined(server.log);
  EXPECT_EQ(server.served, 2);
}

TEST(Net, FrameReplayedOntoAFreshConnectionIsRefused) {
  asio::io_context ctx;
  const Cluster c;
  Server server(ctx);
  server.start(c, 3);
  run(ctx, [&]() -> asio::awaitable<void> {
    error_code ec;
    RawHead first(ctx);
    EXPECT_TRUE((co_await raw_handshake(first, server.endpoint(), c, 3)).ok());
    proto::FrameSealer sealer(first.session.send_key);
    const Bytes frame = sealer.seal(proto::Heartbeat{42, false}).value();
    co_await asio::async_write(first.socket, asio::buffer(frame), use_ec(ec));
    // The worker answers the first session's ping.
    std::array<std::uint8_t, 4> prefix{};
    co_await asio::async_read(first.socket, asio::buffer(prefix), use_ec(ec));
    EXPECT_FALSE(ec);

    // The same bytes on a fresh session: other keys, so the MAC fails and only that one closes.
    RawHead second(ctx);
    EXPECT_TRUE((co_await raw_handshake(second, server.endpoint(), c, 3)).ok());
    co_await asio::async_write(second.socket, asio::buffer(frame), use_ec(ec));
    EXPECT_TRUE(co_await closed_by_peer(second.socket));

    // Replayed on its own connection, the frame fails the sequence check.
    co_await asio::async_write(first.socket, asio::buffer(frame), use_ec(ec));
    std::array<std::uint8_t, 512> rest{};
    // Drain the pong's body, then expect the close.
    co_await asio::async_read(first.socket, asio::buffer(rest.data(), prefix[0]), use_ec(ec));
    EXPECT_TRUE(co_await closed_by_peer(first.socket));
    server.stop();
  });
  EXPECT_TRUE(contains(server.receive_errors, "MAC check failed")) << joined(server.receive_errors);
  EXPECT_TRUE(contains(server.receive_errors, "sequence 0 where 1 was due")) << joined(server.receive_errors);
}

TEST(Net, SlowLorisHandshakeIsClosedAfterTheTimeoutWithoutBlockingOthers) {
  asio::io_context ctx;
  const Cluster c;
  Server server(ctx);
  ChannelLimits limits;
  limits.handshake_timeout_ms = 500;
  server.start(c, 2, limits);
  run(ctx, [&]() -> asio::awaitable<void> {
    error_code ec;
    tcp::socket silent(ctx);
    co_await silent.async_connect(server.endpoint(), use_ec(ec));
    const auto started = Clock::now();
    // While the silent client waits, a good head connects and is served at once.
    auto good = co_await connect_to_worker(server.endpoint(), c.membership, c.head, 2, limits);
    EXPECT_TRUE(good.ok());
    EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(400));
    if (good) good.value()->close("done");
    EXPECT_TRUE(co_await closed_by_peer(silent));
    const auto waited = Clock::now() - started;
    EXPECT_GE(waited, std::chrono::milliseconds(450));
    EXPECT_LT(waited, std::chrono::milliseconds(2000));
    server.stop();
  });
  EXPECT_TRUE(contains(server.log, "handshake timed out after 500 ms")) << joined(server.log);
  EXPECT_EQ(server.served, 1);
}

TEST(Net, HeadGivesUpOnAWorkerThatNeverAnswers) {
  asio::io_context ctx;
  const Cluster c;
  tcp::acceptor mute(ctx, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  ChannelLimits limits;
  limits.handshake_timeout_ms = 200;
  run(ctx, [&]() -> asio::awaitable<void> {
    const auto started = Clock::now();
    // The kernel completes the TCP connect from the listen backlog; nobody ever replies.
    auto ch = co_await connect_to_worker(mute.local_endpoint(), c.membership, c.head, 0, limits,
                                         [](std::string_view) {});
    EXPECT_FALSE(ch.ok());
    if (!ch) {
      EXPECT_NE(ch.error().message.find("handshake timed out after 200 ms"), std::string::npos) << ch.error().message;
    }
    EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(1500));
  });
}

TEST(Net, IdleWatchdogClosesASilentPeer) {
  asio::io_context ctx;
  const Cluster c;
  Server server(ctx);
  server.start(c, 1);
  std::vector<std::string> head_log;
  run(ctx, [&]() -> asio::awaitable<void> {
    auto ch = co_await connect_to_worker(server.endpoint(), c.membership, c.head, 1, {},
                                         [&](std::string_view l) { head_log.emplace_back(l); });
    EXPECT_TRUE(ch.ok());
    if (!ch) co_return;
    auto channel = ch.value();
    channel->start_idle_watchdog(150);
    // A ping answered in time keeps the channel open past the first deadline...
    co_await sleep_ms(100);
    EXPECT_TRUE((co_await channel->send(proto::Heartbeat{1, false})).ok());
    EXPECT_TRUE((co_await channel->receive()).ok());
    const auto started = Clock::now();
    // ...then silence closes it, ending the pending receive.
    auto m = co_await channel->receive();
    EXPECT_FALSE(m.ok());
    EXPECT_GE(Clock::now() - started, std::chrono::milliseconds(100));
    EXPECT_FALSE(channel->is_open());
    EXPECT_NE(channel->close_reason().find("no frame from the peer for 150 ms"), std::string::npos)
        << channel->close_reason();
    server.stop();
  });
  EXPECT_TRUE(contains(head_log, "no frame from the peer for 150 ms")) << joined(head_log);
}

TEST(Net, APeerThatStopsReadingFillsTheQueueThenHitsTheWriteTimeout) {
  asio::io_context ctx;
  const Cluster c;
  Server server(ctx);
  server.mute = true;
  server.start(c, 0);
  ChannelLimits limits;
  limits.send_queue_frames_max = 4;
  limits.write_timeout_ms = 1000;
  run(ctx, [&]() -> asio::awaitable<void> {
    auto ch = co_await connect_to_worker(server.endpoint(), c.membership, c.head, 0, limits, [](std::string_view) {});
    EXPECT_TRUE(ch.ok());
    if (!ch) co_return;
    auto channel = ch.value();
    proto::Ask big;
    big.prompt.assign(proto::prompt_bytes_max, 'x');
    std::string writer_error;
    int written = 0;
    // One coroutine writes until the kernel's buffers are full and its write blocks.
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          for (;;) {
            auto s = co_await channel->send(big);
            if (!s) {
              writer_error = s.error().message;
              co_return;
            }
            ++written;
          }
        },
        asio::detached);
    co_await sleep_ms(300);
    EXPECT_GT(written, 0);
    EXPECT_TRUE(writer_error.empty()) << writer_error;
    // Other senders queue up to the limit, then are refused.
    for (std::uint32_t i = 0; i < limits.send_queue_frames_max; ++i) {
      EXPECT_TRUE((co_await channel->send(proto::Heartbeat{i, false})).ok());
    }
    auto refused = co_await channel->send(proto::Heartbeat{99, false});
    EXPECT_FALSE(refused.ok());
    if (!refused) {
      EXPECT_NE(refused.error().message.find("send queue"), std::string::npos) << refused.error().message;
    }
    // The blocked write times out and closes the channel.
    for (int i = 0; i < 100 && writer_error.empty(); ++i) co_await sleep_ms(20);
    EXPECT_NE(writer_error.find("took longer than 1000 ms"), std::string::npos) << writer_error;
    EXPECT_FALSE(channel->is_open());
    server.stop();
  });
}

TEST(Net, GenuineReplayThroughTheTestingHookIsRefused) {
  asio::io_context ctx;
  const Cluster c;
  Server server(ctx);
  server.start(c, 2);
  run(ctx, [&]() -> asio::awaitable<void> {
    auto ch = co_await connect_to_worker(server.endpoint(), c.membership, c.head, 2, {}, [](std::string_view) {});
    EXPECT_TRUE(ch.ok());
    if (!ch) co_return;
    auto channel = ch.value();
    channel->keep_last_frame_for_testing();
    EXPECT_TRUE((co_await channel->send(proto::Heartbeat{5, false})).ok());
    EXPECT_TRUE((co_await channel->receive()).ok());
    const Bytes replay = channel->last_frame_for_testing();
    EXPECT_FALSE(replay.empty());
    EXPECT_TRUE((co_await channel->send_unsealed_for_testing(replay)).ok());
    EXPECT_FALSE((co_await channel->receive()).ok());  // the worker closed the connection
    server.stop();
  });
  EXPECT_TRUE(contains(server.receive_errors, "sequence 0 where 1 was due")) << joined(server.receive_errors);
}

TEST(Net, ConnectionRefusedIsReported) {
  asio::io_context ctx;
  const Cluster c;
  tcp::endpoint closed_port;
  {
    tcp::acceptor a(ctx, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    closed_port = a.local_endpoint();
  }
  run(ctx, [&]() -> asio::awaitable<void> {
    auto ch = co_await connect_to_worker(closed_port, c.membership, c.head, 0, {}, [](std::string_view) {});
    EXPECT_FALSE(ch.ok());
    if (!ch) {
      EXPECT_NE(ch.error().message.find("connect:"), std::string::npos) << ch.error().message;
    }
  });
}

TEST(Net, WorkerDialsAListeningHeadAndImpostorsAreRefused) {
  asio::io_context ctx;
  const Cluster c;
  const Cluster other("another-cluster");
  tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  std::vector<std::string> head_log;
  std::vector<core::WorkerIndex> accepted;
  run(ctx, [&]() -> asio::awaitable<void> {
    // The head's side: accept three connections, one at a time.
    asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 3; ++i) {
        error_code ec;
        tcp::socket s = co_await acceptor.async_accept(use_ec(ec));
        if (ec) co_return;
        auto ch = co_await accept_worker(std::move(s), c.membership, c.head, {},
                                         [&](std::string_view l) { head_log.emplace_back(l); });
        if (ch) {
          accepted.push_back(ch.value()->worker());
          proto::Ask ask;
          ask.prompt = "dialled in";
          (void)co_await ch.value()->send(ask);
        }
      }
    }, asio::detached);
    const auto ep = acceptor.local_endpoint();
    // The real worker 3 dials in and gets an Ask over the session.
    auto good = co_await dial_head(ep, c.membership, c.workers[3], 3);
    EXPECT_TRUE(good.ok()) << (good ? "" : good.error().message);
    if (good) {
      auto m = co_await good.value()->receive();
      EXPECT_TRUE(m.ok() && std::get<proto::Ask>(m.value()).prompt == "dialled in");
      EXPECT_EQ(good.value()->worker(), 3U);
    }
    // Worker 1's key claiming index 2 with the real digest (a doctored copy of the membership):
    // the head checks the reply's signature under worker 2's listed key, and it fails.
    Membership doctored = c.membership;
    doctored.record.workers[2].key = c.workers[1].public_key;
    auto impostor = co_await dial_head(ep, doctored, c.workers[1], 2);
    EXPECT_FALSE(impostor.ok());
    // Another membership: refused by digest before any handshake.
    auto foreign = co_await dial_head(ep, other.membership, other.workers[0], 0);
    EXPECT_FALSE(foreign.ok());
    co_await sleep_ms(50);
    error_code ignored;
    acceptor.close(ignored);
  });
  EXPECT_EQ(accepted, std::vector<core::WorkerIndex>{3});
  EXPECT_TRUE(contains(head_log, "membership digest differs")) << joined(head_log);
  EXPECT_TRUE(contains(head_log, "worker 2 (wc) (claimed)")) << joined(head_log);
  EXPECT_TRUE(contains(head_log, "signature")) << joined(head_log);
}

TEST(Net, DialInMessageIsCheckedFieldByField) {
  const Cluster c;
  const auto good = proto::dial_in(c.membership.digest, 1);
  ASSERT_EQ(good.size(), proto::dial_in_bytes);
  EXPECT_EQ(proto::parse_dial_in(good, c.membership).value(), 1U);
  auto bad_index = proto::dial_in(c.membership.digest, 4);
  EXPECT_NE(proto::parse_dial_in(bad_index, c.membership).error().message.find("out of range"), std::string::npos);
  auto short_one = good;
  short_one.pop_back();
  EXPECT_FALSE(proto::parse_dial_in(short_one, c.membership).ok());
  auto wrong_kind = good;
  wrong_kind[1] = 1;
  EXPECT_NE(proto::parse_dial_in(wrong_kind, c.membership).error().message.find("kind"), std::string::npos);
}

TEST(Net, ParseEndpoint) {
  EXPECT_EQ(endpoint_text(parse_endpoint("127.0.0.1:7001").value()), "127.0.0.1:7001");
  EXPECT_EQ(endpoint_text(parse_endpoint("[::1]:80").value()), "[::1]:80");
  EXPECT_EQ(endpoint_text(parse_endpoint("localhost:0").value()), "127.0.0.1:0");
  EXPECT_EQ(parse_endpoint("0.0.0.0:65535").value().port(), 65535);
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:8x",
                          "example.com:80", "::1:80", "[::1]80", "[::1:80", "1.2.3.4:123456"}) {
    auto r = parse_endpoint(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find("expected HOST:PORT"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace bf::runtime::net
