// RateLimiter: a token bucket per client address for the Ua interface (HTTP 429). Memory
// is bounded: at most max_clients buckets; when full, buckets that have refilled completely
// (idle clients) are dropped first, then all (the limit restarts, erring towards allowing).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace kms::http {

class RateLimiter {
 public:
  RateLimiter(double per_second, double burst, size_t max_clients)
      : rate_(per_second), burst_(burst), max_clients_(max_clients) {}
  // Allow: takes one token for `client` at `now`; false when the bucket is empty.
  // A rate of 0 disables the limit.
  bool Allow(const std::string& client, std::chrono::steady_clock::time_point now);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  double rate_;
  double burst_;
  size_t max_clients_;
};

}  // namespace kms::http
