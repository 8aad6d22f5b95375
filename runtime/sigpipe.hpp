// Writing to a pipe whose reader has gone raises SIGPIPE, which kills the process by default.
// This guard blocks SIGPIPE for the calling thread only (no process-wide disposition changes, so
// it is safe in libraries and tests): a write then fails with EPIPE instead, and a SIGPIPE raised
// meanwhile is discarded before the thread's old mask comes back.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace bf::runtime {

class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&block_);
    sigaddset(&block_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block_, &old_);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  ~SigpipeBlock() {
    const timespec zero{0, 0};
    while (sigtimedwait(&block_, nullptr, &zero) > 0) {
    }  // drop the SIGPIPEs our writes raised
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t block_{};
  sigset_t old_{};
};

}  // namespace bf::runtime
