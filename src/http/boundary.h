// boundary.h: the only place in kms::http where C++ exceptions are caught (style.md "Error
// model"). Every libmicrohttpd callback runs its body through CallGuarded so that nothing can
// unwind through a C frame; a throw (e.g. std::bad_alloc) becomes the callback's fallback
// value, which for the access handler means "answer 500" or "close the connection".
// TODO(lead): move to src/base/boundary.h once base grows one (style.md names that file).
#pragma once

#include <exception>
#include <utility>

namespace kms::http {

// CallGuarded: returns fn(); if fn throws anything, returns `fallback` instead. noexcept, so
// it is safe to call from a C callback.
template <typename R, typename Fn>
R CallGuarded(R fallback, Fn&& fn) noexcept {
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    return fallback;
  }
}

// CallGuardedVoid: runs fn(); swallows any exception (for void callbacks such as
// "request completed", where there is nothing left to answer).
template <typename Fn>
void CallGuardedVoid(Fn&& fn) noexcept {
  try {
    std::forward<Fn>(fn)();
  } catch (...) {
  }
}

}  // namespace kms::http
