// Which sanitizer this test binary was built with, for tests whose subject the sanitizer's
// runtime changes (its own clones and ptrace, its shadow memory). GCC defines
// __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__; clang answers __has_feature.
#pragma once

#if defined(__has_feature)
#define KMS_TEST_HAS_FEATURE(x) __has_feature(x)
#else
#define KMS_TEST_HAS_FEATURE(x) 0
#endif

namespace kms::testing {

#if defined(__SANITIZE_ADDRESS__) || KMS_TEST_HAS_FEATURE(address_sanitizer)
inline constexpr bool kAsanBuild = true;
#else
inline constexpr bool kAsanBuild = false;
#endif

#if defined(__SANITIZE_THREAD__) || KMS_TEST_HAS_FEATURE(thread_sanitizer)
inline constexpr bool kTsanBuild = true;
#else
inline constexpr bool kTsanBuild = false;
#endif

}  // namespace kms::testing
