// butterfly quorum table | quorum check: the safe quorum beside the seed's 2f+1.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli.hpp"
#include "core/limits.hpp"
#include "core/quorum.hpp"
#include "verified/obligations.hpp"

namespace bf::cli {
namespace {

using core::faults_max;
using core::quorum_is_safe;
using core::quorum_safe;
using core::quorum_seed;

// Z3 searches for a counterexample with one Boolean per worker and set, so it is asked only
// for group sizes a membership can have.
constexpr std::uint32_t counterexample_n_max = core::limits::workers_max;
constexpr std::uint32_t table_n_max = 100000;

std::string set_text(const std::vector<std::uint32_t>& workers) {
  std::string s = "{";
  for (std::size_t i = 0; i < workers.size(); ++i) s += (i ? "," : "") + std::to_string(workers[i]);
  return s + "}";
}

std::string counterexample_text(const verified::QuorumCounterexample& c) {
  std::ostringstream out;
  out << "answer A signed by " << set_text(c.honest_a) << " and Byzantine " << set_text(c.byzantine)
      << "; answer B signed by " << set_text(c.honest_b) << " and Byzantine " << set_text(c.byzantine)
      << "; both reach " << c.q;
  return out.str();
}

nlohmann::json counterexample_json(const verified::QuorumCounterexample& c) {
  return {{"byzantine", c.byzantine}, {"honest_a", c.honest_a}, {"honest_b", c.honest_b}};
}

int run_table(std::uint32_t max_n, bool json) {
  nlohmann::json rows = nlohmann::json::array();
  const Style& st = style();
  if (!json) {
    std::cout << "Quorum for n workers tolerating f Byzantine (f = largest with 3f < n).\n"
              << "seed q = 2f+1 (the seed's table); safe q = max(2f+1, floor((n+f)/2)+1).\n";
    if (!st.screen_reader) {
      std::printf("%6s %4s %7s %7s  %s\n", "n", "f", "seed q", "safe q", "seed rule");
    }
  }
  for (std::uint32_t n = 1; n <= max_n; ++n) {
    const std::uint32_t f = faults_max(n);
    const std::uint32_t seed_q = quorum_seed(n, f);
    const std::uint32_t safe_q = quorum_safe(n, f);
    const bool seed_safe = quorum_is_safe(n, f, seed_q);
    std::optional<verified::QuorumCounterexample> cex;
    if (!seed_safe && n <= counterexample_n_max) cex = verified::quorum_counterexample(n, f, seed_q);
    nlohmann::json row = {{"n", n}, {"f", f}, {"seed_quorum", seed_q}, {"safe_quorum", safe_q},
                          {"seed_safe", seed_safe}};
    if (cex) row["counterexample"] = counterexample_json(*cex);
    rows.push_back(row);
    if (json) continue;
    std::string verdict = seed_safe ? st.good("safe") : st.bad("UNSAFE");
    if (!seed_safe && cex) verdict += ": " + counterexample_text(*cex);
    if (!seed_safe && !cex && n > counterexample_n_max) {
      verdict += " (2q - f <= n; no Z3 search above n = " + std::to_string(counterexample_n_max) + ")";
    }
    if (st.screen_reader) {
      std::cout << "n " << n << ", f " << f << ": seed quorum " << seed_q << ", safe quorum "
                << safe_q << ", seed rule " << verdict << ".\n";
    } else {
      std::printf("%6u %4u %7u %7u  %s\n", n, f, seed_q, safe_q, verdict.c_str());
    }
  }
  if (json) {
    std::cout << nlohmann::json{{"rows", rows}}.dump(2) << "\n";
  }
  return exit_ok;
}

int run_check(std::uint32_t n, std::uint32_t f, bool json) {
  const auto m = core::make_membership(n, f);
  if (!m) {
    if (json) {
      std::cout << nlohmann::json{{"error", m.error().message}}.dump(2) << "\n";
    } else {
      std::cerr << "butterfly: " << m.error().message << "\n";
    }
    return exit_usage;
  }
  const std::uint32_t seed_q = quorum_seed(n, f);
  const bool seed_safe = quorum_is_safe(n, f, seed_q);
  if (json) {
    std::cout << nlohmann::json{{"n", n}, {"f", f}, {"quorum", m->q}, {"seed_quorum", seed_q},
                                {"seed_safe", seed_safe}, {"intersection", 2 * m->q - n},
                                {"honest_reachable", n - f}}
                     .dump(2)
              << "\n";
    return exit_ok;
  }
  std::cout << "n = " << n << ", f = " << f << ": quorum q = " << m->q << ".\n"
            << "Any two quorums share " << 2 * m->q - n << " workers (at least f+1 = " << f + 1
            << " needed), and the " << n - f << " honest workers can reach q alone.\n"
            << "The seed's 2f+1 = " << seed_q << " is "
            << (seed_safe ? style().good("safe") : style().bad("UNSAFE")) << " here.\n";
  return exit_ok;
}

}  // namespace

void add_quorum_commands(CLI::App& app) {
  CLI::App* quorum = app.add_subcommand("quorum", "Quorum arithmetic: the safe rule and the seed's");
  quorum->require_subcommand(1);

  struct TableOptions {
    std::uint32_t max_n = 13;
    bool json = false;
  };
  auto table_opts = std::make_shared<TableOptions>();
  CLI::App* table = quorum->add_subcommand("table", "Print n, f, the seed's 2f+1 and the safe quorum");
  table->add_option("--max-n", table_opts->max_n, "Largest n to list (default 13)")
      ->check(CLI::Range(std::uint32_t{1}, table_n_max));
  table->add_flag("--json", table_opts->json, "Machine-readable output");
  table->footer(
      "Rows where the seed's rule lets two conflicting answers both reach the quorum are marked\n"
      "UNSAFE with the Z3 counterexample.\n"
      "Examples:\n"
      "  butterfly quorum table\n"
      "  butterfly quorum table --max-n 64 --json");
  table->callback([table_opts] {
    action() = [table_opts] { return run_table(table_opts->max_n, table_opts->json); };
  });

  struct CheckOptions {
    std::uint32_t n = 4, f = 1;
    bool json = false;
  };
  auto check_opts = std::make_shared<CheckOptions>();
  CLI::App* check = quorum->add_subcommand("check", "Explain the quorum for one (n, f)");
  check->add_option("--n", check_opts->n, "Workers")->required();
  check->add_option("--f", check_opts->f, "Byzantine workers tolerated (3f < n)")->required();
  check->add_flag("--json", check_opts->json, "Machine-readable output");
  check->footer(
      "Examples:\n"
      "  butterfly quorum check --n 6 --f 1\n"
      "  butterfly quorum check --n 7 --f 2 --json");
  check->callback([check_opts] {
    action() = [check_opts] { return run_check(check_opts->n, check_opts->f, check_opts->json); };
  });
}

}  // namespace bf::cli
