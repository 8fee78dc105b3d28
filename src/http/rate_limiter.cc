#include "src/http/rate_limiter.h"

#include <algorithm>
#include <iterator>

namespace kms::http {

bool RateLimiter::Allow(const std::string& client, std::chrono::steady_clock::time_point now) {
  if (rate_ <= 0) {
    return true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto refill = [&](Bucket& b) {
    const double dt = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst_, b.tokens + std::max(0.0, dt) * rate_);
    b.last = now;
  };
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) {
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        refill(b->second);
        b = b->second.tokens >= burst_ ? buckets_.erase(b) : std::next(b);
      }
      if (buckets_.size() >= max_clients_) {
        buckets_.clear();
      }
    }
    it = buckets_.emplace(client, Bucket{burst_, now}).first;
  }
  refill(it->second);
  if (it->second.tokens < 1.0) {
    return false;
  }
  it->second.tokens -= 1.0;
  return true;
}

}  // namespace kms::http
