// What the model benchmarks share: the thread count and where the source tree (and so the models)
// is. Threads: $BF_BENCH_THREADS (default 2, the CI machine's cores).
#pragma once

#include <cstdlib>
#include <string>

#ifndef BUTTERFLY_SOURCE_DIR
#define BUTTERFLY_SOURCE_DIR "."
#endif

namespace bf::bench {

inline std::size_t bench_threads() {
  const char* v = std::getenv("BF_BENCH_THREADS");
  return v != nullptr && std::atoi(v) > 0 ? static_cast<std::size_t>(std::atoi(v)) : 2;
}

// $BUTTERFLY_SOURCE_DIR, else the tree this was built from.
inline std::string source_root() {
  const char* env = std::getenv("BUTTERFLY_SOURCE_DIR");
  return env != nullptr ? env : BUTTERFLY_SOURCE_DIR;
}

}  // namespace bf::bench
