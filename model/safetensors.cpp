#include "model/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace bf::model {
namespace {

using core::Errc;
using core::Error;
using core::Result;

constexpr std::uint64_t length_prefix_bytes = 8;

Error corrupt(const std::string& what) {
  return Error{Errc::invalid_argument,
               "safetensors file is truncated or corrupt: " + what + "; re-download or re-convert the model"};
}

Error bad_tensor(const std::string& name, const std::string& what) {
  return corrupt("tensor \"" + name + "\": " + what);
}

// Dtypes the safetensors format defines that this runtime does not read: named in the error so
// the user knows to convert the model (e.g. to F16) rather than suspect a corrupt file.
bool known_unsupported_dtype(std::string_view d) {
  static constexpr std::string_view names[] = {"F64", "I64", "U64", "I32", "U32", "I16", "U16", "I8",
                                               "U8",  "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3",
                                               "F6_E3M2", "F4", "C64"};
  return std::find(std::begin(names), std::end(names), d) != std::end(names);
}

Result<SafetensorsDtype> parse_dtype(const std::string& name, const nlohmann::json& v) {
  if (!v.is_string()) return bad_tensor(name, "field \"dtype\" is missing or not a string");
  const auto& d = v.get_ref<const std::string&>();
  if (d == "F32") return SafetensorsDtype::f32;
  if (d == "F16") return SafetensorsDtype::f16;
  if (d == "BF16") return SafetensorsDtype::bf16;
  if (known_unsupported_dtype(d)) {
    return Error{Errc::invalid_argument, "safetensors tensor \"" + name + "\" has dtype " + d +
                                             ", which this runtime does not read (F32, F16 and BF16 are supported); "
                                             "convert the model to one of them"};
  }
  return bad_tensor(name, "unknown dtype \"" + d.substr(0, 32) + "\"");
}

// One header entry, checked against the data section of data_bytes bytes.
Result<SafetensorsTensor> parse_tensor(const std::string& name, const nlohmann::json& v,
                                       std::span<const std::uint8_t> data_section) {
  if (!v.is_object()) return bad_tensor(name, "entry is not a JSON object");
  SafetensorsTensor t;
  t.name = name;
  const auto dtype_it = v.find("dtype");
  auto dtype = parse_dtype(name, dtype_it == v.end() ? nlohmann::json() : *dtype_it);
  if (!dtype) return dtype.error();
  t.dtype = *dtype;

  const auto shape_it = v.find("shape");
  if (shape_it == v.end() || !shape_it->is_array()) return bad_tensor(name, "field \"shape\" is missing or not an array");
  if (shape_it->size() > safetensors_dims_max) {
    return bad_tensor(name, "field \"shape\" has " + std::to_string(shape_it->size()) + " dimensions (at most " +
                                std::to_string(safetensors_dims_max) + ")");
  }
  std::uint64_t elements = 1;
  for (std::size_t i = 0; i < shape_it->size(); ++i) {
    const auto& d = (*shape_it)[i];
    if (!d.is_number_unsigned()) return bad_tensor(name, "shape[" + std::to_string(i) + "] is not a non-negative integer");
    const auto n = d.get<std::uint64_t>();
    if (n != 0 && elements > std::numeric_limits<std::uint64_t>::max() / n) {
      return bad_tensor(name, "field \"shape\": the element count overflows 64 bits");
    }
    elements *= n;
    t.shape.push_back(n);
  }
  const std::uint64_t width = safetensors_dtype_bytes(t.dtype);
  if (elements > std::numeric_limits<std::uint64_t>::max() / width) {
    return bad_tensor(name, "field \"shape\": the byte size overflows 64 bits");
  }
  const std::uint64_t bytes = elements * width;

  const auto off_it = v.find("data_offsets");
  if (off_it == v.end() || !off_it->is_array() || off_it->size() != 2 || !(*off_it)[0].is_number_unsigned() ||
      !(*off_it)[1].is_number_unsigned()) {
    return bad_tensor(name, "field \"data_offsets\" is missing or not two non-negative integers");
  }
  t.begin = (*off_it)[0].get<std::uint64_t>();
  t.end = (*off_it)[1].get<std::uint64_t>();
  const std::string range = "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ")";
  if (t.begin > t.end) return bad_tensor(name, range + " begins after it ends");
  if (t.end > data_section.size()) {
    return bad_tensor(name, range + " ends beyond the data section of " + std::to_string(data_section.size()) +
                                " bytes");
  }
  if (t.end - t.begin != bytes) {
    return bad_tensor(name, range + " holds " + std::to_string(t.end - t.begin) + " bytes but its shape and dtype need " +
                                std::to_string(bytes));
  }
  t.data = data_section.subspan(static_cast<std::size_t>(t.begin), static_cast<std::size_t>(bytes));
  for (const auto& key : v.items()) {
    if (key.key() != "dtype" && key.key() != "shape" && key.key() != "data_offsets") {
      return bad_tensor(name, "unexpected field \"" + key.key().substr(0, 64) + "\"");
    }
  }
  return t;
}

}  // namespace

std::string_view safetensors_dtype_name(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::f32: return "F32";
    case SafetensorsDtype::f16: return "F16";
    case SafetensorsDtype::bf16: return "BF16";
  }
  return "?";
}

std::size_t safetensors_dtype_bytes(SafetensorsDtype dtype) { return dtype == SafetensorsDtype::f32 ? 4 : 2; }

std::uint64_t SafetensorsTensor::elements() const {
  std::uint64_t n = 1;
  for (const auto d : shape) n *= d;  // cannot overflow: checked when parsed
  return n;
}

Result<SafetensorsFile> SafetensorsFile::parse(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < length_prefix_bytes) {
    return corrupt("the file has " + std::to_string(bytes.size()) + " bytes, fewer than the 8-byte header length");
  }
  std::uint64_t header = 0;
  for (std::size_t i = 0; i < length_prefix_bytes; ++i) header |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
  if (header > safetensors_header_bytes_max) {
    return corrupt("header length " + std::to_string(header) + " at byte offset 0 exceeds the limit of " +
                   std::to_string(safetensors_header_bytes_max) + " bytes");
  }
  if (header > bytes.size() - length_prefix_bytes) {
    return corrupt("header length " + std::to_string(header) + " at byte offset 0 runs past the end of the " +
                   std::to_string(bytes.size()) + "-byte file");
  }
  const auto text = bytes.subspan(length_prefix_bytes, static_cast<std::size_t>(header));
  const auto data_section = bytes.subspan(static_cast<std::size_t>(length_prefix_bytes + header));
  // No exceptions: a malformed header gives a discarded value.
  const auto json = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return corrupt("the JSON header (bytes 8.." + std::to_string(8 + header) + ") is not valid JSON");
  if (!json.is_object()) return corrupt("the JSON header is not an object");
  if (json.size() > safetensors_tensor_count_max + 1) {
    return corrupt("the header lists " + std::to_string(json.size()) + " entries (at most " +
                   std::to_string(safetensors_tensor_count_max) + " tensors)");
  }

  SafetensorsFile file;
  file.bytes_ = bytes;
  file.header_bytes_ = header;
  file.tensors_.reserve(json.size());
  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return corrupt("\"__metadata__\" is not an object");
      for (const auto& [key, v] : value.items()) {
        if (!v.is_string()) return corrupt("\"__metadata__\" value of \"" + key.substr(0, 64) + "\" is not a string");
        file.metadata_.emplace(key, v.get<std::string>());
      }
      continue;
    }
    if (name.empty() || name.size() > safetensors_name_bytes_max) {
      return corrupt("a tensor name is empty or longer than " + std::to_string(safetensors_name_bytes_max) + " bytes");
    }
    auto t = parse_tensor(name, value, data_section);
    if (!t) return t.error();
    file.tensors_.push_back(std::move(t.value()));
  }
  std::sort(file.tensors_.begin(), file.tensors_.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.name < b.name; });
  return file;
}

const SafetensorsTensor* SafetensorsFile::tensor(std::string_view name) const {
  const auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                                   [](const SafetensorsTensor& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

Result<std::span<const std::uint8_t>> SafetensorsFile::tensor_data(std::string_view name) const {
  const SafetensorsTensor* t = tensor(name);
  if (t == nullptr) return Error{Errc::invalid_argument, "safetensors file has no tensor \"" + std::string(name) + "\""};
  return t->data;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  auto mapping = MappedFile::open(path, "safetensors file");
  if (!mapping) return mapping.error();
  auto parsed = parse((*mapping)->bytes());
  if (!parsed) return Error{parsed.error().code, path.string() + ": " + parsed.error().message};
  SafetensorsFile file = std::move(parsed.value());
  file.mapping_ = std::move(*mapping);
  return file;
}

}  // namespace bf::model
