#include "policy/admin.h"

#include <algorithm>
#include <chrono>

#include "policy/audit_chain.h"
#include "policy/migrations.h"
#include "policy/replay_log.h"

namespace kms::policy {
namespace {

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* KindName(ports::KeyKind k) {
  switch (k) {
    case ports::KeyKind::kTpk: return "tpk";
    case ports::KeyKind::kKek: return "kek";
    case ports::KeyKind::kAudit: return "audit";
  }
  return "tpk";
}

const char* StateName(ports::KeyState s) {
  switch (s) {
    case ports::KeyState::kActive: return "active";
    case ports::KeyState::kRetired: return "retired";
    case ports::KeyState::kDestroyed: return "destroyed";
  }
  return "destroyed";
}

const char* RuleKindName(ports::ResponderRuleKind k) {
  switch (k) {
    case ports::ResponderRuleKind::kExact: return "exact";
    case ports::ResponderRuleKind::kDomain: return "domain";
    case ports::ResponderRuleKind::kGroup: return "group";
  }
  return "exact";
}

Status BindOptBool(Stmt& s, int i, std::optional<bool> v) {
  return v ? s.BindInt(i, *v ? 1 : 0) : s.BindNull(i);
}
Status BindOptU32(Stmt& s, int i, std::optional<uint32_t> v) {
  return v ? s.BindInt(i, *v) : s.BindNull(i);
}

}  // namespace

Result<PolicyAdmin> PolicyAdmin::Open(const std::string& path, std::string operator_id,
                                      AdminAccess access) {
  DbOptions o;
  o.mode = access == AdminAccess::kCreate ? OpenMode::kReadWriteCreate : OpenMode::kReadWrite;
  Result<Db> db = Db::Open(path, o);
  if (!db.ok()) {
    if (db.status().code() == StatusCode::kNotFound) {
      return NotFoundError("no policy database at " + path + " (kmsctl init creates one)");
    }
    return db.status();
  }
  if (access == AdminAccess::kCreate || access == AdminAccess::kReadWrite) {
    KMS_RETURN_IF_ERROR(Migrate(*db).status());
    return PolicyAdmin(std::move(*db), std::move(operator_id));
  }
  // Read-write open (a WAL reader needs the -shm file writable), but query_only: a read
  // command never changes the file, not even by migrating it. kAuditOnly may append a
  // refusal row, and still never migrates.
  if (access == AdminAccess::kReadOnly) {
    KMS_RETURN_IF_ERROR(db->Exec("PRAGMA query_only=1"));
  }
  KMS_ASSIGN_OR_RETURN(int version, SchemaVersion(*db));
  const int latest = static_cast<int>(EmbeddedMigrations().size());
  if (version == 0) {
    return FailedPreconditionError(path + " is not an initialised policy database "
                                          "(kmsctl init)");
  }
  if (version != latest) {
    return FailedPreconditionError(
        "database schema version " + std::to_string(version) + " differs from this binary's (" +
        std::to_string(latest) + "); read commands do not migrate: a change command or "
        "kmsctl init migrates an older database");
  }
  return PolicyAdmin(std::move(*db), std::move(operator_id));
}

template <typename Fn>
Status PolicyAdmin::InChange(const std::string& action, const std::string& subject,
                             const std::string& detail, Fn&& fn) {
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kImmediate));
  KMS_RETURN_IF_ERROR(fn());
  KMS_ASSIGN_OR_RETURN(StmtUse bump, db_.Use("UPDATE policy_meta SET policy_version = "
                                             "policy_version + 1 WHERE singleton = 1"));
  KMS_RETURN_IF_ERROR(bump->Run());
  KMS_ASSIGN_OR_RETURN(StmtUse ver, db_.Use("SELECT policy_version FROM policy_meta"));
  KMS_ASSIGN_OR_RETURN(bool has, ver->Step());
  const ports::AuditRecord r =
      AdminRecord(action, subject, has ? static_cast<uint64_t>(ver->ColumnInt(0)) : 0, detail);
  KMS_ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(db_));
  KMS_RETURN_IF_ERROR(AppendRow(db_, head, r).status());
  return txn.Commit();
}

ports::AuditRecord PolicyAdmin::AdminRecord(const std::string& action,
                                            const std::string& subject,
                                            uint64_t policy_version,
                                            const std::string& detail) const {
  ports::AuditRecord r;
  r.time = std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
  r.actor = "admin:" + operator_;
  r.action = action;
  r.initiator = subject;
  r.outcome = ports::AuditOutcome::kOk;
  r.rule = "admin";
  r.policy_version = policy_version;
  r.detail = detail;
  return r;
}

Result<int64_t> PolicyAdmin::UserId(const std::string& name) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("SELECT user_id FROM users WHERE name = ?1"));
  KMS_RETURN_IF_ERROR(s->BindText(1, name));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    return NotFoundError("no user named '" + name + "'");
  }
  return s->ColumnInt(0);
}

Result<int64_t> PolicyAdmin::AddUser(const std::string& name, const std::string& private_identity,
                                     const std::vector<std::string>& public_identities) {
  int64_t id = 0;
  Status st = InChange("user.add", name, private_identity, [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("INSERT INTO users (name, private_identity, "
                                            "enabled, created_at) VALUES (?1, ?2, 1, ?3)"));
    KMS_RETURN_IF_ERROR(s->BindText(1, name));
    KMS_RETURN_IF_ERROR(s->BindText(2, private_identity));
    KMS_RETURN_IF_ERROR(s->BindInt(3, NowS()));
    KMS_RETURN_IF_ERROR(s->Run());
    id = db_.LastInsertRowId();
    for (const std::string& identity : public_identities) {
      KMS_ASSIGN_OR_RETURN(StmtUse i, db_.Use("INSERT INTO user_identities (identity, user_id) "
                                              "VALUES (?1, ?2)"));
      KMS_RETURN_IF_ERROR(i->BindText(1, identity));
      KMS_RETURN_IF_ERROR(i->BindInt(2, id));
      KMS_RETURN_IF_ERROR(i->Run().WithContext("identity '" + identity + "'"));
    }
    return Status::Ok();
  });
  if (!st.ok()) {
    return st;
  }
  return id;
}

Result<std::vector<ImportProblem>> PolicyAdmin::ImportUsers(
    const std::vector<ImportRow>& rows, const std::function<void(size_t)>& progress) {
  std::vector<ImportProblem> problems;
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kImmediate));
  KMS_ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(db_));
  KMS_ASSIGN_OR_RETURN(StmtUse ver, db_.Use("SELECT policy_version + 1 FROM policy_meta"));
  KMS_ASSIGN_OR_RETURN(bool has_ver, ver->Step());
  const uint64_t version = has_ver ? static_cast<uint64_t>(ver->ColumnInt(0)) : 0;
  const int64_t now = NowS();
  size_t done = 0;
  for (const ImportRow& row : rows) {
    // One savepoint per row: a bad row is undone alone, so later rows are checked against
    // good rows only and every problem is found in one pass; the whole transaction is
    // dropped at the end if there was any.
    KMS_RETURN_IF_ERROR(db_.Exec("SAVEPOINT import_row"));
    Status st = [&]() -> Status {
      KMS_ASSIGN_OR_RETURN(StmtUse u, db_.Use("INSERT INTO users (name, private_identity, "
                                              "enabled, created_at) VALUES (?1, ?2, 1, ?3)"));
      KMS_RETURN_IF_ERROR(u->BindText(1, row.name));
      KMS_RETURN_IF_ERROR(u->BindText(2, row.private_identity));
      KMS_RETURN_IF_ERROR(u->BindInt(3, now));
      KMS_RETURN_IF_ERROR(u->Run().WithContext("user '" + row.name + "'"));
      const int64_t id = db_.LastInsertRowId();
      for (const std::string& identity : row.public_identities) {
        KMS_ASSIGN_OR_RETURN(StmtUse i, db_.Use("INSERT INTO user_identities (identity, "
                                                "user_id) VALUES (?1, ?2)"));
        KMS_RETURN_IF_ERROR(i->BindText(1, identity));
        KMS_RETURN_IF_ERROR(i->BindInt(2, id));
        KMS_RETURN_IF_ERROR(i->Run().WithContext("identity '" + identity + "'"));
      }
      if (row.credential) {
        KMS_ASSIGN_OR_RETURN(StmtUse c, db_.Use(
            "INSERT INTO credentials (credential_id, user_id, kind, wrapped_key, kek_version, "
            "state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6)"));
        KMS_RETURN_IF_ERROR(c->BindText(1, row.credential->credential_id));
        KMS_RETURN_IF_ERROR(c->BindInt(2, id));
        KMS_RETURN_IF_ERROR(c->BindText(
            3, row.kind == ports::CredentialKind::kUePsk ? "ue_psk" : "mode3_ticket_key"));
        KMS_RETURN_IF_ERROR(c->BindBlob(4, row.credential->blob));
        KMS_RETURN_IF_ERROR(c->BindInt(5, row.credential->kek_version));
        KMS_RETURN_IF_ERROR(c->BindInt(6, now));
        KMS_RETURN_IF_ERROR(
            c->Run().WithContext("credential '" + row.credential->credential_id + "'"));
      }
      for (const std::string& g : row.groups) {
        KMS_ASSIGN_OR_RETURN(StmtUse m, db_.Use(
            "INSERT INTO group_members (group_id, member_identity) SELECT group_id, ?2 FROM "
            "user_groups WHERE identity = ?1"));
        KMS_RETURN_IF_ERROR(m->BindText(1, g));
        KMS_RETURN_IF_ERROR(m->BindText(2, row.public_identities.front()));
        KMS_RETURN_IF_ERROR(m->Run().WithContext("group '" + g + "'"));
        if (db_.Changes() != 1) {
          return NotFoundError("no group '" + g + "'");
        }
      }
      KMS_ASSIGN_OR_RETURN(
          head, AppendRow(db_, head,
                          AdminRecord("user.import", row.name, version,
                                      "line " + std::to_string(row.line) +
                                          (row.credential ? " credential " +
                                                                row.credential->credential_id
                                                          : ""))));
      return Status::Ok();
    }();
    if (!st.ok()) {
      problems.push_back({row.line, st.message()});
      KMS_RETURN_IF_ERROR(db_.Exec("ROLLBACK TO import_row"));
    }
    KMS_RETURN_IF_ERROR(db_.Exec("RELEASE import_row"));
    if (++done % 1000 == 0 && progress) {
      progress(done);
    }
  }
  if (!problems.empty()) {
    return problems;  // txn rolls back: nothing of the import remains
  }
  KMS_ASSIGN_OR_RETURN(StmtUse bump, db_.Use("UPDATE policy_meta SET policy_version = "
                                             "policy_version + 1 WHERE singleton = 1"));
  KMS_RETURN_IF_ERROR(bump->Run());
  KMS_RETURN_IF_ERROR(txn.Commit());
  return problems;
}

Status PolicyAdmin::SetUserEnabled(const std::string& name, bool enabled) {
  return InChange(enabled ? "user.enable" : "user.disable", name, "", [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(int64_t id, UserId(name));
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("UPDATE users SET enabled = ?1 WHERE user_id = ?2"));
    KMS_RETURN_IF_ERROR(s->BindInt(1, enabled ? 1 : 0));
    KMS_RETURN_IF_ERROR(s->BindInt(2, id));
    return s->Run();
  });
}

Status PolicyAdmin::AddCredential(const std::string& user_name, ports::CredentialKind kind,
                                  const ports::WrappedCredential& wrapped,
                                  std::optional<int64_t> not_before,
                                  std::optional<int64_t> not_after) {
  return InChange("credential.add", user_name, wrapped.credential_id, [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(int64_t id, UserId(user_name));
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use(
        "INSERT INTO credentials (credential_id, user_id, kind, wrapped_key, kek_version, "
        "not_before, not_after, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "'active', ?8)"));
    KMS_RETURN_IF_ERROR(s->BindText(1, wrapped.credential_id));
    KMS_RETURN_IF_ERROR(s->BindInt(2, id));
    KMS_RETURN_IF_ERROR(s->BindText(
        3, kind == ports::CredentialKind::kUePsk ? "ue_psk" : "mode3_ticket_key"));
    KMS_RETURN_IF_ERROR(s->BindBlob(4, wrapped.blob));
    KMS_RETURN_IF_ERROR(s->BindInt(5, wrapped.kek_version));
    KMS_RETURN_IF_ERROR(s->BindOptInt(6, not_before));
    KMS_RETURN_IF_ERROR(s->BindOptInt(7, not_after));
    KMS_RETURN_IF_ERROR(s->BindInt(8, NowS()));
    return s->Run();
  });
}

Status PolicyAdmin::RemoveCredential(const std::string& credential_id) {
  std::string owner;
  {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("SELECT u.name FROM credentials c JOIN users u "
                                            "USING (user_id) WHERE c.credential_id = ?1"));
    KMS_RETURN_IF_ERROR(s->BindText(1, credential_id));
    KMS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) {
      return NotFoundError("no credential '" + credential_id + "'");
    }
    owner = s->ColumnText(0);
  }
  return InChange("credential.remove", owner, credential_id, [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(StmtUse s,
                         db_.Use("DELETE FROM credentials WHERE credential_id = ?1"));
    KMS_RETURN_IF_ERROR(s->BindText(1, credential_id));
    KMS_RETURN_IF_ERROR(s->Run());
    if (db_.Changes() != 1) {
      return NotFoundError("no credential '" + credential_id + "'");  // removed meanwhile
    }
    return Status::Ok();
  });
}

Status PolicyAdmin::SetPolicy(const std::string& user_name, const PolicySpec& spec) {
  const std::string subject = user_name.empty() ? "(system default)" : user_name;
  return InChange("policy.set", subject, "", [&]() -> Status {
    std::optional<int64_t> uid;
    if (!user_name.empty()) {
      KMS_ASSIGN_OR_RETURN(int64_t id, UserId(user_name));
      uid = id;
    }
    // Replace the row (its lists cascade away with it).
    KMS_ASSIGN_OR_RETURN(StmtUse del, db_.Use(uid ? "DELETE FROM policies WHERE user_id = ?1"
                                                  : "DELETE FROM policies WHERE user_id IS NULL"));
    if (uid) {
      KMS_RETURN_IF_ERROR(del->BindInt(1, *uid));
    }
    KMS_RETURN_IF_ERROR(del->Run());
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use(
        "INSERT INTO policies (user_id, may_request, max_validity_s, reuse_allowed, "
        "max_reuse_window_s, forking_required, mode3_allowed, allowed_suites, "
        "rate_limit_per_min, own_responders, own_apps, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
    KMS_RETURN_IF_ERROR(s->BindOptInt(1, uid));
    KMS_RETURN_IF_ERROR(BindOptBool(*s, 2, spec.may_request));
    KMS_RETURN_IF_ERROR(BindOptU32(*s, 3, spec.max_validity_s));
    KMS_RETURN_IF_ERROR(BindOptBool(*s, 4, spec.reuse_allowed));
    KMS_RETURN_IF_ERROR(BindOptU32(*s, 5, spec.max_reuse_window_s));
    KMS_RETURN_IF_ERROR(BindOptBool(*s, 6, spec.forking_required));
    KMS_RETURN_IF_ERROR(BindOptBool(*s, 7, spec.mode3_allowed));
    KMS_RETURN_IF_ERROR(spec.allowed_suites ? s->BindInt(8, *spec.allowed_suites) : s->BindNull(8));
    KMS_RETURN_IF_ERROR(BindOptU32(*s, 9, spec.rate_limit_per_min));
    KMS_RETURN_IF_ERROR(s->BindInt(10, spec.responders ? 1 : 0));
    KMS_RETURN_IF_ERROR(s->BindInt(11, spec.apps ? 1 : 0));
    KMS_RETURN_IF_ERROR(s->BindInt(12, NowS()));
    KMS_RETURN_IF_ERROR(s->Run().WithContext("policy row"));
    const int64_t pid = db_.LastInsertRowId();
    for (const auto& r : spec.responders.value_or(std::vector<ports::ResponderRule>{})) {
      KMS_ASSIGN_OR_RETURN(StmtUse i, db_.Use("INSERT INTO policy_responders (policy_id, kind, "
                                              "pattern) VALUES (?1, ?2, ?3)"));
      KMS_RETURN_IF_ERROR(i->BindInt(1, pid));
      KMS_RETURN_IF_ERROR(i->BindText(2, RuleKindName(r.kind)));
      KMS_RETURN_IF_ERROR(i->BindText(3, r.value));
      KMS_RETURN_IF_ERROR(i->Run());
    }
    for (const auto& a : spec.apps.value_or(std::vector<std::string>{})) {
      KMS_ASSIGN_OR_RETURN(StmtUse i, db_.Use("INSERT INTO policy_apps (policy_id, app) "
                                              "VALUES (?1, ?2)"));
      KMS_RETURN_IF_ERROR(i->BindInt(1, pid));
      KMS_RETURN_IF_ERROR(i->BindText(2, a));
      KMS_RETURN_IF_ERROR(i->Run());
    }
    return Status::Ok();
  });
}

Status PolicyAdmin::AddGroup(const std::string& group, const std::string& description) {
  return InChange("group.add", group, description, [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("INSERT INTO user_groups (identity, description) "
                                            "VALUES (?1, ?2)"));
    KMS_RETURN_IF_ERROR(s->BindText(1, group));
    KMS_RETURN_IF_ERROR(s->BindText(2, description));
    return s->Run();
  });
}

Status PolicyAdmin::AddGroupMember(const std::string& group, const std::string& member) {
  return InChange("group.member_add", group, member, [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use(
        "INSERT INTO group_members (group_id, member_identity) SELECT group_id, ?2 FROM "
        "user_groups WHERE identity = ?1"));
    KMS_RETURN_IF_ERROR(s->BindText(1, group));
    KMS_RETURN_IF_ERROR(s->BindText(2, member));
    KMS_RETURN_IF_ERROR(s->Run());
    return db_.Changes() == 1 ? Status::Ok() : NotFoundError("no group '" + group + "'");
  });
}

Status PolicyAdmin::RemoveGroupMember(const std::string& group, const std::string& member) {
  return InChange("group.member_remove", group, member, [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use(
        "DELETE FROM group_members WHERE member_identity = ?2 AND group_id = (SELECT group_id "
        "FROM user_groups WHERE identity = ?1)"));
    KMS_RETURN_IF_ERROR(s->BindText(1, group));
    KMS_RETURN_IF_ERROR(s->BindText(2, member));
    KMS_RETURN_IF_ERROR(s->Run());
    return db_.Changes() == 1 ? Status::Ok() : NotFoundError("not a member");
  });
}

Status PolicyAdmin::SetKeyVersion(ports::KeyKind kind, uint32_t version, ports::KeyState state) {
  return InChange(std::string("key.") + StateName(state), KindName(kind),
                  "version " + std::to_string(version), [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use(
        "INSERT INTO key_versions (kind, version, state, created_at, retired_at) "
        "VALUES (?1, ?2, ?3, ?4, CASE WHEN ?3 = 'retired' THEN ?4 END) "
        "ON CONFLICT (kind, version) DO UPDATE SET state = excluded.state, "
        "retired_at = CASE WHEN excluded.state = 'retired' THEN ?4 ELSE retired_at END, "
        "destroyed_at = CASE WHEN excluded.state = 'destroyed' THEN ?4 ELSE destroyed_at END"));
    KMS_RETURN_IF_ERROR(s->BindText(1, KindName(kind)));
    KMS_RETURN_IF_ERROR(s->BindInt(2, version));
    KMS_RETURN_IF_ERROR(s->BindText(3, StateName(state)));
    KMS_RETURN_IF_ERROR(s->BindInt(4, NowS()));
    return s->Run();
  });
}

Result<std::vector<ports::KeyVersionInfo>> PolicyAdmin::ListKeyVersions() {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("SELECT kind, version, state, created_at, retired_at, "
                                          "destroyed_at FROM key_versions ORDER BY kind, "
                                          "version"));
  std::vector<ports::KeyVersionInfo> out;
  for (;;) {
    KMS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) {
      break;
    }
    ports::KeyVersionInfo k;
    const std::string kind = s->ColumnText(0);
    k.kind = kind == "tpk" ? ports::KeyKind::kTpk
                           : kind == "kek" ? ports::KeyKind::kKek : ports::KeyKind::kAudit;
    k.version = static_cast<uint32_t>(s->ColumnInt(1));
    const std::string st = s->ColumnText(2);
    k.state = st == "active" ? ports::KeyState::kActive
                             : st == "retired" ? ports::KeyState::kRetired
                                               : ports::KeyState::kDestroyed;
    k.created_unix_s = s->ColumnInt(3);
    k.retired_unix_s = s->ColumnOptInt(4);
    k.destroyed_unix_s = s->ColumnOptInt(5);
    out.push_back(k);
  }
  return out;
}

Result<std::vector<UserSummary>> PolicyAdmin::ListUsers() {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("SELECT user_id, name, private_identity, enabled FROM "
                                          "users ORDER BY name"));
  std::vector<UserSummary> out;
  for (;;) {
    KMS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) {
      break;
    }
    UserSummary u;
    u.user.user_id = s->ColumnInt(0);
    u.user.name = s->ColumnText(1);
    u.user.private_identity = s->ColumnText(2);
    u.user.enabled = s->ColumnInt(3) != 0;
    out.push_back(std::move(u));
  }
  for (UserSummary& u : out) {
    KMS_ASSIGN_OR_RETURN(StmtUse i, db_.Use("SELECT identity FROM user_identities WHERE "
                                            "user_id = ?1 ORDER BY identity"));
    KMS_RETURN_IF_ERROR(i->BindInt(1, u.user.user_id));
    for (;;) {
      KMS_ASSIGN_OR_RETURN(bool row, i->Step());
      if (!row) {
        break;
      }
      u.user.public_identities.push_back(i->ColumnText(0));
    }
    KMS_ASSIGN_OR_RETURN(StmtUse c, db_.Use("SELECT credential_id FROM credentials WHERE "
                                            "user_id = ?1 ORDER BY credential_id"));
    KMS_RETURN_IF_ERROR(c->BindInt(1, u.user.user_id));
    for (;;) {
      KMS_ASSIGN_OR_RETURN(bool row, c->Step());
      if (!row) {
        break;
      }
      u.credential_ids.push_back(c->ColumnText(0));
    }
  }
  return out;
}

Result<std::vector<ports::WrappedCredential>> PolicyAdmin::ListCredentials() {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("SELECT credential_id, kek_version, wrapped_key FROM "
                                          "credentials ORDER BY credential_id"));
  std::vector<ports::WrappedCredential> out;
  for (;;) {
    KMS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) {
      break;
    }
    out.push_back({s->ColumnText(0), static_cast<uint32_t>(s->ColumnInt(1)), s->ColumnBlob(2)});
  }
  return out;
}

Status PolicyAdmin::RotateKey(ports::KeyKind kind, uint32_t new_version,
                              const std::function<Status()>& in_token) {
  return InChange("key.rotate", KindName(kind), "new version " + std::to_string(new_version),
                  [&]() -> Status {
    const int64_t now = NowS();
    KMS_ASSIGN_OR_RETURN(StmtUse r, db_.Use("UPDATE key_versions SET state = 'retired', "
                                            "retired_at = ?2 WHERE kind = ?1 AND state = "
                                            "'active'"));
    KMS_RETURN_IF_ERROR(r->BindText(1, KindName(kind)));
    KMS_RETURN_IF_ERROR(r->BindInt(2, now));
    KMS_RETURN_IF_ERROR(r->Run());
    KMS_ASSIGN_OR_RETURN(StmtUse a, db_.Use("INSERT INTO key_versions (kind, version, state, "
                                            "created_at) VALUES (?1, ?2, 'active', ?3)"));
    KMS_RETURN_IF_ERROR(a->BindText(1, KindName(kind)));
    KMS_RETURN_IF_ERROR(a->BindInt(2, new_version));
    KMS_RETURN_IF_ERROR(a->BindInt(3, now));
    KMS_RETURN_IF_ERROR(a->Run().WithContext("key version"));
    return in_token();
  });
}

Status PolicyAdmin::DestroyKeyVersion(ports::KeyKind kind, uint32_t version,
                                      const std::function<Status()>& in_token) {
  return InChange("key.destroy", KindName(kind), "version " + std::to_string(version),
                  [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("UPDATE key_versions SET state = 'destroyed', "
                                            "destroyed_at = ?3 WHERE kind = ?1 AND version = "
                                            "?2 AND state != 'destroyed'"));
    KMS_RETURN_IF_ERROR(s->BindText(1, KindName(kind)));
    KMS_RETURN_IF_ERROR(s->BindInt(2, version));
    KMS_RETURN_IF_ERROR(s->BindInt(3, NowS()));
    KMS_RETURN_IF_ERROR(s->Run());
    if (db_.Changes() != 1) {
      return NotFoundError("no such key version, or already destroyed");
    }
    return in_token();
  });
}

Status PolicyAdmin::RecordEvent(const std::string& action, const std::string& subject,
                                const std::string& detail) {
  return InChange(action, subject, detail, [] { return Status::Ok(); });
}

Status PolicyAdmin::RecordRestore(const std::string& subject, const std::string& detail) {
  // Spec §9.1: the restored replay marks end at the backup; what kmsd answered after it is
  // unknown here, so the next kmsd refuses every message sent before now (it reads this mark
  // with the others at start-up).
  const UnixTime now =
      std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
  return InChange("backup.restore", subject, detail, [&] {
    return AppendReplayMark(db_, ports::ReplayMark{ports::kReplayStateLost, now});
  });
}

Status PolicyAdmin::SnapshotTo(const std::string& path) {
  // VACUUM cannot run inside a transaction; it reads one consistent snapshot by itself.
  KMS_ASSIGN_OR_RETURN(Stmt s, db_.Prepare("VACUUM INTO ?1"));
  KMS_RETURN_IF_ERROR(s.BindText(1, path));
  return s.Run().WithContext("snapshot");
}

// ---- KMS peers (RFC 6043 §10) ----

Status PolicyAdmin::AddPeer(const ports::KmsPeer& peer) {
  return InChange("peer.add", peer.domain, peer.url + " tls=" + peer.tls_identity +
                  (peer.allowed ? "" : " (disabled)"), [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("INSERT INTO kms_peers (domain, url, tls_identity, "
                                            "allowed, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
    KMS_RETURN_IF_ERROR(s->BindText(1, peer.domain));
    KMS_RETURN_IF_ERROR(s->BindText(2, peer.url));
    KMS_RETURN_IF_ERROR(s->BindText(3, peer.tls_identity));
    KMS_RETURN_IF_ERROR(s->BindInt(4, peer.allowed ? 1 : 0));
    KMS_RETURN_IF_ERROR(s->BindInt(5, NowS()));
    return s->Run().WithContext("peer '" + peer.domain + "'");
  });
}

Status PolicyAdmin::RemovePeer(const std::string& domain) {
  return InChange("peer.remove", domain, "", [&]() -> Status {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("DELETE FROM kms_peers WHERE domain = ?1"));
    KMS_RETURN_IF_ERROR(s->BindText(1, domain));
    KMS_RETURN_IF_ERROR(s->Run());
    return db_.Changes() == 1 ? Status::Ok() : NotFoundError("no peer '" + domain + "'");
  });
}

}  // namespace kms::policy
