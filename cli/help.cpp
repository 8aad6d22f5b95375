// Progressive disclosure: `--help` shows a command's everyday flags (those its examples use, the
// required ones and --json) and says how many more exist; `--help-all` shows every flag of the
// command and of every command below it. Both are computed from the live command tree, so they
// cannot drift from what the parser accepts.
#include <sstream>

#include "cli/cli.hpp"
#include "cli/suggest.hpp"

namespace bf::cli {
namespace {

// Commands with this many flags or fewer show them all in the short help.
inline constexpr std::size_t short_help_flags_max = 6;

bool is_help(const CLI::App& app, const CLI::Option* opt) {
  return opt == app.get_help_ptr() || opt == app.get_help_all_ptr();
}

std::string long_name(const CLI::Option* opt) {
  const auto& names = opt->get_lnames();
  return names.empty() ? opt->get_name() : "--" + names.front();
}

// Mentioned in the footer's examples as a whole word ("--f" must not match "--format").
bool in_examples(const std::string& footer, const std::string& flag) {
  for (auto at = footer.find(flag); at != std::string::npos; at = footer.find(flag, at + 1)) {
    const auto end = at + flag.size();
    if (end == footer.size() || footer[end] == ' ' || footer[end] == '=' || footer[end] == '\n') return true;
  }
  return false;
}

// The command's own footer: CLI11 copies a parent's footer into subcommands added after it was set.
std::string own_footer(const CLI::App& app) {
  const CLI::App* parent = app.get_parent();
  return parent != nullptr && parent->get_footer() == app.get_footer() ? std::string{} : app.get_footer();
}

// The first example line of each subcommand, for commands that group others ("cluster").
std::string examples_from_children(const CLI::App& app) {
  std::string out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })) {
    const std::string footer = own_footer(*sub);
    const auto at = footer.find("Examples:\n");
    std::string line;
    if (at != std::string::npos) {
      std::istringstream in(footer.substr(at + 10));
      std::getline(in, line);
    }
    if (line.empty()) continue;
    if (line.ends_with("\\")) line.pop_back();  // a continued example: its first line still runs
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out.empty() ? out : "Examples:\n" + out;
}

class Help final : public CLI::Formatter {
 public:
  // Screen readers: "--mode TEXT: vote, attention, ..." on one line, no padding into columns.
  std::string make_option(const CLI::Option* opt, bool is_positional) const override {
    if (!style().screen_reader) return CLI::Formatter::make_option(opt, is_positional);
    return "  " + make_option_name(opt, is_positional) + make_option_opts(opt) + ": " + make_option_desc(opt) + "\n";
  }
  std::string make_subcommand(const CLI::App* sub) const override {
    if (!style().screen_reader) return CLI::Formatter::make_subcommand(sub);
    return "  " + sub->get_name() + ": " + sub->get_description() + "\n";
  }

  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
    if (mode == CLI::AppFormatMode::Sub) return CLI::Formatter::make_help(app, name, mode);
    if (mode == CLI::AppFormatMode::All) return make_all(app);
    return make_one(app, name, false);
  }

 private:
  std::string make_all(const CLI::App* app) const {
    std::string out = make_one(app, full_name(*app), true);
    for (const CLI::App* sub : app->get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })) {
      out += "\n\n" + make_all(sub);
    }
    return out;
  }

  std::string make_one(const CLI::App* app, const std::string& name, bool all) const {
    std::ostringstream out;
    out << make_description(app) << make_usage(app, name) << make_positionals(app);
    const auto options = app->get_options([](const CLI::Option* o) { return o->nonpositional(); });
    std::size_t real = 0;
    for (const CLI::Option* o : options) real += is_help(*app, o) ? 0 : 1;
    const bool everything = all || real <= short_help_flags_max;
    std::vector<const CLI::Option*> shown;
    std::vector<std::string> hidden;
    for (const CLI::Option* o : options) {
      const std::string flag = long_name(o);
      if (everything || is_help(*app, o) || o->get_required() || flag == "--json" || in_examples(own_footer(*app), flag)) {
        shown.push_back(o);
      } else {
        hidden.push_back(flag);
      }
    }
    if (!shown.empty()) out << make_group("Options", false, shown);
    out << make_subcommands(app, CLI::AppFormatMode::Normal);
    std::string footer = own_footer(*app);
    if (footer.find("Example") == std::string::npos && !app->get_subcommands({}).empty()) {
      footer += (footer.empty() ? "" : "\n") + examples_from_children(*app);
    }
    if (!hidden.empty()) {
      std::string list;
      for (const auto& h : hidden) list += (list.empty() ? "" : ", ") + h;
      footer += (footer.empty() || footer.ends_with("\n") ? "" : "\n") + std::to_string(hidden.size()) +
                " more flags (" + list + "): run '" + full_name(*app) + " --help-all' to see them.";
    } else if (!all && !app->get_subcommands({}).empty()) {
      footer += (footer.empty() || footer.ends_with("\n") ? "" : "\n") + std::string("Run '") + full_name(*app) +
                " --help-all' for every flag of every command below.";
    }
    if (!footer.empty()) out << "\n" << footer << (footer.ends_with("\n") ? "" : "\n");
    return out.str();
  }
};

}  // namespace

void install_help(CLI::App& root) {
  root.formatter(std::make_shared<Help>());
  root.set_help_all_flag("--help-all", "Every flag of this command and of all commands below it");
}

}  // namespace bf::cli
