// libFuzzer target for the wire protocol (spec/protocol.md): message decoding, frame opening and
// the handshake state machines. The first input byte picks what the rest is fed to:
//   0: decode_message(type = byte 1, payload = the rest); whatever decodes re-encodes to the same bytes;
//   1: a stream of frames (length prefix + body) opened in order under a fixed session key;
//   2: (type, payload) sealed by hand with a valid MAC at sequence 0, so opening gets past the MAC;
//      it must accept exactly what decode_message accepts;
//   3: the rest as a HelloReply to a head, and as a Hello then Finish to a worker: no input may
//      establish a session (that would need a signature by a membership key).
// Any input must be handled without a crash, hang, leak or sanitizer report.
// Build and run: scripts/fuzz-certificates SECONDS (runs this target for part of the time).
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <span>

#include "runtime/membership_file.hpp"
#include "runtime/protocol.hpp"

namespace {

namespace proto = bf::runtime::proto;
using bf::runtime::Bytes;

const proto::SessionKey& key() {
  static const proto::SessionKey k = [] {
    proto::SessionKey out{};
    out.fill(0x42);
    return out;
  }();
  return k;
}

struct Cluster {
  bf::runtime::Keypair head;
  std::vector<bf::runtime::Keypair> workers;
  bf::runtime::Membership membership;
};

const Cluster& cluster() {
  static const Cluster c = [] {
    Cluster out;
    bf::runtime::Seed s{};
    s.fill(0x10);
    out.head = bf::runtime::keypair_from_seed(s);
    std::vector<bf::core::cert::MemberKey> members;
    for (std::uint8_t i = 0; i < 4; ++i) {
      s.fill(static_cast<std::uint8_t>(0x20 + i));
      out.workers.push_back(bf::runtime::keypair_from_seed(s));
      members.push_back({std::string("w") + static_cast<char>('a' + i), out.workers.back().public_key});
    }
    out.membership = bf::runtime::make_membership_record("fuzz", 1, 1, out.head.public_key, members).value();
    return out;
  }();
  return c;
}

proto::HandshakeRandom fixed_random() {
  proto::HandshakeRandom r;
  r.ephemeral_seed.fill(1);
  r.nonce.fill(2);
  return r;
}

void decode_round_trip(std::uint8_t type, std::span<const std::uint8_t> payload) {
  auto m = proto::decode_message(type, payload);
  if (!m) return;
  if (static_cast<std::uint8_t>(proto::message_type(*m)) != type) std::abort();
  auto again = proto::encode_message(*m);
  if (!again || !std::equal(again->begin(), again->end(), payload.begin(), payload.end())) std::abort();
}

void open_stream(std::span<const std::uint8_t> in) {
  proto::FrameOpener opener(key());
  while (in.size() >= proto::length_prefix_bytes && !opener.failed()) {
    auto len = proto::frame_body_length(in.first<proto::length_prefix_bytes>());
    if (!len) return;
    in = in.subspan(proto::length_prefix_bytes);
    if (in.size() < *len) return;
    (void)opener.open(in.first(*len));
    in = in.subspan(*len);
  }
}

void open_forged(std::uint8_t type, std::span<const std::uint8_t> payload) {
  if (payload.size() > proto::frame_bytes_max - proto::frame_overhead_bytes) return;
  Bytes body;
  body.reserve(proto::frame_overhead_bytes + payload.size());
  body.push_back(proto::protocol_version);
  body.push_back(type);
  body.resize(proto::frame_header_bytes, 0);  // sequence 0
  body.insert(body.end(), payload.begin(), payload.end());
  std::array<std::uint8_t, proto::mac_bytes> mac{};
  crypto_auth_hmacsha512256(mac.data(), body.data(), body.size(), key().data());
  body.insert(body.end(), mac.begin(), mac.end());
  proto::FrameOpener opener(key());
  const auto opened = opener.open(body);
  const auto decoded = proto::decode_message(type, payload);
  if (opened.ok() != decoded.ok()) std::abort();
  if (opened.ok() && !(*opened == *decoded)) std::abort();
}

void handshake(std::span<const std::uint8_t> in) {
  const Cluster& c = cluster();
  auto head = proto::HandshakeInitiator::make(c.membership, c.head, 1, fixed_random()).value();
  if (head.on_reply(in).ok()) std::abort();
  // A dial-in parses only when it names a member of this membership, with its exact size.
  if (auto claimed = proto::parse_dial_in(in, c.membership);
      claimed && (*claimed >= c.membership.record.workers.size() || in.size() != proto::dial_in_bytes)) {
    std::abort();
  }
  auto worker = proto::HandshakeResponder::make(c.membership, c.workers[1], 1, fixed_random()).value();
  // Split the input: a Hello of its exact size, then whatever follows as the Finish.
  const std::size_t cut = std::min<std::size_t>(in.size(), head.hello().size());
  if (worker.on_hello(in.first(cut)).ok()) {
    if (worker.on_finish(in.subspan(cut)).ok()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::span<const std::uint8_t> in(data, size);
  switch (in[0] % 4) {
    case 0: decode_round_trip(in[1], in.subspan(2)); break;
    case 1: open_stream(in.subspan(1)); break;
    case 2: open_forged(in[1], in.subspan(2)); break;
    default: handshake(in.subspan(1)); break;
  }
  return 0;
}
