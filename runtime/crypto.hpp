// Crypto and files for certificates: BLAKE2b-256 and SHA-256 digests, Ed25519 keys and signatures
// (libsodium), hex, Ed25519 key files (spec/membership.md), and bounded file reads. Core stays
// pure; this is where bytes meet keys and the file system.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "core/certificate.hpp"
#include "core/result.hpp"

namespace bf::runtime {

using core::Error;
using core::Errc;
using core::Result;
using core::cert::Bytes;
using core::cert::Digest;
using core::cert::PublicKey;
using core::cert::Signature;
using Seed = std::array<std::uint8_t, 32>;

inline constexpr std::size_t key_file_bytes_max = 4096;

// An Ed25519 keypair. The secret half never leaves this struct except into libsodium.
struct Keypair {
  PublicKey public_key{};
  std::array<std::uint8_t, 64> secret{};
};

Keypair keypair_from_seed(const Seed& seed);
Signature sign(const Keypair& key, std::span<const std::uint8_t> message);
bool verify(const PublicKey& key, std::span<const std::uint8_t> message, const Signature& signature);

Digest blake2b(std::span<const std::uint8_t> bytes);
Digest sha256(std::span<const std::uint8_t> bytes);

std::string hex(std::span<const std::uint8_t> bytes);
// Exactly 2 * N lowercase or uppercase hex digits; an error naming `what` otherwise.
Result<std::array<std::uint8_t, 32>> hex32(std::string_view text, std::string_view what);

// Reads a whole regular file, refusing one over max_bytes before reading it.
Result<Bytes> read_file(const std::filesystem::path& path, std::size_t max_bytes, std::string_view what);
// Writes a new file (O_EXCL: never replaces one) with the given mode.
core::Status write_new_file(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                            unsigned mode, std::string_view what);

// Key files (spec/membership.md, "Key files").
struct KeyFile {
  Keypair key;
  std::string warning;  // set when the file's mode grants access beyond its owner
};
// Creates FILE with mode 0600 from a fresh random seed, never overwriting; returns the key.
Result<Keypair> generate_key_file(const std::filesystem::path& path);
// Creates FILE from a given seed (test vectors); same rules as generate_key_file.
Result<Keypair> write_key_file(const std::filesystem::path& path, const Seed& seed);
Result<KeyFile> read_key_file(const std::filesystem::path& path);
std::string key_file_text(const Seed& seed);

}  // namespace bf::runtime
