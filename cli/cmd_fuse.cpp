// butterfly fuse answers: one consensus round over answers given on the command line, through
// the same core the head uses: canonicalise, tally, decide under the safe quorum, fuse the decided
// cluster, update reputation. No network and no model: it shows what the core decides and why.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli.hpp"
#include "core/fusion.hpp"
#include "core/quorum.hpp"
#include "core/reputation.hpp"
#include "core/tally.hpp"
#include "runtime/crypto.hpp"

namespace bf::cli {
namespace {

namespace fusion = core::fusion;

// Numeric answers enter the fusion in micro-units, the scale spec/invariants.md's F2 uses.
constexpr double micro = 1e6;
constexpr double numeric_abs_max = 1e12;  // so micro-units fit comfortably in int64

struct FuseOptions {
  std::vector<std::string> answers;  // NAME=VALUE
  std::vector<std::string> reputations;  // NAME=R
  std::uint32_t f = 0;
  std::string kind = "numeric";
  std::string rule = "median";
  int decimals = 0;
  bool json = false;
};

struct Answer {
  std::string worker;
  std::string raw;
  std::string canonical;
  double number = 0;
  core::AnswerId id{};
  std::uint32_t reputation = core::ReputationParams::start;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "butterfly fuse answers: " << message << "\n";
  throw Exit{exit_usage};
}

std::pair<std::string, std::string> split_pair(const std::string& s, const char* what) {
  const auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) {
    usage_error(std::string("expected NAME=VALUE for ") + what + ", got '" + s +
                "'; for example --answer alpha=42");
  }
  return {s.substr(0, eq), s.substr(eq + 1)};
}

double parse_number(const std::string& worker, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) ||
      std::fabs(v) > numeric_abs_max) {
    usage_error("worker " + worker + " answered '" + text +
                "', which is not a finite number within +-1e12; use --kind text for text answers");
  }
  return v;
}

// Canonical form under the agreement rule: numbers rounded to --decimals places, text
// lower-cased with runs of white space folded to one space and the ends trimmed.
std::string canonical_number(double v, int decimals) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(decimals);
  const double rounded = v == 0 ? 0.0 : v;  // no "-0"
  out << rounded;
  std::string s = out.str();
  if (s.find_first_not_of("-0.") == std::string::npos) s = "0";
  return s;
}

std::string canonical_text(const std::string& text) {
  std::string out;
  bool space = false;
  for (unsigned char c : text) {
    if (std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

core::AnswerId answer_id(const std::string& kind, const std::string& canonical) {
  const std::string bytes = kind + ":" + canonical;
  return runtime::blake2b({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

std::string rep_text(std::uint32_t millionths) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(3);
  out << millionths / 1e6;
  return out.str();
}

std::string micro_text(std::int64_t v) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(6);
  out << static_cast<double>(v) / micro;
  std::string s = out.str();
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

int run_fuse(const FuseOptions& opt) {
  if (opt.kind != "numeric" && opt.kind != "text") usage_error("--kind must be numeric or text");
  if (opt.answers.empty()) usage_error("give at least one --answer NAME=VALUE");
  std::vector<Answer> answers;
  for (const std::string& a : opt.answers) {
    auto [worker, value] = split_pair(a, "--answer");
    for (const Answer& seen : answers) {
      if (seen.worker == worker) usage_error("worker " + worker + " answers twice; one answer each");
    }
    Answer ans{worker, value, "", 0, {}, core::ReputationParams::start};
    if (opt.kind == "numeric") {
      ans.number = parse_number(worker, value);
      ans.canonical = canonical_number(ans.number, opt.decimals);
    } else {
      ans.canonical = canonical_text(value);
    }
    ans.id = answer_id(opt.kind, ans.canonical);
    answers.push_back(ans);
  }
  for (const std::string& r : opt.reputations) {
    auto [worker, value] = split_pair(r, "--reputation");
    auto it = std::find_if(answers.begin(), answers.end(), [&](const Answer& a) { return a.worker == worker; });
    if (it == answers.end()) usage_error("--reputation names " + worker + ", who gave no --answer");
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end != value.c_str() + value.size() || !(v >= 0.1 && v <= 1.0)) {
      usage_error("reputation of " + worker + " must be a number in [0.1, 1.0], got '" + value + "'");
    }
    it->reputation = static_cast<std::uint32_t>(std::lround(v * 1e6));
  }

  const auto n = static_cast<std::uint32_t>(answers.size());
  const auto membership = core::make_membership(n, opt.f);
  if (!membership) usage_error(membership.error().message);
  const core::Membership m = *membership;

  core::Tally tally(n);
  for (std::uint32_t w = 0; w < n; ++w) (void)tally.record(w, answers[w].id);
  const core::RoundStatus round{0, 1, n, true};
  const core::Decision decision = core::decide(tally, m, round);

  nlohmann::json out = {{"n", m.n}, {"f", m.f}, {"quorum", m.q},
                        {"outcome", core::outcome_name(decision.outcome)},
                        {"support", decision.support}};
  std::string answer_text;
  std::vector<std::uint32_t> cluster;
  for (std::uint32_t w = 0; w < n; ++w) {
    if ((decision.signers >> w) & 1u) cluster.push_back(w);
  }

  if (decision.outcome == core::Outcome::decided) {
    const auto rule = fusion::rule_from_name(opt.rule);
    if (!rule) usage_error("unknown rule '" + opt.rule + "'; use median, trimmed-mean or weighted-vote");
    std::vector<fusion::Member> members;
    for (std::uint32_t w : cluster) members.push_back({w, answers[w].reputation});
    if (*rule == fusion::RuleId::weighted_vote || opt.kind == "text") {
      std::vector<core::AnswerId> ids;
      for (std::uint32_t w : cluster) ids.push_back(answers[w].id);
      const auto vote = fusion::weighted_vote(members, ids);
      if (!vote) usage_error(vote.error().message);
      answer_text = answers[cluster.front()].canonical;
      out["rule"] = "weighted-vote";
    } else if (*rule == fusion::RuleId::median || *rule == fusion::RuleId::trimmed_mean) {
      const auto values_n = static_cast<std::uint32_t>(cluster.size());
      const std::uint32_t trim = *rule == fusion::RuleId::trimmed_mean ? m.f : 0;
      if (auto ok = fusion::check_admissible(*rule, values_n, m.f, trim); !ok) {
        usage_error(ok.error().message);
      }
      std::vector<std::int64_t> values, scratch(cluster.size());
      for (std::uint32_t w : cluster) values.push_back(std::llround(answers[w].number * micro));
      const auto fused = *rule == fusion::RuleId::median
                             ? fusion::fuse_median(values, scratch)
                             : fusion::fuse_trimmed_mean(values, trim, scratch);
      if (!fused) usage_error(fused.error().message);
      answer_text = micro_text(*fused);
      out["rule"] = fusion::rule_name(*rule);
    } else {
      usage_error("rule '" + opt.rule + "' fuses distributions; fuse answers takes median, " +
                  "trimmed-mean or weighted-vote");
    }
    out["answer"] = answer_text;
  }

  // Reputation: agreeing with the decided cluster raises it, anything else lowers it.
  nlohmann::json workers = nlohmann::json::array();
  for (std::uint32_t w = 0; w < n; ++w) {
    const bool in_cluster = (decision.signers >> w) & 1u;
    const core::Reputation before{answers[w].reputation, false};
    const core::Reputation after =
        decision.outcome != core::Outcome::decided ? before  // nothing decided: nothing learned
        : core::reputation_update(before, in_cluster ? core::ReputationEvent::agree
                                                     : core::ReputationEvent::disagree);
    workers.push_back({{"worker", answers[w].worker}, {"answer", answers[w].raw},
                       {"canonical", answers[w].canonical}, {"in_decided_cluster", in_cluster},
                       {"reputation_before", before.value}, {"reputation_after", after.value}});
  }
  out["workers"] = workers;

  if (opt.json) {
    std::cout << out.dump(2) << "\n";
    return decision.outcome == core::Outcome::decided ? exit_ok : exit_failed;
  }
  // Result first, details after: the order a screen reader user needs.
  const Style& st = style();
  if (decision.outcome == core::Outcome::decided) {
    std::cout << "Answer: " << st.good(answer_text) << " (" << out["rule"].get<std::string>()
              << " over the decided cluster).\n";
    std::cout << "Decided by " << cluster.size() << " of " << n << " workers; quorum is " << m.q
              << " for n = " << n << ", f = " << m.f << ":";
    for (std::uint32_t w : cluster) std::cout << " " << answers[w].worker;
    std::cout << ".\n";
  } else {
    std::cout << "No answer: " << st.bad(core::outcome_name(decision.outcome)) << ". The largest "
              << "cluster has " << decision.support << " of " << n << " workers; quorum is " << m.q
              << ".\n";
  }
  for (std::uint32_t w = 0; w < n; ++w) {
    const auto& row = workers[w];
    std::cout << "  " << answers[w].worker << " answered " << answers[w].raw << " (canonical "
              << answers[w].canonical << "), "
              << (row["in_decided_cluster"].get<bool>() ? "in the decided cluster"
                                                        : st.bad("outside the decided cluster"))
              << "; reputation " << rep_text(row["reputation_before"].get<std::uint32_t>())
              << " -> " << rep_text(row["reputation_after"].get<std::uint32_t>()) << ".\n";
  }
  return decision.outcome == core::Outcome::decided ? exit_ok : exit_failed;
}

}  // namespace

void add_fuse_commands(CLI::App& app) {
  CLI::App* fuse = app.add_subcommand("fuse", "Run the core's consensus and fusion on given answers");
  fuse->require_subcommand(1);
  auto opt = std::make_shared<FuseOptions>();
  CLI::App* answers = fuse->add_subcommand(
      "answers", "One round: canonicalise, tally, decide under the safe quorum, fuse, update reputation");
  answers->add_option("--answer", opt->answers, "A worker's answer, NAME=VALUE (repeat per worker)")
      ->required();
  answers->add_option("--f", opt->f, "Byzantine workers tolerated (3f < n)")->required();
  answers->add_option("--kind", opt->kind, "numeric (default) or text")
      ->check(CLI::IsMember({"numeric", "text"}));
  answers->add_option("--rule", opt->rule, "median (default), trimmed-mean or weighted-vote")
      ->check(CLI::IsMember({"median", "trimmed-mean", "weighted-vote"}));
  answers->add_option("--decimals", opt->decimals,
                      "Numeric agreement rule: answers equal after rounding to this many decimals")
      ->check(CLI::Range(0, 9));
  answers->add_option("--reputation", opt->reputations, "A worker's reputation, NAME=R with R in [0.1, 1]");
  answers->add_flag("--json", opt->json, "Machine-readable output");
  answers->footer(
      "Exit status 0 when an answer is decided, 1 otherwise.\n"
      "Examples:\n"
      "  butterfly fuse answers --f 1 --answer alpha=42 --answer bravo=42 --answer charlie=42.1 \\\n"
      "      --answer delta=9000\n"
      "  butterfly fuse answers --f 1 --kind text --answer alpha=Paris --answer bravo='paris ' \\\n"
      "      --answer charlie=PARIS --answer delta=Lyon --json");
  answers->callback([opt] { action() = [opt] { return run_fuse(*opt); }; });
}

}  // namespace bf::cli
