// verified/: every obligation is proved on the real code, every mutant fails with a counterexample
// (the mutation test), the emitted SMT-LIB is deterministic, the two-quorum search finds exactly the
// unsafe quorums, and differential tests tie each Z3 model to the C++ function it stands for.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "core/fixed.hpp"
#include "core/fusion.hpp"
#include "core/quorum.hpp"
#include "core/reputation.hpp"
#include "core/tally.hpp"
#include "verified/engine.hpp"
#include "verified/models.hpp"
#include "verified/obligations.hpp"

namespace bf::verified {
namespace {

const std::vector<std::string> spec_ids = {"Q1", "Q2", "Q3", "F1", "F2", "F3",
                                           "F4", "F5", "F6", "R1", "R2", "C1"};

TEST(VerifiedRegistry, ListsEveryInvariantInSpecOrderWithTheSpecNames) {
  const auto& list = obligations();
  ASSERT_EQ(list.size(), spec_ids.size());
  std::ifstream spec(std::string(BUTTERFLY_SOURCE_DIR) + "/spec/invariants.md");
  ASSERT_TRUE(spec) << "spec/invariants.md";
  std::stringstream text;
  text << spec.rdbuf();
  for (std::size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].id, spec_ids[i]);
    EXPECT_NE(text.str().find("`" + list[i].name + "`"), std::string::npos) << list[i].id << " " << list[i].name;
    EXPECT_FALSE(list[i].statement.empty());
    EXPECT_FALSE(mutants(list[i].id).empty()) << list[i].id;
  }
}

TEST(VerifiedRegistry, UnknownIdsAndMutantsAreRejected) {
  EXPECT_THROW((void)check("Q9"), std::invalid_argument);
  EXPECT_THROW((void)check("Q1", "no-such-mutant"), std::invalid_argument);
  EXPECT_THROW((void)mutants("X"), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Proofs and the mutation test: one ctest entry per obligation and per mutant, so ctest -j spreads
// the solver time.

class VerifiedProof : public ::testing::TestWithParam<std::string> {};

TEST_P(VerifiedProof, ProvedOnTheRealCode) {
  const ObligationResult r = check(GetParam());
  EXPECT_EQ(r.verdict, Verdict::proved) << r.id << ": " << r.counterexample;
  EXPECT_EQ(r.id, GetParam());
  EXPECT_NE(r.smt2.find("(check-sat)"), std::string::npos);
  // The text does not depend on solving, and building it twice gives the same bytes.
  EXPECT_EQ(detail::smt2_text(GetParam()), r.smt2);
}

INSTANTIATE_TEST_SUITE_P(Verified, VerifiedProof, ::testing::ValuesIn(spec_ids),
                         [](const auto& param_info) { return param_info.param; });

struct MutantCase {
  std::string id, mutant;
};

// Without a printer gtest lists the parameter as raw bytes (pointers included), which ctest then
// puts into the test's name.
void PrintTo(const MutantCase& c, std::ostream* os) { *os << c.id << "/" << c.mutant; }

std::vector<MutantCase> all_mutants() {
  std::vector<MutantCase> out;
  for (const std::string& id : spec_ids) {
    for (const std::string& m : mutants(id)) out.push_back({id, m});
  }
  return out;
}

class VerifiedMutant : public ::testing::TestWithParam<MutantCase> {};

TEST_P(VerifiedMutant, FailsWithACounterexample) {
  const ObligationResult r = check(GetParam().id, GetParam().mutant);
  EXPECT_EQ(r.verdict, Verdict::failed) << GetParam().id << "/" << GetParam().mutant << ": " << r.counterexample;
  EXPECT_NE(r.counterexample.find(" = "), std::string::npos) << r.counterexample;
  EXPECT_EQ(r.mutant, GetParam().mutant);
}

INSTANTIATE_TEST_SUITE_P(Verified, VerifiedMutant, ::testing::ValuesIn(all_mutants()), [](const auto& param_info) {
  std::string name = param_info.param.id + "_" + param_info.param.mutant;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
});

TEST(VerifiedSmt2, TextIsDeterministicAndSelfContained) {
  for (const std::string& id : spec_ids) {
    const std::string a = detail::smt2_text(id);
    EXPECT_EQ(a, detail::smt2_text(id)) << id;
    // Blocks are separated by (reset): push/pop switches z3 to its slower incremental mode. C1's
    // blocks are small one-round models per (n, f) and use push/pop.
    if (id != "C1") {
      EXPECT_EQ(a.find("(push"), std::string::npos) << id;
    }
    EXPECT_NE(a.find("(declare-fun"), std::string::npos) << id;
  }
}

// The z3 binary alone answers unsat for every block of the quick obligations (the others take
// the same solver time as their C++ check; CI re-checks proofs/ with z3).
TEST(VerifiedSmt2, Z3CommandLineAnswersUnsat) {
  if (std::system("z3 --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no z3 binary";
  const auto dir = std::filesystem::temp_directory_path() / ("bf-verified-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const std::string id : {"Q1", "Q2", "Q3", "R1", "R2"}) {
    const auto file = dir / (id + ".smt2");
    std::ofstream(file) << detail::smt2_text(id);
    const auto out = dir / (id + ".out");
    ASSERT_EQ(std::system(("z3 " + file.string() + " > " + out.string()).c_str()), 0) << id;
    std::ifstream in(out);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
      EXPECT_EQ(line, "unsat") << id;
      ++lines;
    }
    EXPECT_GT(lines, 0) << id;
  }
  std::filesystem::remove_all(dir);
}

TEST(VerifiedEmit, WritesFilesAndASortedManifest) {
  const auto dir = std::filesystem::temp_directory_path() / ("bf-emit-" + std::to_string(::getpid()));
  std::vector<ObligationResult> results;
  for (const std::string id : {"R2", "Q1"}) results.push_back(ObligationResult{id, "", "", Verdict::proved, "", "; " + id + "\n"});
  emit(dir, results);
  std::ifstream manifest(dir / "MANIFEST");
  std::string l1, l2;
  std::getline(manifest, l1);
  std::getline(manifest, l2);
  // sha256("; Q1\n") and sha256("; R2\n"), sorted by file name.
  EXPECT_EQ(l1.substr(64), "  Q1.smt2");
  EXPECT_EQ(l2.substr(64), "  R2.smt2");
  EXPECT_EQ(l1.size(), 64u + 9u);
  std::ifstream q1(dir / "Q1.smt2");
  std::string content((std::istreambuf_iterator<char>(q1)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "; Q1\n");
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Two conflicting quorums.

void expect_valid(const QuorumCounterexample& c) {
  std::set<std::uint32_t> seen;
  for (const auto* v : {&c.byzantine, &c.honest_a, &c.honest_b}) {
    for (std::uint32_t w : *v) {
      EXPECT_LT(w, c.n);
      EXPECT_TRUE(seen.insert(w).second) << "worker " << w << " listed twice";
    }
  }
  EXPECT_LE(c.byzantine.size(), c.f);
  EXPECT_GE(c.byzantine.size() + c.honest_a.size(), c.q);
  EXPECT_GE(c.byzantine.size() + c.honest_b.size(), c.q);
}

TEST(VerifiedQuorumCounterexample, FindsTheSeedRulesConflicts) {
  for (const auto& [n, f, q] : std::vector<std::array<std::uint32_t, 3>>{{3, 0, 1}, {5, 1, 3}, {6, 1, 3}}) {
    const auto c = quorum_counterexample(n, f, q);
    ASSERT_TRUE(c.has_value()) << n << " " << f << " " << q;
    EXPECT_EQ(c->n, n);
    expect_valid(*c);
  }
}

TEST(VerifiedQuorumCounterexample, NoneForTheSafeQuorumAndAgreesWithTheFormula) {
  const auto start = std::chrono::steady_clock::now();
  int calls = 0;
  for (std::uint32_t n = 1; n <= 16; ++n) {
    for (std::uint32_t f = 0; 3 * f < n; ++f) {
      EXPECT_FALSE(quorum_counterexample(n, f, core::quorum_safe(n, f)).has_value()) << n << " " << f;
      const auto seed = quorum_counterexample(n, f, core::quorum_seed(n, f));
      EXPECT_EQ(seed.has_value(), 2 * core::quorum_seed(n, f) < n + f + 1)
          << n << " " << f;
      if (seed) expect_valid(*seed);
      calls += 2;
    }
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(ms / calls, 50.0) << "mean per call";
  // The 64-worker group limit stays fast too.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(quorum_counterexample(64, 21, core::quorum_safe(64, 21)).has_value());
  EXPECT_TRUE(quorum_counterexample(64, 1, 3).has_value());
  const double big_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(big_ms, 1000.0);
}

// ---------------------------------------------------------------------------------------------
// Differential tests: the Z3 model evaluated on concrete inputs equals the C++ code.

TEST(VerifiedDifferential, ReputationUpdate) {
  using P = core::ReputationParams;
  std::mt19937_64 rng(20240601);
  std::vector<std::uint32_t> values = {P::floor, P::floor + 1, P::floor + 3, P::exclude_below, P::one - 1, P::one};
  for (int i = 0; i < 60; ++i) values.push_back(P::floor + static_cast<std::uint32_t>(rng() % (P::one - P::floor + 1)));
  for (std::uint32_t v : values) {
    for (unsigned e = 0; e < 4; ++e) {
      for (bool isolated : {false, true}) {
        const core::Reputation next = core::reputation_update({v, isolated}, static_cast<core::ReputationEvent>(e));
        const model::ReputationOut m = model::reputation_update(v, isolated, e);
        ASSERT_EQ(m.value, next.value) << v << " event " << e;
        ASSERT_EQ(m.isolated, next.isolated) << v << " event " << e;
      }
    }
  }
}

TEST(VerifiedDifferential, TallyRecordMasks) {
  std::mt19937_64 rng(7);
  for (int run = 0; run < 12; ++run) {
    const std::uint32_t n = 1 + static_cast<std::uint32_t>(rng() % 64);
    core::Tally tally(n);
    for (int step = 0; step < 80; ++step) {
      const auto w = static_cast<core::WorkerIndex>(rng() % n);
      core::AnswerId answer{};
      answer[0] = static_cast<std::uint8_t>(rng() % 3);
      const std::uint64_t me = std::uint64_t{1} << w;
      // The cluster the model's mask stands for: w's current cluster, else the answer's.
      std::optional<std::uint32_t> cluster;
      for (std::uint32_t c = 0; c < tally.clusters(); ++c) {
        if ((tally.cluster_signers(c) & me) != 0) cluster = c;
      }
      if (!cluster) {
        for (std::uint32_t c = 0; c < tally.clusters(); ++c) {
          if (tally.cluster_answer(c) == answer) cluster = c;
        }
      }
      const bool same = cluster && (tally.responders() & me) != 0 && tally.cluster_answer(*cluster) == answer;
      const model::TallyState before{tally.responders(), tally.equivocators(),
                                     cluster ? tally.cluster_signers(*cluster) : 0};
      (void)tally.record(w, answer);
      if (!cluster) cluster = tally.clusters() - 1;  // a new cluster was opened (or w was isolated)
      const model::TallyState after = model::tally_record(before, w, same);
      ASSERT_EQ(after.responders, tally.responders()) << "run " << run << " step " << step;
      ASSERT_EQ(after.equivocators, tally.equivocators()) << "run " << run << " step " << step;
      if (*cluster < tally.clusters() && (before.equivocators & me) == 0) {
        ASSERT_EQ(after.cluster_signers, tally.cluster_signers(*cluster)) << "run " << run << " step " << step;
      }
    }
  }
}

TEST(VerifiedDifferential, WeightsFromReputation) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 120; ++i) {
    const std::size_t m = 1 + rng() % (i < 100 ? 7 : 64);
    std::vector<core::fusion::Member> members;
    std::vector<model::MemberIn> in;
    std::vector<std::uint32_t> workers(64);
    for (std::uint32_t k = 0; k < 64; ++k) workers[k] = k;
    std::shuffle(workers.begin(), workers.end(), rng);
    for (std::size_t k = 0; k < m; ++k) {
      std::uint32_t rep = 0;
      switch (rng() % 4) {
        case 0: rep = 100'000 + static_cast<std::uint32_t>(rng() % 900'001); break;
        case 1: rep = 1 + static_cast<std::uint32_t>(rng() % 0xffffffffu); break;
        case 2: rep = 0xffffffffu - static_cast<std::uint32_t>(rng() % 3); break;
        default: rep = 500'000; break;  // ties
      }
      members.push_back({workers[k], rep});
      in.push_back({workers[k], rep});
    }
    std::vector<std::uint32_t> out(m);
    ASSERT_TRUE(core::fusion::weights_from_reputation(members, out).ok());
    const auto modelled = model::weights_from_reputation(in);
    ASSERT_TRUE(modelled.has_value()) << "width check fired";
    ASSERT_EQ(*modelled, out) << "case " << i;
  }
}

TEST(VerifiedDifferential, FuseMean) {
  std::mt19937_64 rng(13);
  for (int i = 0; i < 120; ++i) {
    const std::size_t m = 1 + rng() % 7, v = 2 + rng() % 4;
    // Weights: a random split of 2^24; distributions: random splits of 2^31 (some unanimous).
    const auto split = [&](std::uint64_t total, std::size_t parts) {
      std::vector<std::uint32_t> cut;
      for (std::size_t k = 0; k + 1 < parts; ++k) cut.push_back(static_cast<std::uint32_t>(rng() % (total + 1)));
      cut.push_back(0);
      cut.push_back(static_cast<std::uint32_t>(total));
      std::sort(cut.begin(), cut.end());
      std::vector<std::uint32_t> out;
      for (std::size_t k = 0; k + 1 < cut.size(); ++k) out.push_back(cut[k + 1] - cut[k]);
      return out;
    };
    const std::vector<std::uint32_t> weights = split(core::fusion::weight_unit, m);
    std::vector<std::vector<std::uint32_t>> dists;
    for (std::size_t k = 0; k < m; ++k) dists.push_back(i % 5 == 0 && k > 0 ? dists[0] : split(core::fusion::prob_unit, v));
    std::vector<core::fusion::Distribution> spans(dists.begin(), dists.end());
    std::vector<std::uint32_t> out(v);
    ASSERT_TRUE(core::fusion::fuse_mean(weights, spans, out).ok());
    const auto modelled = model::fuse_mean(weights, dists);
    ASSERT_TRUE(modelled.has_value());
    ASSERT_EQ(*modelled, out) << "case " << i;
  }
}

TEST(VerifiedDifferential, MedianAndTrimmedMean) {
  std::mt19937_64 rng(17);
  constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
  for (int i = 0; i < 150; ++i) {
    const std::size_t m = 1 + rng() % 7;
    std::vector<std::int64_t> x;
    for (std::size_t k = 0; k < m; ++k) {
      switch (rng() % 4) {
        case 0: x.push_back(static_cast<std::int64_t>(rng())); break;
        case 1: x.push_back(static_cast<std::int64_t>(rng() % 2001) - 1000); break;
        case 2: x.push_back(rng() % 2 == 0 ? lo + static_cast<std::int64_t>(rng() % 3) : hi - static_cast<std::int64_t>(rng() % 3)); break;
        default: x.push_back(-7); break;
      }
    }
    std::vector<std::int64_t> scratch(m);
    const auto median = core::fusion::fuse_median(x, scratch);
    ASSERT_TRUE(median.ok());
    ASSERT_EQ(model::fuse_median(x), *median) << "case " << i;
    for (std::uint32_t trim = 0; 2 * trim < m; ++trim) {
      const auto mean = core::fusion::fuse_trimmed_mean(x, trim, scratch);
      ASSERT_TRUE(mean.ok());
      ASSERT_EQ(model::fuse_trimmed_mean(x, trim), *mean) << "case " << i << " trim " << trim;
    }
  }
}

TEST(VerifiedDifferential, Exp2) {
  std::mt19937_64 rng(19);
  std::vector<std::int32_t> xs = {0, -1, -65535, -65536, -65537, core::fixed::log2_min, core::fixed::log2_min + 1};
  for (int i = 0; i < 100; ++i) xs.push_back(-static_cast<std::int32_t>(rng() % (31u * 65536u + 1)));
  for (std::int32_t x : xs) ASSERT_EQ(model::exp2_q31(x), core::fixed::exp2_q31(x)) << "x = " << x;
}

}  // namespace
}  // namespace bf::verified
