#include "cli/suggest.hpp"

#include <algorithm>

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

namespace {

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

std::vector<std::string> flag_names(CLI::App& app) {
  std::vector<std::string> names{"--help"};
  for (CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* opt : a->get_options([](CLI::Option*) { return true; })) {
      for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
    }
    if (a->get_parent() == nullptr) break;
  }
  return names;
}

std::string full_name(CLI::App& app) {
  std::string name = app.get_name();
  for (CLI::App* p = app.get_parent(); p != nullptr; p = p->get_parent()) {
    name = p->get_name() + " " + name;
  }
  return name;
}

}  // namespace

std::optional<std::string> check_command_line(CLI::App& root, int argc, const char* const* argv) {
  CLI::App* current = &root;
  for (int i = 1; i < argc; ++i) {
    const std::string token = argv[i];
    if (token == "--") break;
    if (token.rfind("--", 0) == 0) {
      const std::string flag = token.substr(0, token.find('='));
      const auto known = flag_names(*current);
      if (std::find(known.begin(), known.end(), flag) != known.end() || flag == "--help-all") continue;
      std::string msg = "unknown flag '" + flag + "' for '" + full_name(*current) + "'.";
      if (auto s = nearest(flag, known)) msg += " Did you mean '" + *s + "'?";
      msg += " Run '" + full_name(*current) + " --help' to see the flags.";
      return msg;
    }
    if (token.rfind('-', 0) == 0) continue;  // short flags and negative numbers: CLI11 judges them
    const auto names = subcommand_names(*current);
    if (names.empty()) continue;  // a leaf command: positionals and option values are its business
    if (std::find(names.begin(), names.end(), token) != names.end()) {
      current = current->get_subcommand(token);
      continue;
    }
    std::string msg = "unknown command '" + token + "' for '" + full_name(*current) + "'.";
    if (auto s = nearest(token, names)) msg += " Did you mean '" + *s + "'?";
    msg += " Run '" + full_name(*current) + " --help' to see the commands.";
    return msg;
  }
  return std::nullopt;
}

}  // namespace bf::cli
