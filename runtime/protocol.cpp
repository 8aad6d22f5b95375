#include "runtime/protocol.hpp"

#include "core/codec.hpp"

#include <sodium.h>

#include <algorithm>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/limits.hpp"

namespace bf::runtime::proto {
namespace {

using core::Errc;
using core::WorkerIndex;

// Domain tags (ASCII plus a zero byte) so a handshake signature can never be replayed as an answer
// or certificate signature, nor a reply signature as a finish signature.
constexpr std::string_view tag_reply{"butterfly/handshake-reply/v1\0", 29};
constexpr std::string_view tag_finish{"butterfly/handshake-finish/v1\0", 30};
constexpr std::string_view tag_transcript{"butterfly/handshake-transcript/v1\0", 34};
constexpr std::string_view tag_head_to_worker{"butterfly/session/head-to-worker/v1\0", 36};
constexpr std::string_view tag_worker_to_head{"butterfly/session/worker-to-head/v1\0", 36};

constexpr std::uint8_t role_head = 1;
constexpr std::size_t hello_bytes = 1 + 1 + 32 + 1 + 4 + 32 + 32;
constexpr std::size_t reply_unsigned_bytes = 1 + 1 + 32 + 4 + 32 + 32;
constexpr std::size_t reply_bytes = reply_unsigned_bytes + 64;
constexpr std::size_t finish_bytes = 1 + 1 + 64;
constexpr std::uint32_t q31_one = 1u << 31;

static_assert(hello_bytes <= handshake_bytes_max && reply_bytes <= handshake_bytes_max);
static_assert(1 + 1 + 1 + refusal_reason_bytes_max <= handshake_bytes_max);
static_assert(crypto_auth_hmacsha512256_BYTES == mac_bytes);
static_assert(crypto_auth_hmacsha512256_KEYBYTES == sizeof(SessionKey));
// The largest message of each type fits a frame, so a message within its field limits always seals.
constexpr std::uint32_t answer_bytes_max = 32 + 4 + 4 + 32 + 4 + core::cert::payload_bytes_max + 64 + 4 +
                                           answer_text_bytes_max + 2 + 8 * distribution_entries_max;
constexpr std::uint32_t ask_bytes_max = 32 + 4 + 1 + 1 + 1 + 4 + 4 + prompt_bytes_max;
static_assert(answer_bytes_max + frame_overhead_bytes <= frame_bytes_max);
static_assert(ask_bytes_max + frame_overhead_bytes <= frame_bytes_max);


// Bounds-checked reads that name the message, byte offset and field of the first problem.
using Reader = core::codec::ByteReader;

using Writer = core::codec::ByteWriter;

// ---- Message bodies ----

bool valid_mode(std::uint8_t v) { return v >= 1 && v <= 4; }

std::optional<std::string> agreement_problem(std::uint8_t rule, std::uint8_t param) {
  if (rule != 1 && rule != 2) {
    return "unknown agreement rule " + std::to_string(rule) + "; this build knows 1 (exact) and 2 (numeric)";
  }
  if (rule == 1 && param != 0) return "must be 0 for the exact rule, got " + std::to_string(param);
  if (rule == 2 && param > core::cert::numeric_decimals_max) {
    return "at most " + std::to_string(core::cert::numeric_decimals_max) + " decimals, got " + std::to_string(param);
  }
  return std::nullopt;
}

std::optional<std::string> round_problem(std::uint32_t round) {
  if (round >= core::limits::rounds_max) {
    return "round " + std::to_string(round) + " is not below the limit of " + std::to_string(core::limits::rounds_max);
  }
  return std::nullopt;
}

void write_ask(Writer& w, const Ask& a) {
  w.raw(a.query_id);
  if (auto p = round_problem(a.round)) w.fail("round", *p);
  w.uint(a.round, 4);
  if (!valid_mode(static_cast<std::uint8_t>(a.mode))) w.fail("mode", "unknown mode " + std::to_string(static_cast<int>(a.mode)));
  w.uint(static_cast<std::uint8_t>(a.mode), 1);
  if (auto p = agreement_problem(static_cast<std::uint8_t>(a.agreement), a.agreement_param)) w.fail("agreement", *p);
  w.uint(static_cast<std::uint8_t>(a.agreement), 1);
  w.uint(a.agreement_param, 1);
  w.uint(a.budget_ms, 4);
  w.sized(a.prompt, 4, prompt_bytes_max, "prompt");
}

Ask read_ask(Reader& r) {
  Ask a;
  a.query_id = r.fixed<32>("query id");
  std::size_t at = r.offset();
  a.round = r.u32("round");
  if (auto p = round_problem(a.round); p && !r.failed()) r.fail_at(at, "round", *p);
  at = r.offset();
  const std::uint8_t mode = r.u8("mode");
  if (!r.failed() && !valid_mode(mode)) {
    r.fail_at(at, "mode", "unknown mode " + std::to_string(mode) + "; this build knows 1 (vote) to 4 (debate)");
  }
  a.mode = static_cast<Mode>(mode);
  at = r.offset();
  const std::uint8_t rule = r.u8("agreement rule");
  const std::uint8_t param = r.u8("agreement parameter");
  if (auto p = agreement_problem(rule, param); p && !r.failed()) r.fail_at(at, "agreement", *p);
  a.agreement = static_cast<core::cert::AgreementRule>(rule);
  a.agreement_param = param;
  a.budget_ms = r.u32("budget ms");
  a.prompt = r.text(4, prompt_bytes_max, "prompt");
  return a;
}

void write_answer(Writer& w, const Answer& a) {
  w.raw(a.query_id);
  if (auto p = round_problem(a.round)) w.fail("round", *p);
  w.uint(a.round, 4);
  if (a.answer.worker >= core::limits::workers_max) {
    w.fail("worker", "index " + std::to_string(a.answer.worker) + " is not below the limit of " +
                         std::to_string(core::limits::workers_max));
  }
  w.uint(a.answer.worker, 4);
  w.raw(a.answer.answer);
  w.sized(a.answer.payload, 4, core::cert::payload_bytes_max, "answer payload");
  w.raw(a.answer.signature);
  w.sized(a.text, 4, answer_text_bytes_max, "text");
  if (a.distribution.size() > distribution_entries_max) {
    w.fail("distribution", std::to_string(a.distribution.size()) + " entries exceed the limit of " +
                               std::to_string(distribution_entries_max));
    return;
  }
  w.uint(a.distribution.size(), 2);
  for (const TokenProbability& t : a.distribution) {
    if (t.q31 > q31_one) w.fail("distribution", "probability " + std::to_string(t.q31) + " exceeds 2^31 (1.0 in Q31)");
    w.uint(t.token, 4);
    w.uint(t.q31, 4);
  }
}

Answer read_answer(Reader& r) {
  Answer a;
  a.query_id = r.fixed<32>("query id");
  std::size_t at = r.offset();
  a.round = r.u32("round");
  if (auto p = round_problem(a.round); p && !r.failed()) r.fail_at(at, "round", *p);
  at = r.offset();
  a.answer.worker = r.u32("worker");
  if (!r.failed() && a.answer.worker >= core::limits::workers_max) {
    r.fail_at(at, "worker", "index " + std::to_string(a.answer.worker) + " is not below the limit of " +
                                std::to_string(core::limits::workers_max));
  }
  a.answer.answer = r.fixed<32>("answer id");
  a.answer.payload = r.sized(4, core::cert::payload_bytes_max, "answer payload");
  a.answer.signature = r.fixed<64>("signature");
  a.text = r.text(4, answer_text_bytes_max, "text");
  at = r.offset();
  const std::uint16_t count = r.u16("distribution count");
  if (!r.failed() && count > distribution_entries_max) {
    r.fail_at(at, "distribution count", std::to_string(count) + " entries exceed the limit of " +
                                            std::to_string(distribution_entries_max));
    return a;
  }
  for (std::uint16_t i = 0; i < count && !r.failed(); ++i) {
    TokenProbability t;
    t.token = r.u32("distribution token");
    at = r.offset();
    t.q31 = r.u32("distribution probability");
    if (!r.failed() && t.q31 > q31_one) {
      r.fail_at(at, "distribution probability", std::to_string(t.q31) + " exceeds 2^31 (1.0 in Q31)");
    }
    a.distribution.push_back(t);
  }
  return a;
}

void write_heartbeat(Writer& w, const Heartbeat& h) {
  w.uint(h.nonce, 8);
  w.uint(h.pong ? 1 : 0, 1);
}

Heartbeat read_heartbeat(Reader& r) {
  Heartbeat h;
  h.nonce = r.u64("nonce");
  const std::size_t at = r.offset();
  const std::uint8_t pong = r.u8("pong");
  if (!r.failed() && pong > 1) r.fail_at(at, "pong", "must be 0 or 1, got " + std::to_string(pong));
  h.pong = pong == 1;
  return h;
}

void write_goodbye(Writer& w, const Goodbye& g) { w.sized(g.reason, 2, reason_bytes_max, "reason"); }

Goodbye read_goodbye(Reader& r) { return Goodbye{r.text(2, reason_bytes_max, "reason")}; }

// Keeps a peer-supplied reason printable in one log line.
std::string printable(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const std::uint8_t b : bytes) out += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '?';
  return out;
}

// ---- Handshake helpers ----

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Bytes concat(std::initializer_list<std::span<const std::uint8_t>> parts) {
  Bytes out;
  std::size_t total = 0;
  for (const auto& p : parts) total += p.size();
  out.reserve(total);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Digest transcript_digest(std::span<const std::uint8_t> hello, std::span<const std::uint8_t> reply) {
  return blake2b(concat({as_bytes(tag_transcript), hello, reply}));
}

SessionKey derive_key(const std::array<std::uint8_t, 32>& shared, std::string_view tag, const Digest& transcript) {
  const Bytes message = concat({as_bytes(tag), transcript});
  SessionKey k{};
  crypto_generichash(k.data(), k.size(), message.data(), message.size(), shared.data(), shared.size());
  return k;
}

struct Ephemeral {
  std::array<std::uint8_t, 32> public_key{};
  std::array<std::uint8_t, 32> secret{};
};

Ephemeral ephemeral_from_seed(const std::array<std::uint8_t, 32>& seed) {
  Ephemeral e;
  crypto_box_seed_keypair(e.public_key.data(), e.secret.data(), seed.data());
  return e;
}

// The X25519 shared secret; an error for a low-order peer key (the result would be all zeros).
Result<std::array<std::uint8_t, 32>> shared_secret(const std::array<std::uint8_t, 32>& secret,
                                                   const std::array<std::uint8_t, 32>& peer_public) {
  std::array<std::uint8_t, 32> shared{};
  if (crypto_scalarmult(shared.data(), secret.data(), peer_public.data()) != 0) {
    return Error{Errc::invalid_argument, "handshake: the peer's ephemeral key is a low-order point; refusing it"};
  }
  return shared;
}

Error handshake_error(const std::string& message) { return Error{Errc::invalid_argument, "handshake: " + message}; }

// Version and kind come first in every handshake message, so a peer of another version is named
// before its body (whose layout may differ) is looked at.
std::optional<Error> check_start(std::span<const std::uint8_t> m, HandshakeKind kind, std::size_t expected_bytes,
                                 std::string_view name) {
  if (m.size() < 2) return handshake_error(std::string(name) + " is truncated: " + std::to_string(m.size()) + " bytes");
  if (m[0] != protocol_version) {
    return handshake_error("the peer speaks protocol version " + std::to_string(m[0]) + ", this build speaks " +
                           std::to_string(protocol_version) + "; run the same butterfly version on head and workers");
  }
  if (m[1] != static_cast<std::uint8_t>(kind)) {
    return handshake_error("expected a " + std::string(name) + " (kind " + std::to_string(static_cast<int>(kind)) +
                           "), got kind " + std::to_string(m[1]));
  }
  if (m.size() != expected_bytes) {
    return handshake_error(std::string(name) + " must be " + std::to_string(expected_bytes) + " bytes, got " +
                           std::to_string(m.size()));
  }
  return std::nullopt;
}

std::string digest_short(const Digest& d) { return hex(std::span<const std::uint8_t>(d.data(), 8)); }

Error digest_mismatch(const Digest& worker_has, const Digest& head_has) {
  return handshake_error("membership digest differs: worker has " + digest_short(worker_has) + ", head has " +
                         digest_short(head_has) + "; give both the same membership file");
}

}  // namespace

// ---- Messages ----

MessageType message_type(const Message& m) noexcept {
  return static_cast<MessageType>(m.index() + 1);
}

const char* message_type_name(std::uint8_t type) noexcept {
  switch (type) {
    case 1: return "ask";
    case 2: return "answer";
    case 3: return "heartbeat";
    case 4: return "goodbye";
    default: return "unknown";
  }
}

Result<Bytes> encode_message(const Message& m) {
  Writer w("message", 512);
  std::visit(
      [&w](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Ask>) write_ask(w, v);
        else if constexpr (std::is_same_v<T, Answer>) write_answer(w, v);
        else if constexpr (std::is_same_v<T, Heartbeat>) write_heartbeat(w, v);
        else write_goodbye(w, v);
      },
      m);
  if (w.error()) return *w.error();
  return w.take();
}

Result<Message> decode_message(std::uint8_t type, std::span<const std::uint8_t> payload) {
  const std::string what = std::string(message_type_name(type)) + " payload";
  Reader r(payload, what);
  Message m;
  switch (type) {
    case 1: m = read_ask(r); break;
    case 2: m = read_answer(r); break;
    case 3: m = read_heartbeat(r); break;
    case 4: m = read_goodbye(r); break;
    default:
      return Error{Errc::invalid_argument, "frame type " + std::to_string(type) +
                                               " is unknown; this build knows 1 (ask) to 4 (goodbye)"};
  }
  r.end();
  if (r.failed()) return r.error();
  return m;
}

// ---- Frames ----

Result<std::uint32_t> frame_body_length(std::span<const std::uint8_t, length_prefix_bytes> prefix,
                                        std::uint32_t frame_bytes_max_allowed) {
  const std::uint32_t len = static_cast<std::uint32_t>(prefix[0]) | static_cast<std::uint32_t>(prefix[1]) << 8 |
                            static_cast<std::uint32_t>(prefix[2]) << 16 | static_cast<std::uint32_t>(prefix[3]) << 24;
  if (len > frame_bytes_max_allowed) {
    return Error{Errc::invalid_argument, "frame length " + std::to_string(len) + " exceeds the limit of " +
                                             std::to_string(frame_bytes_max_allowed) + " bytes (oversized)"};
  }
  if (len < frame_overhead_bytes) {
    return Error{Errc::invalid_argument, "frame length " + std::to_string(len) + " is below the smallest frame of " +
                                             std::to_string(frame_overhead_bytes) + " bytes (malformed)"};
  }
  return len;
}

Bytes with_length_prefix(std::span<const std::uint8_t> body) {
  Writer w("frame", body.size() + length_prefix_bytes);
  w.uint(body.size(), length_prefix_bytes);
  w.raw(body);
  return w.take();
}

Result<Bytes> FrameSealer::seal(const Message& m, std::uint32_t frame_bytes_max_allowed) {
  auto payload = encode_message(m);
  if (!payload) return payload.error();
  const std::size_t body = frame_overhead_bytes + payload->size();
  if (body > frame_bytes_max_allowed) {
    return Error{Errc::invalid_argument, "a " + std::string(message_type_name(static_cast<std::uint8_t>(message_type(m)))) +
                                             " frame of " + std::to_string(body) + " bytes exceeds the limit of " +
                                             std::to_string(frame_bytes_max_allowed)};
  }
  if (next_ == UINT64_MAX) {
    return Error{Errc::invalid_argument, "the sequence numbers of this session are used up; reconnect"};
  }
  Writer w("frame", length_prefix_bytes + body);
  w.uint(body, length_prefix_bytes);
  w.uint(protocol_version, 1);
  w.uint(static_cast<std::uint8_t>(message_type(m)), 1);
  w.uint(next_, 8);
  w.raw(*payload);
  Bytes out = w.take();
  std::array<std::uint8_t, mac_bytes> mac{};
  crypto_auth_hmacsha512256(mac.data(), out.data() + length_prefix_bytes, out.size() - length_prefix_bytes,
                            key_.data());
  out.insert(out.end(), mac.begin(), mac.end());
  ++next_;
  return out;
}

Result<Message> FrameOpener::open(std::span<const std::uint8_t> body) {
  auto refuse = [this](std::string message) -> Error {
    failed_ = true;
    return Error{Errc::invalid_argument, std::move(message)};
  };
  if (failed_) return refuse("this connection already failed a frame check; it must be closed");
  if (body.size() < frame_overhead_bytes || body.size() > frame_bytes_max) {
    return refuse("frame of " + std::to_string(body.size()) + " bytes is outside " +
                  std::to_string(frame_overhead_bytes) + ".." + std::to_string(frame_bytes_max) + " (malformed)");
  }
  const std::size_t signed_bytes = body.size() - mac_bytes;
  if (crypto_auth_hmacsha512256_verify(body.data() + signed_bytes, body.data(), signed_bytes, key_.data()) != 0) {
    return refuse("frame MAC check failed (frame " + std::to_string(next_) +
                  " expected): forged, corrupted, or from another session");
  }
  const std::uint8_t version = body[0];
  const std::uint8_t type = body[1];
  std::uint64_t sequence = 0;
  for (std::size_t i = 0; i < 8; ++i) sequence |= std::uint64_t{body[2 + i]} << (8 * i);
  if (version != protocol_version) {
    return refuse("frame version " + std::to_string(version) + " differs from this build's " +
                  std::to_string(protocol_version));
  }
  if (sequence != next_) {
    return refuse("frame sequence " + std::to_string(sequence) + " where " + std::to_string(next_) +
                  " was due: replayed, reordered or dropped frame");
  }
  auto m = decode_message(type, body.subspan(frame_header_bytes, signed_bytes - frame_header_bytes));
  if (!m) return refuse(m.error().message);
  ++next_;
  return m;
}

// ---- Handshake ----

HandshakeRandom random_handshake() {
  if (sodium_init() < 0) std::abort();  // no usable randomness source: nothing safe to do
  HandshakeRandom r;
  randombytes_buf(r.ephemeral_seed.data(), r.ephemeral_seed.size());
  randombytes_buf(r.nonce.data(), r.nonce.size());
  return r;
}

Bytes handshake_refusal(std::string_view reason) {
  const std::string text = printable(as_bytes(reason.substr(0, refusal_reason_bytes_max)));
  Writer w("refusal");
  w.uint(protocol_version, 1);
  w.uint(static_cast<std::uint8_t>(HandshakeKind::refusal), 1);
  w.sized(text, 1, refusal_reason_bytes_max, "reason");
  return w.take();
}

Bytes dial_in(const Digest& membership_digest, WorkerIndex self) {
  Writer w("dial-in");
  w.uint(protocol_version, 1);
  w.uint(static_cast<std::uint8_t>(HandshakeKind::dial_in), 1);
  w.raw(membership_digest);
  w.uint(self, 4);
  return w.take();
}

Result<WorkerIndex> parse_dial_in(std::span<const std::uint8_t> body, const Membership& membership) {
  if (auto e = check_start(body, HandshakeKind::dial_in, dial_in_bytes, "dial-in")) return *e;
  Reader r(body.subspan(2), "dial-in");
  const Digest digest = r.fixed<32>("membership digest");
  const WorkerIndex claimed = r.u32("worker index");
  r.end();
  if (r.failed()) return r.error();
  if (digest != membership.digest) return digest_mismatch(membership.digest, digest);
  if (claimed >= membership.record.workers.size()) {
    return handshake_error("dial-in: worker index " + std::to_string(claimed) + " is out of range for a membership of " +
                           std::to_string(membership.record.workers.size()) + " workers");
  }
  return claimed;
}

Result<HandshakeInitiator> HandshakeInitiator::make(const Membership& membership, const Keypair& head_key,
                                                    WorkerIndex expected_worker, const HandshakeRandom& random) {
  const auto& record = membership.record;
  if (head_key.public_key != record.head_key) {
    return handshake_error("this key is not the membership's head key; start the head with the key whose public "
                           "half the membership lists as head_key");
  }
  if (expected_worker >= record.workers.size()) {
    return handshake_error("worker index " + std::to_string(expected_worker) + " is out of range: the membership has " +
                           std::to_string(record.workers.size()) + " workers");
  }
  HandshakeInitiator h;
  h.membership_digest_ = membership.digest;
  h.expected_key_ = record.workers[expected_worker].key;
  h.n_ = static_cast<std::uint32_t>(record.workers.size());
  h.head_key_ = head_key;
  h.expected_ = expected_worker;
  const Ephemeral e = ephemeral_from_seed(random.ephemeral_seed);
  h.ephemeral_secret_ = e.secret;
  Writer w("hello");
  w.uint(protocol_version, 1);
  w.uint(static_cast<std::uint8_t>(HandshakeKind::hello), 1);
  w.raw(membership.digest);
  w.uint(role_head, 1);
  w.uint(expected_worker, 4);
  w.raw(e.public_key);
  w.raw(random.nonce);
  h.hello_ = w.take();
  return h;
}

Result<Bytes> HandshakeInitiator::on_reply(std::span<const std::uint8_t> reply) {
  if (done_) return handshake_error("a reply arrived after the handshake ended");
  done_ = true;
  if (reply.size() >= 2 && reply[0] == protocol_version && reply[1] == static_cast<std::uint8_t>(HandshakeKind::refusal)) {
    Reader r(reply.subspan(2), "refusal");
    const Bytes reason = r.sized(1, refusal_reason_bytes_max, "reason");
    r.end();
    if (r.failed()) return handshake_error("the worker refused with a malformed refusal: " + r.error().message);
    return handshake_error("the worker refused: " + printable(reason));
  }
  if (auto e = check_start(reply, HandshakeKind::reply, reply_bytes, "hello reply")) return *e;
  Reader r(reply.subspan(2), "hello reply");
  const Digest digest = r.fixed<32>("membership digest");
  const WorkerIndex worker = r.u32("worker index");
  const auto peer_ephemeral = r.fixed<32>("ephemeral key");
  r.fixed<32>("nonce");
  const Signature signature = r.fixed<64>("signature");
  r.end();
  if (r.failed()) return r.error();
  if (digest != membership_digest_) return digest_mismatch(digest, membership_digest_);
  if (worker >= n_) {
    return handshake_error("the peer claims worker index " + std::to_string(worker) +
                           ", out of range for a membership of " + std::to_string(n_) + " workers");
  }
  if (worker != expected_) {
    return handshake_error("the peer at this address is worker " + std::to_string(worker) + ", expected worker " +
                           std::to_string(expected_) + "; check the addresses given to the head");
  }
  const Bytes signed_reply = concat({as_bytes(tag_reply), hello_, reply.first(reply_unsigned_bytes)});
  if (!verify(expected_key_, signed_reply, signature)) {
    return handshake_error("the reply's signature does not verify under worker " + std::to_string(expected_) +
                           "'s membership key: wrong key, or a reply replayed from another session");
  }
  auto shared = shared_secret(ephemeral_secret_, peer_ephemeral);
  if (!shared) return shared.error();
  session_.worker = worker;
  session_.transcript = transcript_digest(hello_, reply);
  session_.send_key = derive_key(*shared, tag_head_to_worker, session_.transcript);
  session_.recv_key = derive_key(*shared, tag_worker_to_head, session_.transcript);
  sodium_memzero(ephemeral_secret_.data(), ephemeral_secret_.size());
  const Signature finish_signature = sign(head_key_, concat({as_bytes(tag_finish), hello_, reply}));
  Writer w("finish");
  w.uint(protocol_version, 1);
  w.uint(static_cast<std::uint8_t>(HandshakeKind::finish), 1);
  w.raw(finish_signature);
  established_ = true;
  return w.take();
}

Result<HandshakeResponder> HandshakeResponder::make(const Membership& membership, const Keypair& worker_key,
                                                    WorkerIndex self, const HandshakeRandom& random) {
  const auto& record = membership.record;
  if (self >= record.workers.size()) {
    return handshake_error("worker index " + std::to_string(self) + " is out of range: the membership has " +
                           std::to_string(record.workers.size()) + " workers");
  }
  if (worker_key.public_key != record.workers[self].key) {
    return handshake_error("this key is not worker " + std::to_string(self) + " (" + record.workers[self].id +
                           ")'s key in the membership; start the worker with its own key file");
  }
  HandshakeResponder h;
  h.membership_digest_ = membership.digest;
  h.head_key_ = record.head_key;
  h.n_ = static_cast<std::uint32_t>(record.workers.size());
  h.worker_key_ = worker_key;
  h.self_ = self;
  h.random_ = random;
  return h;
}

Result<Bytes> HandshakeResponder::on_hello(std::span<const std::uint8_t> hello) {
  if (state_ != State::want_hello) return handshake_error("a second hello on one connection");
  state_ = State::done;  // until the reply is made; any error ends the handshake
  if (auto e = check_start(hello, HandshakeKind::hello, hello_bytes, "hello")) return *e;
  Reader r(hello.subspan(2), "hello");
  const Digest digest = r.fixed<32>("membership digest");
  const std::size_t role_at = r.offset() + 2;
  const std::uint8_t role = r.u8("role");
  const WorkerIndex wanted = r.u32("worker index");
  const auto peer_ephemeral = r.fixed<32>("ephemeral key");
  r.fixed<32>("nonce");
  r.end();
  if (r.failed()) return r.error();
  if (digest != membership_digest_) return digest_mismatch(membership_digest_, digest);
  if (role != role_head) {
    return handshake_error("hello byte " + std::to_string(role_at) + " (role): " + std::to_string(role) +
                           " is not the head's role (1); only the head dials workers");
  }
  if (wanted >= n_) {
    return handshake_error("the head asks for worker index " + std::to_string(wanted) +
                           ", out of range for a membership of " + std::to_string(n_) + " workers");
  }
  if (wanted != self_) {
    return handshake_error("the head dialled worker " + std::to_string(wanted) + " but this is worker " +
                           std::to_string(self_) + "; check the addresses given to the head");
  }
  const Ephemeral e = ephemeral_from_seed(random_.ephemeral_seed);
  auto shared = shared_secret(e.secret, peer_ephemeral);
  if (!shared) return shared.error();
  Writer w("hello reply");
  w.uint(protocol_version, 1);
  w.uint(static_cast<std::uint8_t>(HandshakeKind::reply), 1);
  w.raw(membership_digest_);
  w.uint(self_, 4);
  w.raw(e.public_key);
  w.raw(random_.nonce);
  const Signature signature = sign(worker_key_, concat({as_bytes(tag_reply), hello, w.bytes()}));
  w.raw(signature);
  Bytes reply = w.take();
  session_.worker = self_;
  session_.transcript = transcript_digest(hello, reply);
  session_.send_key = derive_key(*shared, tag_worker_to_head, session_.transcript);
  session_.recv_key = derive_key(*shared, tag_head_to_worker, session_.transcript);
  transcript_ = concat({as_bytes(tag_finish), hello, reply});
  state_ = State::want_finish;
  return reply;
}

Result<Session> HandshakeResponder::on_finish(std::span<const std::uint8_t> finish) {
  if (state_ != State::want_finish) return handshake_error("a finish arrived before a hello was answered");
  state_ = State::done;
  if (auto e = check_start(finish, HandshakeKind::finish, finish_bytes, "finish")) return *e;
  Signature signature{};
  std::copy_n(finish.begin() + 2, signature.size(), signature.begin());
  if (!verify(head_key_, transcript_, signature)) {
    return handshake_error("the finish signature does not verify under the membership's head key: wrong head key, "
                           "or a finish replayed from another session");
  }
  return session_;
}

}  // namespace bf::runtime::proto
