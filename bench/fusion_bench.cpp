// Fusion benchmarks (core/fusion.hpp) over n = 4 and n = 16 workers; the distribution rules also
// over V = 512 and V = 49,152 entries (the default model's vocabulary). Inputs from bench::input_seed
// (bench/inputs.hpp); each benchmark runs its call once in setup and skips with an error if the
// call fails, so only the success path is ever timed.
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/alloc_counter.hpp"
#include "bench/inputs.hpp"
#include "core/fusion.hpp"

namespace bf::bench {
namespace {

namespace fusion = core::fusion;

std::uint32_t arg(const benchmark::State& state, int index) {
  return static_cast<std::uint32_t>(state.range(index));
}

// weights_from_reputation/n: F1 weights (sum exactly 2^24) from n reputations.
void BM_weights_from_reputation(benchmark::State& state) {
  const std::uint32_t n = arg(state, 0);
  SplitMix64 rng(input_seed + 100 + n);
  const std::vector<fusion::Member> members = make_members(n, rng);
  std::vector<std::uint32_t> weights(n);
  if (!fusion::weights_from_reputation(members, weights)) return state.SkipWithError("weights failed");
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Status status = fusion::weights_from_reputation(members, weights);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(weights.data());
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations() * n);  // members
}

// weighted_vote/n: reputation-weighted vote over n canonical answers (n - f agree, f differ).
void BM_weighted_vote(benchmark::State& state) {
  const std::uint32_t n = arg(state, 0);
  SplitMix64 rng(input_seed + 200 + n);
  const std::vector<fusion::Member> members = make_members(n, rng);
  const RoundInputs round = make_round(n, input_seed + 200 + n);
  std::vector<core::AnswerId> answers(n);
  for (std::uint32_t i = 0; i < n; ++i) answers[i] = round.answer_of[i];
  if (!fusion::weighted_vote(members, answers)) return state.SkipWithError("vote failed");
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Result<fusion::VoteResult> result = fusion::weighted_vote(members, answers);
    benchmark::DoNotOptimize(result);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations() * n);  // answers
}

// The shared inputs of fuse_mean and fuse_sctt: F1 weights from seeded reputations and n
// language-model-shaped Q31 distributions of V entries.
struct DistributionInputs {
  std::vector<std::uint32_t> weights;
  std::vector<std::vector<std::uint32_t>> storage;
  std::vector<fusion::Distribution> distributions;
  std::vector<std::uint32_t> out;
  std::vector<std::int32_t> scratch;
};

DistributionInputs make_distribution_inputs(std::uint32_t n, std::uint32_t vocabulary, std::uint64_t seed) {
  SplitMix64 rng(seed);
  DistributionInputs in;
  const std::vector<fusion::Member> members = make_members(n, rng);
  in.weights.resize(n);
  if (!fusion::weights_from_reputation(members, in.weights)) setup_failed("weights_from_reputation");
  in.storage = make_distributions(n, vocabulary, rng);
  for (const auto& d : in.storage) in.distributions.emplace_back(d);
  in.out.resize(vocabulary);
  in.scratch.resize(vocabulary);
  return in;
}

void set_distribution_throughput(benchmark::State& state, std::uint32_t n, std::uint32_t vocabulary) {
  state.SetItemsProcessed(state.iterations() * vocabulary);  // output entries (tokens)
  state.SetBytesProcessed(state.iterations() * n * vocabulary *
                          static_cast<std::int64_t>(sizeof(std::uint32_t)));  // input read
}

// fuse_mean/n/V: weighted mean of n Q31 distributions of V entries.
void BM_fuse_mean(benchmark::State& state) {
  const std::uint32_t n = arg(state, 0);
  const std::uint32_t vocabulary = arg(state, 1);
  DistributionInputs in = make_distribution_inputs(n, vocabulary, input_seed + 300 + n);
  if (!fusion::fuse_mean(in.weights, in.distributions, in.out)) return state.SkipWithError("fuse_mean failed");
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Status status = fusion::fuse_mean(in.weights, in.distributions, in.out);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(in.out.data());
  }
  report_allocs(state, before);
  set_distribution_throughput(state, n, vocabulary);
}

// fuse_sctt/n/V: SCTT (normalised weighted geometric mean, fixed-point log2/exp2). The inputs are
// not unanimous, so the general path runs (the unanimous short cut is a copy).
void BM_fuse_sctt(benchmark::State& state) {
  const std::uint32_t n = arg(state, 0);
  const std::uint32_t vocabulary = arg(state, 1);
  DistributionInputs in = make_distribution_inputs(n, vocabulary, input_seed + 400 + n);
  if (!fusion::fuse_sctt(in.weights, in.distributions, in.out, in.scratch)) {
    return state.SkipWithError("fuse_sctt failed");
  }
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Status status = fusion::fuse_sctt(in.weights, in.distributions, in.out, in.scratch);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(in.out.data());
  }
  report_allocs(state, before);
  set_distribution_throughput(state, n, vocabulary);
}

// n seeded fixed-point values (micro-units in about +-1,000), e.g. n workers' numeric answers.
std::vector<std::int64_t> make_values(std::uint32_t n, std::uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = static_cast<std::int64_t>(rng.below(2'000'000'000)) - 1'000'000'000;
  return values;
}

// fuse_median/n: median of n values (copy to scratch, sort, middle).
void BM_fuse_median(benchmark::State& state) {
  const std::uint32_t n = arg(state, 0);
  const std::vector<std::int64_t> values = make_values(n, input_seed + 500 + n);
  std::vector<std::int64_t> scratch(n);
  if (!fusion::fuse_median(values, scratch)) return state.SkipWithError("fuse_median failed");
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Result<std::int64_t> result = fusion::fuse_median(values, scratch);
    benchmark::DoNotOptimize(result);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations() * n);  // values
}

// fuse_trimmed_mean/n: mean of n values after dropping trim = f = faults_max(n) at each end.
void BM_fuse_trimmed_mean(benchmark::State& state) {
  const std::uint32_t n = arg(state, 0);
  const std::uint32_t trim = core::faults_max(n);
  const std::vector<std::int64_t> values = make_values(n, input_seed + 600 + n);
  std::vector<std::int64_t> scratch(n);
  if (!fusion::fuse_trimmed_mean(values, trim, scratch)) return state.SkipWithError("trimmed mean failed");
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Result<std::int64_t> result = fusion::fuse_trimmed_mean(values, trim, scratch);
    benchmark::DoNotOptimize(result);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations() * n);  // values
}

// attention_weights/n: weights from an n x n symmetric Q16 similarity matrix (off-diagonal
// entries in [0.5, 1]), default temperature 0.25.
void BM_attention_weights(benchmark::State& state) {
  const std::uint32_t n = arg(state, 0);
  SplitMix64 rng(input_seed + 700 + n);
  const std::vector<fusion::Member> members = make_members(n, rng);
  std::vector<std::uint32_t> similarity(std::size_t{n} * n);
  for (std::uint32_t i = 0; i < n; ++i) {
    similarity[std::size_t{i} * n + i] = fusion::similarity_one;
    for (std::uint32_t j = i + 1; j < n; ++j) {
      const std::uint32_t s = rng.between(fusion::similarity_one / 2, fusion::similarity_one);
      similarity[std::size_t{i} * n + j] = s;
      similarity[std::size_t{j} * n + i] = s;
    }
  }
  std::vector<std::uint32_t> weights(n);
  if (!fusion::attention_weights(members, similarity, fusion::temperature_default_q16, weights)) {
    return state.SkipWithError("attention_weights failed");
  }
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Status status = fusion::attention_weights(members, similarity, fusion::temperature_default_q16, weights);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(weights.data());
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations() * n);  // members
}

// error_weights_empty: an error path, for contrast and as a live check of the hook on core code.
// Errors carry a message a person can act on (a std::string), so they allocate by design; they are
// not steady state and are not in the zero-allocation set.
void BM_error_weights_empty(benchmark::State& state) {
  std::vector<std::uint32_t> weights(1);
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Status status = fusion::weights_from_reputation({}, weights);
    benchmark::DoNotOptimize(status);
  }
  report_allocs(state, before);
}

BENCHMARK(BM_weights_from_reputation)->ArgName("n")->Arg(4)->Arg(16);
BENCHMARK(BM_weighted_vote)->ArgName("n")->Arg(4)->Arg(16);
BENCHMARK(BM_fuse_mean)->ArgNames({"n", "V"})->ArgsProduct({{4, 16}, {512, 49152}});
BENCHMARK(BM_fuse_sctt)->ArgNames({"n", "V"})->ArgsProduct({{4, 16}, {512, 49152}});
BENCHMARK(BM_fuse_median)->ArgName("n")->Arg(4)->Arg(16);
BENCHMARK(BM_fuse_trimmed_mean)->ArgName("n")->Arg(4)->Arg(16);
BENCHMARK(BM_attention_weights)->ArgName("n")->Arg(4)->Arg(16);
BENCHMARK(BM_error_weights_empty);

}  // namespace
}  // namespace bf::bench
