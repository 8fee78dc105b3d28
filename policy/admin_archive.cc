// PolicyAdmin's part of `kmsctl audit archive` (policy/audit_archive.h): the archive record
// and the operator's "audit.archive" row, committed together.
#include "policy/admin.h"
#include "policy/audit_archive.h"
#include "src/base/encoding.h"

namespace kms::policy {

Result<ArchiveRecord> PolicyAdmin::RecordAuditArchive(ports::KeyVault& vault,
                                                      const ArchivePlan& plan,
                                                      const Hash32& file_sha256,
                                                      const std::string& file_name) {
  // The policy version only labels the row (no policy changes, so it is not bumped).
  uint64_t version = 0;
  {
    // Scoped: the statement must be reset before RecordArchive's BEGIN IMMEDIATE (an
    // active read would pin a snapshot that kmsd's writer makes stale; see Txn::Begin).
    KMS_ASSIGN_OR_RETURN(StmtUse ver, db_.Use("SELECT policy_version FROM policy_meta"));
    KMS_ASSIGN_OR_RETURN(bool has, ver->Step());
    if (has) version = static_cast<uint64_t>(ver->ColumnInt(0));
  }
  ports::AuditRecord r =
      AdminRecord("audit.archive", {}, version,
                  "rows " + std::to_string(plan.first_row) + ".." + std::to_string(plan.last_row) +
                      " checkpoint " + std::to_string(plan.checkpoint) + " file " + file_name +
                      " sha256 " + HexEncode(file_sha256));
  const int64_t now_ns = r.time.time_since_epoch().count();
  return RecordArchive(db_, vault, plan, file_sha256, now_ns, r);
}

}  // namespace kms::policy
