// safetensors reader (Hugging Face's weight format): an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and [begin, end) byte range in the data section that
// follows, then the data. Every field is checked against limits and the bytes actually present
// before use; errors name the tensor and the field. Tensor data is a view into a read-only mmap,
// as for GGUF, so several workers on one machine share the weight pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
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
inline constexpr std::uint64_t safetensors_header_bytes_max = 100U << 20;
inline constexpr std::size_t safetensors_tensor_count_max = 1U << 20;
inline constexpr std::size_t safetensors_dims_max = 8;
inline constexpr std::size_t safetensors_name_bytes_max = 4096;

// The element types this runtime reads; a file with any other dtype is refused by name.
enum class SafetensorsDtype : std::uint8_t { f32, f16, bf16 };
std::string_view safetensors_dtype_name(SafetensorsDtype dtype);  // "F32", "F16", "BF16"
std::size_t safetensors_dtype_bytes(SafetensorsDtype dtype);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::vector<std::uint64_t> shape;    // PyTorch order: shape.back() is the contiguous dimension
  std::uint64_t begin = 0, end = 0;    // data_offsets, from the start of the data section
  std::span<const std::uint8_t> data;  // bounds-checked view: exactly elements() * dtype bytes
  std::uint64_t elements() const;      // product of shape (1 for a scalar); checked at parse
};

class SafetensorsFile {  // movable, not copyable; owns the mmap (or borrows bytes for parse())
 public:
  static core::Result<SafetensorsFile> open(const std::filesystem::path& path);  // mmap, read-only
  static core::Result<SafetensorsFile> parse(std::span<const std::uint8_t> bytes);  // borrows

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile() = default;

  const SafetensorsTensor* tensor(std::string_view name) const;  // null when absent
  // The tensor's bytes, or an error naming the missing tensor.
  core::Result<std::span<const std::uint8_t>> tensor_data(std::string_view name) const;
  std::span<const SafetensorsTensor> tensors() const { return tensors_; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"
  std::uint64_t header_bytes() const { return header_bytes_; }  // the JSON header's length
  std::uint64_t file_bytes() const { return bytes_.size(); }

 private:
  SafetensorsFile() = default;

  std::shared_ptr<const MappedFile> mapping_;  // null when parse() borrowed the bytes
  std::span<const std::uint8_t> bytes_;
  std::uint64_t header_bytes_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace bf::model
