#include "model/thread_pool.hpp"

#include <immintrin.h>

#include <algorithm>

namespace bf::model {
namespace {

// _mm_pause takes ~40-140 cycles depending on the core: 256 of them are a few microseconds.
constexpr int spin_iterations = 256;

template <typename Ready>
bool spin_until(Ready ready) {
  for (int i = 0; i < spin_iterations; ++i) {
    if (ready()) return true;
    _mm_pause();
  }
  return false;
}

}  // namespace

ThreadPool::ThreadPool(std::size_t threads) {
  if (threads == 0) threads = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  threads = std::min(threads, threads_max);
  workers_.reserve(threads - 1);
  for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    const std::lock_guard lock(mutex_);
    stop_.store(true, std::memory_order_release);
  }
  start_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run(std::size_t tasks, const std::function<void(std::size_t, std::size_t)>& fn,
                     std::size_t grain) {
  if (tasks == 0) return;
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t n = size();
  std::size_t chunk = (tasks + n - 1) / n;
  chunk = (chunk + grain - 1) / grain * grain;
  if (workers_.empty() || chunk >= tasks) {
    fn(0, tasks);
    return;
  }
  {
    const std::lock_guard lock(mutex_);
    job_ = &fn;
    tasks_ = tasks;
    chunk_ = chunk;
    pending_.store(workers_.size(), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);  // publishes the job fields above
  }
  start_.notify_all();
  fn(0, std::min(chunk, tasks));
  if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }
}

void ThreadPool::worker(std::size_t index) {
  std::size_t seen = 0;
  for (;;) {
    const auto changed = [&] {
      return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
    };
    if (!spin_until(changed)) {
      std::unique_lock lock(mutex_);
      start_.wait(lock, changed);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    const auto* job = job_;
    const std::size_t begin = std::min(index * chunk_, tasks_);
    const std::size_t end = std::min(begin + chunk_, tasks_);
    if (begin < end) (*job)(begin, end);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      const std::lock_guard lock(mutex_);  // pairs with the caller's predicate check
      done_.notify_one();
    }
  }
}

}  // namespace bf::model
