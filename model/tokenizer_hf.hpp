// The tokenizer of a Hugging Face model directory: tokenizer.json (byte-level BPE with the GPT-2
// split, optionally preceded by single-digit splitting as SmolLM's) and tokenizer_config.json
// (chat template, bos/eos, add_bos_token), as the TokenizerData the GGUF path builds.
#pragma once

#include <filesystem>

#include "core/result.hpp"
#include "model/tokenizer.hpp"

namespace bf::model {

inline constexpr std::size_t hf_tokenizer_json_bytes_max = 64U << 20;

// Fails with a message naming the unsupported part (e.g. a SentencePiece "Unigram" model, a
// normalizer, another pre-tokenizer) rather than tokenizing differently from the model's own.
core::Result<TokenizerData> tokenizer_data_from_hf(const std::filesystem::path& dir);

}  // namespace bf::model
