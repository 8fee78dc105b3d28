// The audit archive file of `kmsctl audit archive` and `kmsctl audit verify-archive`
// (policy/audit_archive.h; docs/operations.md "Archiving the audit trail").
//
// JSON Lines, one object per line, in this order:
//   {"format":"kms-audit-archive-1","first_row":F,"last_row":L,"prev_hash":H0,
//    "last_hash":HL,"checkpoint":C}
//   {"checkpoint":{seq,last_row,row_hash,key_version,time_ns,prev_mac,mac}}  (each one whose
//    last_row is in F..L; before the rows, so a reader knows which row hashes to keep)
//   {"row":{seq,time_ns,actor,...,detail,policy_version,prev_hash,hash}}      (F..L in order;
//    text fields as `audit export --json` writes them: a value that is not UTF-8 also as
//    <name>_hex, which the reader prefers, so every byte round-trips)
//   {"end":{"rows":L-F+1,"checkpoints":N}}
// Hashes and MACs are lowercase hex. The database's archive record holds the SHA-256 of the
// file's bytes, so the file can be kept anywhere and still be checked against the trail.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/audit_archive.h"
#include "src/base/result.h"
#include "src/core/ports/key_vault.h"

namespace kmsctl {

// WriteArchiveFile: the plan's rows and checkpoints into a new file at `path` (0600; written
// as <path>.partial, synced, then linked to `path`, which must not exist, and the directory
// synced). Returns the SHA-256 of the file's bytes.
kms::Result<kms::policy::Hash32> WriteArchiveFile(kms::policy::Db& db,
                                                  const kms::policy::ArchivePlan& plan,
                                                  const std::string& path);

struct ArchiveFileReport {
  bool intact = false;
  std::string problem;  // the first problem found, for operators (no key material)
  int64_t first_row = 0, last_row = 0, checkpoints = 0;
  kms::policy::Hash32 sha256{};
};

// VerifyArchiveFile: reads the file back and checks the format, every row's hash and link
// from prev_hash on, that the rows are exactly F..L ending at last_hash, every checkpoint's
// MAC (in the token, `vault`) and the row hash it seals, that checkpoint C seals row L with
// last_hash, and the end line. If `record` is given, the file must also be the one it
// describes (range, last hash, checkpoint, SHA-256). Errors only when the check cannot run
// (file unreadable, token failure); a bad file is a report with intact = false.
kms::Result<ArchiveFileReport> VerifyArchiveFile(
    const std::string& path, kms::ports::KeyVault& vault,
    const std::optional<kms::policy::ArchiveRecord>& record);

}  // namespace kmsctl
