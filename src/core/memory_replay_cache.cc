#include "src/core/memory_replay_cache.h"

#include <algorithm>
#include <cstring>

#include "src/base/check.h"

namespace kms::core {
namespace {

constexpr uint8_t kMikeyErrorInvalidTs = 1;  // RFC 3830 Table 6.12

Status Refused(const char* why) {
  // The same code and detail for every refusal: the client learns only "timestamp".
  return Status(StatusCode::kAuthFailed, why, kMikeyErrorInvalidTs);
}

}  // namespace

size_t MemoryReplayCache::DigestHash::operator()(const ports::ReplayDigest& d) const {
  // The digest is already a uniform hash; its first word is enough.
  size_t h = 0;
  std::memcpy(&h, d.data(), sizeof(h));
  return h;
}

MemoryReplayCache::MemoryReplayCache(ReplayCacheOptions options)
    : options_(options), per_shard_(0) {
  KMS_CHECK(options_.shards > 0 && options_.capacity >= options_.shards);
  per_shard_ = options_.capacity / options_.shards;
  shards_.reserve(options_.shards);
  for (size_t i = 0; i < options_.shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

void MemoryReplayCache::ExpireLocked(Shard& s, UnixTime now) {
  // Entries older than now - window can never be accepted again anyway.
  const UnixTime oldest_ok = now - options_.window;
  while (!s.by_time.empty() && s.by_time.begin()->first < oldest_ok) {
    s.seen.erase(s.by_time.begin()->second);
    s.by_time.erase(s.by_time.begin());
  }
}

Status MemoryReplayCache::CheckAndInsert(const ports::ReplayDigest& digest, UnixTime sent,
                                         UnixTime now) {
  // RFC 3830 §5.4: the timestamp must lie within the allowed clock skew.
  if (sent < now - options_.window || sent > now + options_.window) {
    return Refused("timestamp outside the replay window");
  }
  Shard& s = *shards_[DigestHash{}(digest) % shards_.size()];
  std::lock_guard<std::mutex> lock(s.mu);
  // Callers take `now` when a message arrives, so a message that took longer to get here
  // can carry an older `now` than one that already expired entries from this shard. Judge
  // every message by the latest `now` the shard has seen: what the shard forgot is then
  // always outside the window (otherwise a replay in that gap would be accepted).
  s.latest_now = std::max(s.latest_now, now);
  if (sent < s.latest_now - options_.window) {
    return Refused("timestamp outside the replay window");
  }
  ExpireLocked(s, s.latest_now);
  if (s.has_floor && sent <= s.floor) {
    return Refused("timestamp older than the replay cache remembers");
  }
  if (s.seen.count(digest) != 0) {
    return Refused("message replayed");
  }
  if (s.seen.size() >= per_shard_) {
    auto oldest = s.by_time.begin();
    s.floor = s.has_floor ? std::max(s.floor, oldest->first) : oldest->first;
    s.has_floor = true;
    s.seen.erase(oldest->second);
    s.by_time.erase(oldest);
    if (sent <= s.floor) {
      return Refused("timestamp older than the replay cache remembers");
    }
  }
  s.seen.emplace(digest, sent);
  s.by_time.emplace(sent, digest);
  return Status::Ok();
}

void MemoryReplayCache::RefuseSentUpTo(UnixTime floor) {
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    shard->floor = shard->has_floor ? std::max(shard->floor, floor) : floor;
    shard->has_floor = true;
  }
}

size_t MemoryReplayCache::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard<std::mutex> lock(s->mu);
    n += s->seen.size();
  }
  return n;
}

}  // namespace kms::core
