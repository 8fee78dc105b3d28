// The per-policy_version row cache of SqlitePolicyStore (policy/policy_cache.h) against a real
// SQLite file: repeated reads are served from memory, every admin change is seen by the next
// read, a reader pinned to an older snapshot neither sees nor stores newer rows, not-found is
// remembered only for credential ids (in its own kind), and the cache stays within its bound.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "policy/admin.h"
#include "policy/sqlite_policy_store.h"
#include "tests/integration/policy/policy_test_support.h"

namespace kms::policy {
namespace {

using testing::RawExec;
using testing::SystemDefault;
using testing::TempDir;

ports::TicketRequestFacts AliceCallsBob() {
  ports::TicketRequestFacts f;
  f.initiator = "sip:alice@example.org";
  f.responders = {"sip:bob@example.org"};
  f.requested_validity_s = 600;
  return f;
}

class PolicyCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    path_ = dir_.File("cache.db");
    auto admin = PolicyAdmin::Open(path_, "ops");
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_.emplace(std::move(*admin));
    auto alice = admin_->AddUser("alice", "alice@ims", {"sip:alice@example.org"});
    ASSERT_TRUE(alice.ok());
    alice_ = *alice;
    ASSERT_TRUE(admin_->AddUser("bob", "bob@ims", {"sip:bob@example.org"}).ok());
    ASSERT_TRUE(admin_->AddCredential("alice", ports::CredentialKind::kUePsk,
                                      {"btid-alice", 1, std::vector<uint8_t>(40, 7)},
                                      std::nullopt, std::nullopt)
                    .ok());
    ASSERT_TRUE(admin_->SetPolicy("", SystemDefault()).ok());
  }

  std::unique_ptr<SqlitePolicyStore> OpenStore(size_t cache_entries = 65'536,
                                               size_t cache_max_bytes = size_t{64} << 20) {
    PolicyStoreOptions o;
    o.cache_entries = cache_entries;
    o.cache_max_bytes = cache_max_bytes;
    auto store = SqlitePolicyStore::Open(path_, o);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  TempDir dir_;
  std::string path_;
  std::optional<PolicyAdmin> admin_;
  int64_t alice_ = 0;
};

TEST_F(PolicyCacheTest, RepeatedReadsAreServedFromMemoryAndEqualTheDatabase) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto cold_user = store->FindUserById(alice_);
  auto cold_cred = store->FindCredential("btid-alice");
  auto cold_policy = store->EffectivePolicyFor(alice_);
  ASSERT_TRUE(cold_user.ok() && cold_cred.ok() && cold_policy.ok());
  const PolicyCache::Stats after_cold = store->CacheStats();
  EXPECT_EQ(after_cold.hits, 0u);
  EXPECT_GE(after_cold.entries, 3u);

  auto warm_user = store->FindUserById(alice_);
  auto warm_cred = store->FindCredential("btid-alice");
  auto warm_policy = store->EffectivePolicyFor(alice_);
  ASSERT_TRUE(warm_user.ok() && warm_cred.ok() && warm_policy.ok());
  EXPECT_EQ(store->CacheStats().hits, after_cold.hits + 3);
  EXPECT_EQ(warm_user->name, cold_user->name);
  EXPECT_EQ(warm_user->public_identities, cold_user->public_identities);
  EXPECT_EQ(warm_cred->wrapped.blob, cold_cred->wrapped.blob);
  EXPECT_EQ(warm_policy->policy_version, cold_policy->policy_version);
  ASSERT_TRUE(warm_policy->rules.has_value());
  EXPECT_EQ(warm_policy->rules->max_validity_s, 3600u);

  // A store without cache gives the same answers and never hits.
  auto plain = OpenStore(0);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->FindUserById(alice_)->name, "alice");
  EXPECT_EQ(plain->FindUserById(alice_)->name, "alice");
  EXPECT_EQ(plain->CacheStats().hits, 0u);
  EXPECT_EQ(plain->CacheStats().entries, 0u);
}

TEST_F(PolicyCacheTest, EveryAdminChangeIsSeenByTheNextRead) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->FindUserById(alice_)->enabled);
  ASSERT_TRUE(store->FindUserByIdentity("sip:alice@example.org")->enabled);
  ASSERT_EQ(store->AuthorizeTicketRequest(alice_, AliceCallsBob())->verdict,
            ports::Verdict::kAllow);
  ASSERT_TRUE(store->GroupsOf("sip:bob@example.org")->empty());

  ASSERT_TRUE(admin_->SetUserEnabled("alice", false).ok());
  EXPECT_FALSE(store->FindUserById(alice_)->enabled);
  EXPECT_FALSE(store->FindUserByIdentity("sip:alice@example.org")->enabled);
  EXPECT_EQ(store->AuthorizeTicketRequest(alice_, AliceCallsBob())->verdict,
            ports::Verdict::kDeny);

  ASSERT_TRUE(admin_->SetUserEnabled("alice", true).ok());
  PolicySpec narrow;
  narrow.max_validity_s = 60;
  ASSERT_TRUE(admin_->SetPolicy("alice", narrow).ok());
  auto p = store->EffectivePolicyFor(alice_);
  ASSERT_TRUE(p.ok() && p->rules.has_value());
  EXPECT_EQ(p->rules->max_validity_s, 60u);
  EXPECT_EQ(store->AuthorizeTicketRequest(alice_, AliceCallsBob())->granted_validity_s, 60u);

  ASSERT_TRUE(admin_->AddGroup("sip:team@example.org", "team").ok());
  ASSERT_TRUE(admin_->AddGroupMember("sip:team@example.org", "sip:bob@example.org").ok());
  EXPECT_EQ(store->GroupsOf("sip:bob@example.org").value(),
            (std::set<std::string>{"sip:team@example.org"}));

  // An unknown credential id is remembered as absent, but only for its version: a credential
  // added later (the change bumps the version) is found at once.
  EXPECT_EQ(store->FindCredential("btid-later").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(admin_->AddCredential("bob", ports::CredentialKind::kUePsk,
                                    {"btid-later", 1, std::vector<uint8_t>(40, 9)},
                                    std::nullopt, std::nullopt)
                  .ok());
  EXPECT_TRUE(store->FindCredential("btid-later").ok());
}

// The contract the cache relies on: policy rows change only together with policy_version.
// A raw edit that skips the bump is not seen until the version moves; kmsctl always bumps.
TEST_F(PolicyCacheTest, TheVersionIsWhatInvalidates) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->FindUserById(alice_)->enabled);
  ASSERT_EQ(RawExec(path_, "UPDATE users SET enabled = 0 WHERE name = 'alice'"), SQLITE_OK);
  EXPECT_TRUE(store->FindUserById(alice_)->enabled);  // same version: the remembered row
  ASSERT_EQ(RawExec(path_, "UPDATE policy_meta SET policy_version = policy_version + 1"),
            SQLITE_OK);
  EXPECT_FALSE(store->FindUserById(alice_)->enabled);
}

TEST_F(PolicyCacheTest, AReaderOnAnOlderSnapshotNeitherSeesNorStoresNewerRows) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  {
    auto scope = store->OpenReadScope();  // this thread's snapshot: alice enabled
    ASSERT_NE(scope, nullptr);
    ASSERT_TRUE(store->FindUserById(alice_)->enabled);
    ASSERT_TRUE(admin_->SetUserEnabled("alice", false).ok());
    std::thread fresh([&] { EXPECT_FALSE(store->FindUserById(alice_)->enabled); });
    fresh.join();  // the newer row is cached now
    EXPECT_TRUE(store->FindUserById(alice_)->enabled);  // still this snapshot's row
  }
  EXPECT_FALSE(store->FindUserById(alice_)->enabled);  // the older row was not stored
  std::thread again([&] { EXPECT_FALSE(store->FindUserById(alice_)->enabled); });
  again.join();
}

// An unknown credential id costs what a known one costs (evaluator checklist item 16): the
// second lookup is a cache hit as well, not a database read. Made-up ids fill only their
// own kind: when it is full it is emptied, and the known users' entries stay.
TEST_F(PolicyCacheTest, UnknownCredentialIdsAreRememberedInTheirOwnKind) {
  auto store = OpenStore(4);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->FindCredential("btid-alice").ok());
  ASSERT_TRUE(store->FindUserById(alice_).ok());
  EXPECT_EQ(store->FindCredential("btid-nobody").status().code(), StatusCode::kNotFound);
  const PolicyCache::Stats first = store->CacheStats();
  EXPECT_EQ(store->FindCredential("btid-nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->CacheStats().hits, first.hits + 1) << "the second unknown lookup hit";
  EXPECT_EQ(store->CacheStats().entries, first.entries);
  for (int i = 0; i < 20; ++i) {  // a flood of made-up ids
    EXPECT_FALSE(store->FindCredential("made-up-" + std::to_string(i)).ok());
    EXPECT_LE(store->CacheStats().entries, 2u + 4u);
  }
  const uint64_t hits = store->CacheStats().hits;
  ASSERT_TRUE(store->FindCredential("btid-alice").ok());
  ASSERT_TRUE(store->FindUserById(alice_).ok());
  EXPECT_EQ(store->CacheStats().hits, hits + 2) << "the known entries survived the flood";
}

TEST_F(PolicyCacheTest, StaysWithinItsBound) {
  std::vector<int64_t> ids{alice_};
  for (int i = 0; i < 5; ++i) {
    const std::string n = "u" + std::to_string(i);
    auto id = admin_->AddUser(n, n + "@ims", {"sip:" + n + "@example.org"});
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  auto store = OpenStore(2);
  ASSERT_NE(store, nullptr);
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < ids.size(); ++i) {
      auto u = store->FindUserById(ids[i]);
      ASSERT_TRUE(u.ok());
      EXPECT_EQ(u->user_id, ids[i]);
      EXPECT_LE(store->CacheStats().entries, 2u);
    }
  }
}

// An effective policy carries the members of every group its rules name, so the cache is
// bounded in bytes too: an entry over an eighth of the budget is not remembered, and the
// remembered rows never hold more than the budget.
TEST_F(PolicyCacheTest, StaysWithinItsByteBudget) {
  ASSERT_TRUE(admin_->AddGroup("sip:big@example.org", "large").ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(admin_
                    ->AddGroupMember("sip:big@example.org",
                                     "sip:member" + std::to_string(i) + "@example.org")
                    .ok());
  }
  PolicySpec own;
  own.responders =
      std::vector<ports::ResponderRule>{{ports::ResponderRuleKind::kGroup, "sip:big@example.org"}};
  ASSERT_TRUE(admin_->SetPolicy("alice", own).ok());
  std::vector<int64_t> ids;
  for (int i = 0; i < 25; ++i) {
    const std::string n = "v" + std::to_string(i);
    auto id = admin_->AddUser(n, n + "@ims", {"sip:" + n + "-long-identity@example.org"});
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  constexpr size_t kBudget = 4096;
  auto store = OpenStore(65'536, kBudget);
  ASSERT_NE(store, nullptr);
  for (int round = 0; round < 2; ++round) {
    auto p = store->EffectivePolicyFor(alice_);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->group_members.at("sip:big@example.org").size(), 200u);
  }
  EXPECT_EQ(store->CacheStats().hits, 0u) << "a 200-member policy is over the per-entry limit";
  EXPECT_EQ(store->CacheStats().entries, 0u);
  for (int round = 0; round < 2; ++round) {
    for (int64_t id : ids) {
      auto u = store->FindUserById(id);
      ASSERT_TRUE(u.ok());
      EXPECT_EQ(u->user_id, id);
      EXPECT_LE(store->CacheStats().bytes, kBudget);
    }
  }
  EXPECT_GT(store->CacheStats().entries, 0u);  // small rows are still remembered
}

}  // namespace
}  // namespace kms::policy
