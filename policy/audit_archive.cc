#include "policy/audit_archive.h"

#include <algorithm>
#include <string>

namespace kms::policy {
namespace {

ArchiveRecord ReadArchiveRecord(const Stmt& s) {
  ArchiveRecord a;
  a.seq = s.ColumnInt(0);
  a.first_row = s.ColumnInt(1);
  a.last_row = s.ColumnInt(2);
  a.last_hash = BlobToHash(s.ColumnBlob(3));
  a.checkpoint = s.ColumnInt(4);
  a.file_sha256 = BlobToHash(s.ColumnBlob(5));
  a.key_version = static_cast<uint32_t>(s.ColumnInt(6));
  a.time_ns = s.ColumnInt(7);
  a.prev_mac = BlobToHash(s.ColumnBlob(8));
  a.mac = BlobToHash(s.ColumnBlob(9));
  return a;
}

constexpr const char* kArchiveColumns =
    "seq, first_row, last_row, last_hash, checkpoint, file_sha256, key_version, time_ns, "
    "prev_mac, mac";

// NewestArchive: the newest record, or nothing before the first archive.
Result<std::optional<ArchiveRecord>> NewestArchive(Db& db) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use(std::string("SELECT ") + kArchiveColumns +
                                         " FROM audit_archive ORDER BY seq DESC LIMIT 1"));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<ArchiveRecord>();
  return std::optional<ArchiveRecord>(ReadArchiveRecord(*s));
}

}  // namespace

Result<std::vector<ArchiveRecord>> ReadArchives(Db& db) {
  KMS_ASSIGN_OR_RETURN(Stmt s, db.Prepare(std::string("SELECT ") + kArchiveColumns +
                                          " FROM audit_archive ORDER BY seq"));
  std::vector<ArchiveRecord> out;
  KMS_RETURN_IF_ERROR(ForEachRow(s, [&](const Stmt& r) { out.push_back(ReadArchiveRecord(r)); }));
  return out;
}

Result<ArchivePlan> PlanArchive(Db& db, int64_t before_ns) {
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, TxnKind::kDeferred));  // one snapshot
  KMS_ASSIGN_OR_RETURN(std::optional<ArchiveRecord> prev, NewestArchive(db));
  ArchivePlan plan;
  plan.first_row = prev ? prev->last_row + 1 : 1;
  if (prev) plan.prev_hash = prev->last_hash;
  KMS_ASSIGN_OR_RETURN(StmtUse s,
                       db.Use("SELECT seq, last_row, row_hash, time_ns FROM audit_checkpoint WHERE "
                              "time_ns < ?1 AND last_row >= ?2 ORDER BY seq DESC LIMIT 1"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, before_ns));
  KMS_RETURN_IF_ERROR(s->BindInt(2, plan.first_row));
  KMS_ASSIGN_OR_RETURN(bool found, s->Step());
  if (!found) {
    return NotFoundError("no checkpoint made before that time seals a row not yet archived");
  }
  plan.checkpoint = s->ColumnInt(0);
  plan.last_row = s->ColumnInt(1);
  plan.last_hash = BlobToHash(s->ColumnBlob(2));
  plan.checkpoint_time_ns = s->ColumnInt(3);
  return plan;
}

Status ForEachPlannedRow(Db& db, const ArchivePlan& plan,
                         const std::function<Status(const AuditRow&)>& fn) {
  KMS_ASSIGN_OR_RETURN(Stmt s, db.Prepare(std::string("SELECT ") + kAuditRowColumns +
                                          " FROM audit_log WHERE seq >= ?1 AND seq <= ?2 "
                                          "ORDER BY seq"));
  KMS_RETURN_IF_ERROR(s.BindInt(1, plan.first_row));
  KMS_RETURN_IF_ERROR(s.BindInt(2, plan.last_row));
  int64_t expected = plan.first_row;
  KMS_RETURN_IF_ERROR(ForEachRow(s, [&](const Stmt& r) -> Status {
    AuditRow row = ReadAuditRow(r);
    if (row.seq != expected) {
      return FailedPreconditionError("audit row " + std::to_string(expected) + " is missing");
    }
    ++expected;
    return fn(row);
  }));
  if (expected != plan.last_row + 1) {
    return FailedPreconditionError("audit row " + std::to_string(expected) + " is missing");
  }
  return Status::Ok();
}

Status ForEachPlannedCheckpoint(Db& db, const ArchivePlan& plan,
                                const std::function<Status(const CheckpointRow&)>& fn) {
  KMS_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT seq, last_row, row_hash, key_version, "
                                          "time_ns, prev_mac, mac FROM audit_checkpoint WHERE "
                                          "last_row >= ?1 AND last_row <= ?2 ORDER BY seq"));
  KMS_RETURN_IF_ERROR(s.BindInt(1, plan.first_row));
  KMS_RETURN_IF_ERROR(s.BindInt(2, plan.last_row));
  return ForEachRow(s, [&](const Stmt& r) -> Status {
    CheckpointRow c;
    c.seq = r.ColumnInt(0);
    c.last_row = r.ColumnInt(1);
    c.row_hash = BlobToHash(r.ColumnBlob(2));
    c.key_version = static_cast<uint32_t>(r.ColumnInt(3));
    c.time_ns = r.ColumnInt(4);
    c.prev_mac = BlobToHash(r.ColumnBlob(5));
    c.mac = BlobToHash(r.ColumnBlob(6));
    return fn(c);
  });
}

Result<ArchiveRecord> RecordArchive(Db& db, ports::KeyVault& vault, const ArchivePlan& plan,
                                    const Hash32& file_sha256, int64_t time_ns,
                                    const ports::AuditRecord& admin_row) {
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, TxnKind::kImmediate));
  KMS_ASSIGN_OR_RETURN(std::optional<ArchiveRecord> prev, NewestArchive(db));
  if ((prev ? prev->last_row + 1 : 1) != plan.first_row) {
    return FailedPreconditionError("another archive was recorded meanwhile; run it again");
  }
  // The range must still end on the checkpoint it was planned on (checkpoints and rows are
  // append-only, so this holds unless the database was changed by hand).
  KMS_ASSIGN_OR_RETURN(StmtUse c, db.Use("SELECT last_row, row_hash FROM audit_checkpoint "
                                         "WHERE seq = ?1"));
  KMS_RETURN_IF_ERROR(c->BindInt(1, plan.checkpoint));
  KMS_ASSIGN_OR_RETURN(bool found, c->Step());
  if (!found || c->ColumnInt(0) != plan.last_row ||
      BlobToHash(c->ColumnBlob(1)) != plan.last_hash) {
    return FailedPreconditionError("checkpoint " + std::to_string(plan.checkpoint) +
                                   " no longer seals the planned rows");
  }
  ArchiveRecord a;
  a.seq = prev ? prev->seq + 1 : 1;
  a.first_row = plan.first_row;
  a.last_row = plan.last_row;
  a.last_hash = plan.last_hash;
  a.checkpoint = plan.checkpoint;
  a.file_sha256 = file_sha256;
  a.time_ns = time_ns;
  if (prev) a.prev_mac = prev->mac;
  KMS_ASSIGN_OR_RETURN(a.key_version, vault.ActiveAuditKeyVersion());
  KMS_ASSIGN_OR_RETURN(ports::KeyRef key, vault.AuditKey(a.key_version));
  const std::vector<uint8_t> input =
      ArchiveMacInput(a.seq, a.first_row, a.last_row, a.last_hash, a.checkpoint, a.file_sha256,
                      a.key_version, a.time_ns, a.prev_mac);
  KMS_RETURN_IF_ERROR(vault.Hmac(key, crypto::HmacAlg::kSha256, input, a.mac));
  KMS_ASSIGN_OR_RETURN(StmtUse s,
                       db.Use(std::string("INSERT INTO audit_archive (") + kArchiveColumns +
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, a.seq));
  KMS_RETURN_IF_ERROR(s->BindInt(2, a.first_row));
  KMS_RETURN_IF_ERROR(s->BindInt(3, a.last_row));
  KMS_RETURN_IF_ERROR(s->BindBlob(4, a.last_hash));
  KMS_RETURN_IF_ERROR(s->BindInt(5, a.checkpoint));
  KMS_RETURN_IF_ERROR(s->BindBlob(6, a.file_sha256));
  KMS_RETURN_IF_ERROR(s->BindInt(7, a.key_version));
  KMS_RETURN_IF_ERROR(s->BindInt(8, a.time_ns));
  KMS_RETURN_IF_ERROR(s->BindBlob(9, a.prev_mac));
  KMS_RETURN_IF_ERROR(s->BindBlob(10, a.mac));
  KMS_RETURN_IF_ERROR(s->Run());
  ports::AuditRecord row = admin_row;
  {
    KMS_ASSIGN_OR_RETURN(StmtUse ver, db.Use("SELECT policy_version FROM policy_meta"));
    KMS_ASSIGN_OR_RETURN(bool has, ver->Step());
    if (has) row.policy_version = static_cast<uint64_t>(ver->ColumnInt(0));
  }
  KMS_ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(db));
  KMS_RETURN_IF_ERROR(AppendRow(db, head, row).status());
  KMS_RETURN_IF_ERROR(txn.Commit());
  return a;
}

Result<int64_t> PurgeArchivedRows(Db& db, int64_t batch) {
  int64_t deleted = 0;
  for (;;) {
    // Short transactions: kmsd's writer waits for each one (its busy wait), so a batch
    // must stay far below its max_wait.
    KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, TxnKind::kImmediate));
    KMS_ASSIGN_OR_RETURN(
        StmtUse s,
        db.Use("DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE seq <= "
               "(SELECT coalesce(max(last_row), 0) FROM audit_archive) ORDER BY seq LIMIT ?1)"));
    KMS_RETURN_IF_ERROR(s->BindInt(1, batch));
    KMS_RETURN_IF_ERROR(s->Run());
    const int n = db.Changes();
    KMS_RETURN_IF_ERROR(txn.Commit());
    deleted += n;
    if (n < batch) return deleted;
  }
}

}  // namespace kms::policy
