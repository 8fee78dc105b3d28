#include "policy/replay_log.h"

#include <algorithm>

namespace kms::policy {
namespace {

int64_t Ns(UnixTime t) { return t.time_since_epoch().count(); }

}  // namespace

Status AppendReplayMark(Db& db, const ports::ReplayMark& mark) {
  KMS_ASSIGN_OR_RETURN(StmtUse s,
                       db.Use("INSERT INTO replay_log (sent_ns, digest) VALUES (?1, ?2)"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, Ns(mark.sent)));
  KMS_RETURN_IF_ERROR(s->BindBlob(2, mark.digest));
  return s->Run();
}

Status PruneReplayLog(Db& db, UnixTime before) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("DELETE FROM replay_log WHERE sent_ns < ?1"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, Ns(before)));
  return s->Run();
}

Result<std::vector<ports::ReplayMark>> LoadReplayLog(Db& db, UnixTime since) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("SELECT sent_ns, digest FROM replay_log "
                                         "WHERE sent_ns >= ?1 ORDER BY sent_ns"));
  KMS_RETURN_IF_ERROR(s->BindInt(1, Ns(since)));
  std::vector<ports::ReplayMark> out;
  while (true) {
    KMS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    const std::vector<uint8_t> digest = s->ColumnBlob(1);
    if (digest.size() != 32) return InternalError("replay_log holds a malformed digest");
    ports::ReplayMark m;
    m.sent = UnixTime(std::chrono::nanoseconds(s->ColumnInt(0)));
    std::copy(digest.begin(), digest.end(), m.digest.begin());
    out.push_back(m);
  }
  return out;
}

}  // namespace kms::policy
