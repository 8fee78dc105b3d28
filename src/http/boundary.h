// Guard: the only place exceptions are caught (style.md "Error model: Boundary"). Every C
// callback libmicrohttpd calls into our code goes through it, so no exception (e.g.
// std::bad_alloc) ever unwinds through C frames; a failure becomes the given fallback.
#pragma once

#include <utility>

namespace kms::http {

template <typename Fallback, typename Fn>
auto Guard(Fallback fallback, Fn&& fn) noexcept -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    return fallback;
  }
}

}  // namespace kms::http
