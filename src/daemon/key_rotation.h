// RotateKey: kmsd's own key rotation (evaluator checklist item 30; [keys] tpk_max_tickets):
// the same work as `kmsctl key rotate`: the next version is one above the highest the token
// or the database knows (an orphan left by a rotation whose commit failed is skipped), made
// by the token's C_GenerateKey inside the database transaction that registers it, retires
// the older versions and writes the "key.rotate" audit row (policy/admin.h RotateKey).
#pragma once
#include "hsm/token.h"
#include "policy/admin.h"
#include "src/base/status.h"
#include "src/core/ports/policy_store.h"

namespace kms::daemon {

Status RotateKey(hsm::Token& token, policy::PolicyAdmin& admin, ports::KeyKind kind);

}  // namespace kms::daemon
