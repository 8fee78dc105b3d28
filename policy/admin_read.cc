// PolicyAdmin reads for kmsctl's show/list/export commands (issue 9 items 2-4): each read
// runs in one snapshot; nothing here returns key material (credential blobs stay out).
#include <algorithm>

#include "policy/admin.h"

namespace kms::policy {
namespace {

std::optional<bool> OptBool(const Stmt& s, int col) {
  auto v = s.ColumnOptInt(col);
  return v ? std::optional<bool>(*v != 0) : std::nullopt;
}
std::optional<uint32_t> OptU32(const Stmt& s, int col) {
  auto v = s.ColumnOptInt(col);
  return v ? std::optional<uint32_t>(static_cast<uint32_t>(*v)) : std::nullopt;
}

}  // namespace

Result<UserDetail> PolicyAdmin::GetUser(const std::string& name) {
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kDeferred));  // one snapshot
  KMS_ASSIGN_OR_RETURN(int64_t id, UserId(name));
  UserDetail d;
  KMS_ASSIGN_OR_RETURN(StmtUse u, db_.Use("SELECT private_identity, enabled FROM users WHERE "
                                          "user_id = ?1"));
  KMS_RETURN_IF_ERROR(u->BindInt(1, id));
  KMS_ASSIGN_OR_RETURN(bool has, u->Step());
  if (!has) {
    return NotFoundError("no user named '" + name + "'");
  }
  d.user.user_id = id;
  d.user.name = name;
  d.user.private_identity = u->ColumnText(0);
  d.user.enabled = u->ColumnInt(1) != 0;
  KMS_ASSIGN_OR_RETURN(StmtUse i, db_.Use("SELECT identity FROM user_identities WHERE "
                                          "user_id = ?1 ORDER BY identity"));
  KMS_RETURN_IF_ERROR(i->BindInt(1, id));
  KMS_RETURN_IF_ERROR(
      ForEachRow(*i, [&](const Stmt& r) { d.user.public_identities.push_back(r.ColumnText(0)); }));
  KMS_ASSIGN_OR_RETURN(StmtUse c, db_.Use(
      "SELECT credential_id, kind, kek_version, not_before, not_after, state, created_at FROM "
      "credentials WHERE user_id = ?1 ORDER BY credential_id"));
  KMS_RETURN_IF_ERROR(c->BindInt(1, id));
  KMS_RETURN_IF_ERROR(ForEachRow(*c, [&](const Stmt& r) {
    CredentialSummary cs;
    cs.credential_id = r.ColumnText(0);
    cs.kind = r.ColumnText(1) == "ue_psk" ? ports::CredentialKind::kUePsk
                                          : ports::CredentialKind::kMode3TicketKey;
    cs.kek_version = static_cast<uint32_t>(r.ColumnInt(2));
    cs.not_before_unix_s = r.ColumnOptInt(3);
    cs.not_after_unix_s = r.ColumnOptInt(4);
    cs.active = r.ColumnText(5) == "active";
    cs.created_unix_s = r.ColumnInt(6);
    d.credentials.push_back(std::move(cs));
  }));
  KMS_ASSIGN_OR_RETURN(StmtUse g, db_.Use(
      "SELECT DISTINCT g.identity FROM user_groups g JOIN group_members m USING (group_id) "
      "JOIN user_identities i ON i.identity = m.member_identity WHERE i.user_id = ?1 "
      "ORDER BY g.identity"));
  KMS_RETURN_IF_ERROR(g->BindInt(1, id));
  KMS_RETURN_IF_ERROR(ForEachRow(*g, [&](const Stmt& r) { d.groups.push_back(r.ColumnText(0)); }));
  return d;
}

Result<std::vector<GroupInfo>> PolicyAdmin::ListGroups() {
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kDeferred));
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use(
      "SELECT g.identity, g.description, m.member_identity FROM user_groups g LEFT JOIN "
      "group_members m USING (group_id) ORDER BY g.identity, m.member_identity"));
  std::vector<GroupInfo> out;
  KMS_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& r) {
    const std::string id = r.ColumnText(0);
    if (out.empty() || out.back().identity != id) {
      out.push_back(GroupInfo{id, r.ColumnText(1), {}});
    }
    if (!r.ColumnIsNull(2)) {
      out.back().members.push_back(r.ColumnText(2));
    }
  }));
  return out;
}

Result<StoredPolicy> PolicyAdmin::GetPolicy(const std::string& user_name) {
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kDeferred));
  std::optional<int64_t> uid;
  if (!user_name.empty()) {
    KMS_ASSIGN_OR_RETURN(int64_t id, UserId(user_name));
    uid = id;
  }
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use(
      "SELECT policy_id, may_request, max_validity_s, reuse_allowed, max_reuse_window_s, "
      "forking_required, mode3_allowed, allowed_suites, rate_limit_per_min, own_responders, "
      "own_apps, updated_at FROM policies WHERE user_id IS ?1"));
  KMS_RETURN_IF_ERROR(s->BindOptInt(1, uid));
  KMS_ASSIGN_OR_RETURN(bool has, s->Step());
  StoredPolicy p;
  if (!has) {
    return p;
  }
  p.exists = true;
  const int64_t pid = s->ColumnInt(0);
  p.spec.may_request = OptBool(*s, 1);
  p.spec.max_validity_s = OptU32(*s, 2);
  p.spec.reuse_allowed = OptBool(*s, 3);
  p.spec.max_reuse_window_s = OptU32(*s, 4);
  p.spec.forking_required = OptBool(*s, 5);
  p.spec.mode3_allowed = OptBool(*s, 6);
  if (auto v = s->ColumnOptInt(7)) {
    p.spec.allowed_suites = static_cast<uint8_t>(*v);
  }
  p.spec.rate_limit_per_min = OptU32(*s, 8);
  const bool own_responders = s->ColumnInt(9) != 0, own_apps = s->ColumnInt(10) != 0;
  p.updated_unix_s = s->ColumnInt(11);
  if (own_responders) {
    p.spec.responders.emplace();
    KMS_ASSIGN_OR_RETURN(StmtUse r, db_.Use("SELECT kind, pattern FROM policy_responders WHERE "
                                            "policy_id = ?1 ORDER BY kind, pattern"));
    KMS_RETURN_IF_ERROR(r->BindInt(1, pid));
    KMS_RETURN_IF_ERROR(ForEachRow(*r, [&](const Stmt& row) {
      const std::string k = row.ColumnText(0);
      p.spec.responders->push_back(
          {k == "exact"    ? ports::ResponderRuleKind::kExact
           : k == "domain" ? ports::ResponderRuleKind::kDomain
                           : ports::ResponderRuleKind::kGroup,
           row.ColumnText(1)});
    }));
  }
  if (own_apps) {
    p.spec.apps.emplace();
    KMS_ASSIGN_OR_RETURN(StmtUse a, db_.Use("SELECT app FROM policy_apps WHERE policy_id = ?1 "
                                            "ORDER BY app"));
    KMS_RETURN_IF_ERROR(a->BindInt(1, pid));
    KMS_RETURN_IF_ERROR(
        ForEachRow(*a, [&](const Stmt& row) { p.spec.apps->push_back(row.ColumnText(0)); }));
  }
  return p;
}

Result<ports::KeyVersionInfo> PolicyAdmin::GetKeyVersion(ports::KeyKind kind, uint32_t version) {
  KMS_ASSIGN_OR_RETURN(auto all, ListKeyVersions());
  for (const auto& k : all) {
    if (k.kind == kind && k.version == version) {
      return k;
    }
  }
  return NotFoundError("key version " + std::to_string(version) + " of that kind is not "
                       "registered");
}

Result<uint32_t> PolicyAdmin::MaxPolicyValidity() {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("SELECT coalesce(max(max_validity_s), 0) FROM "
                                          "policies"));
  KMS_ASSIGN_OR_RETURN(bool has, s->Step());
  return has ? static_cast<uint32_t>(s->ColumnInt(0)) : 0U;
}

Result<int64_t> PolicyAdmin::CredentialsUnderKek(uint32_t kek_version) {
  return CountWithVersion("SELECT count(*) FROM credentials WHERE kek_version = ?1",
                          kek_version);
}

Result<int64_t> PolicyAdmin::CheckpointsUnderAuditKey(uint32_t version) {
  // Archive records (policy/audit_archive.h) are sealed with the same keys.
  return CountWithVersion(
      "SELECT (SELECT count(*) FROM audit_checkpoint WHERE key_version = ?1) "
      "+ (SELECT count(*) FROM audit_archive WHERE key_version = ?1)",
      version);
}

Result<int64_t> PolicyAdmin::CountWithVersion(std::string_view sql, uint32_t version) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use(sql));
  KMS_RETURN_IF_ERROR(s->BindInt(1, version));
  KMS_ASSIGN_OR_RETURN(bool has, s->Step());
  return has ? s->ColumnInt(0) : 0;
}

Result<std::vector<ports::KmsPeer>> PolicyAdmin::ListPeers() {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use("SELECT domain, url, tls_identity, allowed FROM "
                                          "kms_peers ORDER BY domain"));
  std::vector<ports::KmsPeer> out;
  KMS_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& r) {
    out.push_back({r.ColumnText(0), r.ColumnText(1), r.ColumnText(2), r.ColumnInt(3) != 0});
  }));
  return out;
}

Result<std::vector<AuditRow>> PolicyAdmin::ExportAudit(const AuditFilter& f) {
  KMS_ASSIGN_OR_RETURN(
      StmtUse s, db_.Use(std::string("SELECT ") + kAuditRowColumns +
                         " FROM audit_log "
                         "WHERE (?1 IS NULL OR time_ns >= ?1) AND (?2 IS NULL OR time_ns < ?2) AND "
                         "(?3 IS NULL OR action = ?3) ORDER BY seq"));
  KMS_RETURN_IF_ERROR(s->BindOptInt(1, f.since_ns));
  KMS_RETURN_IF_ERROR(s->BindOptInt(2, f.until_ns));
  KMS_RETURN_IF_ERROR(f.action ? s->BindText(3, *f.action) : s->BindNull(3));
  std::vector<AuditRow> out;
  auto subject = [&](const std::string& v) {
    return std::find(f.subjects.begin(), f.subjects.end(), v) != f.subjects.end();
  };
  KMS_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& r) {
    AuditRow a = ReadAuditRow(r);
    // Admin rows name the operator as "admin:<op>"; ticket rows name identities.
    if (f.subjects.empty() || subject(a.actor) || subject(a.initiator) ||
        subject(a.responder)) {
      out.push_back(std::move(a));
    }
  }));
  return out;
}

}  // namespace kms::policy
