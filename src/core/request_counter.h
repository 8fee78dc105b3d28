// RequestCounter: approximate per-user requests in the last minute, for the policy's rate
// limit (spec §8.2 item 6). Two fixed one-minute windows weighted into a sliding estimate;
// memory bounded by max_users (when full, users idle for two windows are dropped first,
// then everyone: the limit then restarts from zero, which only errs towards allowing).
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "src/base/ntp_time.h"

namespace kms::core {

class RequestCounter {
 public:
  explicit RequestCounter(size_t max_users) : max_users_(max_users) {}
  // Count: records one request of user_id at now; returns the estimated number of earlier
  // requests by that user in the last 60 seconds.
  uint32_t Count(int64_t user_id, UnixTime now);

 private:
  struct Window {
    int64_t minute = 0;
    uint32_t current = 0;
    uint32_t previous = 0;
  };
  std::mutex mu_;
  std::unordered_map<int64_t, Window> users_;
  size_t max_users_;
};

}  // namespace kms::core
