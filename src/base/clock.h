// Clock: the only source of "now" for code that checks timestamps (replay window,
// ticket validity). Production uses SystemClock; tests use FakeClock.
#pragma once

#include <atomic>
#include <chrono>

#include "src/base/ntp_time.h"

namespace kms {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixTime Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  UnixTime Now() const override {
    return std::chrono::time_point_cast<std::chrono::nanoseconds>(
        std::chrono::system_clock::now());
  }
};

// FakeClock: a settable clock for tests; safe to read from several threads.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(UnixTime start) : ns_(start.time_since_epoch().count()) {}
  UnixTime Now() const override { return UnixTime(std::chrono::nanoseconds(ns_.load())); }
  void Set(UnixTime t) { ns_.store(t.time_since_epoch().count()); }
  void Advance(std::chrono::nanoseconds d) { ns_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> ns_;
};

}  // namespace kms
