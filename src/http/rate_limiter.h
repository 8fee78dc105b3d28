// RateLimiter: per-client-IP token buckets for the Ua listener (architecture.md §7
// "Overload": 429 instead of unbounded latency). Memory is bounded by max_clients: when the
// table is full, buckets that have refilled completely (idle clients) are evicted; if none
// can be evicted the new client is refused, so a flood of source addresses cannot grow it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kms::http {

struct RateLimitOptions {
  double rate_per_s = 20;     // sustained requests per second per client; 0 disables
  double burst = 40;          // bucket size (>= 1)
  size_t max_clients = 65536; // tracked addresses
};

class RateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit RateLimiter(RateLimitOptions options) : options_(options) {}

  // Allow: takes one token from `client`'s bucket at time `now`; false means answer 429.
  bool Allow(std::string_view client, TimePoint now);

  size_t tracked_clients() const;

 private:
  struct Bucket {
    double tokens;
    TimePoint last;
  };
  void Refill(Bucket* b, TimePoint now) const;
  bool EvictIdle(TimePoint now);

  RateLimitOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace kms::http
