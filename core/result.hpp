// Result<T>: an expected-style value-or-error for core/. Core never throws for operating errors;
// callers see a code they can branch on and a message a person can act on.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace bf::core {

enum class Errc {
  invalid_membership,   // n, f or the quorum rule do not describe a Byzantine-tolerant cluster
  worker_out_of_range,  // a worker index is not a member
  too_many_workers,     // more workers than limits::workers_max
  rule_not_admissible,  // a fusion rule needs more workers than (n, f) provides
  empty_input,          // a fusion was asked to combine nothing
  size_mismatch,        // spans that must have equal lengths do not
  invalid_argument,     // a parameter outside its documented domain
};

struct Error {
  Errc code;
  std::string message;  // says what was wrong and what to do
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor): like expected
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
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  [[nodiscard]] const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace bf::core
