#include "src/core/memory_replay_cache.h"

#include <gtest/gtest.h>

#include <thread>

namespace kms::core {
namespace {

using std::chrono::seconds;

const UnixTime kNow = UnixTime(seconds(1700000000));

ports::ReplayDigest Digest(uint64_t n) {
  ports::ReplayDigest d{};
  for (int i = 0; i < 8; ++i) {
    d[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
    d[static_cast<size_t>(31 - i)] = static_cast<uint8_t>(n >> (8 * i));
  }
  return d;
}

void ExpectRefused(const Status& s) {
  EXPECT_EQ(s.code(), StatusCode::kAuthFailed);
  ASSERT_TRUE(s.detail().has_value());
  EXPECT_EQ(*s.detail(), 1);  // MIKEY error 1: invalid timestamp
}

TEST(ReplayCacheTest, FreshThenReplayed) {
  MemoryReplayCache cache({});
  EXPECT_TRUE(cache.CheckAndInsert(Digest(1), kNow, kNow).ok());
  ExpectRefused(cache.CheckAndInsert(Digest(1), kNow, kNow + seconds(10)));
  EXPECT_TRUE(cache.CheckAndInsert(Digest(2), kNow, kNow).ok());
  EXPECT_EQ(cache.size(), 2u);
}

// Lost state (spec §9.1; kmsd after a restore from a backup): everything sent up to the
// floor is refused although never seen, in every shard; later messages are judged as before,
// and an eviction cannot lower the floor again.
TEST(ReplayCacheTest, RefuseSentUpToRefusesTheUnseenPastOnly) {
  MemoryReplayCache cache({.window = seconds(300), .capacity = 8, .shards = 4});
  cache.RefuseSentUpTo(kNow);
  for (uint64_t i = 0; i < 16; ++i) {  // spread over the shards
    ExpectRefused(cache.CheckAndInsert(Digest(i), kNow - seconds(1), kNow + seconds(1)));
    ExpectRefused(cache.CheckAndInsert(Digest(100 + i), kNow, kNow + seconds(1)));
  }
  EXPECT_EQ(cache.size(), 0u);
  for (uint64_t i = 0; i < 16; ++i) {  // overfills the shards: evictions
    EXPECT_TRUE(
        cache.CheckAndInsert(Digest(200 + i), kNow + seconds(1) + seconds(i), kNow + seconds(20))
            .ok());
  }
  ExpectRefused(cache.CheckAndInsert(Digest(300), kNow - seconds(2), kNow + seconds(20)));
  EXPECT_TRUE(cache.CheckAndInsert(Digest(301), kNow + seconds(30), kNow + seconds(30)).ok());
}

TEST(ReplayCacheTest, TimestampWindowBothWays) {
  MemoryReplayCache cache({.window = seconds(300), .capacity = 64, .shards = 4});
  EXPECT_TRUE(cache.CheckAndInsert(Digest(1), kNow - seconds(300), kNow).ok());
  EXPECT_TRUE(cache.CheckAndInsert(Digest(2), kNow + seconds(300), kNow).ok());
  ExpectRefused(cache.CheckAndInsert(Digest(3), kNow - seconds(301), kNow));
  ExpectRefused(cache.CheckAndInsert(Digest(4), kNow + seconds(301), kNow));
}

TEST(ReplayCacheTest, ExpiredEntriesAreDropped) {
  MemoryReplayCache cache({.window = seconds(300), .capacity = 64, .shards = 1});
  EXPECT_TRUE(cache.CheckAndInsert(Digest(1), kNow, kNow).ok());
  // Much later the old entry expires (and its timestamp is outside the window anyway).
  EXPECT_TRUE(cache.CheckAndInsert(Digest(2), kNow + seconds(1000), kNow + seconds(1000)).ok());
  EXPECT_EQ(cache.size(), 1u);
  ExpectRefused(cache.CheckAndInsert(Digest(1), kNow, kNow + seconds(1000)));
}

// A flood of distinct messages keeps memory bounded and never lets an evicted message be
// replayed: eviction raises the floor instead.
TEST(ReplayCacheTest, FloodStaysBoundedAndNeverForgetsIntoAcceptance) {
  MemoryReplayCache cache({.window = seconds(300), .capacity = 128, .shards = 4});
  for (uint64_t i = 0; i < 10'000; ++i) {
    const UnixTime sent = kNow - seconds(299) + std::chrono::milliseconds(i);
    EXPECT_TRUE(cache.CheckAndInsert(Digest(i), sent, kNow).ok()) << i;
    EXPECT_LE(cache.size(), 128u);
  }
  // Every one of the first messages (long evicted) is refused when replayed.
  for (uint64_t i = 0; i < 1000; ++i) {
    const UnixTime sent = kNow - seconds(299) + std::chrono::milliseconds(i);
    ExpectRefused(cache.CheckAndInsert(Digest(i), sent, kNow));
  }
  // The newest ones are still remembered exactly.
  const UnixTime last = kNow - seconds(299) + std::chrono::milliseconds(9'999);
  ExpectRefused(cache.CheckAndInsert(Digest(9'999), last, kNow));
  // And a genuinely new message is still accepted.
  EXPECT_TRUE(cache.CheckAndInsert(Digest(20'000), kNow, kNow).ok());
}

// Two requests race: the later-arriving one (now = t1) expires an entry from the shard
// before the earlier-arriving one (now = t0 < t1) is checked. The earlier one must not be
// accepted as fresh just because its own `now` still puts the forgotten entry in the window.
TEST(ReplayCacheTest, AnOlderNowCannotReplayWhatANewerNowExpired) {
  const auto window = seconds(300);
  MemoryReplayCache cache({.window = window, .capacity = 64, .shards = 1});
  const UnixTime sent = kNow;
  ASSERT_TRUE(cache.CheckAndInsert(Digest(1), sent, sent).ok());
  // Another message, checked with a `now` just past the first one's window: expires it.
  ASSERT_TRUE(cache.CheckAndInsert(Digest(2), sent + window, sent + window + seconds(1)).ok());
  // The replay of the first, with a `now` taken a moment earlier (still inside its window).
  ExpectRefused(cache.CheckAndInsert(Digest(1), sent, sent + window - seconds(1)));
}

TEST(ReplayCacheTest, ConcurrentInsertsOfTheSameDigestAcceptExactlyOne) {
  MemoryReplayCache cache({});
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (uint64_t i = 0; i < 500; ++i) {
        if (cache.CheckAndInsert(Digest(i), kNow, kNow).ok()) {
          accepted.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(accepted.load(), 500);
  EXPECT_EQ(cache.size(), 500u);
}

}  // namespace
}  // namespace kms::core
