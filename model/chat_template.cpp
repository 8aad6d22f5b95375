// Chat templates. GGUF files carry a Jinja template; rather than embed a Jinja interpreter we
// recognise the few families in use by their text and format them directly, as llama.cpp's
// llm_chat_apply_template does, plus the default system prompt ChatML templates insert.
#include <string_view>

#include "model/tokenizer.hpp"

namespace bf::model {

namespace {

enum class Family { chatml, llama2, unrecognised };

Family family_of(std::string_view tmpl) {
  if (tmpl.find("<|im_start|>") != std::string_view::npos) return Family::chatml;
  if (tmpl.find("[INST]") != std::string_view::npos) return Family::llama2;
  return Family::unrecognised;
}

// The system prompt a ChatML template inserts when the conversation has none, e.g. SmolLM2's
// "You are a helpful AI assistant named SmolLM, trained by Hugging Face": the literal text between
// "<|im_start|>system" plus a newline and "<|im_end|>". Text that contains template syntax (quotes,
// braces) is a message placeholder, not a default, and gives "".
std::string default_system_prompt(std::string_view tmpl) {
  for (const std::string_view opener : {std::string_view("<|im_start|>system\n"), std::string_view("<|im_start|>system\\n")}) {
    const auto start = tmpl.find(opener);
    if (start == std::string_view::npos) continue;
    const auto body = start + opener.size();
    const auto end = tmpl.find("<|im_end|>", body);
    if (end == std::string_view::npos) continue;
    const std::string_view text = tmpl.substr(body, end - body);
    if (text.empty() || text.find_first_of("'\"{}") != std::string_view::npos) return {};
    std::string out;  // undo the Jinja string escapes \n and \\ (the only ones such prompts use)
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 'n' || text[i + 1] == '\\')) {
        out += text[i + 1] == 'n' ? '\n' : '\\';
        ++i;
      } else {
        out += text[i];
      }
    }
    return out;
  }
  return {};
}

std::string chatml(std::string_view tmpl, std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  const std::string system = default_system_prompt(tmpl);
  if (!messages.empty() && messages.front().role != "system" && !system.empty()) {
    out += "<|im_start|>system\n" + system + "<|im_end|>\n";
  }
  for (const ChatMessage& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Llama 2 with system-prompt support (llama.cpp's LLM_CHAT_TEMPLATE_LLAMA_2_SYS): the first turn
// opens with "[INST] " (the tokenizer adds BOS), later turns with "<s>[INST] " omitted as llama.cpp
// does for this variant.
std::string llama2(std::span<const ChatMessage> messages) {
  std::string out = "[INST] ";
  bool inside_turn = true;
  for (const ChatMessage& m : messages) {
    if (!inside_turn) {
      inside_turn = true;
      out += "[INST] ";
    }
    if (m.role == "system") {
      out += "<<SYS>>\n" + m.content + "\n<</SYS>>\n\n";
    } else if (m.role == "user") {
      out += m.content + " [/INST]";
    } else {
      out += m.content + "</s>";
      inside_turn = false;
    }
  }
  return out;
}

}  // namespace

std::string apply_chat_template(const TokenizerData& data, std::span<const ChatMessage> messages,
                                bool add_generation_prompt) {
  switch (family_of(data.chat_template)) {
    case Family::llama2: return llama2(messages);
    case Family::chatml:
    case Family::unrecognised: break;
  }
  return chatml(data.chat_template, messages, add_generation_prompt);
}

std::string chat_template_family(const TokenizerData& data) {
  switch (family_of(data.chat_template)) {
    case Family::chatml: return "chatml";
    case Family::llama2: return "llama2";
    case Family::unrecognised: break;
  }
  return "chatml (fallback: template not recognised)";
}

}  // namespace bf::model
