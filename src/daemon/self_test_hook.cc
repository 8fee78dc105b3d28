// See self_test_hook.h. No project include besides the header: the release check compiles
// this file alone (tests/unit/daemon/self_test_hook_check.sh).
#include "src/daemon/self_test_hook.h"

#ifdef KMS_SELF_TEST_HOOKS
#include <cstdlib>
#endif

// A test hook in a release build would let anyone who controls kmsd's environment (a
// systemd drop-in, say) put it in its error state at will; like KMS_FUZZING_UNSAFE
// (src/base/check.cc), refuse the combination at compile time (style.md anti-pattern 11).
#if defined(KMS_SELF_TEST_HOOKS) && defined(NDEBUG)
#error "KMS_SELF_TEST_HOOKS must not be combined with a release (NDEBUG) build"
#endif

namespace kms::daemon {

bool SelfTestHooksCompiledIn() {
#ifdef KMS_SELF_TEST_HOOKS
  return true;
#else
  return false;
#endif
}

std::string InjectedSelfTestFailure() {
#ifdef KMS_SELF_TEST_HOOKS
  // Read once at start-up. getenv races only with setenv/putenv, which kmsd never calls.
  const char* v = std::getenv("KMS_SELF_TEST_FAIL");  // NOLINT(concurrency-mt-unsafe)
  return v == nullptr ? std::string() : std::string(v);
#else
  return {};
#endif
}

}  // namespace kms::daemon
