// VerifyAudit: proves the audit trail (the core of `kmsctl audit verify`, evaluator item 21).
// Archive records (policy/audit_archive.h) come first: each one's MAC in the token, its
// place after the previous one, and that it ends on the row a checkpoint sealed; the chain
// in the database then starts after the newest one, at its last hash.
// Recomputes every row hash and link, checks that row numbers have no gaps, and checks
// every checkpoint's MAC in the token, its link to the previous checkpoint and the row hash
// it seals. Rows after the last valid checkpoint are reported as unsealed, never as valid.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/sqlite_db.h"
#include "src/core/ports/key_vault.h"

namespace kms::policy {

enum class AuditProblem : uint8_t {
  kNone,
  kModifiedRow,        // a row's content or hash differs from what the chain implies
  kDeletedRow,         // a row number is missing (or rows a checkpoint sealed are gone)
  kReorderedRows,      // a row sits at another position than the one it was chained at
  kForgedCheckpoint,   // MAC wrong, unknown key version, or it seals a hash not in the chain
  kMissingCheckpoint,  // a checkpoint number is missing, or more rows than allowed unsealed
  kTruncated,          // the trail ends before a row or checkpoint an external anchor names
  kAnchorMismatch,     // the anchored checkpoint seals another row hash than was recorded
  kForgedArchive,      // an archive record's MAC, order or checkpoint does not hold
};

std::string_view AuditProblemName(AuditProblem p);

struct AuditVerifyOptions {
  // If > 0: at most this many rows may lie between two checkpoints (and in the unsealed
  // tail); more means a checkpoint was removed. 0 skips that check.
  int64_t max_rows_per_checkpoint = 0;
  // External anchors (docs/security-target.md "What the audit chain cannot prove"): a hash
  // chain sealed from inside cannot prove where it ends, so the rows after the newest
  // checkpoint, or the newest checkpoints together with the rows after the previous one,
  // can be cut off and the rest still verifies. If > 0, the trail must hold row min_rows
  // and checkpoint min_checkpoints (values recorded elsewhere earlier, e.g. from
  // `kmsctl --json audit verify`); else kTruncated. 0 skips the check.
  int64_t min_rows = 0;
  int64_t min_checkpoints = 0;
  // If set (needs min_checkpoints > 0): checkpoint min_checkpoints must seal a row with this
  // chain hash (kmsd logs it as event=audit_checkpoint hash=...); else kAnchorMismatch.
  // Numbers alone do not pin the content: someone who can write the database can cut the
  // trail back to an older checkpoint, append rows of his own with a recomputed chain (no
  // key needed) and let kmsd's timer seal them under the same checkpoint numbers again.
  std::optional<std::array<uint8_t, 32>> checkpoint_row_hash;
};

struct AuditVerifyReport {
  AuditProblem problem = AuditProblem::kNone;
  int64_t first_bad_row = 0;         // the first row number involved (0: none)
  int64_t bad_checkpoint = 0;        // the checkpoint number involved (0: none)
  std::string detail;                // for operators; holds no key material
  int64_t rows = 0;                  // the number of the last row (archived ones included)
  int64_t checkpoints = 0;
  int64_t archives = 0;              // archive records
  int64_t archived_rows = 0;         // rows moved to archive files (verified records only)
  int64_t sealed_through_row = 0;    // last row covered by a verified checkpoint
  int64_t unsealed_rows = 0;         // rows after it: chained, but not sealed
  bool intact() const { return problem == AuditProblem::kNone; }
  bool fully_sealed() const { return intact() && unsealed_rows == 0; }
};

// VerifyAudit: errors only when the check itself cannot run (database or token
// unavailable); a tampered trail is a successful call with report.problem set.
Result<AuditVerifyReport> VerifyAudit(Db& db, ports::KeyVault& vault,
                                      const AuditVerifyOptions& options = {});

}  // namespace kms::policy
