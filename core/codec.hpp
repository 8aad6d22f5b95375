// A bounds-checked little-endian reader for canonical binary records: certificates and memberships
// (core/certificate.cpp) and the wire protocol's messages (runtime/protocol.cpp) read through it,
// so every decoder checks lengths the same way and names the record, byte offset and field of the
// first problem ("certificate byte 41 (rounds): truncated: needs 4 bytes, 2 left").
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace bf::core::codec {

inline Error format_error(std::string_view record, std::size_t offset, std::string_view field,
                          const std::string& problem) {
  return Error{Errc::invalid_argument,
               std::string(record) + " byte " + std::to_string(offset) + " (" + std::string(field) +
                   "): " + problem};
}

// Remembers the first error; after an error every read returns zero or empty, so loops bounded by
// a count read later stop at once.
class ByteReader {
 public:
  ByteReader(std::span<const std::uint8_t> bytes, std::string_view record) : b_(bytes), record_(record) {}

  [[nodiscard]] bool failed() const noexcept { return error_.has_value(); }
  [[nodiscard]] std::size_t offset() const noexcept { return pos_; }
  [[nodiscard]] const Error& error() const { return *error_; }
  [[nodiscard]] std::string_view record() const noexcept { return record_; }
  void fail_at(std::size_t at, std::string_view field, const std::string& problem) {
    if (!error_) error_ = format_error(record_, at, field, problem);
  }

  std::uint64_t uint(std::size_t width, std::string_view field) {
    if (!need(width, field)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v |= std::uint64_t{b_[pos_ + i]} << (8 * i);
    pos_ += width;
    return v;
  }
  std::uint8_t u8(std::string_view field) { return static_cast<std::uint8_t>(uint(1, field)); }
  std::uint16_t u16(std::string_view field) { return static_cast<std::uint16_t>(uint(2, field)); }
  std::uint32_t u32(std::string_view field) { return static_cast<std::uint32_t>(uint(4, field)); }
  std::uint64_t u64(std::string_view field) { return uint(8, field); }

  template <std::size_t N>
  std::array<std::uint8_t, N> fixed(std::string_view field) {
    std::array<std::uint8_t, N> out{};
    if (!need(N, field)) return out;
    std::copy_n(b_.begin() + static_cast<std::ptrdiff_t>(pos_), N, out.begin());
    pos_ += N;
    return out;
  }
  std::vector<std::uint8_t> bytes(std::size_t count, std::string_view field) {
    if (!need(count, field)) return {};
    std::vector<std::uint8_t> out(b_.begin() + static_cast<std::ptrdiff_t>(pos_),
                                  b_.begin() + static_cast<std::ptrdiff_t>(pos_ + count));
    pos_ += count;
    return out;
  }
  // A length-prefixed field: the length is checked against `max` before anything is read.
  std::vector<std::uint8_t> sized(std::size_t length_width, std::size_t max, std::string_view field) {
    const std::size_t at = pos_;
    const std::uint64_t len = uint(length_width, field);
    if (len > max) {
      fail_at(at, field, "length " + std::to_string(len) + " exceeds the limit of " + std::to_string(max));
      return {};
    }
    return bytes(static_cast<std::size_t>(len), field);
  }
  std::string text(std::size_t length_width, std::size_t max, std::string_view field) {
    const std::vector<std::uint8_t> raw = sized(length_width, max, field);
    return {raw.begin(), raw.end()};
  }
  void end() {
    if (!failed() && pos_ != b_.size()) {
      fail_at(pos_, "end", std::to_string(b_.size() - pos_) + " trailing bytes after the last field");
    }
  }

 private:
  bool need(std::size_t count, std::string_view field) {
    if (failed()) return false;
    if (b_.size() - pos_ < count) {
      fail_at(pos_, field, "truncated: needs " + std::to_string(count) + " bytes, " +
                               std::to_string(b_.size() - pos_) + " left");
      return false;
    }
    return true;
  }

  std::span<const std::uint8_t> b_;
  std::string_view record_;
  std::size_t pos_ = 0;
  std::optional<Error> error_;
};


// The writing twin of ByteReader: little-endian integers, raw bytes and length-prefixed fields for
// canonical records (certificates, memberships) and the wire protocol. A value outside its field's
// limit is remembered as the first error, naming the record, byte offset and field; encoders check
// error() once at the end.
class ByteWriter {
 public:
  // The reservation also keeps g++ 12 from a false stringop-overflow on growth from empty.
  explicit ByteWriter(std::string_view record, std::size_t reserve = 256) : record_(record) { out_.reserve(reserve); }
  void uint(std::uint64_t v, std::size_t width, std::string_view field = "value") {
    if (width < 8 && v >> (8 * width) != 0) {
      fail(field, "value " + std::to_string(v) + " does not fit in " + std::to_string(width) + " bytes");
      return;
    }
    for (std::size_t i = 0; i < width; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  // resize + copy rather than insert: g++ 12 reports a false stringop-overflow on insert here.
  void raw(std::span<const std::uint8_t> b) {
    const std::size_t at = out_.size();
    out_.resize(at + b.size());
    std::copy(b.begin(), b.end(), out_.begin() + static_cast<std::ptrdiff_t>(at));
  }
  void raw(std::string_view s) {
    raw(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  }
  void sized(std::span<const std::uint8_t> b, std::size_t length_width, std::size_t max, std::string_view field) {
    if (b.size() > max) {
      fail(field, "length " + std::to_string(b.size()) + " exceeds the limit of " + std::to_string(max));
      return;
    }
    uint(b.size(), length_width, field);
    raw(b);
  }
  void sized(std::string_view s, std::size_t length_width, std::size_t max, std::string_view field) {
    sized(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()), length_width,
          max, field);
  }
  void fail(std::string_view field, const std::string& problem) {
    if (!error_) error_ = format_error(record_, out_.size(), field, problem);
  }
  [[nodiscard]] const std::optional<Error>& error() const { return error_; }
  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const { return out_; }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  std::string_view record_;
  std::vector<std::uint8_t> out_;
  std::optional<Error> error_;
};

}  // namespace bf::core::codec
