// Result<T>: a value or a non-OK Status (Abseil StatusOr, without the runtime). A Result
// never holds an OK status; constructing one from Status::Ok() is a programming error.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "src/base/check.h"
#include "src/base/status.h"

namespace kms {

template <typename T>
class [[nodiscard]] Result {
 public:
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "Result<Status> is meaningless");

  Result(const T& value) : value_(value) {}                 // NOLINT(google-explicit-constructor)
  Result(T&& value) : value_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {      // NOLINT(google-explicit-constructor)
    KMS_CHECK(!status_.ok());
  }
  template <typename U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, Status> &&
             !std::is_same_v<std::decay_t<U>, Result<T>>)
  Result(U&& value) : value_(std::forward<U>(value)) {}     // NOLINT(google-explicit-constructor)

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // value(): the held value; calling it on an error Result is a programming error.
  T& value() & {
    KMS_CHECK(ok());
    return *value_;
  }
  const T& value() const& {
    KMS_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    KMS_CHECK(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;  // OK iff value_ is set
  std::optional<T> value_;
};

// Lets KMS_RETURN_IF_ERROR accept a Result.
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

}  // namespace kms

#define KMS_INTERNAL_CONCAT2(a, b) a##b
#define KMS_INTERNAL_CONCAT(a, b) KMS_INTERNAL_CONCAT2(a, b)

// KMS_ASSIGN_OR_RETURN(lhs, expr): evaluates expr (a Result<T>); on error returns its Status,
// otherwise assigns (or declares, e.g. `auto x`) lhs from the moved value.
#define KMS_ASSIGN_OR_RETURN(lhs, expr) \
  KMS_INTERNAL_ASSIGN_OR_RETURN(KMS_INTERNAL_CONCAT(kms_r_, __LINE__), lhs, expr)
#define KMS_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) {                                    \
    return tmp.status();                              \
  }                                                   \
  lhs = std::move(tmp).value()
