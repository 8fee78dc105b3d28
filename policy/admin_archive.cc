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
  // The policy version only labels the row (no policy changes, so it is not bumped);
  // RecordArchive reads it inside its own transaction, so it is the committed one.
  ports::AuditRecord r =
      AdminRecord("audit.archive", {}, 0,
                  "rows " + std::to_string(plan.first_row) + ".." + std::to_string(plan.last_row) +
                      " checkpoint " + std::to_string(plan.checkpoint) + " file " + file_name +
                      " sha256 " + HexEncode(file_sha256));
  const int64_t now_ns = r.time.time_since_epoch().count();
  return RecordArchive(db_, vault, plan, file_sha256, now_ns, r);
}

}  // namespace kms::policy
