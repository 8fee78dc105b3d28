// The self-test failure hook (evaluator-checklist.md §2 item 2: "build hook or env in test
// builds only"). Compiled in only when CMake's KMS_SELF_TEST_HOOKS option defines the macro
// (ON in the dev, clang, asan, tsan and coverage presets; OFF by default and in the release
// preset). Kept in a file of its own with no project dependency so that
// tests/unit/daemon/self_test_hook_check.sh can compile it exactly as a release build does
// and show that the environment variable's name is not even in the object code.
#pragma once

#include <string>

namespace kms::daemon {

// SelfTestHooksCompiledIn: whether InjectedSelfTestFailure can ever return a name (decided
// where the hook is compiled, not where this header is included).
bool SelfTestHooksCompiledIn();

// InjectedSelfTestFailure: with the hooks compiled in, the value of KMS_SELF_TEST_FAIL (a
// self-test name, see docs/operations.md "Self-tests"), or "" when unset; without them
// always "", whatever the environment holds.
std::string InjectedSelfTestFailure();

}  // namespace kms::daemon
