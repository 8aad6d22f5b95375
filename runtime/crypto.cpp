#include "runtime/crypto.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace bf::runtime {
namespace {

void ensure_sodium() {
  // sodium_init is idempotent and thread-safe; failing it means no usable randomness source.
  static const int status = sodium_init();
  if (status < 0) std::abort();
}

Error io_error(std::string_view what, const std::filesystem::path& path, const std::string& problem) {
  return Error{Errc::invalid_argument, std::string(what) + " " + path.string() + ": " + problem};
}

constexpr std::string_view key_header = "butterfly-ed25519-secret-key v1";

}  // namespace

Keypair keypair_from_seed(const Seed& seed) {
  ensure_sodium();
  Keypair k;
  crypto_sign_seed_keypair(k.public_key.data(), k.secret.data(), seed.data());
  return k;
}

Signature sign(const Keypair& key, std::span<const std::uint8_t> message) {
  ensure_sodium();
  Signature s{};
  crypto_sign_detached(s.data(), nullptr, message.data(), message.size(), key.secret.data());
  return s;
}

bool verify(const PublicKey& key, std::span<const std::uint8_t> message, const Signature& signature) {
  ensure_sodium();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), key.data()) == 0;
}

Digest blake2b(std::span<const std::uint8_t> bytes) {
  ensure_sodium();
  Digest d{};
  crypto_generichash(d.data(), d.size(), bytes.data(), bytes.size(), nullptr, 0);
  return d;
}

Digest sha256(std::span<const std::uint8_t> bytes) {
  ensure_sodium();
  Digest d{};
  crypto_hash_sha256(d.data(), bytes.data(), bytes.size());
  return d;
}

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

Result<std::array<std::uint8_t, 32>> hex32(std::string_view text, std::string_view what) {
  std::array<std::uint8_t, 32> out{};
  auto nibble = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  if (text.size() != 64) {
    return Error{Errc::invalid_argument, std::string(what) + " must be 64 hex digits, got " +
                                             std::to_string(text.size()) + " characters"};
  }
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(text[2 * i]);
    const int lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Error{Errc::invalid_argument, std::string(what) + " has a non-hex character at position " +
                                               std::to_string(hi < 0 ? 2 * i : 2 * i + 1)};
    }
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

Result<Bytes> read_file(const std::filesystem::path& path, std::size_t max_bytes, std::string_view what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(what, path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error(what, path, "not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return io_error(what, path, std::to_string(st.st_size) + " bytes exceed the limit of " +
                                    std::to_string(max_bytes) + "; this is not a file butterfly wrote");
  }
  Bytes out(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  // Read one byte past the expected size so a file that grew after fstat is noticed, not truncated.
  while (true) {
    if (got == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(out.size() + 1);
    }
    const ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ::close(fd);
      return io_error(what, path, std::strerror(errno));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  out.resize(got);
  if (got > max_bytes) return io_error(what, path, "the file grew beyond the limit while being read");
  return out;
}

core::Status write_new_file(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                            unsigned mode, std::string_view what) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                        static_cast<mode_t>(mode));
  if (fd < 0) {
    if (errno == EEXIST) {
      return io_error(what, path, "already exists; butterfly never overwrites it. Choose another path, "
                                  "or move the old file away yourself if you really mean to replace it");
    }
    return io_error(what, path, std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string problem = std::strerror(errno);
      ::close(fd);
      ::unlink(path.c_str());
      return io_error(what, path, "write failed: " + problem);
    }
    done += static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(path.c_str());
    return io_error(what, path, "could not be flushed to disk");
  }
  return core::Ok{};
}

std::string key_file_text(const Seed& seed) {
  const Keypair k = keypair_from_seed(seed);
  return std::string(key_header) + "\nseed " + hex(seed) + "\npublic " + hex(k.public_key) + "\n";
}

Result<Keypair> write_key_file(const std::filesystem::path& path, const Seed& seed) {
  std::string text = key_file_text(seed);
  const auto status = write_new_file(
      path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), 0600, "key file");
  sodium_memzero(text.data(), text.size());
  if (!status) return status.error();
  return keypair_from_seed(seed);
}

Result<Keypair> generate_key_file(const std::filesystem::path& path) {
  ensure_sodium();
  Seed seed{};
  randombytes_buf(seed.data(), seed.size());
  auto key = write_key_file(path, seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

Result<KeyFile> read_key_file(const std::filesystem::path& path) {
  auto raw = read_file(path, key_file_bytes_max, "key file");
  if (!raw) return raw.error();
  KeyFile out;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    std::ostringstream mode;
    mode << std::oct << (st.st_mode & 0777);
    out.warning = "key file " + path.string() + " is readable by others (mode 0" + mode.str() +
                  "); run: chmod 600 " + path.string();
  }
  std::string text(raw->begin(), raw->end());
  sodium_memzero(raw.value().data(), raw->size());
  std::istringstream in(text);
  std::string header, seed_word, seed_hex, public_word, public_hex, extra;
  std::getline(in, header);
  in >> seed_word >> seed_hex >> public_word >> public_hex;
  const bool shape = header == key_header && seed_word == "seed" && public_word == "public" &&
                     !(in >> extra);
  auto seed = hex32(seed_hex, "the seed");
  sodium_memzero(text.data(), text.size());
  sodium_memzero(seed_hex.data(), seed_hex.size());
  if (!shape || !seed) {
    return io_error("key file", path, "is not a butterfly Ed25519 key file (spec/membership.md, "
                                      "'Key files'); create one with: butterfly key generate --out FILE");
  }
  out.key = keypair_from_seed(*seed);
  sodium_memzero(seed.value().data(), seed->size());
  auto pk = hex32(public_hex, "the public key");
  if (!pk || *pk != out.key.public_key) {
    return io_error("key file", path, "its public key does not match its seed; the file is damaged");
  }
  return out;
}

}  // namespace bf::runtime
