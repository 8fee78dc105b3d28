// The time-based checkpoint seals rows that another process appended (review finding 3):
// kmsctl's admin rows (policy set, key destroy, user import) used to stay unsealed while
// kmsd was idle, because the writer's timer only fired for rows it had committed itself.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "policy/admin.h"
#include "policy/audit_verify.h"
#include "policy/audit_writer.h"
#include "src/base/encoding.h"
#include "tests/integration/policy/fake_audit_vault.h"
#include "tests/integration/policy/policy_test_support.h"

namespace kms::policy {
namespace {

using testing::FakeAuditVault;
using testing::TempDir;

AuditVerifyReport VerifyFile(const std::string& db, FakeAuditVault& vault,
                             const AuditVerifyOptions& options = {}) {
  auto d = Db::Open(db);
  EXPECT_TRUE(d.ok());
  if (!d.ok()) return {};
  auto r = VerifyAudit(*d, vault, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : AuditVerifyReport{};
}

// WaitSealed: polls until no row is unsealed, for at most `limit`.
bool WaitSealed(const std::string& db, FakeAuditVault& vault, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (VerifyFile(db, vault).fully_sealed()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(AuditSealTest, IdleWriterSealsAdminRowsOfAnotherConnection) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  FakeAuditVault vault;
  const std::string db = dir.File("idle.db");
  auto admin = PolicyAdmin::Open(db, "ops");
  ASSERT_TRUE(admin.ok());
  AuditWriterOptions o;
  o.checkpoint_rows = 1000;
  o.checkpoint_interval = std::chrono::seconds(1);
  auto w = AuditWriter::Open(db, vault, o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  // Three admin changes, none through the writer.
  ASSERT_TRUE(admin->AddGroup("sip:ops@example.org", "operators").ok());
  ASSERT_TRUE(admin->AddUser("alice", "alice@ims", {"sip:alice@example.org"}).ok());
  ASSERT_TRUE(admin->AddGroup("sip:team@example.org", "team").ok());
  const AuditVerifyReport before = VerifyFile(db, vault);
  EXPECT_EQ(before.rows, 3);
  // Sealed within the interval plus the writer's 1-s idle tick (and scheduling slack).
  ASSERT_TRUE(WaitSealed(db, vault, std::chrono::seconds(5)));
  const AuditVerifyReport after = VerifyFile(db, vault);
  EXPECT_TRUE(after.intact());
  EXPECT_EQ(after.unsealed_rows, 0);
  EXPECT_EQ(after.checkpoints, 1);
  // Nothing new: the timer does not write empty checkpoints.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(VerifyFile(db, vault).checkpoints, 1);
  // A later admin row is sealed by a second checkpoint.
  ASSERT_TRUE(admin->AddUser("bob", "bob@ims", {"sip:bob@example.org"}).ok());
  ASSERT_TRUE(WaitSealed(db, vault, std::chrono::seconds(5)));
  EXPECT_EQ(VerifyFile(db, vault).checkpoints, 2);
}

// WriteAndSeal: appends `rows` through a writer that seals every 3 of its rows (no timer)
// and once more in its destructor; returns what its on_checkpoint observer reported.
std::vector<SealedCheckpoint> WriteAndSeal(const std::string& db, FakeAuditVault& vault,
                                           const std::vector<ports::AuditRecord>& rows) {
  std::mutex mu;  // the observer runs on the writer thread and in the destructor
  std::vector<SealedCheckpoint> seen;
  AuditWriterOptions o;
  o.checkpoint_rows = 3;
  o.checkpoint_interval = std::chrono::seconds(3600);
  o.on_checkpoint = [&](const SealedCheckpoint& c) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(c);
  };
  {
    auto w = AuditWriter::Open(db, vault, o);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    for (size_t i = 0; w.ok() && i < rows.size(); ++i) {
      EXPECT_TRUE((*w)->Append(rows[i]).ok());
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  return seen;
}

std::vector<ports::AuditRecord> FourRows() {
  return {testing::AuditRow(0, 1), testing::AuditRow(0, 2), testing::AuditRow(0, 3),
          testing::AuditRow(0, 4)};
}

// AnchorOptions: the anchors `kmsctl audit verify --expect-seq --expect-checkpoint
// --expect-checkpoint-hash` builds from one event=audit_checkpoint line.
AuditVerifyOptions AnchorOptions(const SealedCheckpoint& c) {
  AuditVerifyOptions o;
  o.min_rows = c.last_row;
  o.min_checkpoints = c.checkpoint;
  o.checkpoint_row_hash = c.row_hash;
  return o;
}

// The observer kmsd logs from: it fires once per sealed checkpoint, the row-count one and
// the final one of the destructor included, with values verify accepts as anchors, and a
// hash that is the stored chain hash of the sealed row.
TEST(AuditSealTest, CheckpointObserverGivesAnchorsVerifyAccepts) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  FakeAuditVault vault;
  const std::string db = dir.File("anchor.db");
  ASSERT_TRUE(PolicyAdmin::Open(db, "setup").ok());  // migrates
  // Sealed after row 3, and row 4 at the end.
  const std::vector<SealedCheckpoint> seen = WriteAndSeal(db, vault, FourRows());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].checkpoint, 1);
  EXPECT_EQ(seen[0].last_row, 3);
  EXPECT_EQ(seen[1].checkpoint, 2);
  EXPECT_EQ(seen[1].last_row, 4);
  EXPECT_GT(seen[1].time_ns, 0);
  const auto stored =
      testing::RawQuery(db, "SELECT seq, lower(hex(hash)) FROM audit_log ORDER BY seq");
  ASSERT_EQ(stored.size(), 4u);
  for (const SealedCheckpoint& c : seen) {
    EXPECT_EQ(HexEncode(c.row_hash), stored[static_cast<size_t>(c.last_row - 1)][1])
        << c.checkpoint;
    const AuditVerifyReport ok = VerifyFile(db, vault, AnchorOptions(c));
    EXPECT_TRUE(ok.intact()) << c.checkpoint << ": " << ok.detail;
  }
  EXPECT_TRUE(VerifyFile(db, vault, AnchorOptions(seen[1])).fully_sealed());
  // A wrong hash, or checkpoint 1's hash given for checkpoint 2: refused.
  AuditVerifyOptions wrong = AnchorOptions(seen[1]);
  (*wrong.checkpoint_row_hash)[0] ^= 1;
  AuditVerifyReport bad = VerifyFile(db, vault, wrong);
  EXPECT_EQ(bad.problem, AuditProblem::kAnchorMismatch) << bad.detail;
  EXPECT_EQ(bad.bad_checkpoint, 2);
  EXPECT_EQ(bad.first_bad_row, 4);
  wrong.checkpoint_row_hash = seen[0].row_hash;
  EXPECT_EQ(VerifyFile(db, vault, wrong).problem, AuditProblem::kAnchorMismatch);
  // A hash without the checkpoint's number is a usage error, not a verdict.
  AuditVerifyOptions no_number;
  no_number.checkpoint_row_hash = seen[1].row_hash;
  auto d = Db::Open(db);
  ASSERT_TRUE(d.ok());
  auto r = VerifyAudit(*d, vault, no_number);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// Why the hash: someone with write access to the file cuts the trail back to checkpoint 1,
// appends rows of his own (the chain needs no key) and lets the running writer seal them.
// The trail then holds row 4 and checkpoint 2 again, so the numbers still pass; the hash
// logged for the original checkpoint 2 does not.
TEST(AuditSealTest, HashAnchorCatchesATrailResealedUnderTheSameNumbers) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  FakeAuditVault vault;
  const std::string db = dir.File("reseal.db");
  ASSERT_TRUE(PolicyAdmin::Open(db, "setup").ok());
  const std::vector<SealedCheckpoint> original = WriteAndSeal(db, vault, FourRows());
  ASSERT_EQ(original.size(), 2u);
  const SealedCheckpoint anchor = original[1];
  ASSERT_EQ(testing::RawExec(db,
                             "DROP TRIGGER audit_log_no_delete; "
                             "DROP TRIGGER audit_checkpoint_no_delete; "
                             "DELETE FROM audit_checkpoint WHERE seq = 2; "
                             "DELETE FROM audit_log WHERE seq = 4;"),
            SQLITE_OK);
  // Not the original row 4; sealed again as checkpoint 2.
  const std::vector<SealedCheckpoint> resealed = WriteAndSeal(db, vault, {testing::AuditRow(9, 4)});
  ASSERT_EQ(resealed.size(), 1u);
  EXPECT_EQ(resealed[0].checkpoint, anchor.checkpoint);
  EXPECT_EQ(resealed[0].last_row, anchor.last_row);
  AuditVerifyOptions numbers_only = AnchorOptions(anchor);
  numbers_only.checkpoint_row_hash.reset();
  EXPECT_TRUE(VerifyFile(db, vault, numbers_only).intact());
  const AuditVerifyReport r = VerifyFile(db, vault, AnchorOptions(anchor));
  EXPECT_EQ(r.problem, AuditProblem::kAnchorMismatch) << r.detail;
  EXPECT_EQ(r.bad_checkpoint, 2);
}

}  // namespace
}  // namespace kms::policy
