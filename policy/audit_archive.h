// Archiving the audit trail (`kmsctl audit archive`, docs/operations.md "Archiving the
// audit trail"): every ticket message adds a row, so without archiving the database grows
// for as long as the appliance serves. An archive moves the oldest sealed rows into a file
// and out of the database without breaking what `kmsctl audit verify` proves:
//
//  1. PlanArchive picks the rows after the previous archive up to a row a checkpoint
//     sealed (so the file ends on a MAC'd boundary);
//  2. the caller writes them, and the checkpoints sealing them, to a file and syncs it
//     (kmsctl: src/cli/kmsctl/audit_archive_file.h);
//  3. RecordArchive commits, in one transaction, an audit_archive record (HMAC with the
//     token's audit key over the range, its last hash, the checkpoint and the file's
//     SHA-256; migration 0005) and the operator's "audit.archive" row;
//  4. PurgeArchivedRows deletes the archived rows in short transactions (kmsd keeps
//     committing meanwhile); a purge cut short is finished by the next call.
//
// From then on the verifier starts the chain at the newest archive's last hash
// (audit_verify.h) and checks each archive record's MAC and its checkpoint; the file
// itself is checked by `kmsctl audit verify-archive`. Only rows up to an archive's last row
// can be deleted (the trigger of 0005); a record made without the token fails its MAC.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "policy/audit_chain.h"
#include "policy/sqlite_db.h"
#include "src/core/ports/audit_sink.h"
#include "src/core/ports/key_vault.h"

namespace kms::policy {

// ArchiveRecord: one audit_archive row as stored.
struct ArchiveRecord {
  int64_t seq = 0;
  int64_t first_row = 0, last_row = 0;
  Hash32 last_hash{};
  int64_t checkpoint = 0;
  Hash32 file_sha256{};
  uint32_t key_version = 0;
  int64_t time_ns = 0;
  Hash32 prev_mac{};
  Hash32 mac{};
};

// CheckpointRow: one audit_checkpoint row as stored (for archive files).
struct CheckpointRow {
  int64_t seq = 0, last_row = 0;
  Hash32 row_hash{};
  uint32_t key_version = 0;
  int64_t time_ns = 0;
  Hash32 prev_mac{}, mac{};
};

// ArchivePlan: the rows the next archive holds.
struct ArchivePlan {
  int64_t first_row = 0, last_row = 0;
  Hash32 prev_hash{};  // the chain hash before first_row (the previous archive's last_hash)
  Hash32 last_hash{};  // row last_row's hash, as the checkpoint sealed it
  int64_t checkpoint = 0;
  int64_t checkpoint_time_ns = 0;
};

// ReadArchives: every archive record in seq order (none: empty).
Result<std::vector<ArchiveRecord>> ReadArchives(Db& db);

// PlanArchive: rows after the newest archive up to the row sealed by the newest checkpoint
// made before `before_ns`; kNotFound when no such checkpoint seals a row not yet archived.
// Reads only (the caller verifies the trail first: an archive of a broken trail would hide
// the damage).
Result<ArchivePlan> PlanArchive(Db& db, int64_t before_ns);

// ForEachArchivedRow / ForEachArchivedCheckpoint: the plan's rows in seq order, and the
// checkpoints whose last_row lies in the plan's range, streamed (an archive may hold
// millions of rows). kFailedPrecondition if a row of the range is missing.
Status ForEachPlannedRow(Db& db, const ArchivePlan& plan,
                         const std::function<Status(const AuditRow&)>& fn);
Status ForEachPlannedCheckpoint(Db& db, const ArchivePlan& plan,
                                const std::function<Status(const CheckpointRow&)>& fn);

// RecordArchive: in ONE transaction, checks that the plan still follows the newest archive
// and still ends on its checkpoint, inserts the MAC'd archive record (HMAC in the token with
// the active audit key) and appends `admin_row` (the operator's "audit.archive" row, its
// policy_version set to the committed one, read in the same transaction) to the
// chain. kFailedPrecondition when another archive was recorded meanwhile.
Result<ArchiveRecord> RecordArchive(Db& db, ports::KeyVault& vault, const ArchivePlan& plan,
                                    const Hash32& file_sha256, int64_t time_ns,
                                    const ports::AuditRecord& admin_row);

// PurgeArchivedRows: deletes rows up to the newest archive's last row, at most `batch` per
// transaction, until none is left; returns how many were deleted.
Result<int64_t> PurgeArchivedRows(Db& db, int64_t batch = 5000);

}  // namespace kms::policy
