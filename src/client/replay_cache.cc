#include "src/client/replay_cache.h"

#include <algorithm>

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

bool ReplayCache::Contains(std::span<const uint8_t> mac, UnixTime now) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = seen_.find(std::vector<uint8_t>(mac.begin(), mac.end()));
  return it != seen_.end() && it->second >= now;
}

size_t ReplayCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_.size();
}

std::vector<ReplayEntry> ReplayCache::Export(UnixTime now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ReplayEntry> out;
  for (const auto& [mac, expiry] : seen_) {
    if (expiry >= now) out.push_back(ReplayEntry{mac, expiry});
  }
  return out;
}

Status ReplayCache::Import(std::span<const ReplayEntry> entries, UnixTime now) {
  for (const ReplayEntry& e : entries) {
    if (e.mac.empty() || e.mac.size() > kMaxMacBytes) {
      return InvalidArgumentError("replay cache entry with a MAC of " +
                                  std::to_string(e.mac.size()) + " bytes");
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(seen_, [now](const auto& e) { return e.second < now; });
  // CheckAndInsert only accepts messages whose T passed the early skew check, so a live
  // entry never expires later than now + 2 * skew.
  const UnixTime latest = now + 2 * skew_;
  for (const ReplayEntry& e : entries) {
    if (e.expiry < now) continue;  // spec §9.1: outside the window the early checks refuse it
    const UnixTime expiry = std::min(e.expiry, latest);
    auto [it, added] = seen_.try_emplace(e.mac, expiry);
    if (!added) {
      it->second = std::max(it->second, expiry);
    } else if (seen_.size() > max_entries_) {
      seen_.erase(it);
      return ResourceExhaustedError("replay cache full");
    }
  }
  return Status::Ok();
}

}  // namespace kms::client
