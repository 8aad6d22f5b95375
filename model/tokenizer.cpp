// Byte-level BPE as GPT-2 defined it and llama.cpp implements it (src/llama-vocab.cpp,
// src/unicode.cpp): split out special tokens, pre-tokenize into words, map each byte of a word to
// its printable byte-level character, then apply merges lowest rank first.
#include "model/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <queue>
#include <utility>

#include "model/unicode_table.hpp"

namespace bf::model {

namespace {

using core::Errc;
using core::Error;
using unicode::CodePointClass;

constexpr std::uint32_t replacement_character = 0xFFFD;
constexpr std::uint32_t code_points_end = 0x110000;

Error invalid(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

CodePointClass class_of(std::uint32_t cp) {
  const auto ranges = unicode::class_ranges();
  // The last range whose first <= cp.
  const auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                                   [](std::uint32_t v, const unicode::ClassRange& r) { return v < r.first; });
  assert(it != ranges.begin());
  return std::prev(it)->cls;
}

// One code point from s at i, advancing i. Mirrors llama.cpp's unicode_cpt_from_utf8 (lead and
// continuation bits only) so both runtimes see the same code points; an invalid byte becomes
// U+FFFD and consumes one byte. Code points past U+10FFFF (which llama.cpp rejects with an
// exception) also become U+FFFD.
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[k])); };
  const auto continuation = [&](std::size_t k) { return k < s.size() && (byte(k) & 0xC0U) == 0x80U; };
  const std::uint32_t b0 = byte(i);
  if ((b0 & 0x80U) == 0) {
    i += 1;
    return b0;
  }
  if ((b0 & 0x40U) != 0) {
    if ((b0 & 0x20U) == 0) {
      if (continuation(i + 1)) {
        const std::uint32_t cp = ((b0 & 0x1FU) << 6) | (byte(i + 1) & 0x3FU);
        i += 2;
        return cp;
      }
    } else if ((b0 & 0x10U) == 0) {
      if (continuation(i + 1) && continuation(i + 2)) {
        const std::uint32_t cp = ((b0 & 0x0FU) << 12) | ((byte(i + 1) & 0x3FU) << 6) | (byte(i + 2) & 0x3FU);
        i += 3;
        return cp;
      }
    } else if ((b0 & 0x08U) == 0) {
      if (continuation(i + 1) && continuation(i + 2) && continuation(i + 3)) {
        const std::uint32_t cp = ((b0 & 0x07U) << 18) | ((byte(i + 1) & 0x3FU) << 12) |
                                 ((byte(i + 2) & 0x3FU) << 6) | (byte(i + 3) & 0x3FU);
        i += 4;
        return cp < code_points_end ? cp : replacement_character;
      }
    }
  }
  i += 1;
  return replacement_character;
}

void append_utf8(std::uint32_t cp, std::vector<std::uint8_t>& out) {
  assert(cp < code_points_end);
  const auto push = [&](std::uint32_t v) { out.push_back(static_cast<std::uint8_t>(v)); };
  if (cp <= 0x7F) {
    push(cp);
  } else if (cp <= 0x7FF) {
    push(0xC0U | (cp >> 6));
    push(0x80U | (cp & 0x3FU));
  } else if (cp <= 0xFFFF) {
    push(0xE0U | (cp >> 12));
    push(0x80U | ((cp >> 6) & 0x3FU));
    push(0x80U | (cp & 0x3FU));
  } else {
    push(0xF0U | (cp >> 18));
    push(0x80U | ((cp >> 12) & 0x3FU));
    push(0x80U | ((cp >> 6) & 0x3FU));
    push(0x80U | (cp & 0x3FU));
  }
}

std::string utf8_of(std::uint32_t cp) {
  std::vector<std::uint8_t> bytes;
  append_utf8(cp, bytes);
  return {bytes.begin(), bytes.end()};
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes map
// to U+0100 onwards in byte order, so every token is printable text.
std::array<std::uint32_t, 256> byte_to_code_point() {
  std::array<std::uint32_t, 256> map{};
  std::uint32_t next = 256;
  for (std::uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    map[b] = printable ? b : next++;
  }
  return map;
}

// The GPT-2 pre-tokenizer regex, hand-written as llama.cpp's unicode_regex_split_custom_gpt2:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// over the code points of one segment [begin, end); appends each word's length.
void split_gpt2(std::span<const std::uint32_t> cps, std::span<const CodePointClass> cls, std::size_t begin,
                std::size_t end, std::vector<std::size_t>& lengths) {
  constexpr std::uint32_t out_of_range = 0xFFFFFFFF;
  const auto cp_at = [&](std::size_t p) { return p < end ? cps[p] : out_of_range; };
  // Outside the segment no class matches, like llama.cpp's empty flags.
  enum class C : std::uint8_t { none, letter, number, whitespace, other };
  const auto cls_at = [&](std::size_t p) {
    if (p >= end) return C::none;
    switch (cls[p]) {
      case CodePointClass::letter: return C::letter;
      case CodePointClass::number: return C::number;
      case CodePointClass::whitespace: return C::whitespace;
      case CodePointClass::other: break;
    }
    return C::other;
  };
  std::size_t previous_end = begin;
  const auto add = [&](std::size_t word_end) {
    if (word_end > previous_end) lengths.push_back(word_end - previous_end);
    previous_end = word_end;
  };
  std::size_t pos = begin;
  while (pos < end) {
    const std::uint32_t cp = cp_at(pos);
    if (cp == '\'' && pos + 1 < end) {
      const std::uint32_t next = cp_at(pos + 1);
      if (next == 's' || next == 't' || next == 'm' || next == 'd') {
        pos += 2;
        add(pos);
        continue;
      }
      if (pos + 2 < end) {
        const std::uint32_t next2 = cp_at(pos + 2);
        if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l')) {
          pos += 3;
          add(pos);
          continue;
        }
      }
    }
    const bool space = cp == ' ';
    const C c2 = space ? cls_at(pos + 1) : cls_at(pos);
    if (c2 == C::letter || c2 == C::number || c2 == C::other) {
      pos += space ? 1 : 0;
      while (cls_at(pos) == c2) ++pos;
      add(pos);
      continue;
    }
    std::size_t whitespace = 0;
    while (cls_at(pos + whitespace) == C::whitespace) ++whitespace;
    if (whitespace > 1 && cp_at(pos + whitespace) != out_of_range) {
      // \s+(?!\S): leave the last whitespace to start the next word.
      pos += whitespace - 1;
      add(pos);
      continue;
    }
    if (whitespace > 0) {
      pos += whitespace;
      add(pos);
      continue;
    }
    add(++pos);  // not reached (every code point falls in a branch above); guarantees progress
  }
}

bool name_is_end_of_generation(std::string_view name) {
  // llama.cpp's list (llama-vocab.cpp): end-of-turn names, and fill-in-the-middle pad / repo /
  // separator names, all of which it treats as end of generation.
  static constexpr std::string_view names[] = {
      "<|eot_id|>",    "<|im_end|>",  "<|end|>",          "<|return|>",         "<|call|>",
      "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",     "<EOT>",              "_<EOT>",
      "<|end_of_text|>", "<end_of_utterance>", "<|fim_pad|>", "<fim-pad>",      "<fim_pad>",
      "<PAD>",         "<|fim_repo|>", "<|repo_name|>",   "<fim-repo>",         "<REPO>",
      "<reponame>",    "<|file_sep|>",
  };
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

}  // namespace

core::Result<Tokenizer> Tokenizer::create(TokenizerData data) {
  if (data.model != "gpt2") {
    return invalid("tokenizer model '" + data.model +
                   "' is not supported; Butterfly reads byte-level BPE ('gpt2') tokenizers only");
  }
  Tokenizer t;
  // llama.cpp's pre-tokenizer names (llama-vocab.cpp) whose regex lists we implement.
  static constexpr std::string_view gpt2_names[] = {"gpt-2", "phi-2", "roberta-bpe", "jina-es", "jina-de",
                                                    "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                                                    "jina-v2-code", "mpt", "olmo", "jais", "trillion"};
  static constexpr std::string_view digit_names[] = {"smollm", "codeshell", "exaone", "minerva-7b"};
  if (std::find(std::begin(digit_names), std::end(digit_names), data.pre) != std::end(digit_names)) {
    t.split_ = Split::digits_then_gpt2;
  } else if (std::find(std::begin(gpt2_names), std::end(gpt2_names), data.pre) != std::end(gpt2_names)) {
    t.split_ = Split::gpt2;
  } else {
    return invalid("pre-tokenizer '" + data.pre +
                   "' (tokenizer.ggml.pre) is not supported; supported: smollm, codeshell, exaone, "
                   "minerva-7b, gpt-2, phi-2, roberta-bpe, mpt, olmo, jais, trillion, jina-*, gigachat");
  }
  const std::size_t n = data.tokens.size();
  if (n == 0 || n > tokenizer_vocab_max) {
    return invalid("vocabulary has " + std::to_string(n) + " tokens; expected 1 to " +
                   std::to_string(tokenizer_vocab_max));
  }
  if (!data.token_types.empty() && data.token_types.size() != n) {
    return invalid("tokenizer.ggml.token_type has " + std::to_string(data.token_types.size()) +
                   " entries for " + std::to_string(n) + " tokens");
  }
  if (data.merges.size() > tokenizer_merges_max) {
    return invalid("tokenizer has " + std::to_string(data.merges.size()) + " merges; the limit is " +
                   std::to_string(tokenizer_merges_max));
  }
  if (data.chat_template.size() > tokenizer_template_bytes_max) {
    return invalid("chat template is " + std::to_string(data.chat_template.size()) + " bytes; the limit is " +
                   std::to_string(tokenizer_template_bytes_max));
  }
  for (const std::int32_t id : {data.bos, data.eos, data.unk, data.pad}) {
    if (id < -1 || id >= static_cast<std::int64_t>(n)) {
      return invalid("special token id " + std::to_string(id) + " is outside the vocabulary of " +
                     std::to_string(n) + " tokens");
    }
  }
  if ((data.add_bos && data.bos < 0) || (data.add_eos && data.eos < 0)) {
    return invalid("the tokenizer asks to add a bos/eos token but does not say which token it is");
  }

  std::unordered_map<std::string_view, std::int32_t> id_of;
  id_of.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (data.tokens[i].size() > tokenizer_token_bytes_max) {
      return invalid("token " + std::to_string(i) + " is " + std::to_string(data.tokens[i].size()) +
                     " bytes; the limit is " + std::to_string(tokenizer_token_bytes_max));
    }
    id_of.emplace(data.tokens[i], static_cast<std::int32_t>(i));  // first id wins, as in llama.cpp
  }

  const auto byte_cp = byte_to_code_point();
  std::unordered_map<std::uint32_t, std::uint8_t> byte_of_cp;
  for (std::size_t b = 0; b < 256; ++b) {
    byte_of_cp.emplace(byte_cp[b], static_cast<std::uint8_t>(b));
    const auto it = id_of.find(utf8_of(byte_cp[b]));
    // Real vocabularies omit a few bytes (SmolLM2: 21 control and never-valid UTF-8 bytes);
    // llama.cpp drops such bytes from the input and so do we. Printable ASCII must be there.
    if (it == id_of.end() && b >= 0x20 && b <= 0x7E) {
      return invalid("vocabulary lacks the byte-level token for byte " + std::to_string(b) +
                     "; it is not a byte-level BPE vocabulary");
    }
    t.byte_token_[b] = it == id_of.end() ? -1 : it->second;
  }

  t.pieces_.resize(n);
  t.special_.assign(n, 0);
  t.end_of_generation_.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto type = data.token_types.empty() ? TokenType::normal : static_cast<TokenType>(data.token_types[i]);
    const std::string& text = data.tokens[i];
    const bool special = type == TokenType::control || type == TokenType::user_defined ||
                         type == TokenType::unknown || name_is_end_of_generation(text);
    t.special_[i] = special ? 1 : 0;
    t.end_of_generation_[i] = name_is_end_of_generation(text) ? 1 : 0;
    if (special) {
      t.pieces_[i] = text;
      continue;
    }
    // A normal token's text is byte-level characters; map each back to its byte.
    std::string piece;
    for (std::size_t k = 0; k < text.size();) {
      const std::uint32_t cp = next_code_point(text, k);
      const auto it = byte_of_cp.find(cp);
      if (it == byte_of_cp.end()) {
        return invalid("token " + std::to_string(i) + " contains a character that is not a byte-level "
                       "character (U+" + std::to_string(cp) + "); the vocabulary is not byte-level BPE");
      }
      piece.push_back(static_cast<char>(it->second));
    }
    t.pieces_[i] = std::move(piece);
  }
  if (data.eos >= 0) t.end_of_generation_[static_cast<std::size_t>(data.eos)] = 1;

  // Longest first, as llama.cpp's special-token cache; equal lengths keep id order.
  for (std::size_t i = 0; i < n; ++i) {
    if (t.special_[i] != 0 && !data.tokens[i].empty()) t.special_by_length_.push_back(static_cast<std::int32_t>(i));
  }
  std::stable_sort(t.special_by_length_.begin(), t.special_by_length_.end(), [&](std::int32_t a, std::int32_t b) {
    return data.tokens[static_cast<std::size_t>(a)].size() > data.tokens[static_cast<std::size_t>(b)].size();
  });

  t.merges_.reserve(data.merges.size());
  for (std::size_t rank = 0; rank < data.merges.size(); ++rank) {
    const std::string& merge = data.merges[rank];
    const auto space = merge.find(' ', 1);  // from 1: a left part is never empty
    if (space == std::string::npos) {
      return invalid("merge " + std::to_string(rank) + " ('" + merge + "') has no space between its two parts");
    }
    const std::string_view left(merge.data(), space);
    const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
    const std::string joined = std::string(left) + std::string(right);
    const auto l = id_of.find(left), r = id_of.find(right), j = id_of.find(joined);
    if (l == id_of.end() || r == id_of.end() || j == id_of.end()) {
      return invalid("merge " + std::to_string(rank) + " ('" + merge +
                     "') names a token that is not in the vocabulary");
    }
    const std::uint64_t key = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(l->second)) << 32) |
                              static_cast<std::uint32_t>(r->second);
    const std::uint64_t value = (static_cast<std::uint64_t>(rank) << 32) | static_cast<std::uint32_t>(j->second);
    t.merges_.emplace(key, value);  // the first (lowest) rank of a repeated pair wins
  }
  t.data_ = std::move(data);
  return t;
}

core::Result<std::vector<std::int32_t>> Tokenizer::encode_checked(std::string_view text, bool add_special,
                                                                  bool parse_special) const {
  if (text.size() > tokenizer_input_bytes_max) {
    return invalid("input is " + std::to_string(text.size()) + " bytes; the tokenizer accepts at most " +
                   std::to_string(tokenizer_input_bytes_max) + " bytes; shorten the prompt");
  }
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && data_.add_bos) out.push_back(data_.bos);

  // Split out special tokens, longest first, exactly as llama.cpp's tokenizer_st_partition:
  // each token in turn cuts every remaining text fragment at each of its occurrences.
  struct Fragment {
    std::int32_t token;  // -1: text [offset, offset + length)
    std::size_t offset, length;
  };
  std::vector<Fragment> fragments{{-1, 0, text.size()}};
  std::vector<Fragment> next;
  for (const std::int32_t id : special_by_length_) {
    const auto type = data_.token_types.empty() ? TokenType::normal
                                                : static_cast<TokenType>(data_.token_types[static_cast<std::size_t>(id)]);
    // Without parse_special only user-defined tokens are recognised in text.
    if (!parse_special && type != TokenType::user_defined) continue;
    const std::string& needle = data_.tokens[static_cast<std::size_t>(id)];
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view hay = text.substr(f.offset, f.length);
      std::size_t from = 0;
      for (auto at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, from)) {
        if (at > from) next.push_back({-1, f.offset + from, at - from});
        next.push_back({id, 0, 0});
        from = at + needle.size();
      }
      if (from < hay.size()) next.push_back({-1, f.offset + from, hay.size() - from});
    }
    fragments.swap(next);
  }
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
    } else {
      encode_text(text.substr(f.offset, f.length), out);
    }
  }
  if (add_special && data_.add_eos) out.push_back(data_.eos);
  return out;
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  auto result = encode_checked(text, add_special, parse_special);
  if (!result) return {};
  return std::move(result.value());
}

void Tokenizer::encode_text(std::string_view text, std::vector<std::int32_t>& out) const {
  std::vector<std::uint32_t> cps;
  cps.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) cps.push_back(next_code_point(text, i));
  std::vector<CodePointClass> cls(cps.size());
  for (std::size_t i = 0; i < cps.size(); ++i) cls[i] = class_of(cps[i]);

  // Segments: the whole text, or (SmolLM2 and kin, regex \p{N} first) each number code point
  // alone with the runs between them.
  std::vector<std::size_t> words;  // lengths in code points
  if (split_ == Split::digits_then_gpt2) {
    std::size_t start = 0;
    for (std::size_t i = 0; i <= cps.size(); ++i) {
      if (i == cps.size() || cls[i] == CodePointClass::number) {
        if (i > start) split_gpt2(cps, cls, start, i, words);
        if (i < cps.size()) words.push_back(1);
        start = i + 1;
      }
    }
  } else {
    split_gpt2(cps, cls, 0, cps.size(), words);
  }

  std::vector<std::uint8_t> bytes;
  std::size_t start = 0;
  for (const std::size_t length : words) {
    bytes.clear();
    for (std::size_t i = start; i < start + length; ++i) append_utf8(cps[i], bytes);
    encode_word(bytes, out);
    start += length;
  }
}

// BPE on one word: start from one token per byte, repeatedly merge the adjacent pair with the
// lowest rank (leftmost among equals), as llama.cpp's llm_tokenizer_bpe_session. A heap of
// candidate pairs keeps it O(n log n); entries made stale by an earlier merge are skipped.
void Tokenizer::encode_word(std::span<const std::uint8_t> bytes, std::vector<std::int32_t>& out) const {
  const std::size_t n = bytes.size();
  if (n == 0) return;
  std::vector<std::int32_t> id(n);
  std::vector<std::int64_t> prev(n), next(n);
  for (std::size_t i = 0; i < n; ++i) {
    id[i] = byte_token_[bytes[i]];
    prev[i] = static_cast<std::int64_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<std::int64_t>(i + 1) : -1;
  }
  struct Candidate {
    std::uint32_t rank;
    std::int64_t left;
    std::int32_t left_id, right_id, merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto consider = [&](std::int64_t left) {
    if (left < 0) return;
    const std::int64_t right = next[static_cast<std::size_t>(left)];
    if (right < 0) return;
    const std::int32_t a = id[static_cast<std::size_t>(left)], b = id[static_cast<std::size_t>(right)];
    if (a < 0 || b < 0) return;  // a byte without a token never merges
    const auto it = merges_.find((static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
                                 static_cast<std::uint32_t>(b));
    if (it == merges_.end()) return;
    heap.push({static_cast<std::uint32_t>(it->second >> 32), left, a, b,
               static_cast<std::int32_t>(it->second & 0xFFFFFFFFU)});
  };
  for (std::size_t i = 0; i + 1 < n; ++i) consider(static_cast<std::int64_t>(i));
  std::vector<std::uint8_t> alive(n, 1);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const auto left = static_cast<std::size_t>(c.left);
    const std::int64_t right_signed = next[left];
    // Stale: the left symbol was absorbed, or either side changed since this pair was queued.
    if (alive[left] == 0 || right_signed < 0 || id[left] != c.left_id ||
        id[static_cast<std::size_t>(right_signed)] != c.right_id) {
      continue;
    }
    const auto right = static_cast<std::size_t>(right_signed);
    id[left] = c.merged;
    alive[right] = 0;
    next[left] = next[right];
    if (next[right] >= 0) prev[static_cast<std::size_t>(next[right])] = c.left;
    consider(prev[left]);
    consider(c.left);
  }
  for (std::int64_t i = 0; i >= 0; i = next[static_cast<std::size_t>(i)]) {
    if (id[static_cast<std::size_t>(i)] >= 0) out.push_back(id[static_cast<std::size_t>(i)]);
  }
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string text;
  for (const std::int32_t id : ids) {
    if (id >= 0 && static_cast<std::size_t>(id) < pieces_.size()) text += pieces_[static_cast<std::size_t>(id)];
  }
  return text;
}

std::string Tokenizer::token_piece(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= pieces_.size()) return {};
  return pieces_[static_cast<std::size_t>(id)];
}

bool Tokenizer::is_special(std::int32_t id) const {
  return id >= 0 && static_cast<std::size_t>(id) < special_.size() && special_[static_cast<std::size_t>(id)] != 0;
}

bool Tokenizer::is_end_of_generation(std::int32_t id) const {
  return id >= 0 && static_cast<std::size_t>(id) < end_of_generation_.size() &&
         end_of_generation_[static_cast<std::size_t>(id)] != 0;
}

}  // namespace bf::model
