// PolicyAdmin's record of operator attempts refused before they changed anything (kmsctl
// admin.login_failed: checklist items 15 and 20, FAU_GEN.1 and FIA_AFL.1;
// docs/security-target.md "Administrator authentication").
#include <chrono>

#include "policy/admin.h"
#include "policy/audit_chain.h"

namespace kms::policy {

Status PolicyAdmin::RecordRefusal(const std::string& action, const std::string& subject,
                                  const std::string& rule, const std::string& detail) {
  // IMMEDIATE: the chain head read below must still be the head when the row is appended
  // (kmsd's audit writer may append concurrently; the write lock orders them).
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_, TxnKind::kImmediate));
  // The policy version the refusal saw; not bumped, because no policy row changed (a bump
  // would only make kmsd's caches reload for nothing).
  KMS_ASSIGN_OR_RETURN(StmtUse ver, db_.Use("SELECT policy_version FROM policy_meta"));
  KMS_ASSIGN_OR_RETURN(bool has, ver->Step());
  ports::AuditRecord r =
      AdminRecord(action, subject, has ? static_cast<uint64_t>(ver->ColumnInt(0)) : 0, detail);
  r.outcome = ports::AuditOutcome::kDenied;
  r.rule = rule;
  KMS_ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(db_));
  KMS_RETURN_IF_ERROR(AppendRow(db_, head, r).status());
  return txn.Commit();
}

}  // namespace kms::policy
