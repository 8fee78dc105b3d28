#include "policy/key_usage.h"

#include "policy/sqlite_policy_store.h"

namespace kms::policy {

Result<int64_t> AddKeyUsage(Db& db, ports::KeyKind kind, uint32_t version, int64_t delta) {
  if (delta < 0) return InvalidArgumentError("a key use count cannot go down");
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, TxnKind::kImmediate));
  {
    KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("INSERT INTO key_usage (kind, version, sealed) "
                                           "VALUES (?1, ?2, ?3) ON CONFLICT (kind, version) "
                                           "DO UPDATE SET sealed = sealed + excluded.sealed"));
    KMS_RETURN_IF_ERROR(s->BindText(1, internal::KeyKindName(kind)));
    KMS_RETURN_IF_ERROR(s->BindInt(2, version));
    KMS_RETURN_IF_ERROR(s->BindInt(3, delta));
    KMS_RETURN_IF_ERROR(s->Run());
  }
  int64_t total = 0;
  {
    KMS_ASSIGN_OR_RETURN(StmtUse q,
                         db.Use("SELECT sealed FROM key_usage WHERE kind = ?1 AND version = ?2"));
    KMS_RETURN_IF_ERROR(q->BindText(1, internal::KeyKindName(kind)));
    KMS_RETURN_IF_ERROR(q->BindInt(2, version));
    KMS_ASSIGN_OR_RETURN(bool row, q->Step());
    if (!row) return InternalError("key_usage row vanished inside its transaction");
    total = q->ColumnInt(0);
  }  // the statement is reset before the commit
  KMS_RETURN_IF_ERROR(txn.Commit());
  return total;
}

}  // namespace kms::policy
