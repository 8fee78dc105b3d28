// The time-based checkpoint seals rows that another process appended (review finding 3):
// kmsctl's admin rows (policy set, key destroy, user import) used to stay unsealed while
// kmsd was idle, because the writer's timer only fired for rows it had committed itself.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "policy/admin.h"
#include "policy/audit_verify.h"
#include "policy/audit_writer.h"
#include "tests/integration/policy/fake_audit_vault.h"
#include "tests/integration/policy/policy_test_support.h"

namespace kms::policy {
namespace {

using testing::FakeAuditVault;
using testing::TempDir;

AuditVerifyReport VerifyFile(const std::string& db, FakeAuditVault& vault) {
  auto d = Db::Open(db);
  EXPECT_TRUE(d.ok());
  if (!d.ok()) return {};
  auto r = VerifyAudit(*d, vault);
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

}  // namespace
}  // namespace kms::policy
