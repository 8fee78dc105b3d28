#include "src/base/check.h"

#include <cstdio>

namespace kms::internal {

void CheckFailed(const char* file, int line, const char* expr) noexcept {
  // Only the source location and the expression text: never data.
  std::fprintf(stderr, "KMS_CHECK failed at %s:%d: %s\n", file, line, expr);
  std::fflush(stderr);
  __builtin_trap();
}

}  // namespace kms::internal

// Fuzzing builds replace randomness with a deterministic source and may skip checks; they
// must never be release builds (style.md anti-pattern 11).
#if defined(KMS_FUZZING_UNSAFE) && defined(NDEBUG)
#error "KMS_FUZZING_UNSAFE must not be combined with a release (NDEBUG) build"
#endif
