#include "policy/audit_verify.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <optional>
#include <string>

#include "policy/audit_archive.h"
#include "policy/audit_chain.h"

namespace kms::policy {
namespace {

bool SameHash(const std::vector<uint8_t>& a, const Hash32& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), b.size()) == 0;
}

// SeqWithHash: the row whose stored hash is h (used only to classify a broken link).
Result<std::optional<int64_t>> SeqWithHash(Db& db, const std::vector<uint8_t>& h) {
  KMS_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT seq FROM audit_log WHERE hash = ?1 LIMIT 1"));
  KMS_RETURN_IF_ERROR(s.BindBlob(1, h));
  KMS_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(s.ColumnInt(0));
}

void SetProblem(AuditVerifyReport& r, AuditProblem p, int64_t row, int64_t checkpoint,
                std::string detail) {
  if (r.problem != AuditProblem::kNone) return;  // keep the first problem found
  r.problem = p;
  r.first_bad_row = row;
  r.bad_checkpoint = checkpoint;
  r.detail = std::move(detail);
}

// Archived: where the chain in the database starts (after the newest verified archive).
struct Archived {
  int64_t through = 0;  // last archived row (0: none)
  Hash32 hash{};        // its chain hash (all zero: genesis)
};

// VerifyArchives: checks every archive record; *archived ends at the last one that holds.
Status VerifyArchives(Db& db, ports::KeyVault& vault, AuditVerifyReport& report,
                      Archived* archived) {
  KMS_ASSIGN_OR_RETURN(std::vector<ArchiveRecord> records, ReadArchives(db));
  KMS_ASSIGN_OR_RETURN(Stmt cp, db.Prepare("SELECT last_row, row_hash FROM audit_checkpoint "
                                           "WHERE seq = ?1"));
  Hash32 prev_mac{};
  int64_t expected = 1;
  for (const ArchiveRecord& a : records) {
    ++report.archives;
    if (report.problem != AuditProblem::kNone) continue;  // count only
    const std::string name = "archive " + std::to_string(a.seq);
    auto fail = [&](const std::string& why) {
      SetProblem(report, AuditProblem::kForgedArchive, archived->through + 1, 0, name + why);
    };
    if (a.seq != expected) {
      fail(" is out of sequence (archive " + std::to_string(expected) + " is missing)");
      continue;
    }
    // The MAC first: nothing else in the record is trusted before it verifies.
    Result<ports::KeyRef> key = vault.AuditKey(a.key_version);
    if (!key.ok()) {
      if (key.status().code() != StatusCode::kNotFound) return key.status();
      fail(" names an unknown audit key version");
      continue;
    }
    Hash32 expect_mac{};
    KMS_RETURN_IF_ERROR(
        vault.Hmac(*key, crypto::HmacAlg::kSha256,
                   ArchiveMacInput(a.seq, a.first_row, a.last_row, a.last_hash, a.checkpoint,
                                   a.file_sha256, a.key_version, a.time_ns, a.prev_mac),
                   expect_mac));
    if (CRYPTO_memcmp(expect_mac.data(), a.mac.data(), a.mac.size()) != 0) {
      fail(" has a wrong MAC");
      continue;
    }
    if (a.prev_mac != prev_mac || a.first_row != archived->through + 1) {
      fail(" does not follow the previous archive");
      continue;
    }
    cp.Reset();
    KMS_RETURN_IF_ERROR(cp.BindInt(1, a.checkpoint));
    KMS_ASSIGN_OR_RETURN(bool found, cp.Step());
    if (!found || cp.ColumnInt(0) != a.last_row || !SameHash(cp.ColumnBlob(1), a.last_hash)) {
      fail(" does not end on the row checkpoint " + std::to_string(a.checkpoint) + " sealed");
      continue;
    }
    archived->through = a.last_row;
    archived->hash = a.last_hash;
    prev_mac = a.mac;
    ++expected;
  }
  report.archived_rows = archived->through;
  return Status::Ok();
}

// VerifyRows: walks the chain in seq order from the row after the archived ones; the
// stored hash of every row that checkpoints seal is looked up later by seq, so only the
// running state is kept here.
Status VerifyRows(Db& db, const Archived& archived, AuditVerifyReport& report) {
  KMS_ASSIGN_OR_RETURN(Stmt s, db.Prepare(std::string("SELECT ") + kAuditRowColumns +
                                          " FROM audit_log WHERE seq > ?1 ORDER BY seq"));
  KMS_RETURN_IF_ERROR(s.BindInt(1, archived.through));
  std::vector<uint8_t> prev_stored(archived.hash.begin(), archived.hash.end());
  int64_t expected = archived.through + 1;
  report.rows = archived.through;
  while (true) {
    KMS_ASSIGN_OR_RETURN(bool more, s.Step());
    if (!more) break;
    AuditRow row = ReadAuditRow(s);
    std::vector<uint8_t> stored_prev = s.ColumnBlob(13);
    std::vector<uint8_t> stored_hash = s.ColumnBlob(14);
    ++report.rows;
    if (report.problem != AuditProblem::kNone) continue;  // count only
    if (row.seq != expected) {
      SetProblem(report, AuditProblem::kDeletedRow, expected, 0,
                 "row " + std::to_string(expected) + " is missing");
      continue;
    }
    const bool self_ok = SameHash(stored_hash, RowHash(BlobToHash(stored_prev), row));
    const bool link_ok = stored_prev == prev_stored;
    if (!link_ok) {
      KMS_ASSIGN_OR_RETURN(std::optional<int64_t> origin, SeqWithHash(db, stored_prev));
      if (origin && *origin != row.seq - 1) {
        SetProblem(report, AuditProblem::kReorderedRows, row.seq, 0,
                   "row " + std::to_string(row.seq) + " was chained after row " +
                       std::to_string(*origin));
      } else if (self_ok && row.seq > 1) {
        // This row is intact; its predecessor was rewritten (with a recomputed hash).
        SetProblem(report, AuditProblem::kModifiedRow, row.seq - 1, 0,
                   "row " + std::to_string(row.seq - 1) + " does not match its successor");
      } else {
        SetProblem(report, AuditProblem::kModifiedRow, row.seq, 0,
                   "row " + std::to_string(row.seq) + " has a broken link");
      }
    } else if (!self_ok) {
      SetProblem(report, AuditProblem::kModifiedRow, row.seq, 0,
                 "row " + std::to_string(row.seq) + " content does not match its hash");
    }
    prev_stored = std::move(stored_hash);
    ++expected;
  }
  return Status::Ok();
}

// Anchored: the row checkpoint options.min_checkpoints seals, once it verified.
struct Anchored {
  int64_t last_row = 0;
  Hash32 row_hash{};
};

// VerifyCheckpoints: also sets *anchored for checkpoint options.min_checkpoints once that
// checkpoint verified (leaves it empty otherwise).
Status VerifyCheckpoints(Db& db, ports::KeyVault& vault, const AuditVerifyOptions& options,
                         const Archived& archived, AuditVerifyReport& report,
                         std::optional<Anchored>* anchored) {
  KMS_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT seq, last_row, row_hash, key_version, "
                                          "time_ns, prev_mac, mac FROM audit_checkpoint "
                                          "ORDER BY seq"));
  KMS_ASSIGN_OR_RETURN(Stmt row_hash_at,
                       db.Prepare("SELECT hash FROM audit_log WHERE seq = ?1"));
  std::vector<uint8_t> prev_mac(32, 0);
  int64_t expected = 1;
  int64_t prev_last_row = 0;
  bool chain_ok = true;  // stop sealing once a checkpoint is bad
  while (true) {
    KMS_ASSIGN_OR_RETURN(bool more, s.Step());
    if (!more) break;
    ++report.checkpoints;
    if (!chain_ok) continue;
    const int64_t seq = s.ColumnInt(0);
    const int64_t last_row = s.ColumnInt(1);
    const std::vector<uint8_t> sealed_hash = s.ColumnBlob(2);
    const int64_t key_version = s.ColumnInt(3);
    const int64_t time_ns = s.ColumnInt(4);
    const std::vector<uint8_t> stored_prev_mac = s.ColumnBlob(5);
    const std::vector<uint8_t> mac = s.ColumnBlob(6);
    const std::string name = "checkpoint " + std::to_string(seq);
    auto fail = [&](AuditProblem p, int64_t row, int64_t cp, const std::string& why) {
      SetProblem(report, p, row, cp, why);
      chain_ok = false;
    };
    if (seq != expected) {
      fail(AuditProblem::kMissingCheckpoint, prev_last_row + 1, expected,
           "checkpoint " + std::to_string(expected) + " is missing");
      continue;
    }
    // The MAC first: nothing else in a checkpoint is trusted before it verifies.
    if (key_version <= 0 || key_version > 0xffffffff || sealed_hash.size() != 32 ||
        stored_prev_mac.size() != 32 || mac.size() != 32) {
      fail(AuditProblem::kForgedCheckpoint, last_row, seq, name + " is malformed");
      continue;
    }
    Result<ports::KeyRef> key = vault.AuditKey(static_cast<uint32_t>(key_version));
    if (!key.ok()) {
      if (key.status().code() != StatusCode::kNotFound) return key.status();
      fail(AuditProblem::kForgedCheckpoint, last_row, seq,
           name + " names an unknown audit key version");
      continue;
    }
    std::vector<uint8_t> input = CheckpointMacInput(seq, last_row, BlobToHash(sealed_hash),
                                                    static_cast<uint32_t>(key_version), time_ns,
                                                    BlobToHash(stored_prev_mac));
    Hash32 expect_mac{};
    KMS_RETURN_IF_ERROR(vault.Hmac(*key, crypto::HmacAlg::kSha256, input, expect_mac));
    if (!SameHash(mac, expect_mac)) {
      fail(AuditProblem::kForgedCheckpoint, last_row, seq, name + " has a wrong MAC");
      continue;
    }
    if (stored_prev_mac != prev_mac) {
      fail(AuditProblem::kMissingCheckpoint, prev_last_row + 1, seq,
           name + " does not follow the previous checkpoint");
      continue;
    }
    if (last_row <= prev_last_row) {
      fail(AuditProblem::kForgedCheckpoint, last_row, seq, name + " goes backwards");
      continue;
    }
    if (options.max_rows_per_checkpoint > 0 &&
        last_row - prev_last_row > options.max_rows_per_checkpoint) {
      fail(AuditProblem::kMissingCheckpoint, prev_last_row + 1, seq,
           "more rows than allowed before " + name);
      continue;
    }
    row_hash_at.Reset();
    KMS_RETURN_IF_ERROR(row_hash_at.BindInt(1, last_row));
    KMS_ASSIGN_OR_RETURN(bool found, row_hash_at.Step());
    if (!found && last_row <= archived.through) {
      // Archived: the row is in an archive file (verify-archive checks it there), and the
      // archive records that end on a checkpoint matched its hash above.
    } else if (!found) {
      fail(AuditProblem::kDeletedRow, last_row, seq,
           name + " seals row " + std::to_string(last_row) + ", which is gone");
      continue;
    } else if (row_hash_at.ColumnBlob(0) != sealed_hash) {
      // The rows up to last_row were rewritten with a recomputed chain.
      fail(AuditProblem::kModifiedRow, prev_last_row + 1, seq,
           "rows " + std::to_string(prev_last_row + 1) + ".." + std::to_string(last_row) +
               " differ from what " + name + " sealed");
      continue;
    }
    if (seq == options.min_checkpoints) {
      *anchored = Anchored{last_row, BlobToHash(sealed_hash)};
    }
    prev_mac = mac;
    prev_last_row = last_row;
    report.sealed_through_row = last_row;
    ++expected;
  }
  return Status::Ok();
}

}  // namespace

std::string_view AuditProblemName(AuditProblem p) {
  switch (p) {
    case AuditProblem::kNone: return "none";
    case AuditProblem::kModifiedRow: return "modified_row";
    case AuditProblem::kDeletedRow: return "deleted_row";
    case AuditProblem::kReorderedRows: return "reordered_rows";
    case AuditProblem::kForgedCheckpoint: return "forged_checkpoint";
    case AuditProblem::kMissingCheckpoint: return "missing_checkpoint";
    case AuditProblem::kTruncated: return "truncated";
    case AuditProblem::kAnchorMismatch:
      return "anchor_mismatch";
    case AuditProblem::kForgedArchive:
      return "forged_archive";
  }
  return "unknown";
}

Result<AuditVerifyReport> VerifyAudit(Db& db, ports::KeyVault& vault,
                                      const AuditVerifyOptions& options) {
  if (options.checkpoint_row_hash && options.min_checkpoints <= 0) {
    return InvalidArgumentError("a checkpoint hash anchor needs the checkpoint's number");
  }
  // One read transaction: a consistent snapshot even while the writer appends.
  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, TxnKind::kDeferred));
  AuditVerifyReport report;
  Archived archived;
  KMS_RETURN_IF_ERROR(VerifyArchives(db, vault, report, &archived));
  KMS_RETURN_IF_ERROR(VerifyRows(db, archived, report));
  AuditVerifyReport cp_report;
  std::optional<Anchored> anchored;
  KMS_RETURN_IF_ERROR(VerifyCheckpoints(db, vault, options, archived, cp_report, &anchored));
  report.checkpoints = cp_report.checkpoints;
  report.sealed_through_row = std::min(cp_report.sealed_through_row, report.rows);
  // Row problems come first (they name the row); otherwise the first checkpoint problem.
  if (report.problem == AuditProblem::kNone && cp_report.problem != AuditProblem::kNone) {
    SetProblem(report, cp_report.problem, cp_report.first_bad_row, cp_report.bad_checkpoint,
               cp_report.detail);
  }
  if (report.problem != AuditProblem::kNone) {
    // Nothing after a bad row is trusted as sealed.
    if (report.first_bad_row > 0) {
      report.sealed_through_row = std::min(report.sealed_through_row, report.first_bad_row - 1);
    }
  }
  report.unsealed_rows = report.rows - report.sealed_through_row;
  if (report.problem == AuditProblem::kNone && options.max_rows_per_checkpoint > 0 &&
      report.unsealed_rows > options.max_rows_per_checkpoint) {
    SetProblem(report, AuditProblem::kMissingCheckpoint, report.sealed_through_row + 1, 0,
               "more unsealed rows than allowed after the last checkpoint");
  }
  // Anchors last: a trail that is damaged within is reported as such first. Row numbers
  // have no gaps once the rows verified, so `rows` is the number of the last row, and
  // `checkpoints` the number of the newest checkpoint.
  if (report.problem == AuditProblem::kNone && report.rows < options.min_rows) {
    SetProblem(report, AuditProblem::kTruncated, report.rows + 1, 0,
               "the trail ends at row " + std::to_string(report.rows) + ", before row " +
                   std::to_string(options.min_rows));
  }
  if (report.problem == AuditProblem::kNone && report.checkpoints < options.min_checkpoints) {
    SetProblem(report, AuditProblem::kTruncated, report.sealed_through_row + 1,
               report.checkpoints + 1,
               "the newest checkpoint is " + std::to_string(report.checkpoints) +
                   ", checkpoint " + std::to_string(options.min_checkpoints) + " is missing");
  }
  // With no problem so far, checkpoint min_checkpoints exists and verified, so `anchored`
  // is set. A different hash means the rows it seals are not the ones recorded: rewritten
  // and sealed again under the same number. The row named is the one whose hash differs;
  // where the rewrite began is unknown, so no row up to it counts as sealed.
  if (report.problem == AuditProblem::kNone && options.checkpoint_row_hash &&
      (!anchored || CRYPTO_memcmp(anchored->row_hash.data(), options.checkpoint_row_hash->data(),
                                  anchored->row_hash.size()) != 0)) {
    const int64_t row = anchored ? anchored->last_row : 0;
    SetProblem(report, AuditProblem::kAnchorMismatch, row, options.min_checkpoints,
               "checkpoint " + std::to_string(options.min_checkpoints) + " seals row " +
                   std::to_string(row) +
                   " with another hash than the anchor (the trail up to it was rewritten and "
                   "sealed again, or the anchor is not this trail's)");
    report.sealed_through_row = 0;
    report.unsealed_rows = report.rows;
  }
  return report;
}

}  // namespace kms::policy
