#include "src/client/replay_cache.h"

namespace kms::client {

Status ReplayCache::CheckAndInsert(std::span<const uint8_t> mac, UnixTime message_time,
                                   UnixTime now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(seen_, [now](const auto& e) { return e.second < now; });
  std::vector<uint8_t> key(mac.begin(), mac.end());
  if (seen_.contains(key)) {
    return Status(StatusCode::kAlreadyExists, "TRANSFER_INIT replayed", 1);
  }
  if (seen_.size() >= max_entries_) {
    return ResourceExhaustedError("replay cache full");
  }
  seen_.emplace(std::move(key), message_time + skew_);
  return Status::Ok();
}

size_t ReplayCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_.size();
}

}  // namespace kms::client
