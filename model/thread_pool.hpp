// A small persistent thread pool for the forward pass: run(tasks, fn) splits [0, tasks) into one
// contiguous range per thread, the calling thread takes the first, and returns when all are done.
// Threads are created once, so a matmul costs a wake-up, not a thread start.
#pragma once

#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bf::model {

inline constexpr std::size_t threads_max = 256;

class ThreadPool {
 public:
  // threads == 0 means the machine's hardware threads; capped at threads_max.
  explicit ThreadPool(std::size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t size() const { return workers_.size() + 1; }
  // fn(begin, end) over disjoint ranges covering [0, tasks); ranges are multiples of `grain`
  // except the last. Not reentrant: call from one thread at a time.
  void run(std::size_t tasks, const std::function<void(std::size_t, std::size_t)>& fn,
           std::size_t grain = 1);

 private:
  void worker(std::size_t index);
  template <typename Ready>
  bool spin_until(Ready ready);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  const std::function<void(std::size_t, std::size_t)>* job_ = nullptr;
  std::size_t tasks_ = 0;
  std::size_t chunk_ = 0;
  // Waiters spin on these before sleeping on the condition variables: a forward pass synchronises
  // a few hundred times per token, and a futex wake-up per sync costs more than the work of a small
  // matmul. The spin is bounded in time (thread_pool.cpp) so an idle pool sleeps soon.
  std::atomic<std::size_t> generation_{0};
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> stop_{false};
  // How long waiters spin (thread_pool.cpp): steady_clock ticks until which they spin briefly, and
  // the cached answer of whether the machine has idle cores.
  std::atomic<std::int64_t> short_spin_until_{0};
  std::atomic<std::int64_t> next_load_sample_{0};
  std::atomic<bool> cores_to_spare_{false};
};

}  // namespace bf::model
