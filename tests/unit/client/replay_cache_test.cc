// ReplayCache persistence (Export / Import), used by kms-client to keep a responder's
// replay cache across runs (spec §9.1): entries round-trip, expired ones are dropped on
// both sides, and what Import takes is bounded.
#include "src/client/replay_cache.h"

#include <gtest/gtest.h>

#include "tests/unit/client/client_test_util.h"

namespace kms::client {
namespace {

using std::chrono::seconds;
using testing::At;

TEST(ReplayCachePersistenceTest, ExportImportRoundTripKeepsRefusingReplays) {
  ReplayCache first(seconds(300));
  const std::vector<uint8_t> mac1(20, 1), mac2(32, 2);
  ASSERT_TRUE(first.CheckAndInsert(mac1, At(0), At(0)).ok());
  ASSERT_TRUE(first.CheckAndInsert(mac2, At(100), At(100)).ok());
  const std::vector<ReplayEntry> saved = first.Export(At(100));
  ASSERT_EQ(saved.size(), 2u);

  ReplayCache second(seconds(300));  // a later process
  ASSERT_TRUE(second.Import(saved, At(120)).ok());
  EXPECT_EQ(second.size(), 2u);
  EXPECT_TRUE(second.Contains(mac1, At(120)));
  const Status again = second.CheckAndInsert(mac1, At(0), At(120));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.detail(), std::optional<uint8_t>(1));  // MIKEY error Invalid TS
  // Export of the imported cache gives back the same entries.
  const std::vector<ReplayEntry> back = second.Export(At(120));
  ASSERT_EQ(back.size(), 2u);
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].mac, saved[i].mac);
    EXPECT_EQ(back[i].expiry, saved[i].expiry);
  }
}

TEST(ReplayCachePersistenceTest, ExpiredEntriesDroppedOnExportAndImport) {
  ReplayCache c(seconds(300));
  const std::vector<uint8_t> old_mac(20, 1), new_mac(20, 2);
  ASSERT_TRUE(c.CheckAndInsert(old_mac, At(0), At(0)).ok());      // expires At(300)
  ASSERT_TRUE(c.CheckAndInsert(new_mac, At(200), At(200)).ok());  // expires At(500)
  EXPECT_EQ(c.Export(At(300)).size(), 2u);  // still live at its expiry instant
  const std::vector<ReplayEntry> live = c.Export(At(301));
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].mac, new_mac);
  EXPECT_FALSE(c.Contains(old_mac, At(301)));

  ReplayCache fresh(seconds(300));
  const std::vector<ReplayEntry> both = {{old_mac, At(300)}, {new_mac, At(500)}};
  ASSERT_TRUE(fresh.Import(both, At(301)).ok());
  EXPECT_EQ(fresh.size(), 1u);
  EXPECT_FALSE(fresh.Contains(old_mac, At(301)));
  EXPECT_TRUE(fresh.Contains(new_mac, At(301)));
}

TEST(ReplayCachePersistenceTest, ImportBoundsWhatItTakes) {
  ReplayCache c(seconds(300), 2);
  // A far-future expiry (a clock that went back, or an edited file) is cut to now + 2 skew.
  ASSERT_TRUE(
      c.Import(std::vector<ReplayEntry>{{std::vector<uint8_t>(20, 1), At(100000)}}, At(0)).ok());
  ASSERT_EQ(c.Export(At(0)).size(), 1u);
  EXPECT_EQ(c.Export(At(0))[0].expiry, At(600));
  EXPECT_TRUE(c.Export(At(601)).empty());
  // A duplicate keeps the later expiry and takes no second slot.
  ASSERT_TRUE(
      c.Import(std::vector<ReplayEntry>{{std::vector<uint8_t>(20, 1), At(50)}}, At(0)).ok());
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.Export(At(0))[0].expiry, At(600));
  // Empty or over-long MACs are refused and nothing of that import is added.
  for (const size_t n : {size_t{0}, ReplayCache::kMaxMacBytes + 1}) {
    const std::vector<ReplayEntry> bad = {{std::vector<uint8_t>(20, 7), At(10)},
                                          {std::vector<uint8_t>(n, 3), At(10)}};
    EXPECT_EQ(c.Import(bad, At(0)).code(), StatusCode::kInvalidArgument) << n;
    EXPECT_EQ(c.size(), 1u);
  }
  // More live entries than the cache holds: refused (fail closed), like CheckAndInsert.
  const std::vector<ReplayEntry> many = {{std::vector<uint8_t>(20, 2), At(10)},
                                         {std::vector<uint8_t>(20, 3), At(10)}};
  EXPECT_EQ(c.Import(many, At(0)).code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace kms::client
