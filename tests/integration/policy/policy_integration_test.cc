// Policy store and audit trail against real SQLite files (issue 5): admin changes and their
// audit rows, reads seeing changes without a restart, default-deny, the hash chain with
// sealed checkpoints and the detection of every kind of tampering, fail-closed group commit.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "policy/admin.h"
#include "policy/audit_verify.h"
#include "policy/audit_writer.h"
#include "policy/migrations.h"
#include "policy/sqlite_policy_store.h"
#include "tests/unit/core/fakes.h"

namespace kms::policy {
namespace {

namespace fs = std::filesystem;

class PolicyIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kms-policy-XXXXXX";
    dir_ = mkdtemp(tmpl);
    vault_.SetAuditKey(1, vault_.AddKey(std::vector<uint8_t>(32, 0xa1)));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) { return (fs::path(dir_) / name).string(); }

  // Exec: raw SQL on its own connection (the "attacker" or a second process).
  int Exec(const std::string& db, const std::string& sql) {
    sqlite3* h = nullptr;
    sqlite3_open(db.c_str(), &h);
    const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(h);
    return rc;
  }

  // BuildTrail: a fresh database with `rows` audit rows appended by 4 threads, sealed.
  std::string BuildTrail(const std::string& name, int rows) {
    const std::string db = Path(name);
    auto admin = PolicyAdmin::Open(db, "tester");  // migrates
    EXPECT_TRUE(admin.ok());
    AuditWriterOptions o;
    o.checkpoint_rows = 1'000'000;  // seal only explicitly
    auto w = AuditWriter::Open(db, vault_, o);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    std::vector<std::thread> threads;
    std::mutex mu;
    std::set<int64_t> ids;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < rows / 4; ++i) {
          ports::AuditRecord r;
          r.actor = "ue:sip:t" + std::to_string(t) + "@example.org";
          r.action = "REQUEST_INIT_PSK";
          r.outcome = ports::AuditOutcome::kGranted;
          r.rule = "allow";
          auto id = (*w)->Append(r);
          EXPECT_TRUE(id.ok()) << id.status().ToString();
          std::lock_guard<std::mutex> lock(mu);
          EXPECT_TRUE(ids.insert(*id).second) << "row id handed out twice";
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
    EXPECT_TRUE((*w)->Checkpoint().ok());
    return db;
  }

  AuditVerifyReport Verify(const std::string& db) {
    auto d = Db::Open(db);
    EXPECT_TRUE(d.ok());
    auto r = VerifyAudit(*d, vault_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }

  std::string dir_;
  core::testing::FakeKeyVault vault_;
};

TEST_F(PolicyIntegrationTest, AdminChangesAreReadWithoutRestartAndAudited) {
  const std::string db = Path("p.db");
  auto admin = PolicyAdmin::Open(db, "ops-alice");
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto store = SqlitePolicyStore::Open(db);
  ASSERT_TRUE(store.ok());

  auto alice = admin->AddUser("alice", "alice@ims", {"sip:alice@example.org", "tel:+15550100"});
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  ASSERT_TRUE(admin->AddUser("bob", "bob@ims", {"sip:bob@example.org"}).ok());
  ports::WrappedCredential wc{"btid-a", 1, std::vector<uint8_t>(40, 0x11)};
  ASSERT_TRUE(admin->AddCredential("alice", ports::CredentialKind::kUePsk, wc, std::nullopt,
                                   std::nullopt).ok());
  // The store, opened before, sees all of it.
  auto u = (*store)->FindUserByIdentity("tel:+15550100");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->name, "alice");
  EXPECT_EQ(u->public_identities.size(), 2u);
  auto c = (*store)->FindCredential("btid-a");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->wrapped.blob, wc.blob);
  EXPECT_EQ(c->user_id, *alice);
  EXPECT_EQ((*store)->FindCredential("nope").status().code(), StatusCode::kNotFound);

  // Default deny: no system default yet.
  ports::TicketRequestFacts facts;
  facts.initiator = "sip:alice@example.org";
  facts.responders = {"sip:bob@example.org"};
  auto d = (*store)->AuthorizeTicketRequest(*alice, facts);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->allowed());
  PolicySpec def;
  def.may_request = true;
  def.max_validity_s = 3600;
  def.reuse_allowed = false;
  def.max_reuse_window_s = 0;
  def.forking_required = true;
  def.mode3_allowed = false;
  def.allowed_suites = 1;
  def.rate_limit_per_min = 0;
  def.responders = std::vector<ports::ResponderRule>{{ports::ResponderRuleKind::kDomain, "*@example.org"}};
  ASSERT_TRUE(admin->SetPolicy("", def).ok());
  d = (*store)->AuthorizeTicketRequest(*alice, facts);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allowed()) << d->rule;
  EXPECT_TRUE(d->granted_forking);

  // Groups.
  ASSERT_TRUE(admin->AddGroup("sip:team@example.org", "").ok());
  ASSERT_TRUE(admin->AddGroupMember("sip:team@example.org", "sip:bob@example.org").ok());
  auto groups = (*store)->GroupsOf("sip:bob@example.org");
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups->count("sip:team@example.org"), 1u);
  EXPECT_EQ(admin->AddGroupMember("sip:nogroup@example.org", "x").code(), StatusCode::kNotFound);

  // Every successful change wrote one audit row with the operator; a failed change (a
  // duplicate user) wrote neither the change nor a row.
  const auto rows_before = Verify(db).rows;
  EXPECT_FALSE(admin->AddUser("alice", "other@ims", {"sip:x@example.org"}).ok());
  EXPECT_EQ(Verify(db).rows, rows_before);
  EXPECT_EQ(rows_before, 6);  // 2 users, 1 credential, 1 policy, 1 group, 1 member
  auto r = Verify(db);
  EXPECT_TRUE(r.intact());
}

TEST_F(PolicyIntegrationTest, SchemaIsMigratedAndANewerDatabaseIsRefused) {
  const std::string db = Path("s.db");
  {
    auto d = Db::Open(db);
    ASSERT_TRUE(d.ok());
    auto v = Migrate(*d);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(*v, static_cast<int>(EmbeddedMigrations().size()));
    auto again = Migrate(*d);  // idempotent
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *v);
  }
  // A database written by a newer kmsd (one more migration than this binary knows).
  ASSERT_EQ(Exec(db, "PRAGMA user_version = " +
                         std::to_string(EmbeddedMigrations().size() + 1)), SQLITE_OK);
  auto d = Db::Open(db);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Migrate(*d).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(SqlitePolicyStore::Open(db).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(PolicyIntegrationTest, ConcurrentReadsDuringAdminWrites) {
  const std::string db = Path("c.db");
  auto admin = PolicyAdmin::Open(db, "ops");
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE(admin->AddUser("alice", "alice@ims", {"sip:alice@example.org"}).ok());
  ASSERT_TRUE(admin->AddCredential("alice", ports::CredentialKind::kUePsk,
                                   {"btid-a", 1, std::vector<uint8_t>(40, 1)}, std::nullopt,
                                   std::nullopt).ok());
  auto store = SqlitePolicyStore::Open(db);
  ASSERT_TRUE(store.ok());
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (!(*store)->FindCredential("btid-a").ok() ||
            !(*store)->EffectivePolicyFor(std::optional<int64_t>(1)).ok()) {
          ++errors;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(admin->AddUser("u" + std::to_string(i), "u" + std::to_string(i) + "@ims",
                               {"sip:u" + std::to_string(i) + "@example.org"}).ok());
  }
  for (auto& th : readers) {
    th.join();
  }
  EXPECT_EQ(errors.load(), 0);
}

TEST_F(PolicyIntegrationTest, TriggersRefuseUpdateAndDelete) {
  const std::string db = BuildTrail("t.db", 8);
  EXPECT_NE(Exec(db, "UPDATE audit_log SET actor = 'x' WHERE seq = 1"), SQLITE_OK);
  EXPECT_NE(Exec(db, "DELETE FROM audit_log WHERE seq = 1"), SQLITE_OK);
  EXPECT_NE(Exec(db, "DELETE FROM audit_checkpoint"), SQLITE_OK);
  const auto r = Verify(db);
  EXPECT_TRUE(r.fully_sealed());
  EXPECT_EQ(r.rows, 8);
}

constexpr const char* kDropTriggers =
    "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; "
    "DROP TRIGGER audit_checkpoint_no_update; DROP TRIGGER audit_checkpoint_no_delete;";

TEST_F(PolicyIntegrationTest, VerifyDetectsEveryKindOfTampering) {
  {
    const std::string db = BuildTrail("modified.db", 20);
    ASSERT_EQ(Exec(db, std::string(kDropTriggers) +
                           "UPDATE audit_log SET outcome = 'denied' WHERE seq = 5"), SQLITE_OK);
    const auto r = Verify(db);
    EXPECT_EQ(r.problem, AuditProblem::kModifiedRow) << r.detail;
    EXPECT_EQ(r.first_bad_row, 5);
  }
  {
    const std::string db = BuildTrail("deleted.db", 20);
    ASSERT_EQ(Exec(db, std::string(kDropTriggers) + "DELETE FROM audit_log WHERE seq = 7"),
              SQLITE_OK);
    const auto r = Verify(db);
    EXPECT_EQ(r.problem, AuditProblem::kDeletedRow) << r.detail;
    EXPECT_EQ(r.first_bad_row, 7);
  }
  {
    const std::string db = BuildTrail("reordered.db", 20);
    // Swap rows 3 and 4 completely (content and hashes): each row is intact on its own.
    ASSERT_EQ(Exec(db, std::string(kDropTriggers) +
                           "UPDATE audit_log SET seq = 1000 WHERE seq = 3;"
                           "UPDATE audit_log SET seq = 3 WHERE seq = 4;"
                           "UPDATE audit_log SET seq = 4 WHERE seq = 1000;"), SQLITE_OK);
    const auto r = Verify(db);
    EXPECT_FALSE(r.intact());
    EXPECT_TRUE(r.problem == AuditProblem::kReorderedRows ||
                r.problem == AuditProblem::kModifiedRow) << r.detail;
    EXPECT_EQ(r.first_bad_row, 3);
  }
  {
    const std::string db = BuildTrail("forged.db", 20);
    ASSERT_EQ(Exec(db, std::string(kDropTriggers) +
                           "UPDATE audit_checkpoint SET mac = zeroblob(32)"), SQLITE_OK);
    const auto r = Verify(db);
    EXPECT_EQ(r.problem, AuditProblem::kForgedCheckpoint) << r.detail;
  }
  {
    // Removing the only checkpoint leaves a chained but unsealed log: never "fully sealed".
    const std::string db = BuildTrail("unsealed.db", 20);
    ASSERT_EQ(Exec(db, std::string(kDropTriggers) + "DELETE FROM audit_checkpoint"), SQLITE_OK);
    const auto r = Verify(db);
    EXPECT_FALSE(r.fully_sealed());
    EXPECT_EQ(r.rows, 20);
    EXPECT_EQ(r.sealed_through_row, 0) << r.detail;
    EXPECT_EQ(r.unsealed_rows, 20);
  }
}

TEST_F(PolicyIntegrationTest, AuditFailsClosedWhileTheDatabaseIsLockedAndRecovers) {
  const std::string db = BuildTrail("locked.db", 4);
  AuditWriterOptions o;
  o.max_wait = std::chrono::milliseconds(200);
  auto w = AuditWriter::Open(db, vault_, o);
  ASSERT_TRUE(w.ok());
  sqlite3* locker = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &locker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(locker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  ports::AuditRecord r;
  r.action = "REQUEST_INIT_PSK";
  const auto start = std::chrono::steady_clock::now();
  auto id = (*w)->Append(r);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(took, std::chrono::seconds(2));  // bounded wait
  EXPECT_FALSE((*w)->Healthy());
  ASSERT_EQ(sqlite3_exec(locker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(locker);
  // After the lock is gone the writer recovers (the refused row may land too: harmless).
  bool recovered = false;
  for (int i = 0; i < 50 && !recovered; ++i) {
    recovered = (*w)->Append(r).ok();
    if (!recovered) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(recovered);
  EXPECT_TRUE((*w)->Healthy());
  w->reset();
  EXPECT_TRUE(Verify(db).intact());
}

}  // namespace
}  // namespace kms::policy
