#include "model/thread_pool.hpp"

#include <fcntl.h>
#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace bf::model {
namespace {

// Waiters spin before sleeping on the condition variables. A decode step synchronises ~120 times
// (four matmuls per layer) with gaps of a few to tens of microseconds between them. On an idle VM a
// sleeping thread's vCPU halts, and waking it takes a futex call plus an IPI into the hypervisor:
// sleeping inside a token then costs more than the matmuls (llama.cpp's threads spin for the same
// reason), so waiters spin up to spin_long. But on an oversubscribed machine (several workers on two
// cores, or a build running) the thread waited for is often descheduled, and a long spin burns the
// time slice it needs: measured under a parallel build, a fixed 300-500 us spin decoded 2-8x slower
// than a 10 us one. So the long spin is used only while the kernel reports no more runnable threads than
// there are cores (/proc/loadavg, sampled every load_sample), and not within calm_period of a
// waiter noticing it was itself descheduled (its clock jumped between two checks).
using Clock = std::chrono::steady_clock;
constexpr auto spin_long = std::chrono::microseconds(300);
constexpr auto spin_short = std::chrono::microseconds(10);
constexpr auto preempted_gap = std::chrono::microseconds(100);
constexpr auto calm_period = std::chrono::milliseconds(100);
constexpr auto load_sample = std::chrono::milliseconds(20);
constexpr int pauses_per_clock_check = 32;

std::int64_t ticks(Clock::time_point t) { return t.time_since_epoch().count(); }

// Runnable threads on the machine now (the fourth field of /proc/loadavg, "running/total"), or
// -1 when it cannot be read.
long runnable_threads() {
  const int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t got = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (got <= 0) return -1;
  buf[got] = '\0';
  const char* p = buf;
  for (int field = 0; field < 3; ++field) {  // skip the three load averages
    p = std::strchr(p, ' ');
    if (p == nullptr) return -1;
    ++p;
  }
  char* end = nullptr;
  const long running = std::strtol(p, &end, 10);
  return end != p && *end == '/' ? running : -1;
}

// Whether a long spin is worth it now; the answer is cached for load_sample.
bool cores_to_spare(std::atomic<std::int64_t>& next_sample, std::atomic<bool>& spare, Clock::time_point now) {
  if (ticks(now) >= next_sample.load(std::memory_order_relaxed)) {
    next_sample.store(ticks(now + load_sample), std::memory_order_relaxed);
    static const long cores = std::max(1U, std::thread::hardware_concurrency());
    const long running = runnable_threads();
    spare.store(running >= 0 && running <= cores, std::memory_order_relaxed);
  }
  return spare.load(std::memory_order_relaxed);
}

}  // namespace

template <typename Ready>
bool ThreadPool::spin_until(Ready ready) {
  auto last = Clock::now();
  const bool long_spin = ticks(last) >= short_spin_until_.load(std::memory_order_relaxed) &&
                         cores_to_spare(next_load_sample_, cores_to_spare_, last);
  const auto deadline = last + (long_spin ? spin_long : spin_short);
  for (;;) {
    for (int i = 0; i < pauses_per_clock_check; ++i) {
      if (ready()) return true;
      _mm_pause();
    }
    const auto now = Clock::now();
    if (now - last > preempted_gap) {
      short_spin_until_.store(ticks(now + calm_period), std::memory_order_relaxed);
      return ready();
    }
    if (now >= deadline) return ready();
    last = now;
  }
}

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
