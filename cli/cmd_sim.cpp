// butterfly sim run: the deterministic simulator (runtime/sim.hpp, spec/consensus.md) over a range
// of seeds. Every failure names its seed and the command that replays it.
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "runtime/sim.hpp"

namespace bf::cli {
namespace {

namespace sim = runtime::sim;

constexpr std::uint64_t seeds_max = 100'000'000;

struct SimOptions {
  std::uint64_t seeds = 1000;
  std::uint64_t start = 1;
  bool json = false;
  bool trace = false;
};

int run_sim(const SimOptions& o) {
  if (o.seeds == 0 || o.seeds > seeds_max) {
    std::cerr << "butterfly sim run: --seeds must be 1.." << seeds_max << ", got " << o.seeds << "\n";
    return exit_usage;
  }
  if (o.start > UINT64_MAX - o.seeds) {
    std::cerr << "butterfly sim run: --start + --seeds overflows; give a smaller --start\n";
    return exit_usage;
  }
  const Style& st = style();
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t failed = 0, decided = 0, no_consensus = 0, no_quorum = 0, isolations = 0, messages = 0;
  nlohmann::json failures = nlohmann::json::array();
  for (std::uint64_t seed = o.start; seed < o.start + o.seeds; ++seed) {
    sim::Scenario s = sim::scenario_for_seed(seed);
    s.trace = o.trace;
    const sim::RunResult r = sim::run(s);
    decided += r.decided;
    no_consensus += r.no_consensus;
    no_quorum += r.no_quorum;
    isolations += r.isolations;
    messages += r.messages;
    if (o.trace) {
      for (const auto& line : r.trace) std::cout << line << "\n";
    }
    if (r.ok()) continue;
    ++failed;
    const std::string replay = "butterfly sim run --start " + std::to_string(seed) + " --seeds 1";
    if (o.json) {
      nlohmann::json v = nlohmann::json::array();
      for (const auto& x : r.violations) v.push_back({{"property", x.property}, {"detail", x.detail}});
      failures.push_back({{"seed", seed}, {"scenario", sim::describe(s)}, {"violations", v}, {"replay", replay}});
    } else {
      std::cout << st.bad("FAIL") << " seed " << seed << ": " << sim::describe(s) << "\n";
      for (const auto& x : r.violations) std::cout << "  " << x.property << ": " << x.detail << "\n";
      std::cout << "  replay: " << replay << "\n";
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.json) {
    std::cout << nlohmann::json{{"seeds", o.seeds},        {"start", o.start},
                                {"failed", failed},        {"decided", decided},
                                {"no_consensus", no_consensus}, {"no_quorum", no_quorum},
                                {"isolations", isolations}, {"messages", messages},
                                {"seconds", seconds},      {"failures", failures}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << (failed == 0 ? st.good("PASS") : st.bad("FAIL")) << " " << o.seeds << " seeds from " << o.start
              << ": " << failed << " with violations; queries decided " << decided << ", no consensus "
              << no_consensus << ", no quorum " << no_quorum << "; " << isolations << " isolations, " << messages
              << " messages; " << seconds << " s\n";
  }
  return failed == 0 ? exit_ok : exit_failed;
}

}  // namespace

void add_sim_commands(CLI::App& app) {
  CLI::App* simc = app.add_subcommand("sim", "The deterministic cluster simulator (head and workers, seeded faults)");
  simc->require_subcommand(1);
  auto opt = std::make_shared<SimOptions>();
  CLI::App* runc = simc->add_subcommand(
      "run", "Run seeded scenarios (n = 4 or 7, up to f faulty workers, lossy network that heals) and check "
             "safety and liveness after every step");
  runc->add_option("--seeds", opt->seeds, "How many seeds to run (default 1000)");
  runc->add_option("--start", opt->start, "The first seed (default 1)");
  runc->add_flag("--json", opt->json, "Machine-readable output");
  runc->add_flag("--trace", opt->trace, "Print every simulated event (use with --seeds 1 to replay one seed)");
  runc->footer(
      "Exit status 0 when no seed violates a property, 1 otherwise. Each failure prints its seed, the\n"
      "scenario and the command that replays it. Properties: conflicting-quorums, certificate, chain,\n"
      "isolation, certified-wrong-decided, liveness (spec/consensus.md, \"Simulator\").\n"
      "Examples:\n"
      "  butterfly sim run --seeds 10000\n"
      "  butterfly sim run --start 4711 --seeds 1 --trace\n"
      "  butterfly sim run --seeds 100 --json");
  runc->callback([opt] { action() = [opt] { return run_sim(*opt); }; });
}

}  // namespace bf::cli
