// PolicyAdmin's part of the KEK re-wrap (kmsctl key rewrap; hsm/kek_rewrap.h does the
// token part): page through credentials still under an older KEK, then swap in the new
// blobs in one transaction per page, each swap audited.
#include <chrono>

#include "policy/admin.h"
#include "policy/audit_chain.h"

namespace kms::policy {

Result<std::vector<ports::WrappedCredential>> PolicyAdmin::CredentialsBelowKek(
    uint32_t newest_kek, const std::string& after, size_t limit) {
  // kek_version 0 marks the token-object form (no blob to re-wrap).
  KMS_ASSIGN_OR_RETURN(StmtUse s, db_.Use(
      "SELECT credential_id, kek_version, wrapped_key FROM credentials WHERE kek_version > 0 "
      "AND kek_version < ?1 AND credential_id > ?2 ORDER BY credential_id LIMIT ?3"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, newest_kek));
  KMS_RETURN_IF_ERROR(s->BindText(2, after));
  KMS_RETURN_IF_ERROR(s->BindInt(3, static_cast<int64_t>(limit)));
  std::vector<ports::WrappedCredential> out;
  for (;;) {
    KMS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) {
      return out;
    }
    out.push_back({s->ColumnText(0), static_cast<uint32_t>(s->ColumnInt(1)), s->ColumnBlob(2)});
  }
}

Result<size_t> PolicyAdmin::ReplaceWrapped(
    const std::vector<std::pair<ports::WrappedCredential, ports::WrappedCredential>>& pairs) {
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kImmediate));
  KMS_ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(db_));
  KMS_ASSIGN_OR_RETURN(StmtUse ver, db_.Use("SELECT policy_version + 1 FROM policy_meta"));
  KMS_ASSIGN_OR_RETURN(bool has_ver, ver->Step());
  const uint64_t version = has_ver ? static_cast<uint64_t>(ver->ColumnInt(0)) : 0;
  size_t replaced = 0;
  for (const auto& [old_c, new_c] : pairs) {
    if (old_c.credential_id != new_c.credential_id) {
      return InvalidArgumentError("re-wrap pair names two credentials");
    }
    KMS_ASSIGN_OR_RETURN(StmtUse u, db_.Use(
        "UPDATE credentials SET wrapped_key = ?1, kek_version = ?2 WHERE credential_id = ?3 "
        "AND kek_version = ?4 AND wrapped_key = ?5"));
    KMS_RETURN_IF_ERROR(u->BindBlob(1, new_c.blob));
    KMS_RETURN_IF_ERROR(u->BindInt(2, new_c.kek_version));
    KMS_RETURN_IF_ERROR(u->BindText(3, old_c.credential_id));
    KMS_RETURN_IF_ERROR(u->BindInt(4, old_c.kek_version));
    KMS_RETURN_IF_ERROR(u->BindBlob(5, old_c.blob));
    KMS_RETURN_IF_ERROR(u->Run());
    if (db_.Changes() != 1) {
      continue;  // re-provisioned or removed since it was read: nothing to audit
    }
    ports::AuditRecord r = AdminRecord("credential.rewrap", {}, version,
                                       "kek v" + std::to_string(old_c.kek_version) + " -> v" +
                                           std::to_string(new_c.kek_version));
    r.credential_id = old_c.credential_id;
    KMS_ASSIGN_OR_RETURN(head, AppendRow(db_, head, r));
    ++replaced;
  }
  KMS_ASSIGN_OR_RETURN(StmtUse bump, db_.Use("UPDATE policy_meta SET policy_version = "
                                             "policy_version + 1 WHERE singleton = 1"));
  KMS_RETURN_IF_ERROR(bump->Run());
  KMS_RETURN_IF_ERROR(txn.Commit());
  return replaced;
}

}  // namespace kms::policy
