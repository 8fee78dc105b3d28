#include "src/core/request_counter.h"

#include <chrono>

namespace kms::core {

uint32_t RequestCounter::Count(int64_t user_id, UnixTime now) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch())
                         .count();
  const int64_t minute = ms / 60'000;
  const int64_t into = ms % 60'000;
  std::lock_guard<std::mutex> lock(mu_);
  if (users_.size() >= max_users_ && users_.count(user_id) == 0) {
    std::erase_if(users_, [&](const auto& kv) { return kv.second.minute < minute - 1; });
    if (users_.size() >= max_users_) {
      users_.clear();
    }
  }
  Window& w = users_[user_id];
  if (w.minute != minute) {
    w.previous = (w.minute == minute - 1) ? w.current : 0;
    w.current = 0;
    w.minute = minute;
  }
  // Sliding estimate: the share of the previous window still inside the last 60 s.
  const auto earlier = static_cast<uint32_t>(
      w.current + (static_cast<uint64_t>(w.previous) * static_cast<uint64_t>(60'000 - into)) /
                      60'000);
  ++w.current;
  return earlier;
}

}  // namespace kms::core
