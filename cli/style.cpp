#include <iterator>

#include "cli/cli.hpp"

namespace bf::cli {

namespace {
std::string wrap(bool on, const char* code, std::string_view s) {
  if (!on) return std::string(s);
  return std::string("\x1b[") + code + "m" + std::string(s) + "\x1b[0m";
}
}  // namespace

std::function<int()>& action() {
  static std::function<int()> a;
  return a;
}

Style& style() {
  static Style s;
  return s;
}

std::string Style::good(std::string_view s) const { return wrap(color, "32", s); }
std::string Style::bad(std::string_view s) const { return wrap(color, "31", s); }
std::string Style::dim(std::string_view s) const { return wrap(color, "2", s); }

std::string phonetic_name(std::size_t index) {
  // "juliet", not NATO's "juliett": speech synthesisers read the double t oddly.
  static constexpr const char* names[] = {"alpha",  "bravo",   "charlie", "delta",  "echo",    "foxtrot", "golf",
                                          "hotel",  "india",   "juliet",  "kilo",   "lima",    "mike",    "november",
                                          "oscar",  "papa",    "quebec",  "romeo",  "sierra",  "tango",   "uniform",
                                          "victor", "whiskey", "xray",    "yankee", "zulu"};
  constexpr std::size_t count = std::size(names);
  std::string name = names[index % count];
  if (index >= count) name += "-" + std::to_string(index / count + 1);
  return name;
}

std::optional<std::size_t> local_worker_index(std::string_view id) {
  constexpr std::string_view prefix = "worker-";
  if (!id.starts_with(prefix) || id.size() == prefix.size() || id.size() > prefix.size() + 4) return std::nullopt;
  std::size_t number = 0;
  for (const char c : id.substr(prefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + static_cast<std::size_t>(c - '0');
  }
  if (number == 0) return std::nullopt;
  return number - 1;
}

std::string worker_name(std::string_view id) {
  const auto index = local_worker_index(id);
  return index ? phonetic_name(*index) : std::string(id);
}

}  // namespace bf::cli
