// Tokenizer: a small synthetic byte-level BPE vocabulary (merge order, pre-tokenizer splits,
// special tokens, invalid UTF-8, limits, chat templates), then SmolLM2's real tokenizer against
// the ids llama.cpp produced (tests/reference/smollm2_tokens.json, written by scripts/parity).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "model/gguf.hpp"
#include "model/tokenizer.hpp"

namespace bf::model {
namespace {

// GPT-2's byte-to-character mapping, written out independently of tokenizer.cpp.
std::string byte_char(int b) {
  int cp = b;
  if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) {
    int n = 0;
    for (int x = 0; x < b; ++x) {
      if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) ++n;
    }
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// 256 byte tokens (id = byte), then the merged tokens and specials the tests add.
TokenizerData tiny_data(std::string pre = "smollm") {
  TokenizerData d;
  d.model = "gpt2";
  d.pre = std::move(pre);
  for (int b = 0; b < 256; ++b) d.tokens.push_back(byte_char(b));
  d.token_types.assign(256, 1);
  const auto add = [&](std::string text, std::int32_t type) {
    d.tokens.push_back(std::move(text));
    d.token_types.push_back(type);
  };
  const std::string sp = byte_char(' ');  // "Ġ"
  add("bc", 1);                // 256
  add("ab", 1);                // 257
  add("abc", 1);               // 258
  add(sp + "b", 1);            // 259
  add(sp + sp, 1);             // 260
  add("12", 1);                // 261
  add("<|end|>", 3);           // 262 control
  add("<|x|>", 4);             // 263 user-defined
  add("a" + sp, 1);            // 264: never used, pre-tokenizer keeps "a" and " " apart
  d.merges = {"b c", "a b", "a bc", sp + " b", sp + " " + sp, "1 2", "a " + sp};
  d.eos = 262;
  d.chat_template = "{% for m in messages %}<|im_start|>...{% endfor %}";
  return d;
}

Tokenizer tiny(std::string pre = "smollm") {
  auto t = Tokenizer::create(tiny_data(std::move(pre)));
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return std::move(t.value());
}

using Ids = std::vector<std::int32_t>;

TEST(Tokenizer, MergesApplyLowestRankFirst) {
  const Tokenizer t = tiny();
  // "b c" (rank 0) beats "a b" (rank 1), then "a bc" joins them.
  EXPECT_EQ(t.encode("abc", false, false), (Ids{258}));
  EXPECT_EQ(t.encode("ab", false, false), (Ids{257}));
  EXPECT_EQ(t.encode("abab", false, false), (Ids{257, 257}));
  EXPECT_EQ(t.encode("ca", false, false), (Ids{'c', 'a'}));
}

TEST(Tokenizer, PreTokenizerKeepsWordsApart) {
  const Tokenizer t = tiny();
  // " b" is one word (space joins the letters after it); "a" and " " never meet.
  EXPECT_EQ(t.encode("a b", false, false), (Ids{'a', 259}));
  // \s+(?!\S): of three spaces before a letter, two form a word and the last joins "b".
  EXPECT_EQ(t.encode("a   b", false, false), (Ids{'a', 260, 259}));
  // Trailing whitespace is one word.
  EXPECT_EQ(t.encode("a  ", false, false), (Ids{'a', 260}));
  // Contractions split off: "'s".
  EXPECT_EQ(t.encode("a's", false, false), (Ids{'a', '\'', 's'}));
}

TEST(Tokenizer, SmollmSplitsDigitsGpt2DoesNot) {
  EXPECT_EQ(tiny("smollm").encode("12", false, false), (Ids{'1', '2'}));
  EXPECT_EQ(tiny("gpt-2").encode("12", false, false), (Ids{261}));
}

TEST(Tokenizer, SpecialTokensSplitOutOnlyWhenAsked) {
  const Tokenizer t = tiny();
  EXPECT_EQ(t.encode("ab<|end|>ab", false, true), (Ids{257, 262, 257}));
  const Ids plain = t.encode("ab<|end|>", false, false);
  EXPECT_EQ(plain.front(), 257);
  EXPECT_EQ(t.decode(plain), "ab<|end|>");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 262), 0);
  // User-defined tokens are recognised even without parse_special, as in llama.cpp.
  EXPECT_EQ(t.encode("<|x|>", false, false), (Ids{263}));
  EXPECT_TRUE(t.is_special(262));
  EXPECT_FALSE(t.is_special('a'));
  EXPECT_TRUE(t.is_end_of_generation(262));  // eos
  EXPECT_FALSE(t.is_end_of_generation(263));
  EXPECT_EQ(t.token_piece(262), "<|end|>");
  EXPECT_EQ(t.token_piece(-1), "");
  EXPECT_EQ(t.token_piece(100000), "");
}

TEST(Tokenizer, AddSpecialAddsBosAndEosWhenTheModelAsks) {
  auto d = tiny_data();
  d.bos = 262;
  d.add_bos = true;
  d.add_eos = true;
  auto t = Tokenizer::create(d);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->encode("ab", true, false), (Ids{262, 257, 262}));
  EXPECT_EQ(t->encode("ab", false, false), (Ids{257}));
}

TEST(Tokenizer, DecodeInvertsEncodeOnRandomUtf8) {
  const Tokenizer t = tiny();
  std::mt19937 rng(20261123);  // fixed seed: failures replay
  const char32_t alphabet[] = {U'a', U'b', U'c', U' ', U'\n', U'\t', U'1', U'2', U'\'', U'é', U'中', U'🦋', U'\u00a0',
                               U'\u0301', U'٣', U'<', U'|', U'>'};
  for (int round = 0; round < 300; ++round) {
    std::u32string cps;
    const int length = static_cast<int>(rng() % 24);
    for (int i = 0; i < length; ++i) cps += alphabet[rng() % std::size(alphabet)];
    std::string s;
    for (const char32_t c : cps) {
      const auto cp = static_cast<std::uint32_t>(c);
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    EXPECT_EQ(t.decode(t.encode(s, false, false)), s) << "round " << round;
    EXPECT_EQ(t.decode(t.encode(s, false, true)), s) << "round " << round;
  }
}

TEST(Tokenizer, InvalidUtf8BecomesReplacementCharacters) {
  const Tokenizer t = tiny();
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(t.decode(t.encode("a\xFF" "b", false, false)), "a" + replacement + "b");
  // A truncated three-byte sequence: each byte is replaced on its own, as llama.cpp does.
  EXPECT_EQ(t.decode(t.encode("\xE4\xB8", false, false)), replacement + replacement);
  // A lone continuation byte and a five-byte lead byte.
  EXPECT_EQ(t.decode(t.encode("\x80\xF8", false, false)), replacement + replacement);
}

TEST(Tokenizer, BytesWithoutATokenAreDroppedAsLlamaCppDoes) {
  auto d = tiny_data();
  d.tokens[4] = "<|four|>";  // byte 0x04's character is no longer in the vocabulary
  d.token_types[4] = 3;
  auto t = Tokenizer::create(d);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->encode("a\x04" "bc", false, false), (Ids{'a', 256}));
  EXPECT_TRUE(t->encode("\x04", false, false).empty());
}

TEST(Tokenizer, InputOverTheLimitIsRefused) {
  const Tokenizer t = tiny();
  const std::string at_limit(tokenizer_input_bytes_max, 'a');
  EXPECT_TRUE(t.encode_checked(std::string_view(at_limit).substr(0, 1024), false, false).ok());
  const std::string over(tokenizer_input_bytes_max + 1, 'a');
  const auto r = t.encode_checked(over, false, false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("at most"), std::string::npos) << r.error().message;
  EXPECT_TRUE(t.encode(over, false, false).empty());
}

TEST(Tokenizer, CreateRejectsMalformedData) {
  const auto fails_with = [](TokenizerData d, const std::string& fragment) {
    const auto r = Tokenizer::create(std::move(d));
    ASSERT_FALSE(r.ok()) << "expected an error mentioning " << fragment;
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  };
  auto d = tiny_data();
  d.model = "llama";
  fails_with(d, "not supported");
  d = tiny_data();
  d.pre = "llama3";
  fails_with(d, "pre-tokenizer 'llama3'");
  d = tiny_data();
  d.tokens.erase(d.tokens.begin() + 'q');
  d.token_types.pop_back();
  fails_with(d, "byte-level token for byte");
  d = tiny_data();
  d.merges.push_back("x zz");
  fails_with(d, "not in the vocabulary");
  d = tiny_data();
  d.merges.push_back("nospace");
  fails_with(d, "no space");
  d = tiny_data();
  d.tokens.back() = std::string(tokenizer_token_bytes_max + 1, 'x');
  fails_with(d, "the limit is");
  d = tiny_data();
  d.eos = static_cast<std::int32_t>(d.tokens.size());
  fails_with(d, "outside the vocabulary");
  d = tiny_data();
  d.token_types.pop_back();
  fails_with(d, "token_type has");
  d = tiny_data();
  d.tokens.clear();
  d.token_types.clear();
  fails_with(d, "expected 1 to");
}

constexpr const char* smollm2_template =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

TEST(ChatTemplate, ChatmlInsertsTheTemplatesDefaultSystemPrompt) {
  TokenizerData d;
  d.chat_template = smollm2_template;
  const std::vector<ChatMessage> user{{"user", "Hi"}};
  EXPECT_EQ(chat_template_family(d), "chatml");
  EXPECT_EQ(apply_chat_template(d, user, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  const std::vector<ChatMessage> with_system{{"system", "Be terse."}, {"user", "Hi"}, {"assistant", "Hello."}};
  EXPECT_EQ(apply_chat_template(d, with_system, false),
            "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n");
}

TEST(ChatTemplate, EscapedDefaultPromptAndPlaceholdersAreHandled) {
  TokenizerData d;
  // Qwen-style: the default prompt with a Jinja-escaped newline.
  d.chat_template = "{{- '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}";
  const std::vector<ChatMessage> user{{"user", "x"}};
  EXPECT_EQ(apply_chat_template(d, user, false), "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nx<|im_end|>\n");
  // A system turn built from the message is not a default prompt.
  d.chat_template = "{{'<|im_start|>system\\n' + message['content'] + '<|im_end|>'}}";
  EXPECT_EQ(apply_chat_template(d, user, false), "<|im_start|>user\nx<|im_end|>\n");
}

TEST(ChatTemplate, Llama2AndFallback) {
  TokenizerData d;
  d.chat_template = "{{ bos_token + '[INST] <<SYS>>\\n' }}";
  const std::vector<ChatMessage> chat{{"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}};
  EXPECT_EQ(chat_template_family(d), "llama2");
  EXPECT_EQ(apply_chat_template(d, chat, true), "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST]A1</s>[INST] U2 [/INST]");
  d.chat_template = "{{ something else }}";
  EXPECT_EQ(chat_template_family(d), "chatml (fallback: template not recognised)");
  const std::vector<ChatMessage> user{{"user", "x"}};
  EXPECT_EQ(apply_chat_template(d, user, true), "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
}

// --- SmolLM2 against llama.cpp ---------------------------------------------------------------

const std::filesystem::path source_dir = BUTTERFLY_SOURCE_DIR;
const std::filesystem::path smollm2_path = source_dir / "models/SmolLM2-135M-Instruct.Q4_1.gguf";

// The escapes tokenizer_cases.txt uses (scripts/parity.py reads them the same way).
std::string unescape(const std::string& line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      const char n = line[i + 1];
      if (n == 'n' || n == 't' || n == 'r' || n == '\\') {
        out += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : '\\';
        ++i;
        continue;
      }
      if (n == 'u' && i + 6 <= line.size()) {
        const auto cp = static_cast<std::uint32_t>(std::stoul(line.substr(i + 2, 4), nullptr, 16));
        if (cp < 0x80) {
          out += static_cast<char>(cp);
        } else if (cp < 0x800) {
          out += static_cast<char>(0xC0 | (cp >> 6));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
          out += static_cast<char>(0xE0 | (cp >> 12));
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        }
        i += 5;
        continue;
      }
    }
    out += line[i];
  }
  return out;
}

class Smollm2Tokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(smollm2_path)) {
      GTEST_SKIP() << smollm2_path << " is absent; run scripts/fetch-model to compare with llama.cpp";
    }
    auto file = GgufFile::open(smollm2_path);
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto data = tokenizer_data_from_gguf(*file);
    ASSERT_TRUE(data.ok()) << data.error().message;
    auto t = Tokenizer::create(std::move(data.value()));
    ASSERT_TRUE(t.ok()) << t.error().message;
    tokenizer_.emplace(std::move(t.value()));
    std::ifstream in(source_dir / "tests/reference/smollm2_tokens.json");
    ASSERT_TRUE(in) << "tests/reference/smollm2_tokens.json is missing; run scripts/parity --tokens-only";
    reference_ = nlohmann::json::parse(in);
  }
  std::optional<Tokenizer> tokenizer_;
  nlohmann::json reference_;
};

TEST_F(Smollm2Tokenizer, ReferenceCoversEveryCase) {
  std::ifstream in(source_dir / "tests/reference/tokenizer_cases.txt");
  std::vector<std::string> cases;
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("#")) cases.push_back(unescape(line));
  }
  ASSERT_GE(cases.size(), 20U);
  ASSERT_EQ(reference_["cases"].size(), cases.size()) << "run scripts/parity --tokens-only to refresh";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(reference_["cases"][i]["text"].get<std::string>(), cases[i]) << "case " << i;
  }
}

TEST_F(Smollm2Tokenizer, EncodeEqualsLlamaCppAndDecodeInverts) {
  EXPECT_EQ(tokenizer_->vocab_size(), 49152U);
  std::size_t checked = 0;
  for (const auto& c : reference_["cases"]) {
    const auto text = c["text"].get<std::string>();
    EXPECT_EQ(tokenizer_->encode(text, true, true), c["ids"].get<Ids>()) << "text: " << text;
    EXPECT_EQ(tokenizer_->encode(text, true, false), c["ids_plain"].get<Ids>()) << "text (plain): " << text;
    // Control bytes the vocabulary lacks (SmolLM2: 0x04, 0x06, ...) are dropped, as in llama.cpp.
    std::string kept;
    for (const char ch : text) {
      if (static_cast<unsigned char>(ch) >= 0x20 || !tokenizer_->encode(std::string(1, ch), false, false).empty()) {
        kept += ch;
      }
    }
    EXPECT_EQ(tokenizer_->decode(tokenizer_->encode(text, false, true)), kept);
    EXPECT_EQ(tokenizer_->decode(tokenizer_->encode(text, false, false)), kept);
    ++checked;
  }
  EXPECT_GE(checked, 20U);
}

TEST_F(Smollm2Tokenizer, EndOfGenerationAndChatTemplate) {
  const auto& d = tokenizer_->data();
  EXPECT_EQ(d.pre, "smollm");
  EXPECT_EQ(d.eos, 2);
  // llama.cpp's end-of-generation set for this vocabulary: <|endoftext|>, <|im_end|>, <reponame>.
  std::vector<std::int32_t> eog;
  for (std::int32_t id = 0; id < static_cast<std::int32_t>(tokenizer_->vocab_size()); ++id) {
    if (tokenizer_->is_end_of_generation(id)) eog.push_back(id);
  }
  EXPECT_EQ(eog, (Ids{0, 2, 4}));
  EXPECT_EQ(d.chat_template, smollm2_template);
  const std::vector<ChatMessage> user{{"user", "What is the capital of France?"}};
  const std::string prompt = apply_chat_template(d, user, true);
  const Ids ids = tokenizer_->encode(prompt, false, true);
  EXPECT_EQ(ids.front(), 1);  // <|im_start|>
  EXPECT_EQ(tokenizer_->decode(ids), prompt);
}

}  // namespace
}  // namespace bf::model
