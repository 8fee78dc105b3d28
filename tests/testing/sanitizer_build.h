// Which sanitizer this test binary was built with, for tests whose subject the sanitizer's
// runtime changes (its own clones and ptrace, its shadow memory). GCC defines
// __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__; clang answers __has_feature.
#pragma once

namespace kms::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAsanBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAsanBuild = true;
#else
inline constexpr bool kAsanBuild = false;
#endif
#else
inline constexpr bool kAsanBuild = false;
#endif

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kTsanBuild = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kTsanBuild = true;
#else
inline constexpr bool kTsanBuild = false;
#endif
#else
inline constexpr bool kTsanBuild = false;
#endif

}  // namespace kms::testing
