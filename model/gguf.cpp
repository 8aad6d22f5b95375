#include "model/gguf.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

namespace bf::model {
namespace {

using core::Errc;
using core::Error;
using core::Result;

constexpr std::uint32_t gguf_magic = 0x46554747;  // "GGUF" little-endian

Error corrupt(std::string what, std::size_t at) {
  return Error{Errc::invalid_argument,
               "GGUF file is truncated or corrupt: " + std::move(what) + " at byte offset " +
                   std::to_string(at) + "; re-download the model file"};
}

// A cursor over the file bytes; every read checks that the bytes are there.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return bytes_.size() - pos_; }

  template <typename T>
  bool read(T& out) {
    if (left() < sizeof(T)) return false;
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool skip(std::uint64_t n) {
    if (n > left()) return false;
    pos_ += static_cast<std::size_t>(n);
    return true;
  }
  // A length-prefixed string no longer than limit.
  bool string(std::string_view& out, std::uint64_t limit) {
    std::uint64_t n = 0;
    if (!read(n) || n > limit || n > left()) return false;
    out = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos_),
                           static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return true;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

std::optional<std::uint64_t> scalar_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::boolean: return 1;
    case GgufValueType::u16:
    case GgufValueType::i16: return 2;
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::f32: return 4;
    case GgufValueType::u64:
    case GgufValueType::i64:
    case GgufValueType::f64: return 8;
    case GgufValueType::string:
    case GgufValueType::array: return std::nullopt;
  }
  return std::nullopt;
}

bool valid_value_type(std::uint32_t t) { return t <= 12; }

template <typename T>
T load(std::span<const std::uint8_t> bytes, std::size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof(T));
  return v;
}

// Reads an integer scalar of any width at `at` as int64 (u64 above INT64_MAX gives nullopt).
std::optional<std::int64_t> load_int(std::span<const std::uint8_t> b, GgufValueType t, std::size_t at) {
  switch (t) {
    case GgufValueType::u8: return load<std::uint8_t>(b, at);
    case GgufValueType::i8: return load<std::int8_t>(b, at);
    case GgufValueType::u16: return load<std::uint16_t>(b, at);
    case GgufValueType::i16: return load<std::int16_t>(b, at);
    case GgufValueType::u32: return load<std::uint32_t>(b, at);
    case GgufValueType::i32: return load<std::int32_t>(b, at);
    case GgufValueType::i64: return load<std::int64_t>(b, at);
    case GgufValueType::u64: {
      const auto v = load<std::uint64_t>(b, at);
      if (v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
      return static_cast<std::int64_t>(v);
    }
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<GgmlTypeTraits> ggml_type_traits(std::uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::f32: return GgmlTypeTraits{1, 4};
    case GgmlType::f16: return GgmlTypeTraits{1, 2};
    case GgmlType::bf16: return GgmlTypeTraits{1, 2};
    case GgmlType::q4_0: return GgmlTypeTraits{32, 18};
    case GgmlType::q4_1: return GgmlTypeTraits{32, 20};
    case GgmlType::q8_0: return GgmlTypeTraits{32, 34};
  }
  return std::nullopt;
}

std::string_view ggml_type_name(GgmlType type) {
  switch (type) {
    case GgmlType::f32: return "F32";
    case GgmlType::f16: return "F16";
    case GgmlType::bf16: return "BF16";
    case GgmlType::q4_0: return "Q4_0";
    case GgmlType::q4_1: return "Q4_1";
    case GgmlType::q8_0: return "Q8_0";
  }
  return "unknown";
}

std::uint64_t TensorInfo::elements() const {
  std::uint64_t n = 1;
  for (const auto d : dims) n *= d;  // bounded at parse time
  return n;
}

Result<GgufFile> GgufFile::open(const std::filesystem::path& path) {
  auto mapping = MappedFile::open(path, "model file");
  if (!mapping) return mapping.error();
  auto parsed = parse((*mapping)->bytes());
  if (!parsed) {
    return Error{parsed.error().code, path.string() + ": " + parsed.error().message};
  }
  GgufFile file = std::move(parsed.value());
  file.mapping_ = std::move(*mapping);
  return file;
}

Result<GgufFile> GgufFile::parse(std::span<const std::uint8_t> bytes) {
  GgufFile f;
  f.bytes_ = bytes;
  Reader r(bytes);
  std::uint32_t magic = 0;
  if (!r.read(magic)) return corrupt("header (file shorter than 4 bytes)", 0);
  if (magic != gguf_magic) {
    return Error{Errc::invalid_argument, "not a GGUF file (magic is not \"GGUF\"); give a .gguf model"};
  }
  if (!r.read(f.version_)) return corrupt("version", r.pos());
  if (f.version_ != 2 && f.version_ != 3) {
    return Error{Errc::invalid_argument, "GGUF version " + std::to_string(f.version_) +
                                             " is not supported (only 2 and 3); re-convert the model"};
  }
  std::uint64_t tensor_count = 0;
  std::uint64_t kv_count = 0;
  if (!r.read(tensor_count)) return corrupt("tensor count", r.pos());
  if (!r.read(kv_count)) return corrupt("metadata count", r.pos());
  if (tensor_count > gguf_tensor_count_max) {
    return corrupt("tensor count " + std::to_string(tensor_count) + " over the limit " +
                       std::to_string(gguf_tensor_count_max), 16);
  }
  if (kv_count > gguf_kv_count_max) {
    return corrupt("metadata count " + std::to_string(kv_count) + " over the limit " +
                       std::to_string(gguf_kv_count_max), 8 + 8);
  }

  f.values_.reserve(static_cast<std::size_t>(kv_count));
  for (std::uint64_t i = 0; i < kv_count; ++i) {
    const std::size_t key_at = r.pos();
    std::string_view key;
    if (!r.string(key, gguf_key_bytes_max)) {
      return corrupt("key of metadata entry " + std::to_string(i), key_at);
    }
    std::uint32_t type = 0;
    if (!r.read(type) || !valid_value_type(type)) {
      return corrupt("type of metadata key \"" + std::string(key) + "\"", key_at);
    }
    Value v{std::string(key), static_cast<GgufValueType>(type), GgufValueType::u8, 0, 0};
    const std::size_t value_at = r.pos();
    const auto bad = [&] { return corrupt("value of metadata key \"" + v.key + "\"", value_at); };
    if (v.type == GgufValueType::array) {
      std::uint32_t element = 0;
      if (!r.read(element) || !valid_value_type(element) ||
          static_cast<GgufValueType>(element) == GgufValueType::array) {
        return bad();
      }
      v.element_type = static_cast<GgufValueType>(element);
      if (!r.read(v.count) || v.count > gguf_array_count_max) return bad();
      v.at = r.pos();
      if (const auto width = scalar_bytes(v.element_type)) {
        if (!r.skip(v.count * *width)) return bad();
      } else {
        for (std::uint64_t j = 0; j < v.count; ++j) {
          std::string_view s;
          if (!r.string(s, gguf_string_bytes_max)) return bad();
        }
      }
    } else {
      v.at = r.pos();
      if (const auto width = scalar_bytes(v.type)) {
        if (!r.skip(*width)) return bad();
      } else {
        std::string_view s;
        if (!r.string(s, gguf_string_bytes_max)) return bad();
      }
    }
    f.values_.push_back(std::move(v));
  }

  if (const Value* a = f.find("general.alignment")) {
    const auto align = load_int(bytes, a->type, a->at);
    if (a->type == GgufValueType::array || !align || *align <= 0 ||
        static_cast<std::uint64_t>(*align) > gguf_alignment_max ||
        (*align & (*align - 1)) != 0) {
      return corrupt("general.alignment (must be a power of two up to " +
                         std::to_string(gguf_alignment_max) + ")", a->at);
    }
    f.alignment_ = static_cast<std::uint64_t>(*align);
  }

  f.tensors_.reserve(static_cast<std::size_t>(tensor_count));
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    const std::size_t info_at = r.pos();
    std::string_view name;
    if (!r.string(name, gguf_key_bytes_max)) {
      return corrupt("name of tensor " + std::to_string(i), info_at);
    }
    const auto bad = [&](const std::string& what) {
      return corrupt(what + " of tensor \"" + std::string(name) + "\"", info_at);
    };
    std::uint32_t n_dims = 0;
    if (!r.read(n_dims) || n_dims == 0 || n_dims > gguf_dims_max) return bad("dimension count");
    TensorInfo t{std::string(name), {}, GgmlType::f32, 0, {}};
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      std::uint64_t dim = 0;
      if (!r.read(dim) || dim == 0 || dim > (std::uint64_t{1} << 40) ||
          elements > (std::uint64_t{1} << 40) / dim) {
        return bad("dimension " + std::to_string(d));
      }
      elements *= dim;
      t.dims.push_back(dim);
    }
    std::uint32_t type = 0;
    if (!r.read(type)) return bad("type");
    const auto traits = ggml_type_traits(type);
    if (!traits) {
      return Error{Errc::invalid_argument, "tensor \"" + t.name + "\" has ggml type " +
                                               std::to_string(type) +
                                               ", which this runtime does not support (supported: "
                                               "F32, F16, BF16, Q4_0, Q4_1, Q8_0)"};
    }
    t.type = static_cast<GgmlType>(type);
    if (t.dims[0] % traits->block_elements != 0) return bad("row length (not a whole number of blocks)");
    if (!r.read(t.offset) || t.offset % f.alignment_ != 0) return bad("data offset");
    f.tensors_.push_back(std::move(t));
  }

  const std::uint64_t data_start = (r.pos() + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  for (auto& t : f.tensors_) {
    const auto traits = *ggml_type_traits(static_cast<std::uint32_t>(t.type));
    const std::uint64_t size = t.elements() / traits.block_elements * traits.block_bytes;
    if (data_start > bytes.size() || t.offset > bytes.size() - data_start ||
        size > bytes.size() - data_start - t.offset) {
      return corrupt("data of tensor \"" + t.name + "\" (offset " + std::to_string(t.offset) +
                         ", " + std::to_string(size) + " bytes) runs past the end of the file",
                     static_cast<std::size_t>(std::min<std::uint64_t>(data_start, bytes.size())));
    }
    t.data = bytes.subspan(static_cast<std::size_t>(data_start + t.offset), static_cast<std::size_t>(size));
  }
  return f;
}

const GgufFile::Value* GgufFile::find(std::string_view key) const {
  for (const auto& v : values_) {
    if (v.key == key) return &v;
  }
  return nullptr;
}

std::optional<std::string_view> GgufFile::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || v->type != GgufValueType::string) return std::nullopt;
  Reader r(bytes_.subspan(v->at));
  std::string_view s;
  r.string(s, gguf_string_bytes_max);  // validated at parse time
  return s;
}

std::optional<std::uint64_t> GgufFile::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type == GgufValueType::u64) return load<std::uint64_t>(bytes_, v->at);
  const auto i = load_int(bytes_, v->type, v->at);
  if (!i || *i < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*i);
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type == GgufValueType::f32) return load<float>(bytes_, v->at);
  if (v->type == GgufValueType::f64) return load<double>(bytes_, v->at);
  return std::nullopt;
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || v->type != GgufValueType::boolean) return std::nullopt;
  return bytes_[v->at] != 0;
}

std::optional<std::vector<std::string_view>> GgufFile::get_string_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || v->type != GgufValueType::array || v->element_type != GgufValueType::string) {
    return std::nullopt;
  }
  std::vector<std::string_view> out;
  out.reserve(static_cast<std::size_t>(v->count));
  Reader r(bytes_.subspan(v->at));
  for (std::uint64_t i = 0; i < v->count; ++i) {
    std::string_view s;
    r.string(s, gguf_string_bytes_max);  // validated at parse time
    out.push_back(s);
  }
  return out;
}

std::optional<std::vector<std::int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || v->type != GgufValueType::array) return std::nullopt;
  const auto width = scalar_bytes(v->element_type);
  if (!width || v->element_type == GgufValueType::f32 || v->element_type == GgufValueType::f64) {
    return std::nullopt;
  }
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(v->count));
  for (std::uint64_t i = 0; i < v->count; ++i) {
    const auto x = load_int(bytes_, v->element_type == GgufValueType::boolean ? GgufValueType::u8
                                                                               : v->element_type,
                            v->at + static_cast<std::size_t>(i * *width));
    if (!x) return std::nullopt;
    out.push_back(*x);
  }
  return out;
}

std::optional<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || v->type != GgufValueType::array) return std::nullopt;
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(v->count));
  for (std::uint64_t i = 0; i < v->count; ++i) {
    if (v->element_type == GgufValueType::f32) {
      out.push_back(load<float>(bytes_, v->at + static_cast<std::size_t>(i * 4)));
    } else if (v->element_type == GgufValueType::f64) {
      out.push_back(static_cast<float>(load<double>(bytes_, v->at + static_cast<std::size_t>(i * 8))));
    } else {
      return std::nullopt;
    }
  }
  return out;
}

const TensorInfo* GgufFile::tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::span<const TensorInfo> GgufFile::tensors() const { return tensors_; }

std::vector<std::string> GgufFile::keys() const {
  std::vector<std::string> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v.key);
  return out;
}

}  // namespace bf::model
