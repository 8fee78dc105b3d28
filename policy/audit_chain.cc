#include "policy/audit_chain.h"

#include <openssl/evp.h>

#include <algorithm>
#include <span>
#include <string_view>

#include "src/base/check.h"

namespace kms::policy {
namespace {

constexpr std::string_view kRowTag = "KMS-AUDIT-ROW-1";
constexpr std::string_view kCheckpointTag = "KMS-AUDIT-CKPT-1";
constexpr std::string_view kArchiveTag = "KMS-AUDIT-ARCH-1";

class Encoder {
 public:
  void U32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<uint8_t>(v >> shift));
  }
  void U64(uint64_t v) {
    U32(static_cast<uint32_t>(v >> 32));
    U32(static_cast<uint32_t>(v));
  }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Raw(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void Raw(std::string_view s) {
    Raw(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  // Text: u32 length prefix, then the bytes (audit fields are far below 4 GiB).
  void Text(std::string_view s) {
    KMS_CHECK(s.size() <= 0xffffffffu);
    U32(static_cast<uint32_t>(s.size()));
    Raw(s);
  }
  std::vector<uint8_t> Take() && { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

Result<Hash32> ToHash(const std::vector<uint8_t>& v, std::string_view what) {
  if (v.size() != 32) return FailedPreconditionError(std::string(what) + " is not 32 bytes");
  Hash32 h;
  std::copy(v.begin(), v.end(), h.begin());
  return h;
}

}  // namespace

Hash32 BlobToHash(const std::vector<uint8_t>& v) {
  Hash32 h{};
  if (v.size() == h.size()) std::copy(v.begin(), v.end(), h.begin());
  return h;
}

AuditRow ToRow(int64_t seq, const ports::AuditRecord& r) {
  AuditRow row;
  row.seq = seq;
  row.time_ns = r.time.time_since_epoch().count();
  row.actor = r.actor;
  row.action = r.action;
  row.initiator = r.initiator;
  row.responder = r.responder;
  row.credential_id = r.credential_id;
  row.ticket_id = r.ticket_id;
  row.outcome = std::string(ports::AuditOutcomeName(r.outcome));
  row.rule = r.rule;
  row.policy_version = r.policy_version;
  row.correlation_id = r.correlation_id;
  row.detail = r.detail;
  return row;
}

std::vector<uint8_t> EncodeRow(const AuditRow& row) {
  Encoder e;
  e.I64(row.seq);
  e.I64(row.time_ns);
  e.Text(row.actor);
  e.Text(row.action);
  e.Text(row.initiator);
  e.Text(row.responder);
  e.Text(row.credential_id);
  e.Text(row.ticket_id);
  e.Text(row.outcome);
  e.Text(row.rule);
  e.U64(row.policy_version);
  e.Text(row.correlation_id);
  e.Text(row.detail);
  return std::move(e).Take();
}

Hash32 RowHash(const Hash32& prev, const AuditRow& row) {
  std::vector<uint8_t> body = EncodeRow(row);
  Hash32 out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  KMS_CHECK(ctx != nullptr);
  unsigned int len = 0;
  bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, kRowTag.data(), kRowTag.size()) == 1 &&
            EVP_DigestUpdate(ctx, prev.data(), prev.size()) == 1 &&
            EVP_DigestUpdate(ctx, body.data(), body.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  KMS_CHECK(ok && len == out.size());
  return out;
}

AuditRow ReadAuditRow(const Stmt& s) {
  AuditRow a;
  a.seq = s.ColumnInt(0);
  a.time_ns = s.ColumnInt(1);
  a.actor = s.ColumnText(2);
  a.action = s.ColumnText(3);
  a.initiator = s.ColumnText(4);
  a.responder = s.ColumnText(5);
  a.credential_id = s.ColumnText(6);
  a.ticket_id = s.ColumnText(7);
  a.outcome = s.ColumnText(8);
  a.rule = s.ColumnText(9);
  a.policy_version = static_cast<uint64_t>(s.ColumnInt(10));
  a.correlation_id = s.ColumnText(11);
  a.detail = s.ColumnText(12);
  const std::vector<uint8_t> prev = s.ColumnBlob(13), hash = s.ColumnBlob(14);
  std::copy_n(prev.begin(), std::min(prev.size(), a.prev_hash.size()), a.prev_hash.begin());
  std::copy_n(hash.begin(), std::min(hash.size(), a.hash.size()), a.hash.begin());
  return a;
}

Result<ChainHead> ReadChainHead(Db& db) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT seq, hash FROM audit_log ORDER BY seq DESC "
                                         "LIMIT 1"));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  ChainHead head;
  if (!row) return head;
  head.seq = s->ColumnInt(0);
  KMS_ASSIGN_OR_RETURN(head.hash, ToHash(s->ColumnBlob(1), "audit row hash"));
  return head;
}

Result<CheckpointHead> ReadCheckpointHead(Db& db) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT seq, last_row, time_ns, mac FROM "
                                         "audit_checkpoint ORDER BY seq DESC LIMIT 1"));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  CheckpointHead cp;
  if (!row) return cp;
  cp.seq = s->ColumnInt(0);
  cp.last_row = s->ColumnInt(1);
  cp.time_ns = s->ColumnInt(2);
  KMS_ASSIGN_OR_RETURN(cp.mac, ToHash(s->ColumnBlob(3), "checkpoint mac"));
  return cp;
}

Result<ChainHead> AppendRow(Db& db, const ChainHead& head, const ports::AuditRecord& record) {
  AuditRow row = ToRow(head.seq + 1, record);
  Hash32 hash = RowHash(head.hash, row);
  KMS_ASSIGN_OR_RETURN(
      StmtUse s,
      db.Use("INSERT INTO audit_log (seq, time_ns, actor, action, initiator, responder, "
             "credential_id, ticket_id, outcome, rule, policy_version, correlation_id, detail, "
             "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
             "?14, ?15)"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, row.seq));
  KMS_RETURN_IF_ERROR(s->BindInt(2, row.time_ns));
  KMS_RETURN_IF_ERROR(s->BindText(3, row.actor));
  KMS_RETURN_IF_ERROR(s->BindText(4, row.action));
  KMS_RETURN_IF_ERROR(s->BindText(5, row.initiator));
  KMS_RETURN_IF_ERROR(s->BindText(6, row.responder));
  KMS_RETURN_IF_ERROR(s->BindText(7, row.credential_id));
  KMS_RETURN_IF_ERROR(s->BindText(8, row.ticket_id));
  KMS_RETURN_IF_ERROR(s->BindText(9, row.outcome));
  KMS_RETURN_IF_ERROR(s->BindText(10, row.rule));
  KMS_RETURN_IF_ERROR(s->BindInt(11, static_cast<int64_t>(row.policy_version)));
  KMS_RETURN_IF_ERROR(s->BindText(12, row.correlation_id));
  KMS_RETURN_IF_ERROR(s->BindText(13, row.detail));
  KMS_RETURN_IF_ERROR(s->BindBlob(14, head.hash));
  KMS_RETURN_IF_ERROR(s->BindBlob(15, hash));
  KMS_RETURN_IF_ERROR(s->Run());
  return ChainHead{row.seq, hash};
}

std::vector<uint8_t> CheckpointMacInput(int64_t seq, int64_t last_row, const Hash32& row_hash,
                                        uint32_t key_version, int64_t time_ns,
                                        const Hash32& prev_mac) {
  Encoder e;
  e.Raw(kCheckpointTag);
  e.I64(seq);
  e.I64(last_row);
  e.Raw(row_hash);
  e.U32(key_version);
  e.I64(time_ns);
  e.Raw(prev_mac);
  return std::move(e).Take();
}

std::vector<uint8_t> ArchiveMacInput(int64_t seq, int64_t first_row, int64_t last_row,
                                     const Hash32& last_hash, int64_t checkpoint,
                                     const Hash32& file_sha256, uint32_t key_version,
                                     int64_t time_ns, const Hash32& prev_mac) {
  Encoder e;
  e.Raw(kArchiveTag);
  e.I64(seq);
  e.I64(first_row);
  e.I64(last_row);
  e.Raw(last_hash);
  e.I64(checkpoint);
  e.Raw(file_sha256);
  e.U32(key_version);
  e.I64(time_ns);
  e.Raw(prev_mac);
  return std::move(e).Take();
}

Result<CheckpointHead> WriteCheckpoint(Db& db, ports::KeyVault& vault, const ChainHead& head,
                                       const CheckpointHead& prev, int64_t time_ns) {
  if (head.seq <= prev.last_row) return FailedPreconditionError("no unsealed audit rows");
  KMS_ASSIGN_OR_RETURN(uint32_t key_version, vault.ActiveAuditKeyVersion());
  KMS_ASSIGN_OR_RETURN(ports::KeyRef key, vault.AuditKey(key_version));
  CheckpointHead cp;
  cp.seq = prev.seq + 1;
  cp.last_row = head.seq;
  cp.time_ns = time_ns;
  std::vector<uint8_t> input =
      CheckpointMacInput(cp.seq, cp.last_row, head.hash, key_version, time_ns, prev.mac);
  KMS_RETURN_IF_ERROR(vault.Hmac(key, crypto::HmacAlg::kSha256, input, cp.mac));
  KMS_ASSIGN_OR_RETURN(StmtUse s,
                       db.Use("INSERT INTO audit_checkpoint (seq, last_row, row_hash, "
                              "key_version, time_ns, prev_mac, mac) VALUES (?1, ?2, ?3, ?4, ?5, "
                              "?6, ?7)"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, cp.seq));
  KMS_RETURN_IF_ERROR(s->BindInt(2, cp.last_row));
  KMS_RETURN_IF_ERROR(s->BindBlob(3, head.hash));
  KMS_RETURN_IF_ERROR(s->BindInt(4, key_version));
  KMS_RETURN_IF_ERROR(s->BindInt(5, time_ns));
  KMS_RETURN_IF_ERROR(s->BindBlob(6, prev.mac));
  KMS_RETURN_IF_ERROR(s->BindBlob(7, cp.mac));
  KMS_RETURN_IF_ERROR(s->Run());
  return cp;
}

}  // namespace kms::policy
