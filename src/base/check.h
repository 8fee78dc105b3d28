// KMS_CHECK: invariants whose violation is a programming error. Aborts in every build
// (like BSSL_CHECK); never used for input validation, which returns a Status instead.
#pragma once

namespace kms::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr) noexcept;
}  // namespace kms::internal

#define KMS_CHECK(cond)                                          \
  do {                                                           \
    if (!(cond)) [[unlikely]] {                                  \
      ::kms::internal::CheckFailed(__FILE__, __LINE__, #cond);   \
    }                                                            \
  } while (0)
