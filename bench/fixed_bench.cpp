// The fixed-point primitives under fuse_sctt and attention_weights (core/fixed.hpp), per call.
// Inputs: 4,096 seeded values cycled in order; the calls are independent (throughput, not latency).
// log2 inputs are the entries of a language-model-shaped Q31 distribution (bench/inputs.hpp), the
// values fuse_sctt actually sees; exp2 inputs are uniform over its domain [log2_min, 0].
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/alloc_counter.hpp"
#include "bench/inputs.hpp"
#include "core/fixed.hpp"

namespace bf::bench {
namespace {

constexpr std::size_t inputs_count = 4096;  // a power of two: the index wraps with a mask

void BM_fixed_log2_q16(benchmark::State& state) {
  SplitMix64 rng(input_seed + 800);
  std::vector<std::uint32_t> inputs = make_distributions(1, inputs_count, rng)[0];
  for (auto& p : inputs) p = p == 0 ? 1 : p;  // the domain is [1, 2^31], as fuse_sctt clamps
  std::size_t i = 0;
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    std::int32_t result = core::fixed::log2_q16(inputs[i++ & (inputs_count - 1)]);
    benchmark::DoNotOptimize(result);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations());  // calls
}

void BM_fixed_exp2_q31(benchmark::State& state) {
  SplitMix64 rng(input_seed + 900);
  std::vector<std::int32_t> inputs(inputs_count);
  for (auto& x : inputs) x = -static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(-core::fixed::log2_min) + 1));
  std::size_t i = 0;
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    std::uint32_t result = core::fixed::exp2_q31(inputs[i++ & (inputs_count - 1)]);
    benchmark::DoNotOptimize(result);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations());  // calls
}

BENCHMARK(BM_fixed_log2_q16);
BENCHMARK(BM_fixed_exp2_q31);

}  // namespace
}  // namespace bf::bench
