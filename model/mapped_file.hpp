// A whole file mapped read-only and shared (MAP_SHARED | MAP_POPULATE), for the GGUF and
// safetensors readers: several workers on one machine then share the weight pages through the page
// cache, and the pages are mapped at open rather than faulted in during the first forward pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "core/result.hpp"

namespace bf::model {

class MappedFile {
 public:
  // WHAT names the file in errors ("model file", "safetensors file"). Empty files and files that
  // are not regular files are errors.
  static core::Result<std::shared_ptr<const MappedFile>> open(const std::filesystem::path& path, std::string_view what);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return {address_, length_}; }

 private:
  MappedFile(const std::uint8_t* address, std::size_t length) : address_(address), length_(length) {}
  const std::uint8_t* address_;
  std::size_t length_;
};

}  // namespace bf::model
