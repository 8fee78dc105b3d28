// The replay cache's durable side (policy/migrations/0003_replay.sql): the audit writer adds a
// mark for every audit row that carries one, in the row's own commit (a reply is sent only
// after that commit, so every message kmsd answered is on disk), and prunes marks older than
// the retention; kmsd reloads the marks of the last window at start-up (evaluator checklist
// item 18: the replay cache survives a restart).
#pragma once
#include <vector>

#include "policy/sqlite_db.h"
#include "src/base/ntp_time.h"
#include "src/base/result.h"
#include "src/core/ports/audit_sink.h"

namespace kms::policy {

// AppendReplayMark: inside the caller's transaction.
Status AppendReplayMark(Db& db, const ports::ReplayMark& mark);
// PruneReplayLog: deletes marks sent before `before`; inside the caller's transaction.
Status PruneReplayLog(Db& db, UnixTime before);
// LoadReplayLog: every mark sent at or after `since`, oldest first.
Result<std::vector<ports::ReplayMark>> LoadReplayLog(Db& db, UnixTime since);

}  // namespace kms::policy
