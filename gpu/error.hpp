// Errors of gpu/: a Result like core/result.hpp, with codes for what a device can do wrong.
// Nothing in gpu/ throws across its API; CUDA, cuBLASLt and cuDNN failures arrive here with the
// call, file:line and the shapes involved (gpu/check.hpp).
#pragma once

#include <cassert>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>
#include <variant>

namespace bf::gpu {

enum class Errc {
  invalid_argument,  // a shape, size or parameter outside its documented domain
  no_device,         // no CUDA device is visible (or the driver is missing)
  out_of_memory,     // a device allocation or the arena ran out
  cuda,              // a CUDA runtime call failed
  cublas,            // a cuBLASLt call failed or found no algorithm
  cudnn,             // a cuDNN call failed or the graph is not supported by any engine
};

struct Error {
  Errc code;
  std::string message;  // names the call, where, the shapes, and what to do
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  [[nodiscard]] const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  [[nodiscard]] T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  [[nodiscard]] T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  [[nodiscard]] const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

// "[2, 8, 64]": the shape part of an error message.
inline std::string shape_string(std::initializer_list<std::size_t> dims) {
  std::string s = "[";
  bool first = true;
  for (const std::size_t d : dims) {
    if (!first) s += ", ";
    s += std::to_string(d);
    first = false;
  }
  return s + "]";
}

inline Error invalid(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

}  // namespace bf::gpu

// Propagate an error Status/Result from an expression inside a function returning Status/Result.
#define BF_GPU_TRY(expr)                                                  \
  do {                                                                    \
    auto bf_gpu_try_result_ = (expr);                                     \
    if (!bf_gpu_try_result_.ok()) return bf_gpu_try_result_.error();      \
  } while (0)
