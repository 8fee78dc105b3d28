// Use counts of long-term key versions (policy/migrations/0004_key_usage.sql): kmsd adds the
// tickets it sealed under the active TPK once a second and rotates the TPK when the total
// reaches [keys] tpk_max_tickets (src/daemon/key_selection.h).
#pragma once
#include <cstdint>

#include "policy/sqlite_db.h"
#include "src/base/result.h"
#include "src/core/ports/policy_store.h"

namespace kms::policy {

// AddKeyUsage: adds `delta` (>= 0) to the version's count in its own transaction and returns
// the new total (delta 0 reads it).
Result<int64_t> AddKeyUsage(Db& db, ports::KeyKind kind, uint32_t version, int64_t delta);

}  // namespace kms::policy
