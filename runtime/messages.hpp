// Protocol messages between the head and its workers (spec/protocol.md), as values.
//
// This header is the contract between three parts that must not depend on each other's insides:
//   runtime/protocol.*    encodes and decodes these values into authenticated frames;
//   runtime/head_logic.*, runtime/worker_logic.*   the sans-IO protocol logic (no sockets, no
//                         clock: time is an argument), run unchanged by the Asio processes and by
//                         the deterministic simulator (runtime/sim.*);
//   runtime/net.* and cli/  the Asio transport and the processes.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/certificate.hpp"

namespace bf::runtime::proto {

using core::cert::Digest;

// Version byte carried in every frame; a peer speaking another version is refused by name.
inline constexpr std::uint8_t protocol_version = 1;
// Largest frame (header, payload and MAC) either side accepts; larger closes the connection.
inline constexpr std::uint32_t frame_bytes_max = 1u << 20;
inline constexpr std::uint32_t prompt_bytes_max = 64u << 10;
inline constexpr std::uint32_t reason_bytes_max = 256;
inline constexpr std::uint32_t distribution_entries_max = 64;

// How the head fuses a decided cluster (and whether it may debate).
enum class Mode : std::uint8_t { vote = 1, attention = 2, sctt = 3, debate = 4 };

// Head -> worker: answer this query in this round.
struct Ask {
  Digest query_id{};        // blake2b-256 of the query text
  std::uint32_t round = 0;  // 0-based; rounds > 0 are debate rounds
  Mode mode = Mode::vote;
  core::cert::AgreementRule agreement = core::cert::AgreementRule::exact;
  std::uint8_t agreement_param = 0;
  std::uint32_t budget_ms = 0;  // how long the head will wait for this round's answer
  std::string prompt;           // the question, and in debate rounds the others' anonymised answers
  friend bool operator==(const Ask&, const Ask&) = default;
};

// One (token id, probability in Q31) pair of a worker's answer distribution, for token-level
// fusion across workers that share a tokenizer (weighted mean, SCTT).
struct TokenProbability {
  std::uint32_t token = 0;
  std::uint32_t q31 = 0;
  friend bool operator==(const TokenProbability&, const TokenProbability&) = default;
};

// Worker -> head: a signed answer for (query, round).
struct Answer {
  Digest query_id{};
  std::uint32_t round = 0;
  core::cert::SignedAnswer answer;  // worker index, answer id, canonical payload, signature
  std::string text;                 // the model's full text (not signed; shown to people)
  std::vector<TokenProbability> distribution;  // optional; empty when the model gives none
  friend bool operator==(const Answer&, const Answer&) = default;
};

// Either direction: liveness. The receiver answers a ping with a pong carrying the same nonce.
struct Heartbeat {
  std::uint64_t nonce = 0;
  bool pong = false;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

// Either direction, last message on a connection: why it is being closed.
struct Goodbye {
  std::string reason;
  friend bool operator==(const Goodbye&, const Goodbye&) = default;
};

using Message = std::variant<Ask, Answer, Heartbeat, Goodbye>;

}  // namespace bf::runtime::proto
