// Counting replacements for all global operator new/delete forms (C++17/20, [new.delete]).
// Allocation goes to malloc / posix_memalign and deallocation to free, so every form pairs with
// every other; the counters only ever go up (frees are not counted: the question is whether an
// operation allocates at all, and how much it asks for).
#include "bench/alloc_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace bf::bench {
namespace {

std::atomic<std::uint64_t> g_allocs{0};
std::atomic<std::uint64_t> g_bytes{0};

void count(std::size_t bytes) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void* allocate(std::size_t bytes) noexcept {
  void* p = std::malloc(bytes == 0 ? 1 : bytes);  // new(0) must return a unique pointer
  if (p != nullptr) count(bytes);
  return p;
}

void* allocate_aligned(std::size_t bytes, std::align_val_t alignment) noexcept {
  auto align = static_cast<std::size_t>(alignment);
  if (align < sizeof(void*)) align = sizeof(void*);  // posix_memalign's minimum
  void* p = nullptr;
  if (posix_memalign(&p, align, bytes == 0 ? 1 : bytes) != 0) return nullptr;
  count(bytes);
  return p;
}

void* allocate_or_throw(std::size_t bytes) {
  void* p = allocate(bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* allocate_aligned_or_throw(std::size_t bytes, std::align_val_t alignment) {
  void* p = allocate_aligned(bytes, alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

AllocCounts alloc_counts() noexcept {
  return AllocCounts{g_allocs.load(std::memory_order_relaxed), g_bytes.load(std::memory_order_relaxed)};
}

void report_allocs(benchmark::State& state, const AllocCounts& before) {
  // Read the counters before touching state.counters: inserting a counter allocates.
  const AllocCounts after = alloc_counts();
  const auto iterations = static_cast<double>(state.iterations());
  const double allocs = static_cast<double>(after.allocs - before.allocs);
  const double bytes = static_cast<double>(after.bytes - before.bytes);
  state.counters["allocs_per_op"] = benchmark::Counter(iterations > 0 ? allocs / iterations : 0.0);
  state.counters["bytes_alloc_per_op"] = benchmark::Counter(iterations > 0 ? bytes / iterations : 0.0);
}

}  // namespace bf::bench

// Replaceable allocation functions.
void* operator new(std::size_t bytes) { return bf::bench::allocate_or_throw(bytes); }
void* operator new[](std::size_t bytes) { return bf::bench::allocate_or_throw(bytes); }
void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept { return bf::bench::allocate(bytes); }
void* operator new[](std::size_t bytes, const std::nothrow_t&) noexcept { return bf::bench::allocate(bytes); }
void* operator new(std::size_t bytes, std::align_val_t alignment) {
  return bf::bench::allocate_aligned_or_throw(bytes, alignment);
}
void* operator new[](std::size_t bytes, std::align_val_t alignment) {
  return bf::bench::allocate_aligned_or_throw(bytes, alignment);
}
void* operator new(std::size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return bf::bench::allocate_aligned(bytes, alignment);
}
void* operator new[](std::size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return bf::bench::allocate_aligned(bytes, alignment);
}

// Replaceable deallocation functions.
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
