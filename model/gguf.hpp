// GGUF (v2, v3) reader: the metadata key/value store and the tensor directory of a model file,
// with every length, count and offset checked against the bytes actually present. Tensor data is
// a view into a read-only mmap, so several workers on one machine share the weight pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "model/mapped_file.hpp"

namespace bf::model {

// Limits on what a file may declare; anything larger is rejected before it is used.
inline constexpr std::uint64_t gguf_key_bytes_max = 65535;
inline constexpr std::uint64_t gguf_string_bytes_max = 16U << 20;  // the chat template is the largest
inline constexpr std::uint64_t gguf_array_count_max = 1U << 24;    // vocabularies, merges
inline constexpr std::uint64_t gguf_kv_count_max = 1U << 16;
inline constexpr std::uint64_t gguf_tensor_count_max = 1U << 16;
inline constexpr std::uint32_t gguf_dims_max = 4;
inline constexpr std::uint64_t gguf_alignment_max = 1U << 16;

enum class GgmlType : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q8_0 = 8,
  bf16 = 30,  // others: unsupported
};

// Elements per block and bytes per block of a type; nullopt for types this runtime cannot read.
struct GgmlTypeTraits {
  std::uint64_t block_elements;
  std::uint64_t block_bytes;
};
std::optional<GgmlTypeTraits> ggml_type_traits(std::uint32_t type);
std::string_view ggml_type_name(GgmlType type);

struct TensorInfo {
  std::string name;
  std::vector<std::uint64_t> dims;  // dims[0] is the contiguous (row) dimension, as in ggml
  GgmlType type;
  std::uint64_t offset;                 // from the start of the data section
  std::span<const std::uint8_t> data;  // bounds-checked view into the mapping
  std::uint64_t elements() const;
};

enum class GgufValueType : std::uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8,
  array = 9, u64 = 10, i64 = 11, f64 = 12,
};

class GgufFile {  // movable, not copyable; owns the mmap (or borrows bytes for parse())
 public:
  static core::Result<GgufFile> open(const std::filesystem::path& path);     // mmap, read-only
  static core::Result<GgufFile> parse(std::span<const std::uint8_t> bytes);  // borrows

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile() = default;

  std::optional<std::string_view> get_string(std::string_view key) const;
  std::optional<std::uint64_t> get_uint(std::string_view key) const;  // any int type >= 0
  std::optional<double> get_float(std::string_view key) const;       // f32/f64
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::vector<std::string_view>> get_string_array(std::string_view key) const;
  std::optional<std::vector<std::int64_t>> get_int_array(std::string_view key) const;
  std::optional<std::vector<float>> get_float_array(std::string_view key) const;
  const TensorInfo* tensor(std::string_view name) const;
  std::span<const TensorInfo> tensors() const;
  std::vector<std::string> keys() const;

  std::uint32_t version() const { return version_; }
  std::uint64_t alignment() const { return alignment_; }
  std::uint64_t file_bytes() const { return bytes_.size(); }

  // One metadata value: its type and where its encoded bytes lie in the file (already validated).
  struct Value {
    std::string key;
    GgufValueType type;
    GgufValueType element_type;  // arrays only
    std::uint64_t count;         // arrays only
    std::size_t at;              // offset of the value's payload (after the type, and array header)
  };

 private:
  GgufFile() = default;
  const Value* find(std::string_view key) const;

  std::shared_ptr<const MappedFile> mapping_;  // null when parse() borrowed the bytes
  std::span<const std::uint8_t> bytes_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = 32;
  std::vector<Value> values_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace bf::model
