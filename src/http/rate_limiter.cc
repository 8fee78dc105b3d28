#include "src/http/rate_limiter.h"

#include <algorithm>

namespace kms::http {

void RateLimiter::Refill(Bucket* b, TimePoint now) const {
  if (now > b->last) {
    double dt = std::chrono::duration<double>(now - b->last).count();
    b->tokens = std::min(options_.burst, b->tokens + dt * options_.rate_per_s);
    b->last = now;
  }
}

bool RateLimiter::EvictIdle(TimePoint now) {
  size_t before = buckets_.size();
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Refill(&it->second, now);
    if (it->second.tokens >= options_.burst) {
      it = buckets_.erase(it);  // a full bucket carries no state worth keeping
    } else {
      ++it;
    }
  }
  return buckets_.size() < before;
}

bool RateLimiter::Allow(std::string_view client, TimePoint now) {
  if (options_.rate_per_s <= 0) {
    return true;
  }
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(client));
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_clients && !EvictIdle(now)) {
      return false;
    }
    it = buckets_.emplace(std::string(client), Bucket{options_.burst, now}).first;
  }
  Bucket& b = it->second;
  Refill(&b, now);
  if (b.tokens < 1.0) {
    return false;
  }
  b.tokens -= 1.0;
  return true;
}

size_t RateLimiter::tracked_clients() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace kms::http
