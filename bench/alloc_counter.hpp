// Allocation counting for the benchmark program: alloc_counter.cpp replaces every global
// operator new and delete (plain, array, nothrow, aligned, sized) with versions that count calls
// and requested bytes, so "zero heap allocations per operation" is measured, not assumed.
//
// What it sees: every allocation made through operator new, which is every allocation the C++
// standard library makes (std::string, std::vector, ...). What it does not see: direct calls to
// malloc/calloc/realloc; core/ makes none (it has no C allocation calls, see the check in
// docs/benchmarks.md).
#pragma once

#include <cstdint>

#include <benchmark/benchmark.h>

namespace bf::bench {

struct AllocCounts {
  std::uint64_t allocs = 0;  // successful operator new calls of any form
  std::uint64_t bytes = 0;   // bytes requested by those calls
};

// The process-wide totals since start-up (relaxed atomics: exact once the counting thread joins
// the benchmark thread, which is the only thread in this program).
AllocCounts alloc_counts() noexcept;

// Records allocs_per_op and bytes_alloc_per_op: the allocations between `before` (taken just
// before the timed loop) and now (just after it), divided by the loop's iterations.
void report_allocs(benchmark::State& state, const AllocCounts& before);

}  // namespace bf::bench
