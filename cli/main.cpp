// butterfly: one binary, verb-noun commands. Each command registers itself (cli/cmd_*.cpp).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/cli.hpp"
#include "cli/suggest.hpp"

namespace {

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bf::cli;
  CLI::App app{
      "Butterfly: a Byzantine-fault-tolerant ensemble of model workers whose answers come with\n"
      "proof certificates. This build has the verified core: quorum math, consensus decision,\n"
      "fusion, reputation, and their Z3 obligations.",
      "butterfly"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "butterfly 0.1.0");
  bool no_color = false;
  bool screen_reader = false;
  app.add_flag("--no-color", no_color, "Never print colour (NO_COLOR in the environment does the same)");
  app.add_flag("--screen-reader", screen_reader,
               "Linear plain text for screen readers (BUTTERFLY_SCREEN_READER=1 does the same)");
  app.footer(
      "Examples:\n"
      "  butterfly cluster start --workers 4 --byzantine 1\n"
      "  butterfly query ask \"2+2?\"\n"
      "  butterfly status\n"
      "  butterfly quorum table\n"
      "  butterfly prove\n"
      "  butterfly fuse answers --f 1 --answer alpha=42 --answer bravo=42 \\\n"
      "      --answer charlie=42.1 --answer delta=9000\n"
      "Run 'butterfly COMMAND --help' for a command's flags and examples.");

  install_help(app);  // before any subcommand: they inherit the formatter and --help-all
  add_quorum_commands(app);
  add_prove_command(app);
  add_fuse_commands(app);
  add_cert_commands(app);
  add_sim_commands(app);
  add_node_commands(app);
  add_cluster_commands(app);
  add_bench_commands(app);
#ifdef BUTTERFLY_HAVE_CUDA
  add_gpu_commands(app);
#endif
  add_model_commands(app);
  add_status_command(app);
  add_sound_commands(app);
  add_completion_commands(app);

  // Known before parsing, so that --help and parse errors are already plain text.
  style().screen_reader = env_set("BUTTERFLY_SCREEN_READER") ||
                          std::any_of(argv + 1, argv + argc, [](const char* a) { return std::string_view(a) == "--screen-reader"; });
  if (auto problem = check_command_line(app, argc, argv)) {
    std::cerr << "butterfly: " << *problem << "\n";
    return exit_usage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    CLI::App& command = deepest_command(app, argc, argv);
    const std::string where = full_name(command);
    std::string subcommands;
    for (const CLI::App* sub : command.get_subcommands([](const CLI::App* a) { return !a->get_name().empty(); })) {
      subcommands += (subcommands.empty() ? "" : ", ") + sub->get_name();
    }
    if (!subcommands.empty() && command.get_subcommands().empty()) {
      // "A subcommand is required" says less than the list of them.
      std::cerr << "butterfly: '" << where << "' needs one of its commands: " << subcommands << ".\n";
    } else {
      std::cerr << "butterfly: " << e.what() << "\n";
    }
    std::cerr << "Run '" << where << " --help' to see its " << (subcommands.empty() ? "flags" : "commands")
              << " and examples.\n";
    return exit_usage;
  }
  Style& s = style();
  s.screen_reader = screen_reader || env_set("BUTTERFLY_SCREEN_READER");
  s.color = isatty(STDOUT_FILENO) != 0 && !env_set("NO_COLOR") && !no_color && !s.screen_reader;
  if (!action()) return exit_usage;
  try {
    return action()();
  } catch (const Exit& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "butterfly: " << e.what() << "\n";
    return exit_usage;
  }
}

