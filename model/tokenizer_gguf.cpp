// tokenizer_data_from_gguf: the tokenizer.* metadata keys (llama.cpp's names) into TokenizerData.
#include <limits>

#include "model/gguf.hpp"
#include "model/tokenizer.hpp"

namespace bf::model {

core::Result<TokenizerData> tokenizer_data_from_gguf(const GgufFile& file) {
  const auto invalid = [](std::string message) {
    return core::Error{core::Errc::invalid_argument, std::move(message)};
  };
  TokenizerData data;
  const auto model = file.get_string("tokenizer.ggml.model");
  if (!model) return invalid("the GGUF file has no tokenizer.ggml.model key; it carries no tokenizer");
  data.model = std::string(*model);
  if (const auto pre = file.get_string("tokenizer.ggml.pre")) data.pre = std::string(*pre);

  const auto tokens = file.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) return invalid("the GGUF file has no tokenizer.ggml.tokens array of strings");
  if (tokens->size() > tokenizer_vocab_max) {
    return invalid("tokenizer.ggml.tokens has " + std::to_string(tokens->size()) + " entries; the limit is " +
                   std::to_string(tokenizer_vocab_max));
  }
  data.tokens.assign(tokens->begin(), tokens->end());

  if (const auto types = file.get_int_array("tokenizer.ggml.token_type")) {
    data.token_types.reserve(types->size());
    for (const std::int64_t t : *types) {
      if (t < std::numeric_limits<std::int32_t>::min() || t > std::numeric_limits<std::int32_t>::max()) {
        return invalid("tokenizer.ggml.token_type holds " + std::to_string(t) + ", not a token type");
      }
      data.token_types.push_back(static_cast<std::int32_t>(t));
    }
  }
  if (const auto scores = file.get_float_array("tokenizer.ggml.scores")) data.scores = *scores;
  if (const auto merges = file.get_string_array("tokenizer.ggml.merges")) {
    if (merges->size() > tokenizer_merges_max) {
      return invalid("tokenizer.ggml.merges has " + std::to_string(merges->size()) + " entries; the limit is " +
                     std::to_string(tokenizer_merges_max));
    }
    data.merges.assign(merges->begin(), merges->end());
  }

  const auto id = [&](std::string_view key, std::int32_t& out) -> core::Status {
    const auto v = file.get_uint(key);
    if (!v) return core::Ok{};
    if (*v >= data.tokens.size()) {
      return invalid(std::string(key) + " is " + std::to_string(*v) + ", outside the vocabulary of " +
                     std::to_string(data.tokens.size()) + " tokens");
    }
    out = static_cast<std::int32_t>(*v);
    return core::Ok{};
  };
  for (const auto& [key, out] : {std::pair<std::string_view, std::int32_t*>{"tokenizer.ggml.bos_token_id", &data.bos},
                                 {"tokenizer.ggml.eos_token_id", &data.eos},
                                 {"tokenizer.ggml.unknown_token_id", &data.unk},
                                 {"tokenizer.ggml.padding_token_id", &data.pad}}) {
    if (auto status = id(key, *out); !status) return status.error();
  }
  if (const auto b = file.get_bool("tokenizer.ggml.add_bos_token")) data.add_bos = *b;
  if (const auto e = file.get_bool("tokenizer.ggml.add_eos_token")) data.add_eos = *e;
  if (const auto t = file.get_string("tokenizer.chat_template")) {
    if (t->size() > tokenizer_template_bytes_max) {
      return invalid("tokenizer.chat_template is " + std::to_string(t->size()) + " bytes; the limit is " +
                     std::to_string(tokenizer_template_bytes_max));
    }
    data.chat_template = std::string(*t);
  }
  return data;
}

}  // namespace bf::model
