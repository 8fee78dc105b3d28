// The audit hash chain and its sealed checkpoints (architecture.md §5, evaluator-checklist
// items 20-21, NDcPP FAU_STG_EXT.1). Shared by the group-commit writer (audit_writer.h),
// the admin API (admin_store.h, which appends its audit row in the admin transaction) and
// the verifier (audit_verify.h).
//
//   row hash   = SHA-256("KMS-AUDIT-ROW-1" || prev_hash || EncodeRow(row))
//   EncodeRow  = u64 seq || i64 time_ns || u32 len || actor || ... (every text field
//                length-prefixed, so no two different rows share an encoding) || u64 policy_version
//   checkpoint = HMAC-SHA-256(audit key vN, "KMS-AUDIT-CKPT-1" || u64 seq || u64 last_row ||
//                row_hash(last_row) || u32 N || i64 time_ns || prev_mac), computed in the token.
// Every function that writes must run inside the caller's BEGIN IMMEDIATE transaction.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "policy/sqlite_db.h"
#include "src/core/ports/audit_sink.h"
#include "src/core/ports/key_vault.h"

namespace kms::policy {

using Hash32 = std::array<uint8_t, 32>;

// AuditRow: one audit_log row as stored (outcome as its stored name).
struct AuditRow {
  int64_t seq = 0;
  int64_t time_ns = 0;
  std::string actor, action, initiator, responder, credential_id, ticket_id, outcome, rule;
  uint64_t policy_version = 0;
  std::string correlation_id, detail;
  Hash32 prev_hash{};
  Hash32 hash{};
};

// BlobToHash: a stored 32-byte blob as a Hash32; all zero for any other length (the schema's
// CHECKs make that a damaged file; callers that must tell check the size themselves).
Hash32 BlobToHash(const std::vector<uint8_t>& v);

// kAuditRowColumns: the select list ReadAuditRow expects, in its order.
inline constexpr const char* kAuditRowColumns =
    "seq, time_ns, actor, action, initiator, responder, credential_id, ticket_id, outcome, "
    "rule, policy_version, correlation_id, detail, prev_hash, hash";
// ReadAuditRow: the current row of a statement selecting kAuditRowColumns first. A stored
// hash of the wrong length (a damaged row) is copied as far as it goes; the verifier reads
// the stored blobs itself to detect exactly that.
AuditRow ReadAuditRow(const Stmt& s);

// ToRow: the stored form of a record at position seq (hashes not yet set).
AuditRow ToRow(int64_t seq, const ports::AuditRecord& record);

// EncodeRow: the canonical, length-prefixed encoding of every field except the hashes.
std::vector<uint8_t> EncodeRow(const AuditRow& row);
// RowHash: SHA-256 over the domain tag, prev and EncodeRow(row). Aborts only if OpenSSL's
// SHA-256 itself fails (KMS_CHECK), which would make every audit guarantee moot.
Hash32 RowHash(const Hash32& prev, const AuditRow& row);

struct ChainHead {
  int64_t seq = 0;   // 0: empty log
  Hash32 hash{};     // all zero for the empty log (the genesis "previous hash")
};

struct CheckpointHead {
  int64_t seq = 0;       // 0: no checkpoint yet
  int64_t last_row = 0;  // last audit row the newest checkpoint covers
  int64_t time_ns = 0;
  Hash32 mac{};          // all zero before the first checkpoint
};

// ReadChainHead: the newest row (never archived away: `kmsctl audit archive` appends its
// own row after the archived ones, and only archived rows can be deleted).
Result<ChainHead> ReadChainHead(Db& db);
Result<CheckpointHead> ReadCheckpointHead(Db& db);

// AppendRow: inserts record as row head.seq + 1 chained to head; returns the new head.
Result<ChainHead> AppendRow(Db& db, const ChainHead& head, const ports::AuditRecord& record);

// CheckpointMacInput: the exact bytes the checkpoint MAC covers.
std::vector<uint8_t> CheckpointMacInput(int64_t seq, int64_t last_row, const Hash32& row_hash,
                                        uint32_t key_version, int64_t time_ns,
                                        const Hash32& prev_mac);

// ArchiveMacInput: the exact bytes an archive record's MAC covers (policy/audit_archive.h):
//   "KMS-AUDIT-ARCH-1" || u64 seq || u64 first_row || u64 last_row || last_hash ||
//   u64 checkpoint || file_sha256 || u32 key_version || i64 time_ns || prev_mac
std::vector<uint8_t> ArchiveMacInput(int64_t seq, int64_t first_row, int64_t last_row,
                                     const Hash32& last_hash, int64_t checkpoint,
                                     const Hash32& file_sha256, uint32_t key_version,
                                     int64_t time_ns, const Hash32& prev_mac);

// WriteCheckpoint: seals head with the vault's active audit key (HMAC in the token) and
// inserts checkpoint prev.seq + 1. kFailedPrecondition if head adds no row since prev.
Result<CheckpointHead> WriteCheckpoint(Db& db, ports::KeyVault& vault, const ChainHead& head,
                                       const CheckpointHead& prev, int64_t time_ns);

}  // namespace kms::policy
