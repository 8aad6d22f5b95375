#include "cli/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace bf::cli {

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
// adjacent letters each cost 1, so "tabel" is one edit from "table".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t width = b.size() + 1;
  std::vector<std::size_t> d((a.size() + 1) * width);
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * width + j]; };
  for (std::size_t i = 0; i <= a.size(); ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= b.size(); ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(a.size(), b.size());
}

std::optional<std::string> nearest(std::string_view word, const std::vector<std::string>& candidates) {
  // One edit for short words, up to a third of the length for long ones.
  const std::size_t allowed = std::max<std::size_t>(1, word.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const std::string& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    const bool prefix = c.size() > word.size() && c.compare(0, word.size(), word) == 0;
    const std::size_t score = prefix ? std::min<std::size_t>(d, 1) : d;
    if (score < best_distance) {
      best_distance = score;
      best = c;
    }
  }
  return best;
}

std::vector<std::string> allowed_values(const CLI::Option& option) {
  // CLI::IsMember describes itself as "{a,b,c}" inside the option's type name ("TEXT:{a,b,c}").
  const std::string type = option.get_type_name();
  const auto open = type.find('{');
  const auto close = type.find('}', open == std::string::npos ? 0 : open);
  std::vector<std::string> values;
  if (open == std::string::npos || close == std::string::npos) return values;
  std::string item;
  for (std::size_t i = open + 1; i <= close; ++i) {
    if (type[i] == ',' || type[i] == '}') {
      if (!item.empty()) values.push_back(item);
      item.clear();
    } else if (type[i] != ' ') {
      item += type[i];
    }
  }
  return values;
}

std::string full_name(const CLI::App& app) {
  std::string name = app.get_name();
  for (const CLI::App* p = app.get_parent(); p != nullptr; p = p->get_parent()) {
    name = p->get_name() + " " + name;
  }
  return name;
}

std::string shell_quote(std::string_view word) {
  const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("-_./=:,+@%").find(c) != std::string_view::npos;
  });
  if (safe) return std::string(word);
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

namespace {

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

// Flags of this command and of every command above it (root flags such as --screen-reader).
std::vector<std::string> flag_names(CLI::App& app) {
  std::vector<std::string> names{"--help", "--help-all"};
  for (CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* opt : a->get_options([](CLI::Option*) { return true; })) {
      for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

const CLI::Option* find_flag(CLI::App& app, const std::string& flag) {
  for (CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* opt : a->get_options([](CLI::Option*) { return true; })) {
      for (const std::string& l : opt->get_lnames()) {
        if ("--" + l == flag) return opt;
      }
    }
  }
  return nullptr;
}

// The command line with argv[index] replaced, as one shell line to copy.
std::string corrected(int argc, const char* const* argv, int index, const std::string& replacement) {
  std::string line = "butterfly";
  for (int i = 1; i < argc; ++i) line += " " + shell_quote(i == index ? std::string_view(replacement) : argv[i]);
  return line;
}

}  // namespace

CLI::App& deepest_command(CLI::App& root, int argc, const char* const* argv) {
  CLI::App* current = &root;
  for (int i = 1; i < argc; ++i) {
    const std::string_view token = argv[i];
    if (token == "--") break;
    if (token.starts_with('-')) continue;
    const auto names = subcommand_names(*current);
    if (std::find(names.begin(), names.end(), token) != names.end()) current = current->get_subcommand(std::string(token));
  }
  return *current;
}

std::optional<std::string> check_command_line(CLI::App& root, int argc, const char* const* argv) {
  CLI::App* current = &root;
  for (int i = 1; i < argc; ++i) {
    const std::string token = argv[i];
    if (token == "--") break;
    if (token.rfind("--", 0) == 0) {
      const auto eq = token.find('=');
      const std::string flag = token.substr(0, eq);
      const auto known = flag_names(*current);
      if (std::find(known.begin(), known.end(), flag) == known.end()) {
        std::string msg = "unknown flag '" + flag + "' for '" + full_name(*current) + "'.";
        if (auto s = nearest(flag, known)) {
          msg += " Did you mean '" + *s + "'?\nCorrected: " +
                 corrected(argc, argv, i, *s + (eq == std::string::npos ? "" : token.substr(eq)));
        }
        msg += "\nRun '" + full_name(*current) + " --help' to see the flags.";
        return msg;
      }
      const CLI::Option* opt = find_flag(*current, flag);
      if (opt == nullptr || opt->get_items_expected_max() == 0) continue;  // --help or a flag without a value
      // The value: after '=' or the next word (which is then not a command or positional).
      int value_index = i;
      std::string value;
      if (eq != std::string::npos) {
        value = token.substr(eq + 1);
      } else if (i + 1 < argc) {
        value_index = ++i;
        value = argv[i];
      } else {
        continue;  // CLI11 says the value is missing
      }
      const auto values = allowed_values(*opt);
      if (values.empty() || std::find(values.begin(), values.end(), value) != values.end()) continue;
      std::string list;
      for (const auto& v : values) list += (list.empty() ? "" : ", ") + v;
      std::string msg = "'" + value + "' is not a value of " + flag + " for '" + full_name(*current) +
                        "'; it takes one of: " + list + ".";
      if (auto s = nearest(value, values)) {
        msg += " Did you mean '" + *s + "'?\nCorrected: " +
               corrected(argc, argv, value_index, value_index == i && eq != std::string::npos ? flag + "=" + *s : *s);
      }
      msg += "\nRun '" + full_name(*current) + " --help' to see what each value means.";
      return msg;
    }
    if (token.rfind('-', 0) == 0) continue;  // short flags and negative numbers: CLI11 judges them
    const auto names = subcommand_names(*current);
    if (names.empty()) continue;  // a leaf command: positionals are its business
    if (std::find(names.begin(), names.end(), token) != names.end()) {
      current = current->get_subcommand(token);
      continue;
    }
    std::string msg = "unknown command '" + token + "' for '" + full_name(*current) + "'.";
    if (auto s = nearest(token, names)) msg += " Did you mean '" + *s + "'?\nCorrected: " + corrected(argc, argv, i, *s);
    msg += "\nRun '" + full_name(*current) + " --help' to see the commands.";
    return msg;
  }
  return std::nullopt;
}

}  // namespace bf::cli
