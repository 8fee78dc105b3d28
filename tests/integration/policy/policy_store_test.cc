// Policy store against a real SQLite file (issue 5 items 3-4): schema migrations, PolicyAdmin
// changes read back by SqlitePolicyStore without a restart, default-deny, one audit row per
// admin change in the same transaction, concurrent readers during admin writes.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "policy/admin.h"
#include "policy/migrations.h"
#include "policy/sqlite_policy_store.h"
#include "tests/integration/policy/policy_test_support.h"

namespace kms::policy {
namespace {

using testing::RawExec;
using testing::RawQuery;
using testing::SystemDefault;
using testing::TempDir;

int64_t AuditRowCount(const std::string& db) {
  return std::stoll(RawQuery(db, "SELECT count(*) FROM audit_log").at(0).at(0));
}

TEST(PolicySchemaTest, FreshDatabaseMigratesIdempotently) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("s.db");
  auto db = Db::Open(path);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto v = Migrate(*db);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, static_cast<int>(EmbeddedMigrations().size()));
  EXPECT_GE(*v, 2);
  auto sv = SchemaVersion(*db);
  ASSERT_TRUE(sv.ok());
  EXPECT_EQ(*sv, *v);
  auto again = Migrate(*db);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *v);
  // Every migration is recorded once, by name.
  auto names = RawQuery(path, "SELECT version, name FROM schema_migrations ORDER BY version");
  ASSERT_EQ(names.size(), EmbeddedMigrations().size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(names[i][1], EmbeddedMigrations()[i].name);
  }
}

TEST(PolicySchemaTest, NewerDatabaseIsRefusedAndLeftUnchanged) {
  TempDir dir;
  const std::string path = dir.File("n.db");
  {
    auto db = Db::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(Migrate(*db).ok());
  }
  const int newer = static_cast<int>(EmbeddedMigrations().size()) + 1;
  // What a newer kmsd would have left: one more applied migration.
  ASSERT_EQ(RawExec(path, "INSERT INTO schema_migrations VALUES (" + std::to_string(newer) +
                              ", '9999_future', 0); PRAGMA user_version = " +
                              std::to_string(newer)),
            SQLITE_OK);
  auto db = Db::Open(path);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(Migrate(*db).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(SqlitePolicyStore::Open(path).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(PolicyAdmin::Open(path, "ops").status().code(), StatusCode::kFailedPrecondition);
  auto sv = SchemaVersion(*db);
  ASSERT_TRUE(sv.ok());
  EXPECT_EQ(*sv, newer);  // refused, not downgraded
}

TEST(PolicySchemaTest, ForeignLineageIsRefused) {
  TempDir dir;
  const std::string path = dir.File("l.db");
  {
    auto db = Db::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(Migrate(*db).ok());
  }
  ASSERT_EQ(RawExec(path, "UPDATE schema_migrations SET name = 'other' WHERE version = 1"),
            SQLITE_OK);
  auto db = Db::Open(path);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(Migrate(*db).status().code(), StatusCode::kFailedPrecondition);
}

TEST(PolicyStoreTest, AdminChangesAreSeenWithoutRestartAndAuditedAtomically) {
  TempDir dir;
  const std::string path = dir.File("p.db");
  auto admin = PolicyAdmin::Open(path, "ops-alice");
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  // The store is opened before any data exists and never reopened.
  auto store_or = SqlitePolicyStore::Open(path);
  ASSERT_TRUE(store_or.ok()) << store_or.status().ToString();
  SqlitePolicyStore& store = **store_or;
  auto v0 = store.PolicyVersion();
  ASSERT_TRUE(v0.ok());

  auto alice = admin->AddUser("alice", "alice@ims.example.org",
                              {"sip:alice@example.org", "tel:+15550100"});
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  auto bob = admin->AddUser("bob", "bob@ims.example.org", {"sip:bob@example.org"});
  ASSERT_TRUE(bob.ok());
  const ports::WrappedCredential wc{"btid-alice@bsf.example.org", 3,
                                    std::vector<uint8_t>(40, 0x11)};
  ASSERT_TRUE(admin->AddCredential("alice", ports::CredentialKind::kUePsk, wc, 1000, 2000).ok());
  EXPECT_EQ(admin->AddCredential("nobody", ports::CredentialKind::kUePsk,
                                 {"btid-x", 1, {1, 2}}, std::nullopt, std::nullopt).code(),
            StatusCode::kNotFound);

  for (const char* id : {"sip:alice@example.org", "tel:+15550100"}) {
    auto u = store.FindUserByIdentity(id);
    ASSERT_TRUE(u.ok()) << id;
    EXPECT_EQ(u->user_id, *alice);
    EXPECT_EQ(u->name, "alice");
    EXPECT_EQ(u->private_identity, "alice@ims.example.org");
    EXPECT_EQ(u->public_identities,
              (std::vector<std::string>{"sip:alice@example.org", "tel:+15550100"}));
    EXPECT_TRUE(u->enabled);
  }
  EXPECT_EQ(store.FindUserByIdentity("sip:carol@example.org").status().code(),
            StatusCode::kNotFound);
  auto c = store.FindCredential(wc.credential_id);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->user_id, *alice);
  EXPECT_EQ(c->kind, ports::CredentialKind::kUePsk);
  EXPECT_EQ(c->wrapped.kek_version, 3u);
  EXPECT_EQ(c->wrapped.blob, wc.blob);
  EXPECT_EQ(c->not_before_unix_s, std::optional<int64_t>(1000));
  EXPECT_EQ(c->not_after_unix_s, std::optional<int64_t>(2000));
  EXPECT_EQ(c->state, ports::CredentialState::kActive);
  EXPECT_EQ(store.FindCredential("btid-unknown").status().code(), StatusCode::kNotFound);

  // Default deny: no system default yet.
  ports::TicketRequestFacts facts;
  facts.initiator = "sip:alice@example.org";
  facts.responders = {"sip:bob@example.org"};
  facts.requested_validity_s = 600;
  auto ep = store.EffectivePolicyFor(*alice);
  ASSERT_TRUE(ep.ok());
  EXPECT_FALSE(ep->rules.has_value());
  EXPECT_EQ(ep->source, ports::PolicySource::kNone);
  auto d = store.AuthorizeTicketRequest(*alice, facts);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->allowed());
  ports::ResolveFacts rf;
  rf.responder = "sip:bob@example.org";
  rf.ticket_responders = {"sip:bob@example.org"};
  auto r = store.AuthorizeResolve(*bob, *alice, rf);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed());

  ASSERT_TRUE(admin->SetPolicy("", SystemDefault()).ok());
  d = store.AuthorizeTicketRequest(*alice, facts);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allowed()) << d->rule;
  EXPECT_EQ(d->granted_validity_s, 600u);
  r = store.AuthorizeResolve(*bob, *alice, rf);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->allowed()) << r->rule;
  rf.ticket_responders = {"sip:carol@example.org"};  // bob not named: denied
  r = store.AuthorizeResolve(*bob, *alice, rf);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed());

  // Per-user policy over the default.
  PolicySpec mine;
  mine.max_validity_s = 60;
  mine.forking_required = true;
  ASSERT_TRUE(admin->SetPolicy("alice", mine).ok());
  ep = store.EffectivePolicyFor(*alice);
  ASSERT_TRUE(ep.ok());
  ASSERT_TRUE(ep->rules.has_value());
  EXPECT_EQ(ep->source, ports::PolicySource::kUserOverSystemDefault);
  EXPECT_EQ(ep->rules->max_validity_s, 60u);
  EXPECT_TRUE(ep->rules->forking_required);
  EXPECT_TRUE(ep->rules->may_request);  // inherited
  auto epb = store.EffectivePolicyFor(*bob);
  ASSERT_TRUE(epb.ok());
  EXPECT_EQ(epb->source, ports::PolicySource::kSystemDefault);
  EXPECT_EQ(epb->rules->max_validity_s, 3600u);
  d = store.AuthorizeTicketRequest(*alice, facts);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allowed());
  EXPECT_EQ(d->granted_validity_s, 60u);
  EXPECT_TRUE(d->granted_forking);

  // Groups: membership makes a resolve through the group identity allowed.
  ASSERT_TRUE(admin->AddGroup("sip:team@example.org", "team").ok());
  ASSERT_TRUE(admin->AddGroupMember("sip:team@example.org", "sip:bob@example.org").ok());
  auto groups = store.GroupsOf("sip:bob@example.org");
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(*groups, (std::set<std::string>{"sip:team@example.org"}));
  rf.ticket_responders = {"sip:team@example.org"};
  r = store.AuthorizeResolve(*bob, *alice, rf);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->allowed()) << r->rule;
  ASSERT_TRUE(admin->RemoveGroupMember("sip:team@example.org", "sip:bob@example.org").ok());
  groups = store.GroupsOf("sip:bob@example.org");
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(groups->empty());
  r = store.AuthorizeResolve(*bob, *alice, rf);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed());

  // Key versions; NewestActiveKeyVersion is what kmsd seals new work under.
  EXPECT_EQ(store.KeyVersion(ports::KeyKind::kTpk, 1).status().code(), StatusCode::kNotFound);
  auto newest = store.NewestActiveKeyVersion(ports::KeyKind::kTpk);
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  EXPECT_FALSE(newest->has_value());
  ASSERT_TRUE(admin->SetKeyVersion(ports::KeyKind::kTpk, 1, ports::KeyState::kActive).ok());
  auto kv = store.KeyVersion(ports::KeyKind::kTpk, 1);
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  EXPECT_EQ(kv->state, ports::KeyState::kActive);
  EXPECT_EQ(store.NewestActiveKeyVersion(ports::KeyKind::kTpk).value(), 1u);
  ASSERT_TRUE(admin->SetKeyVersion(ports::KeyKind::kTpk, 3, ports::KeyState::kActive).ok());
  ASSERT_TRUE(admin->SetKeyVersion(ports::KeyKind::kTpk, 4, ports::KeyState::kRetired).ok());
  EXPECT_EQ(store.NewestActiveKeyVersion(ports::KeyKind::kTpk).value(), 3u)
      << "a retired newer version is not the active one";
  EXPECT_FALSE(store.NewestActiveKeyVersion(ports::KeyKind::kAudit).value().has_value())
      << "kinds are separate";
  ASSERT_TRUE(admin->SetKeyVersion(ports::KeyKind::kTpk, 1, ports::KeyState::kRetired).ok());
  kv = store.KeyVersion(ports::KeyKind::kTpk, 1);
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->state, ports::KeyState::kRetired);

  // Disabling a user is seen at once and denies.
  ASSERT_TRUE(admin->SetUserEnabled("alice", false).ok());
  d = store.AuthorizeTicketRequest(*alice, facts);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->allowed());

  // 13 successful changes, each exactly one audit row by "admin:ops-alice", and each
  // bumped the policy version.
  constexpr int64_t kChanges = 13;
  auto rows = RawQuery(path, "SELECT actor, action, initiator, policy_version FROM audit_log "
                             "ORDER BY seq");
  ASSERT_EQ(static_cast<int64_t>(rows.size()), kChanges);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][0], "admin:ops-alice") << i;
    EXPECT_FALSE(rows[i][1].empty());
    EXPECT_EQ(std::stoull(rows[i][3]), *v0 + i + 1) << i;
  }
  EXPECT_EQ(rows[0][2], "alice");
  EXPECT_EQ(rows[1][2], "bob");
  auto v1 = store.PolicyVersion();
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, *v0 + kChanges);

  // Failed changes leave neither the change nor an audit row nor a version bump.
  EXPECT_EQ(admin->AddUser("alice", "other@ims", {"sip:other@example.org"}).status().code(),
            StatusCode::kAlreadyExists);
  // The identity is taken: the user row inserted before it must be rolled back too.
  EXPECT_FALSE(admin->AddUser("carol", "carol@ims", {"sip:carol@example.org",
                                                      "sip:bob@example.org"}).ok());
  EXPECT_EQ(store.FindUserByIdentity("sip:carol@example.org").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store.FindUserByIdentity("sip:other@example.org").status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(RawQuery(path, "SELECT 1 FROM users WHERE name = 'carol'").empty());
  EXPECT_FALSE(admin->AddGroupMember("sip:nogroup@example.org", "sip:x@example.org").ok());
  EXPECT_EQ(AuditRowCount(path), kChanges);
  v1 = store.PolicyVersion();
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, *v0 + kChanges);
}

// Inside a read scope every lookup of this thread reads the state at its first lookup: an
// admin change committed meanwhile shows only after the scope ends. Another thread is not
// held to the scope.
TEST(PolicyStoreTest, ReadScopeIsOneSnapshotForThisThread) {
  TempDir dir;
  const std::string path = dir.File("s.db");
  auto admin = PolicyAdmin::Open(path, "ops");
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE(admin->AddUser("alice", "alice@ims", {"sip:alice@example.org"}).ok());
  auto store = SqlitePolicyStore::Open(path);
  ASSERT_TRUE(store.ok());
  auto v0 = (*store)->PolicyVersion();
  ASSERT_TRUE(v0.ok());
  {
    auto scope = (*store)->OpenReadScope();
    ASSERT_NE(scope, nullptr);
    EXPECT_EQ((*store)->OpenReadScope(), nullptr);  // no nesting: the open one is used
    ASSERT_TRUE((*store)->FindUserByIdentity("sip:alice@example.org").ok());
    ASSERT_TRUE(admin->AddUser("bob", "bob@ims", {"sip:bob@example.org"}).ok());
    EXPECT_EQ((*store)->FindUserByIdentity("sip:bob@example.org").status().code(),
              StatusCode::kNotFound);
    EXPECT_EQ((*store)->PolicyVersion().value(), *v0);
    std::thread other([&] {
      EXPECT_TRUE((*store)->FindUserByIdentity("sip:bob@example.org").ok());
    });
    other.join();
  }
  EXPECT_TRUE((*store)->FindUserByIdentity("sip:bob@example.org").ok());
  EXPECT_GT((*store)->PolicyVersion().value(), *v0);
}

TEST(PolicyStoreTest, ConcurrentReadersDuringAdminWritesSeeNoErrors) {
  TempDir dir;
  const std::string path = dir.File("c.db");
  auto admin = PolicyAdmin::Open(path, "ops");
  ASSERT_TRUE(admin.ok());
  auto alice = admin->AddUser("alice", "alice@ims", {"sip:alice@example.org"});
  ASSERT_TRUE(alice.ok());
  ASSERT_TRUE(admin->AddCredential("alice", ports::CredentialKind::kUePsk,
                                   {"btid-a", 1, std::vector<uint8_t>(40, 1)}, std::nullopt,
                                   std::nullopt).ok());
  ASSERT_TRUE(admin->SetPolicy("", SystemDefault()).ok());
  auto store = SqlitePolicyStore::Open(path);
  ASSERT_TRUE(store.ok());

  constexpr int kReaders = 8;
  constexpr int kReads = 2000;
  std::atomic<int> errors{0};
  std::atomic<bool> readers_done{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    int i = 0;
    do {  // at least one change, however fast the readers are
      const std::string n = "u" + std::to_string(i);
      PolicySpec spec;
      spec.max_validity_s = static_cast<uint32_t>(100 + i);
      if (!admin->AddUser(n, n + "@ims", {"sip:" + n + "@example.org"}).ok() ||
          !admin->SetPolicy("alice", spec).ok()) {
        ++errors;
      }
      writes += 2;
      ++i;
    } while (!readers_done.load());
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&] {
      uint64_t last_version = 0;
      for (int i = 0; i < kReads; ++i) {
        auto c = (*store)->FindCredential("btid-a");
        auto p = (*store)->EffectivePolicyFor(*alice);
        if (!c.ok() || c->user_id != *alice || !p.ok() || !p->rules.has_value() ||
            p->policy_version < last_version) {  // committed changes never go backwards
          ++errors;
          continue;
        }
        last_version = p->policy_version;
      }
    });
  }
  for (auto& th : readers) th.join();
  readers_done = true;
  writer.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(writes.load(), 0);
  EXPECT_EQ((*store)->ConnectionCount(), static_cast<size_t>(kReaders));
  auto p = (*store)->EffectivePolicyFor(*alice);  // the last change is visible
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->rules->max_validity_s, 100u + static_cast<uint32_t>(writes.load() / 2) - 1u);
}

}  // namespace
}  // namespace kms::policy
