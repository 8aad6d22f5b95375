// libFuzzer target for the GGUF reader (model/gguf.hpp): any input must be handled without a
// crash, hang, leak or sanitizer report; whatever parses must read back every key through every
// getter and have every tensor's data inside the input.
// Build and run: scripts/fuzz-gguf SECONDS
#include <cstdint>
#include <cstdlib>
#include <span>

#include "model/gguf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  auto f = bf::model::GgufFile::parse(in);
  if (!f) return 0;
  for (const auto& k : f->keys()) {
    (void)f->get_string(k);
    (void)f->get_uint(k);
    (void)f->get_float(k);
    (void)f->get_bool(k);
    (void)f->get_string_array(k);
    (void)f->get_int_array(k);
    (void)f->get_float_array(k);
  }
  for (const auto& t : f->tensors()) {
    if (t.data.data() < data || t.data.data() + t.data.size() > data + size) std::abort();
    if (f->tensor(t.name) == nullptr) std::abort();
  }
  return 0;
}
