// libFuzzer target for the safetensors reader (model/safetensors.hpp): any input must be handled
// without a crash, hang, leak or sanitizer report; whatever parses must have every tensor's data
// inside the input, of exactly its shape's size, and findable by name.
// Build and run: scripts/fuzz-safetensors SECONDS
#include <cstdint>
#include <cstdlib>
#include <span>

#include "model/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  auto f = bf::model::SafetensorsFile::parse(in);
  if (!f) return 0;
  for (const auto& t : f->tensors()) {
    if (t.data.data() < data || t.data.data() + t.data.size() > data + size) std::abort();
    if (t.data.size() != t.elements() * bf::model::safetensors_dtype_bytes(t.dtype)) std::abort();
    if (t.begin > t.end || t.end - t.begin != t.data.size()) std::abort();
    auto found = f->tensor_data(t.name);
    if (!found || found->data() != t.data.data()) std::abort();
  }
  return 0;
}
