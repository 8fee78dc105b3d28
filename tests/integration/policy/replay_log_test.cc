// Replay marks (policy/replay_log.h, evaluator checklist item 18): the audit writer stores
// each row's mark in the row's own commit, prunes marks past the retention, and the policy
// store hands the recent ones back for kmsd to reload its replay cache after a restart.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "policy/admin.h"
#include "policy/audit_verify.h"
#include "policy/audit_writer.h"
#include "policy/sqlite_policy_store.h"
#include "tests/integration/policy/fake_audit_vault.h"
#include "tests/integration/policy/policy_test_support.h"

namespace kms::policy {
namespace {

using testing::AuditRow;
using testing::FakeAuditVault;
using testing::RawQuery;
using testing::TempDir;

UnixTime Now() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

ports::ReplayMark Mark(uint8_t fill, UnixTime sent) {
  ports::ReplayMark m;
  m.digest.fill(fill);
  m.sent = sent;
  return m;
}

TEST(ReplayLogTest, MarksAreStoredWithTheirRowsPrunedByAgeAndReloaded) {
  TempDir dir;
  const std::string db = dir.File("replay.db");
  ASSERT_TRUE(PolicyAdmin::Open(db, "setup").ok());  // creates and migrates
  FakeAuditVault vault;
  AuditWriterOptions o;
  o.replay_retention = std::chrono::seconds(600);
  const UnixTime now = Now();
  {
    auto w = AuditWriter::Open(db, vault, o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    // An hour-old mark is pruned (the first commit prunes, then at most once a second); the
    // recent ones stay.
    ports::AuditRecord old_row = AuditRow(0, 0);
    old_row.replay = Mark(0x11, now - std::chrono::hours(1));
    ASSERT_TRUE((*w)->Append(old_row).ok());
    ports::AuditRecord a = AuditRow(0, 1);
    a.replay = Mark(0xaa, now - std::chrono::seconds(10));
    ports::AuditRecord b = AuditRow(0, 2);
    b.replay = Mark(0xbb, now);
    ports::AuditRecord none = AuditRow(0, 3);  // an unauthenticated message: no mark
    ASSERT_TRUE((*w)->Append(none).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a later prune keeps them
    ASSERT_TRUE((*w)->Append(a).ok());
    ASSERT_TRUE((*w)->Append(b).ok());
  }
  EXPECT_EQ(RawQuery(db, "SELECT count(*) FROM replay_log")[0][0], "2");
  // The audit chain is unaffected by the marks (they are not part of a row's hash).
  auto d = Db::Open(db);
  ASSERT_TRUE(d.ok());
  auto report = VerifyAudit(*d, vault, {});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact());
  EXPECT_EQ(report->rows, 4);

  auto store = SqlitePolicyStore::Open(db);
  ASSERT_TRUE(store.ok());
  auto recent = (*store)->RecentReplayMarks(now - std::chrono::seconds(5));
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  ASSERT_EQ(recent->size(), 1u) << "only marks sent at or after `since`";
  EXPECT_EQ((*recent)[0].digest, Mark(0xbb, now).digest);
  EXPECT_EQ((*recent)[0].sent, now);
  recent = (*store)->RecentReplayMarks(now - std::chrono::seconds(300));
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0].digest, Mark(0xaa, now).digest) << "oldest first";
}

TEST(ReplayLogTest, WithoutRetentionNothingIsPruned) {
  TempDir dir;
  const std::string db = dir.File("keep.db");
  ASSERT_TRUE(PolicyAdmin::Open(db, "setup").ok());
  FakeAuditVault vault;
  {
    auto w = AuditWriter::Open(db, vault, AuditWriterOptions{});
    ASSERT_TRUE(w.ok());
    ports::AuditRecord r = AuditRow(1, 0);
    r.replay = Mark(0x22, Now() - std::chrono::hours(24));
    ASSERT_TRUE((*w)->Append(r).ok());
    ASSERT_TRUE((*w)->Append(AuditRow(1, 1)).ok());
  }
  EXPECT_EQ(RawQuery(db, "SELECT count(*) FROM replay_log")[0][0], "1");
}

}  // namespace
}  // namespace kms::policy
