#include "model/tokenizer_hf.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

namespace bf::model {
namespace {

using core::Errc;
using core::Error;
using core::Result;

Error invalid(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

// nullopt when the file is absent; an error when it is there but unreadable or not an object.
Result<std::optional<nlohmann::json>> read_optional_json(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::optional<nlohmann::json>{};
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return invalid("cannot read " + path.string() + ": " + ec.message());
  if (size > max_bytes) return invalid(path.string() + " is over the limit of " + std::to_string(max_bytes) + " bytes");
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (!in) return invalid("cannot read " + path.string());
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return invalid(path.string() + " is not a JSON object");
  return std::optional<nlohmann::json>(std::move(json));
}

// Whether j[key] is the boolean true (nlohmann's value() would throw on another type).
bool is_true(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

bool is_type(const nlohmann::json& j, const char* type) {
  const auto it = j.find("type");
  return it != j.end() && it->is_string() && it->get_ref<const std::string&>() == type;
}

// ByteLevel with the GPT-2 regex and no prefix space: the only byte-level split the tokenizer has.
bool plain_byte_level(const nlohmann::json& j) {
  if (!j.is_object() || !is_type(j, "ByteLevel")) return false;
  const auto prefix = j.find("add_prefix_space");
  const auto regex = j.find("use_regex");
  return (prefix == j.end() || *prefix == false) && (regex == j.end() || *regex == true);
}

// tokenizer.json's pre_tokenizer as llama.cpp's pre-tokenizer name.
Result<std::string> pre_tokenizer_name(const nlohmann::json& tok) {
  const auto it = tok.find("pre_tokenizer");
  if (it != tok.end() && plain_byte_level(*it)) return std::string("gpt-2");
  if (it != tok.end() && it->is_object() && is_type(*it, "Sequence")) {
    const auto list = it->find("pretokenizers");
    if (list != it->end() && list->is_array() && list->size() == 2 && (*list)[0].is_object() &&
        is_type((*list)[0], "Digits") && is_true((*list)[0], "individual_digits") &&
        plain_byte_level((*list)[1])) {
      return std::string("smollm");  // each digit alone, then the GPT-2 split
    }
  }
  return invalid("tokenizer.json has a pre_tokenizer other than ByteLevel (optionally after single Digits); "
                 "it is not supported");
}

// A special-token field of tokenizer_config.json: "text" or {"content": "text"}.
std::optional<std::string> token_text(const nlohmann::json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    const auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

Result<TokenizerData> tokenizer_data_from_hf(const std::filesystem::path& dir) {
  const auto path = dir / "tokenizer.json";
  auto loaded = read_optional_json(path, hf_tokenizer_json_bytes_max);
  if (!loaded) return loaded.error();
  if (!*loaded) return invalid(dir.string() + " has no tokenizer.json; the model cannot be prompted with text");
  const nlohmann::json& tok = **loaded;
  const auto fail = [&](const std::string& what) { return invalid(path.string() + ": " + what); };
  if (const auto n = tok.find("normalizer"); n != tok.end() && !n->is_null()) {
    return fail("a normalizer is set; only byte-level BPE without normalization is supported");
  }
  const auto model = tok.find("model");
  if (model == tok.end() || !model->is_object() || !is_type(*model, "BPE")) {
    return fail("\"model\" is not of type BPE (SentencePiece/Unigram and WordPiece tokenizers are not supported)");
  }
  TokenizerData data;
  data.model = "gpt2";
  auto pre = pre_tokenizer_name(tok);
  if (!pre) return fail(pre.error().message);
  data.pre = *pre;

  // Ids come from model.vocab and added_tokens; together they must cover 0..n-1.
  std::vector<std::pair<std::int64_t, std::string>> entries;
  const auto vocab = model->find("vocab");
  if (vocab == model->end() || !vocab->is_object()) return fail("model.vocab is missing");
  if (vocab->size() > tokenizer_vocab_max) return fail("model.vocab has more than " + std::to_string(tokenizer_vocab_max) + " tokens");
  for (const auto& [text, id] : vocab->items()) {
    if (!id.is_number_unsigned()) return fail("model.vocab id of \"" + text.substr(0, 64) + "\" is not a non-negative integer");
    entries.emplace_back(id.get<std::int64_t>(), text);
  }
  std::vector<std::pair<std::int64_t, bool>> added;  // id, special
  if (const auto list = tok.find("added_tokens"); list != tok.end() && list->is_array()) {
    if (list->size() > tokenizer_vocab_max) return fail("too many added_tokens");
    for (const auto& a : *list) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_unsigned() || !a.contains("content") ||
          !a["content"].is_string()) {
        return fail("an added_tokens entry lacks an integer id or a content string");
      }
      entries.emplace_back(a["id"].get<std::int64_t>(), a["content"].get<std::string>());
      added.emplace_back(a["id"].get<std::int64_t>(), is_true(a, "special"));
    }
  }
  std::int64_t max_id = -1;
  for (const auto& e : entries) max_id = std::max(max_id, e.first);
  if (max_id >= static_cast<std::int64_t>(tokenizer_vocab_max)) return fail("token id " + std::to_string(max_id) + " is over the limit");
  data.tokens.assign(static_cast<std::size_t>(max_id + 1), std::string());
  std::vector<std::uint8_t> seen(data.tokens.size(), 0);
  for (const auto& [id, text] : entries) {
    const auto i = static_cast<std::size_t>(id);
    if (seen[i] && data.tokens[i] != text) return fail("token id " + std::to_string(id) + " has two different texts");
    seen[i] = 1;
    data.tokens[i] = text;
  }
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) return fail("token id " + std::to_string(i) + " is missing (ids must be 0.." + std::to_string(max_id) + ")");
  }
  data.token_types.assign(data.tokens.size(), static_cast<std::int32_t>(TokenType::normal));
  for (const auto& [id, special] : added) {
    data.token_types[static_cast<std::size_t>(id)] =
        static_cast<std::int32_t>(special ? TokenType::control : TokenType::user_defined);
  }

  const auto merges = model->find("merges");
  if (merges == model->end() || !merges->is_array()) return fail("model.merges is missing");
  if (merges->size() > tokenizer_merges_max) return fail("model.merges has more than " + std::to_string(tokenizer_merges_max) + " rules");
  data.merges.reserve(merges->size());
  for (const auto& m : *merges) {
    if (m.is_string()) {
      data.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // tokenizers >= 0.20
      data.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      return fail("a model.merges entry is neither \"left right\" nor [left, right]");
    }
  }

  auto config = read_optional_json(dir / "tokenizer_config.json", tokenizer_template_bytes_max * 4);
  if (!config) return config.error();
  if (*config) {
    const nlohmann::json& c = **config;
    const auto id_of = [&](const char* key, std::int32_t& out) -> core::Status {
      const auto text = token_text(c, key);
      if (!text) return core::Ok{};
      for (std::size_t i = 0; i < data.tokens.size(); ++i) {
        if (data.tokens[i] == *text) {
          out = static_cast<std::int32_t>(i);
          return core::Ok{};
        }
      }
      return invalid("tokenizer_config.json " + std::string(key) + " \"" + text->substr(0, 64) + "\" is not in the vocabulary");
    };
    for (const auto& [key, out] : {std::pair<const char*, std::int32_t*>{"bos_token", &data.bos},
                                   {"eos_token", &data.eos}, {"unk_token", &data.unk}, {"pad_token", &data.pad}}) {
      if (auto s = id_of(key, *out); !s) return s.error();
    }
    if (const auto b = c.find("add_bos_token"); b != c.end() && b->is_boolean()) data.add_bos = b->get<bool>();
    if (const auto e = c.find("add_eos_token"); e != c.end() && e->is_boolean()) data.add_eos = e->get<bool>();
    if (const auto t = c.find("chat_template"); t != c.end()) {
      if (t->is_string()) {
        data.chat_template = t->get<std::string>();
      } else if (t->is_array()) {  // named templates: the "default" one
        for (const auto& named : *t) {
          if (named.is_object() && named.contains("name") && named["name"] == "default" && named.contains("template") &&
              named["template"].is_string()) {
            data.chat_template = named["template"].get<std::string>();
          }
        }
      }
      if (data.chat_template.size() > tokenizer_template_bytes_max) return invalid("tokenizer_config.json chat_template is too long");
    }
  }
  return data;
}

}  // namespace bf::model
