// The head-worker wire protocol (spec/protocol.md is normative): canonical message encodings, the
// authenticated handshake as pure state machines, and MAC'd frames with per-direction sequence
// numbers. No I/O, no clock; randomness is an argument so tests are deterministic.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/certificate.hpp"
#include "core/result.hpp"
#include "core/tally.hpp"
#include "runtime/crypto.hpp"
#include "runtime/membership_file.hpp"
#include "runtime/messages.hpp"

namespace bf::runtime::proto {

using core::Error;
using core::Result;
using core::cert::Bytes;

// ---- Limits (spec/protocol.md, "Limits") ----
inline constexpr std::uint32_t answer_text_bytes_max = 64u << 10;  // Answer.text
inline constexpr std::uint32_t length_prefix_bytes = 4;            // u32 LE before every frame
inline constexpr std::uint32_t frame_header_bytes = 1 + 1 + 8;     // version, type, sequence
inline constexpr std::uint32_t mac_bytes = 32;                     // HMAC-SHA-512-256
inline constexpr std::uint32_t frame_overhead_bytes = frame_header_bytes + mac_bytes;
// Handshake messages are small and fixed: anything longer is refused before it is read.
inline constexpr std::uint32_t handshake_bytes_max = 256;
inline constexpr std::uint32_t refusal_reason_bytes_max = 200;

// ---- Messages ----
enum class MessageType : std::uint8_t { ask = 1, answer = 2, heartbeat = 3, goodbye = 4 };
MessageType message_type(const Message& m) noexcept;
const char* message_type_name(std::uint8_t type) noexcept;  // "ask", ..., "unknown"

// The canonical payload of a message (without the frame header). An error names the field that is
// outside its limit.
Result<Bytes> encode_message(const Message& m);
// Exactly the bytes encode_message writes, or an Error naming the field and its offset: unknown
// type, over-limit length, bad enum value, truncation, trailing bytes.
Result<Message> decode_message(std::uint8_t type, std::span<const std::uint8_t> payload);

// ---- Frames ----
using SessionKey = std::array<std::uint8_t, 32>;

// The u32 little-endian length of what follows the prefix (header, payload, MAC), checked against
// frame_bytes_max (and the smallest possible frame) before the body is read.
Result<std::uint32_t> frame_body_length(std::span<const std::uint8_t, length_prefix_bytes> prefix,
                                        std::uint32_t frame_bytes_max_allowed = frame_bytes_max);

// Seals messages for one direction: sequence numbers 0, 1, 2, ... under the direction's key.
class FrameSealer {
 public:
  explicit FrameSealer(const SessionKey& key) : key_(key) {}
  // The whole frame: length prefix, version, type, sequence, payload, MAC. Consumes a sequence
  // number only on success.
  Result<Bytes> seal(const Message& m, std::uint32_t frame_bytes_max_allowed = frame_bytes_max);
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return next_; }

 private:
  SessionKey key_;
  std::uint64_t next_ = 0;
};

// Opens frames of one direction. Checks, in order: size, MAC, version, sequence (exactly the next
// one: a replayed, reordered or dropped frame fails), then decodes the payload. After any failure
// the opener refuses everything (the connection must close).
class FrameOpener {
 public:
  explicit FrameOpener(const SessionKey& key) : key_(key) {}
  // `body` is what follows the length prefix.
  Result<Message> open(std::span<const std::uint8_t> body);
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return next_; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }

 private:
  SessionKey key_;
  std::uint64_t next_ = 0;
  bool failed_ = false;
};

// ---- Handshake (head = initiator, worker = responder) ----
// Each handshake message travels as a length prefix (at most handshake_bytes_max) and a body.
enum class HandshakeKind : std::uint8_t { hello = 1, reply = 2, finish = 3, refusal = 4, dial_in = 5 };

// Fresh per handshake: the X25519 ephemeral key's seed and the 32-byte nonce.
struct HandshakeRandom {
  std::array<std::uint8_t, 32> ephemeral_seed{};
  std::array<std::uint8_t, 32> nonce{};
};
HandshakeRandom random_handshake();  // from libsodium's randombytes

struct Session {
  SessionKey send_key{};
  SessionKey recv_key{};
  core::WorkerIndex worker = 0;  // the authenticated worker of this connection
  Digest transcript{};           // binds both hellos; equal on both ends
};

// Bytes of a refusal that a responder sends before closing (best-effort, unauthenticated: the
// initiator only reports it, never acts on it otherwise).
Bytes handshake_refusal(std::string_view reason);
// Dial-in (spec/protocol.md): what a worker that dials a listening head sends before the head's
// Hello, so the head knows which member to authenticate. Unauthenticated routing only: the
// handshake that follows proves (or refutes) the claimed index.
inline constexpr std::size_t dial_in_bytes = 38;
Bytes dial_in(const Digest& membership_digest, core::WorkerIndex self);
// The claimed worker index; an error names the field that is wrong (version, kind, size, another
// membership's digest, an index out of range).
Result<core::WorkerIndex> parse_dial_in(std::span<const std::uint8_t> body, const Membership& membership);
// Adds the u32 LE length prefix.
Bytes with_length_prefix(std::span<const std::uint8_t> body);

class HandshakeInitiator {
 public:
  // An error when head_key is not the membership's head key or expected_worker is not a member.
  static Result<HandshakeInitiator> make(const Membership& membership, const Keypair& head_key,
                                         core::WorkerIndex expected_worker,
                                         const HandshakeRandom& random);
  // The Hello body (without the length prefix); valid from construction.
  [[nodiscard]] const Bytes& hello() const noexcept { return hello_; }
  // Checks the reply (or reports a refusal) and returns the Finish body to send; afterwards
  // session() is the established session.
  Result<Bytes> on_reply(std::span<const std::uint8_t> reply);
  [[nodiscard]] bool established() const noexcept { return established_; }
  [[nodiscard]] const Session& session() const noexcept { return session_; }

 private:
  HandshakeInitiator() = default;
  Digest membership_digest_{};
  PublicKey expected_key_{};
  std::uint32_t n_ = 0;
  Keypair head_key_;
  core::WorkerIndex expected_ = 0;
  std::array<std::uint8_t, 32> ephemeral_secret_{};
  Bytes hello_;
  Session session_;
  bool established_ = false;
  bool done_ = false;
};

class HandshakeResponder {
 public:
  // An error when self is not a member or worker_key is not workers[self]'s key.
  static Result<HandshakeResponder> make(const Membership& membership, const Keypair& worker_key,
                                         core::WorkerIndex self, const HandshakeRandom& random);
  // Checks a Hello and returns the HelloReply body. On an error the caller may send
  // handshake_refusal(error.message) and must close.
  Result<Bytes> on_hello(std::span<const std::uint8_t> hello);
  // Checks the head's Finish signature; the session is established.
  Result<Session> on_finish(std::span<const std::uint8_t> finish);

 private:
  HandshakeResponder() = default;
  Digest membership_digest_{};
  PublicKey head_key_{};
  std::uint32_t n_ = 0;
  Keypair worker_key_;
  core::WorkerIndex self_ = 0;
  HandshakeRandom random_;
  Bytes transcript_;  // hello || reply, once the reply is made
  Session session_;
  enum class State : std::uint8_t { want_hello, want_finish, done } state_ = State::want_hello;
};

}  // namespace bf::runtime::proto
