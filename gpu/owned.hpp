// One handle of a CUDA library (a cuBLASLt or cuDNN handle, a descriptor, a stream), released by
// `destroy` with its owner; it moves, never copies. Replaces a hand-written move constructor, move
// assignment and destructor per handle type. The status `destroy` returns is dropped: a release
// that fails at teardown has no one to report to.
#pragma once

#include <utility>

namespace bf::gpu {

template <typename Handle, auto destroy>
class Owned {
 public:
  Owned() = default;
  explicit Owned(Handle raw) noexcept : raw_(raw) {}
  Owned(Owned&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  [[nodiscard]] Handle get() const noexcept { return raw_; }
  // Where a library's create function writes the new handle (releasing any held one first).
  [[nodiscard]] Handle* out() noexcept {
    reset();
    return &raw_;
  }
  void reset() noexcept {
    if (raw_ != nullptr) (void)destroy(raw_);
    raw_ = nullptr;
  }

 private:
  Handle raw_ = nullptr;
};

}  // namespace bf::gpu
