#include "policy/sqlite_policy_store.h"

#include <sqlite3.h>

#include <utility>

#include "policy/decision.h"
#include "policy/migrations.h"
#include "policy/replay_log.h"

namespace kms::policy {
namespace internal {

std::string_view KeyKindName(ports::KeyKind k) {
  switch (k) {
    case ports::KeyKind::kTpk: return "tpk";
    case ports::KeyKind::kKek: return "kek";
    case ports::KeyKind::kAudit: return "audit";
  }
  return "?";
}

std::string_view KeyStateName(ports::KeyState s) {
  switch (s) {
    case ports::KeyState::kActive: return "active";
    case ports::KeyState::kRetired: return "retired";
    case ports::KeyState::kDestroyed: return "destroyed";
  }
  return "?";
}

std::string_view CredentialKindName(ports::CredentialKind k) {
  return k == ports::CredentialKind::kUePsk ? "ue_psk" : "mode3_ticket_key";
}

std::string_view ResponderRuleKindName(ports::ResponderRuleKind k) {
  switch (k) {
    case ports::ResponderRuleKind::kExact: return "exact";
    case ports::ResponderRuleKind::kDomain: return "domain";
    case ports::ResponderRuleKind::kGroup: return "group";
  }
  return "?";
}

namespace {

Result<ports::KeyState> ParseKeyState(const std::string& s) {
  if (s == "active") return ports::KeyState::kActive;
  if (s == "retired") return ports::KeyState::kRetired;
  if (s == "destroyed") return ports::KeyState::kDestroyed;
  return FailedPreconditionError("unknown key state in database");
}

Result<ports::ResponderRuleKind> ParseRuleKind(const std::string& s) {
  if (s == "exact") return ports::ResponderRuleKind::kExact;
  if (s == "domain") return ports::ResponderRuleKind::kDomain;
  if (s == "group") return ports::ResponderRuleKind::kGroup;
  return FailedPreconditionError("unknown responder rule kind in database");
}

uint32_t U32(int64_t v) { return static_cast<uint32_t>(v); }

// PolicyRow: one policies row; unset optionals inherit from the system default.
struct PolicyRow {
  int64_t policy_id = 0;
  std::optional<int64_t> may_request, max_validity_s, reuse_allowed, max_reuse_window_s,
      forking_required, mode3_allowed, allowed_suites, rate_limit_per_min;
  bool own_responders = false;
  bool own_apps = false;
};

constexpr const char* kPolicyColumns =
    "SELECT policy_id, may_request, max_validity_s, reuse_allowed, max_reuse_window_s, "
    "forking_required, mode3_allowed, allowed_suites, rate_limit_per_min, own_responders, "
    "own_apps FROM policies WHERE ";

Result<std::optional<PolicyRow>> LoadPolicyRow(Db& db, std::optional<int64_t> user_id) {
  static const std::string kDefault = std::string(kPolicyColumns) + "user_id IS NULL";
  static const std::string kUser = std::string(kPolicyColumns) + "user_id = ?1";
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use(user_id ? kUser : kDefault));
  if (user_id) KMS_RETURN_IF_ERROR(s->BindInt(1, *user_id));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<PolicyRow>();
  PolicyRow p;
  p.policy_id = s->ColumnInt(0);
  p.may_request = s->ColumnOptInt(1);
  p.max_validity_s = s->ColumnOptInt(2);
  p.reuse_allowed = s->ColumnOptInt(3);
  p.max_reuse_window_s = s->ColumnOptInt(4);
  p.forking_required = s->ColumnOptInt(5);
  p.mode3_allowed = s->ColumnOptInt(6);
  p.allowed_suites = s->ColumnOptInt(7);
  p.rate_limit_per_min = s->ColumnOptInt(8);
  p.own_responders = s->ColumnInt(9) != 0;
  p.own_apps = s->ColumnInt(10) != 0;
  return std::optional<PolicyRow>(p);
}

Result<std::vector<ports::ResponderRule>> LoadResponders(Db& db, int64_t policy_id) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT kind, pattern FROM policy_responders WHERE "
                                         "policy_id = ?1 ORDER BY kind, pattern"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, policy_id));
  std::vector<ports::ResponderRule> out;
  KMS_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& r) -> Status {
    KMS_ASSIGN_OR_RETURN(ports::ResponderRuleKind kind, ParseRuleKind(r.ColumnText(0)));
    out.push_back({kind, r.ColumnText(1)});
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<std::string>> LoadApps(Db& db, int64_t policy_id) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT app FROM policy_apps WHERE policy_id = ?1 "
                                         "ORDER BY app"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, policy_id));
  std::vector<std::string> out;
  KMS_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& r) { out.push_back(r.ColumnText(0)); }));
  return out;
}

Result<std::set<std::string>> LoadMembers(Db& db, const std::string& group_identity) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT m.member_identity FROM group_members m JOIN "
                                         "user_groups g ON g.group_id = m.group_id WHERE "
                                         "g.identity = ?1"));
  KMS_RETURN_IF_ERROR(s->BindText(1, group_identity));
  std::set<std::string> out;
  KMS_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& r) { out.insert(r.ColumnText(0)); }));
  return out;
}

Result<ports::UserInfo> ReadUserRowAndIdentities(Db& db, Stmt& s) {
  ports::UserInfo u;
  u.user_id = s.ColumnInt(0);
  u.name = s.ColumnText(1);
  u.private_identity = s.ColumnText(2);
  u.enabled = s.ColumnInt(3) != 0;
  KMS_ASSIGN_OR_RETURN(StmtUse ids, db.Use("SELECT identity FROM user_identities WHERE "
                                           "user_id = ?1 ORDER BY identity"));
  KMS_RETURN_IF_ERROR(ids->BindInt(1, u.user_id));
  KMS_RETURN_IF_ERROR(
      ForEachRow(*ids, [&](const Stmt& r) { u.public_identities.push_back(r.ColumnText(0)); }));
  return u;
}

Result<uint64_t> LoadPolicyVersion(Db& db) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT policy_version FROM policy_meta WHERE "
                                         "singleton = 1"));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return FailedPreconditionError("policy_meta row missing");
  return static_cast<uint64_t>(s->ColumnInt(0));
}

// ReadSnapshot: runs fn inside one read transaction (a consistent WAL snapshot).
template <typename T, typename Fn>
Result<T> ReadSnapshot(Db& db, Fn&& fn) {
  if (sqlite3_get_autocommit(db.raw()) == 0) {
    return fn();  // inside a ReadScope: its transaction is the snapshot
  }
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, TxnKind::kDeferred));
  Result<T> out = fn();
  KMS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

// Through: the value for key in the caller's read snapshot: the cached one when it was loaded
// at this snapshot's policy_version, else loaded now and remembered (policy_cache.h). Call
// inside a read transaction, so the version and the rows come from the same state.
template <typename K, typename V, typename Load>
Result<V> Through(Db& db, PolicyCache& cache, PolicyCache::Slot<K, V>& slot, const K& key,
                  Load&& load) {
  if (!cache.enabled()) return load();
  KMS_ASSIGN_OR_RETURN(uint64_t version, LoadPolicyVersion(db));
  if (std::shared_ptr<const V> hit = cache.Get(slot, version, key)) return *hit;
  KMS_ASSIGN_OR_RETURN(V value, load());
  cache.Put(slot, version, key, value);
  return value;
}

// ThroughRememberingAbsent: Through for credentials, which also remembers ids that have no
// row (policy_cache.h: an unknown IDRpsk must cost what a known one costs).
template <typename Load>
Result<ports::CredentialInfo> ThroughRememberingAbsent(Db& db, PolicyCache& cache,
                                                       const std::string& key, Load&& load) {
  if (!cache.enabled()) return load();
  KMS_ASSIGN_OR_RETURN(uint64_t version, LoadPolicyVersion(db));
  if (auto hit = cache.Get(cache.credential, version, key)) return *hit;
  if (cache.Get(cache.credential_absent, version, key)) {
    return NotFoundError("no such credential");
  }
  Result<ports::CredentialInfo> value = load();
  if (value.ok()) {
    cache.Put(cache.credential, version, key, *value);
  } else if (value.status().code() == StatusCode::kNotFound) {
    cache.Put(cache.credential_absent, version, key, true);
  }
  return value;
}

Result<ports::CredentialInfo> LoadCredential(Db& db, const std::string& credential_id) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT user_id, kind, wrapped_key, kek_version, "
                                         "not_before, not_after, state FROM credentials "
                                         "WHERE credential_id = ?1"));
  KMS_RETURN_IF_ERROR(s->BindText(1, credential_id));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return NotFoundError("no such credential");
  ports::CredentialInfo c;
  c.user_id = s->ColumnInt(0);
  c.kind = s->ColumnText(1) == "ue_psk" ? ports::CredentialKind::kUePsk
                                        : ports::CredentialKind::kMode3TicketKey;
  c.wrapped.credential_id = credential_id;
  c.wrapped.blob = s->ColumnBlob(2);
  c.wrapped.kek_version = U32(s->ColumnInt(3));
  c.not_before_unix_s = s->ColumnOptInt(4);
  c.not_after_unix_s = s->ColumnOptInt(5);
  c.state = s->ColumnText(6) == "active" ? ports::CredentialState::kActive
                                         : ports::CredentialState::kRevoked;
  return c;
}

Result<ports::UserInfo> LoadUserByIdentity(Db& db, const std::string& identity) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT u.user_id, u.name, u.private_identity, "
                                         "u.enabled FROM users u JOIN user_identities i ON "
                                         "i.user_id = u.user_id WHERE i.identity = ?1"));
  KMS_RETURN_IF_ERROR(s->BindText(1, identity));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return NotFoundError("no user with this identity");
  return ReadUserRowAndIdentities(db, *s);
}

}  // namespace

Result<std::optional<ports::UserInfo>> LoadUser(Db& db, int64_t user_id) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT user_id, name, private_identity, enabled "
                                         "FROM users WHERE user_id = ?1"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, user_id));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<ports::UserInfo>();
  KMS_ASSIGN_OR_RETURN(ports::UserInfo u, ReadUserRowAndIdentities(db, *s));
  return std::optional<ports::UserInfo>(std::move(u));
}

Result<ports::EffectivePolicy> LoadEffectivePolicy(Db& db, std::optional<int64_t> user_id) {
  ports::EffectivePolicy p;
  KMS_ASSIGN_OR_RETURN(p.policy_version, LoadPolicyVersion(db));
  if (user_id) {
    KMS_ASSIGN_OR_RETURN(p.user, LoadUser(db, *user_id));
  }
  KMS_ASSIGN_OR_RETURN(std::optional<PolicyRow> def, LoadPolicyRow(db, std::nullopt));
  if (!def) return p;  // no system default: rules stay absent, every decision denies
  std::optional<PolicyRow> own;
  if (p.user) {
    KMS_ASSIGN_OR_RETURN(own, LoadPolicyRow(db, p.user->user_id));
  }
  auto pick = [&](std::optional<int64_t> PolicyRow::*field) -> int64_t {
    if (own && ((*own).*field).has_value()) return *((*own).*field);
    return ((*def).*field).value_or(0);  // the schema forbids NULL in the default row
  };
  ports::PolicyRules r;
  r.may_request = pick(&PolicyRow::may_request) != 0;
  r.max_validity_s = U32(pick(&PolicyRow::max_validity_s));
  r.reuse_allowed = pick(&PolicyRow::reuse_allowed) != 0;
  r.max_reuse_window_s = U32(pick(&PolicyRow::max_reuse_window_s));
  r.forking_required = pick(&PolicyRow::forking_required) != 0;
  r.mode3_allowed = pick(&PolicyRow::mode3_allowed) != 0;
  r.allowed_suites = static_cast<uint8_t>(pick(&PolicyRow::allowed_suites));
  r.rate_limit_per_min = U32(pick(&PolicyRow::rate_limit_per_min));
  const int64_t responders_from = (own && own->own_responders) ? own->policy_id : def->policy_id;
  const int64_t apps_from = (own && own->own_apps) ? own->policy_id : def->policy_id;
  KMS_ASSIGN_OR_RETURN(r.allowed_responders, LoadResponders(db, responders_from));
  KMS_ASSIGN_OR_RETURN(r.allowed_apps, LoadApps(db, apps_from));
  for (const ports::ResponderRule& rule : r.allowed_responders) {
    if (rule.kind != ports::ResponderRuleKind::kGroup) continue;
    KMS_ASSIGN_OR_RETURN(p.group_members[rule.value], LoadMembers(db, rule.value));
  }
  p.source = own ? ports::PolicySource::kUserOverSystemDefault
                 : ports::PolicySource::kSystemDefault;
  p.rules = std::move(r);
  return p;
}

Result<std::set<std::string>> LoadGroupsOf(Db& db, std::string_view identity) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT g.identity FROM user_groups g JOIN "
                                         "group_members m ON g.group_id = m.group_id WHERE "
                                         "m.member_identity = ?1"));
  KMS_RETURN_IF_ERROR(s->BindText(1, identity));
  std::set<std::string> out;
  KMS_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& r) { out.insert(r.ColumnText(0)); }));
  return out;
}

}  // namespace internal

using internal::LoadEffectivePolicy;

Result<std::unique_ptr<SqlitePolicyStore>> SqlitePolicyStore::Open(
    const std::string& path, const PolicyStoreOptions& options) {
  DbOptions dbo;
  dbo.busy_timeout_ms = options.busy_timeout_ms;
  KMS_ASSIGN_OR_RETURN(Db db, Db::Open(path, dbo));
  if (options.apply_migrations) {
    KMS_RETURN_IF_ERROR(Migrate(db));
  } else {
    KMS_ASSIGN_OR_RETURN(int v, SchemaVersion(db));
    if (v != static_cast<int>(EmbeddedMigrations().size())) {
      return FailedPreconditionError("database schema version " + std::to_string(v) +
                                     " does not match this binary");
    }
  }
  return std::unique_ptr<SqlitePolicyStore>(new SqlitePolicyStore(path, options));
}

SqlitePolicyStore::~SqlitePolicyStore() = default;

Result<Db*> SqlitePolicyStore::Conn() {
  const std::thread::id me = std::this_thread::get_id();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = conns_.find(me);
    if (it != conns_.end()) return it->second.get();
  }
  DbOptions dbo;
  dbo.mode = OpenMode::kReadWrite;  // WAL readers need the -shm file writable
  dbo.busy_timeout_ms = options_.busy_timeout_ms;
  KMS_ASSIGN_OR_RETURN(Db db, Db::Open(path_, dbo));
  KMS_RETURN_IF_ERROR(db.Exec("PRAGMA query_only=1"));  // this connection never writes
  auto owned = std::make_unique<Db>(std::move(db));
  Db* raw = owned.get();
  std::lock_guard<std::mutex> lock(mu_);
  conns_[me] = std::move(owned);
  return raw;
}

namespace {

// SqliteReadScope: holds this thread's read transaction; ends it (COMMIT of a read-only
// transaction, nothing written) when the message is done.
class SqliteReadScope final : public ports::PolicyStore::ReadScope {
 public:
  explicit SqliteReadScope(Txn txn) : txn_(std::move(txn)) {}
  ~SqliteReadScope() override { (void)txn_.Commit(); }

 private:
  Txn txn_;
};

}  // namespace

std::unique_ptr<ports::PolicyStore::ReadScope> SqlitePolicyStore::OpenReadScope() {
  Result<Db*> db = Conn();
  if (!db.ok() || sqlite3_get_autocommit((*db)->raw()) == 0) {
    return nullptr;  // each call then reports its own error, or joins the open transaction
  }
  Result<Txn> txn = Txn::Begin(**db, TxnKind::kDeferred);
  if (!txn.ok()) {
    return nullptr;
  }
  return std::make_unique<SqliteReadScope>(std::move(txn).value());
}

size_t SqlitePolicyStore::ConnectionCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return conns_.size();
}

Result<int64_t> SqlitePolicyStore::ChangeToken() {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  return db->DataVersion();
}

Result<ports::CredentialInfo> SqlitePolicyStore::FindCredential(std::string_view credential_id) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  const std::string key(credential_id);
  return internal::ReadSnapshot<ports::CredentialInfo>(*db, [&] {
    return internal::ThroughRememberingAbsent(*db, cache_, key,
                                              [&] { return internal::LoadCredential(*db, key); });
  });
}

Result<ports::UserInfo> SqlitePolicyStore::FindUserByIdentity(std::string_view identity) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  const std::string key(identity);
  return internal::ReadSnapshot<ports::UserInfo>(*db, [&] {
    return internal::Through(*db, cache_, cache_.user_by_identity, key,
                             [&] { return internal::LoadUserByIdentity(*db, key); });
  });
}

Result<ports::UserInfo> SqlitePolicyStore::FindUserById(int64_t user_id) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  return internal::ReadSnapshot<ports::UserInfo>(*db, [&] {
    return internal::Through(*db, cache_, cache_.user_by_id, user_id,
                             [&]() -> Result<ports::UserInfo> {
      KMS_ASSIGN_OR_RETURN(std::optional<ports::UserInfo> u, internal::LoadUser(*db, user_id));
      if (!u) return NotFoundError("no such user");
      return std::move(*u);
    });
  });
}

Result<ports::EffectivePolicy> SqlitePolicyStore::EffectivePolicyFor(
    std::optional<int64_t> user_id) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  return internal::ReadSnapshot<ports::EffectivePolicy>(
      *db, [&] { return CachedEffectivePolicy(*db, user_id); });
}

Result<ports::EffectivePolicy> SqlitePolicyStore::CachedEffectivePolicy(
    Db& db, std::optional<int64_t> user_id) {
  const int64_t key = user_id.value_or(-1);  // user ids start at 1; -1: system default only
  return internal::Through(db, cache_, cache_.effective, key,
                           [&] { return LoadEffectivePolicy(db, user_id); });
}

Result<std::set<std::string>> SqlitePolicyStore::CachedGroupsOf(Db& db,
                                                                std::string_view identity) {
  const std::string key(identity);
  return internal::Through(db, cache_, cache_.groups_of, key,
                           [&] { return internal::LoadGroupsOf(db, key); });
}

Result<std::set<std::string>> SqlitePolicyStore::GroupsOf(std::string_view identity) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  return internal::ReadSnapshot<std::set<std::string>>(
      *db, [&] { return CachedGroupsOf(*db, identity); });
}

Result<ports::KeyVersionInfo> SqlitePolicyStore::KeyVersion(ports::KeyKind kind,
                                                            uint32_t version) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  KMS_ASSIGN_OR_RETURN(StmtUse s, db->Use("SELECT state, created_at, retired_at, destroyed_at "
                                          "FROM key_versions WHERE kind = ?1 AND version = ?2"));
  KMS_RETURN_IF_ERROR(s->BindText(1, internal::KeyKindName(kind)));
  KMS_RETURN_IF_ERROR(s->BindInt(2, version));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return NotFoundError("no such key version");
  ports::KeyVersionInfo k;
  k.kind = kind;
  k.version = version;
  KMS_ASSIGN_OR_RETURN(k.state, internal::ParseKeyState(s->ColumnText(0)));
  k.created_unix_s = s->ColumnInt(1);
  k.retired_unix_s = s->ColumnOptInt(2);
  k.destroyed_unix_s = s->ColumnOptInt(3);
  return k;
}

Result<std::optional<uint32_t>> SqlitePolicyStore::NewestActiveKeyVersion(ports::KeyKind kind) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  KMS_ASSIGN_OR_RETURN(StmtUse s, db->Use("SELECT max(version) FROM key_versions "
                                          "WHERE kind = ?1 AND state = 'active'"));
  KMS_RETURN_IF_ERROR(s->BindText(1, internal::KeyKindName(kind)));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<uint32_t>();
  const std::optional<int64_t> v = s->ColumnOptInt(0);  // max() of no rows is NULL
  if (!v) return std::optional<uint32_t>();
  if (*v < 1 || *v > UINT32_MAX) return InternalError("key_versions holds an invalid version");
  return std::optional<uint32_t>(static_cast<uint32_t>(*v));
}

Result<std::vector<ports::ReplayMark>> SqlitePolicyStore::RecentReplayMarks(UnixTime since) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  return LoadReplayLog(*db, since);
}

Result<ports::KmsPeer> SqlitePolicyStore::FindPeer(std::string_view domain) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  KMS_ASSIGN_OR_RETURN(StmtUse s, db->Use("SELECT url, tls_identity, allowed FROM kms_peers "
                                          "WHERE domain = ?1"));
  KMS_RETURN_IF_ERROR(s->BindText(1, domain));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return NotFoundError("no such KMS peer");
  return ports::KmsPeer{std::string(domain), s->ColumnText(0), s->ColumnText(1),
                        s->ColumnInt(2) != 0};
}

Result<uint64_t> SqlitePolicyStore::PolicyVersion() {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  return internal::LoadPolicyVersion(*db);
}

Result<ports::Decision> SqlitePolicyStore::AuthorizeTicketRequest(
    int64_t user_id, const ports::TicketRequestFacts& facts) {
  KMS_ASSIGN_OR_RETURN(ports::EffectivePolicy p, EffectivePolicyFor(user_id));
  return DecideTicketRequest(p, facts);
}

Result<ports::Decision> SqlitePolicyStore::AuthorizeResolve(
    int64_t responder_user_id, std::optional<int64_t> ticket_initiator_user_id,
    const ports::ResolveFacts& facts) {
  KMS_ASSIGN_OR_RETURN(Db * db, Conn());
  struct Loaded {
    ports::EffectivePolicy responder;
    std::optional<ports::EffectivePolicy> initiator;
    std::set<std::string> groups;
  };
  auto load = [&]() -> Result<Loaded> {
    Loaded out;
    KMS_ASSIGN_OR_RETURN(out.responder, CachedEffectivePolicy(*db, responder_user_id));
    if (ticket_initiator_user_id) {
      KMS_ASSIGN_OR_RETURN(out.initiator, CachedEffectivePolicy(*db, *ticket_initiator_user_id));
    }
    KMS_ASSIGN_OR_RETURN(out.groups, CachedGroupsOf(*db, facts.responder));
    return out;
  };
  KMS_ASSIGN_OR_RETURN(Loaded l, internal::ReadSnapshot<Loaded>(*db, load));
  ports::ResolveFacts f = facts;
  f.responder_groups = std::move(l.groups);
  return DecideResolve(l.responder, l.initiator ? &*l.initiator : nullptr, f);
}

}  // namespace kms::policy
