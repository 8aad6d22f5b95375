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

}  // namespace bf::cli
