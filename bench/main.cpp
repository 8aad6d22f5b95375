// bf_bench_core's main, and the two controls that make the allocation counters trustworthy:
//   alloc_control_empty   an empty timed loop: the harness itself must report 0 allocs/op
//   alloc_control_vector  one std::vector<int>(16) per iteration: must report exactly 1 alloc/op
//                         and 64 bytes/op, so a broken hook cannot pass as "zero allocations"
// Extra context in the JSON: contracts on/off in this build, and the compiler.
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/alloc_counter.hpp"

namespace bf::bench {
namespace {

void BM_alloc_control_empty(benchmark::State& state) {
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    benchmark::ClobberMemory();
  }
  report_allocs(state, before);
}

void BM_alloc_control_vector(benchmark::State& state) {
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    std::vector<int> v(16);
    benchmark::DoNotOptimize(v.data());  // the pointer escapes, so the allocation cannot be elided
  }
  report_allocs(state, before);
}

BENCHMARK(BM_alloc_control_empty);
BENCHMARK(BM_alloc_control_vector);

}  // namespace
}  // namespace bf::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#if defined(BUTTERFLY_CONTRACTS)
  benchmark::AddCustomContext("contracts", "on");
#else
  benchmark::AddCustomContext("contracts", "off");
#endif
#if defined(__clang__)
  benchmark::AddCustomContext("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  benchmark::AddCustomContext("compiler", std::string("gcc ") + __VERSION__);
#endif
  benchmark::AddCustomContext("alloc_hook", "global operator new/delete, all forms, counted");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
