// Key rotation shared by kmsd (its automatic TPK rotation, evaluator checklist item 30;
// [keys] tpk_max_tickets) and `kmsctl key rotate`, so both pick versions the same way.
// NewestKeyVersion: the higher of the token's newest object and the database's newest
// registered version of a kind (an orphan left by a rotation whose commit failed counts, so
// the next version lands above it). RotateKey: makes version NewestKeyVersion + 1 with the
// token's C_GenerateKey inside the database transaction that registers it, retires the older
// versions and writes the "key.rotate" audit row (policy/admin.h RotateKey); returns it.
#pragma once
#include "hsm/token.h"
#include "policy/admin.h"
#include "src/base/result.h"
#include "src/core/ports/policy_store.h"

namespace kms::daemon {

Result<uint32_t> NewestKeyVersion(hsm::Token& token, policy::PolicyAdmin& admin,
                                  ports::KeyKind kind);
Result<uint32_t> RotateKey(hsm::Token& token, policy::PolicyAdmin& admin, ports::KeyKind kind);

}  // namespace kms::daemon
