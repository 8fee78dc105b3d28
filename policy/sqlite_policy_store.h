// SqlitePolicyStore: the PolicyStore port over SQLite (architecture.md §5).
//
// Concurrency: one read connection per calling thread (opened on first use, kept in a
// per-store map keyed by thread id; the map lock is held only to find the connection), WAL
// so readers never wait for the writer, prepared statements cached per connection.
//
// Seeing changes without restart: each call reads the committed state in one read
// transaction (WAL snapshot), or, inside OpenReadScope, all calls of one message share one,
// so an admin commit is visible to the next request on every thread. policy_meta.policy_version
// is bumped by every admin change in the same transaction and is returned in EffectivePolicy
// (and thus audited). Users, credentials, effective policies and group memberships are
// remembered per policy_version (policy_cache.h): a call reads the version in its snapshot and
// gets rows loaded at exactly that version, so caching never shows an older state.
// ChangeToken() exposes PRAGMA data_version for callers that want to cache derived data.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "policy/policy_cache.h"
#include "policy/sqlite_db.h"
#include "src/base/ntp_time.h"
#include "src/core/ports/audit_sink.h"
#include "src/core/ports/policy_store.h"

namespace kms::policy {

struct PolicyStoreOptions {
  int busy_timeout_ms = 2000;
  bool apply_migrations = true;  // false: require an already migrated database
  size_t cache_entries = 65'536;  // per kind of cached row (policy_cache.h); 0: no cache
  size_t cache_max_bytes = size_t{64} << 20;  // approximate heap held by the cache, all kinds
};

class SqlitePolicyStore final : public ports::PolicyStore {
 public:
  // Open: checks (and by default applies) the schema; kFailedPrecondition if the database
  // is newer than this binary, kUnavailable if it cannot be opened.
  static Result<std::unique_ptr<SqlitePolicyStore>> Open(const std::string& path,
                                                         const PolicyStoreOptions& options = {});
  ~SqlitePolicyStore() override;

  // OpenReadScope: BEGIN on this thread's connection; the calls made meanwhile join that
  // read transaction (nullptr if the connection cannot be had or is in one already).
  std::unique_ptr<ReadScope> OpenReadScope() override;
  Result<ports::CredentialInfo> FindCredential(std::string_view credential_id) override;
  Result<ports::UserInfo> FindUserByIdentity(std::string_view public_identity) override;
  Result<ports::UserInfo> FindUserById(int64_t user_id) override;
  Result<ports::EffectivePolicy> EffectivePolicyFor(std::optional<int64_t> user_id) override;
  Result<std::set<std::string>> GroupsOf(std::string_view identity) override;
  Result<ports::KeyVersionInfo> KeyVersion(ports::KeyKind kind, uint32_t version) override;
  Result<ports::KmsPeer> FindPeer(std::string_view domain) override;
  Result<uint64_t> PolicyVersion() override;
  Result<ports::Decision> AuthorizeTicketRequest(int64_t user_id,
                                                 const ports::TicketRequestFacts& facts) override;
  // AuthorizeResolve: facts.responder_groups is recomputed from the store.
  Result<ports::Decision> AuthorizeResolve(int64_t responder_user_id,
                                           std::optional<int64_t> ticket_initiator_user_id,
                                           const ports::ResolveFacts& facts) override;

  // NewestActiveKeyVersion: the highest version of `kind` registered active (kmsctl init,
  // key rotate); nullopt when none is. kmsd seals new work under it (src/daemon/key_selection.h).
  Result<std::optional<uint32_t>> NewestActiveKeyVersion(ports::KeyKind kind);

  // RecentReplayMarks: the replay marks (policy/replay_log.h) sent at or after `since`, for
  // kmsd to reload its replay cache at start-up.
  Result<std::vector<ports::ReplayMark>> RecentReplayMarks(UnixTime since);

  // ChangeToken: PRAGMA data_version of this thread's connection; differs after any other
  // connection (this process or another) committed.
  Result<int64_t> ChangeToken();
  // ConnectionCount: read connections opened so far (one per thread that called in).
  size_t ConnectionCount() const;
  // CacheStats: hits and misses of the per-policy_version row cache (tests, benchmarks).
  PolicyCache::Stats CacheStats() const { return cache_.stats(); }

 private:
  SqlitePolicyStore(std::string path, PolicyStoreOptions options)
      : path_(std::move(path)),
        options_(options),
        cache_(options.cache_entries, options.cache_max_bytes) {}
  Result<Db*> Conn();
  // Cached*: through cache_ (policy_cache.h); call inside a read transaction.
  Result<ports::EffectivePolicy> CachedEffectivePolicy(Db& db, std::optional<int64_t> user_id);
  Result<std::set<std::string>> CachedGroupsOf(Db& db, std::string_view identity);

  const std::string path_;
  const PolicyStoreOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::thread::id, std::unique_ptr<Db>> conns_;
  PolicyCache cache_;
};

// Shared row readers, also used by the admin API (one definition of each query).
namespace internal {
Result<std::optional<ports::UserInfo>> LoadUser(Db& db, int64_t user_id);
Result<ports::EffectivePolicy> LoadEffectivePolicy(Db& db, std::optional<int64_t> user_id);
Result<std::set<std::string>> LoadGroupsOf(Db& db, std::string_view identity);
std::string_view KeyKindName(ports::KeyKind k);
std::string_view KeyStateName(ports::KeyState s);
std::string_view CredentialKindName(ports::CredentialKind k);
std::string_view ResponderRuleKindName(ports::ResponderRuleKind k);
}  // namespace internal

}  // namespace kms::policy
