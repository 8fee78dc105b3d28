// MemoryReplayCache: a bounded, time-windowed, sharded replay cache (spec §9.1, §11 A21).
//
// A message is fresh when its timestamp lies within ±window of now and its digest has not
// been seen. Memory is bounded: each shard holds at most capacity/shards entries. When a
// shard is full it evicts its oldest entry and raises the shard's floor to that entry's
// timestamp; messages hashed to that shard with a timestamp at or below the floor are then
// refused. A flood of distinct messages can therefore never make the KMS forget a message
// and accept its replay: it only narrows the window (RFC 3830 §5.4 asks for exactly this
// trade: refuse what cannot be remembered).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/core/ports/replay_cache.h"

namespace kms::core {

struct ReplayCacheOptions {
  std::chrono::seconds window{300};  // ±5 minutes (RFC 3830 §5.4 example; issue 6)
  size_t capacity = 1u << 20;        // ~1M entries, ~100 MiB worst case
  size_t shards = 16;
};

class MemoryReplayCache final : public ports::ReplayCache {
 public:
  explicit MemoryReplayCache(ReplayCacheOptions options);
  Status CheckAndInsert(const ports::ReplayDigest& digest, UnixTime sent, UnixTime now) override;
  size_t size() const override;
  // RefuseSentUpTo: from now on every message sent at or before `floor` is refused, seen or
  // not: what the cache should remember of that time is unknown (spec §9.1, "if state is
  // lost, reject everything until one skew interval has passed"; kmsd: a database restored
  // from a backup, ports::kReplayStateLost). Later messages are judged as before.
  void RefuseSentUpTo(UnixTime floor);

 private:
  struct DigestHash {
    size_t operator()(const ports::ReplayDigest& d) const;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<ports::ReplayDigest, UnixTime, DigestHash> seen;
    std::set<std::pair<UnixTime, ports::ReplayDigest>> by_time;
    UnixTime floor{};  // timestamps <= floor are refused once something was evicted
    bool has_floor = false;
    UnixTime latest_now{};  // the latest `now` of any call on this shard (never goes back)
  };

  void ExpireLocked(Shard& s, UnixTime now);

  ReplayCacheOptions options_;
  size_t per_shard_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace kms::core
