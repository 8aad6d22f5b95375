// butterfly prove: check every invariant's Z3 obligation, optionally emit the SMT-LIB.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "verified/obligations.hpp"

namespace bf::cli {
namespace {

struct ProveOptions {
  std::string emit_dir;
  std::vector<std::string> only;
  std::string mutant;
  bool json = false;
  bool list = false;
};

int run_list(bool json) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& o : verified::obligations()) {
    const auto ms = verified::mutants(o.id);
    if (json) {
      out.push_back({{"id", o.id}, {"name", o.name}, {"statement", o.statement}, {"mutants", ms}});
      continue;
    }
    std::cout << o.id << " " << o.name << ": " << o.statement << "\n  mutants:";
    for (const auto& m : ms) std::cout << " " << m;
    std::cout << "\n";
  }
  if (json) std::cout << out.dump(2) << "\n";
  return exit_ok;
}

int run_prove(const ProveOptions& opt) {
  if (opt.list) return run_list(opt.json);
  std::vector<std::string> ids = opt.only;
  if (ids.empty()) {
    for (const auto& o : verified::obligations()) ids.push_back(o.id);
  }
  if (!opt.mutant.empty() && ids.size() != 1) {
    std::cerr << "butterfly: --mutant needs exactly one --only ID, for example\n"
              << "  butterfly prove --only Q2 --mutant seed-2f+1\n";
    return exit_usage;
  }
  const Style& st = style();
  std::vector<verified::ObligationResult> results;
  nlohmann::json rows = nlohmann::json::array();
  bool all_proved = true;
  const auto start_all = std::chrono::steady_clock::now();
  for (const std::string& id : ids) {
    const auto start = std::chrono::steady_clock::now();
    verified::ObligationResult r = verified::check(id, opt.mutant);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    all_proved = all_proved && r.verdict == verified::Verdict::proved;
    const std::string verdict = verified::verdict_name(r.verdict);
    if (opt.json) {
      nlohmann::json row = {{"id", r.id}, {"name", r.name}, {"verdict", verdict}, {"seconds", seconds}};
      if (!r.mutant.empty()) row["mutant"] = r.mutant;
      if (!r.counterexample.empty()) row["counterexample"] = r.counterexample;
      rows.push_back(row);
    } else {
      const std::string shown =
          r.verdict == verified::Verdict::proved ? st.good(verdict) : st.bad(verdict);
      std::printf("%-3s %-28s %s in %.3f s%s%s\n", r.id.c_str(), r.name.c_str(), shown.c_str(),
                  seconds, r.mutant.empty() ? "" : " (mutant ", r.mutant.empty() ? "" : (r.mutant + ")").c_str());
      if (!r.counterexample.empty()) std::cout << "    counterexample: " << r.counterexample << "\n";
    }
    results.push_back(std::move(r));
  }
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_all).count();
  if (!opt.emit_dir.empty()) verified::emit(opt.emit_dir, results);
  if (opt.json) {
    nlohmann::json out = {{"all_proved", all_proved}, {"seconds", total}, {"obligations", rows}};
    if (!opt.emit_dir.empty()) out["emitted_to"] = opt.emit_dir;
    std::cout << out.dump(2) << "\n";
  } else {
    std::size_t proved = 0;
    for (const auto& r : results) proved += r.verdict == verified::Verdict::proved ? 1 : 0;
    std::printf("%zu of %zu obligations PROVED in %.3f s.\n", proved, results.size(), total);
    if (!opt.emit_dir.empty()) {
      std::cout << "SMT-LIB written to " << opt.emit_dir << " (re-check each with: z3 "
                << opt.emit_dir << "/ID.smt2).\n";
    }
  }
  return all_proved ? exit_ok : exit_failed;
}

}  // namespace

void add_prove_command(CLI::App& app) {
  auto opt = std::make_shared<ProveOptions>();
  CLI::App* prove = app.add_subcommand("prove", "Check every invariant's Z3 obligation");
  prove->add_option("--emit", opt->emit_dir, "Write ID.smt2 files and a MANIFEST of sha256 into DIR");
  prove->add_option("--only", opt->only, "Check only these IDs (repeatable), e.g. --only Q2");
  prove->add_option("--mutant", opt->mutant,
                    "Check a named wrong variant instead of the code (needs one --only ID); "
                    "see --list");
  prove->add_flag("--list", opt->list, "List the obligations and their mutants");
  prove->add_flag("--json", opt->json, "Machine-readable output");
  prove->footer(
      "Prints one line per invariant ID: PROVED, or FAILED with a counterexample, and the time.\n"
      "Exit status 1 when any obligation is not PROVED.\n"
      "Examples:\n"
      "  butterfly prove\n"
      "  butterfly prove --emit proofs\n"
      "  butterfly prove --only Q2 --mutant seed-2f+1     (shows the obligation can fail)\n"
      "  butterfly prove --list");
  prove->callback([opt] { action() = [opt] { return run_prove(*opt); }; });
}

}  // namespace bf::cli
