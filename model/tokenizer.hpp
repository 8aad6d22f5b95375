// The tokenizer a GGUF model carries: byte-level BPE (GPT-2 style, `tokenizer.ggml.model` "gpt2")
// with the pre-tokenizer the model names in `tokenizer.ggml.pre`, special tokens, and the chat
// template. It reproduces llama.cpp's tokenization id for id (tests/unit/model/tokenizer_test.cpp
// checks it against ids llama.cpp produced), so prompts mean the same thing to both runtimes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"

namespace bf::model {

// Limits on what comes from a model file or a caller; each is checked before use.
inline constexpr std::size_t tokenizer_vocab_max = 1U << 20;         // tokens in a vocabulary
inline constexpr std::size_t tokenizer_merges_max = 1U << 21;        // BPE merge rules
inline constexpr std::size_t tokenizer_token_bytes_max = 1024;       // bytes in one token's text
inline constexpr std::size_t tokenizer_input_bytes_max = 16U << 20;  // bytes encode() accepts
inline constexpr std::size_t tokenizer_template_bytes_max = 1U << 20;  // chat template text

// GGUF token types (tokenizer.ggml.token_type), as llama.cpp numbers them.
enum class TokenType : std::int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct TokenizerData {
  std::string model;  // "gpt2" (byte-level BPE) or "llama" (SentencePiece, not supported yet)
  std::string pre;    // tokenizer.ggml.pre, e.g. "smollm"
  std::vector<std::string> tokens;
  std::vector<std::int32_t> token_types;  // TokenType values; empty means all normal
  std::vector<float> scores;              // SentencePiece only
  std::vector<std::string> merges;        // "left right", rank = position
  std::int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  bool add_bos = false;
  bool add_eos = false;
  std::string chat_template;
};

class GgufFile;
// Reads the tokenizer.* keys of a GGUF file. Missing optional keys keep TokenizerData's defaults.
core::Result<TokenizerData> tokenizer_data_from_gguf(const GgufFile& file);

struct ChatMessage {
  std::string role, content;
};

class Tokenizer {
 public:
  // Validates the data (sizes, ids in range, every merge and byte present) and builds the lookup
  // tables. Fails with a message naming the offending token or key.
  static core::Result<Tokenizer> create(TokenizerData data);

  // add_special: prepend bos / append eos as the model asks (add_bos / add_eos).
  // parse_special: text such as "<|im_end|>" becomes that control token; otherwise it is plain
  // text. Invalid UTF-8 bytes become U+FFFD, as in llama.cpp. Input over
  // tokenizer_input_bytes_max gives an error; encode() then returns no tokens.
  core::Result<std::vector<std::int32_t>> encode_checked(std::string_view text, bool add_special,
                                                         bool parse_special) const;
  std::vector<std::int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // Concatenated token_piece()s: the exact bytes encode() consumed, for valid UTF-8 input whose
  // bytes all have a token (bytes the vocabulary lacks are dropped by encode, as in llama.cpp).
  std::string decode(std::span<const std::int32_t> ids) const;
  // The bytes of one token (may be part of a UTF-8 sequence); control tokens give their text,
  // e.g. "<|im_end|>". An id outside the vocabulary gives "".
  std::string token_piece(std::int32_t id) const;
  bool is_special(std::int32_t id) const;  // control, user-defined or unknown token
  // eos and the end-of-turn tokens llama.cpp recognises by name (<|im_end|>, <|endoftext|>, ...).
  bool is_end_of_generation(std::int32_t id) const;

  const TokenizerData& data() const { return data_; }
  std::size_t vocab_size() const { return data_.tokens.size(); }

 private:
  enum class Split : std::uint8_t { gpt2, digits_then_gpt2 };
  Tokenizer() = default;
  void encode_text(std::string_view text, std::vector<std::int32_t>& out) const;
  void encode_word(std::span<const std::uint8_t> bytes, std::vector<std::int32_t>& out) const;

  TokenizerData data_;
  Split split_ = Split::gpt2;
  std::vector<std::string> pieces_;         // decoded bytes of every token
  std::vector<std::uint8_t> special_;       // 1 where is_special
  std::vector<std::uint8_t> end_of_generation_;
  std::vector<std::int32_t> special_by_length_;  // split out before BPE, longest first
  std::int32_t byte_token_[256] = {};  // token of each byte's byte-level character; -1: none
  // (left id << 32 | right id) -> rank << 32 | merged id
  std::unordered_map<std::uint64_t, std::uint64_t> merges_;
};

// The prompt text for a conversation in the model's chat format. Recognises ChatML (SmolLM2,
// Qwen: <|im_start|>role\ncontent<|im_end|>\n, with the template's default system prompt when the
// first message is not a system message) and Llama 2 ([INST]); any other template falls back to
// ChatML, and chat_template_family() says so.
std::string apply_chat_template(const TokenizerData& data, std::span<const ChatMessage> messages,
                                bool add_generation_prompt);
// "chatml", "llama2", or "chatml (fallback: template not recognised)".
std::string chat_template_family(const TokenizerData& data);

}  // namespace bf::model
