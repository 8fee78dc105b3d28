// The timing decoy of kmsd's core (TicketService::EqualizeTiming and its readiness probe):
// a credential no user has, on which a refused message's MAC check runs so that an unknown
// credential is not told apart by time (evaluator checklist item 16).
//
// Made once at start-up, in the form the configured credential storage uses:
//   wrapped        a random key generated in the token and wrapped under the KEK, with a
//                  random id; never stored anywhere, a new one per process;
//   token-objects  one persistent token object, `kms-cred-kms-timing-decoy`, made by the
//                  first start and reused by every later one (a new object per start
//                  would pile up in the token).
#pragma once

#include "src/base/result.h"
#include "src/core/ports/key_vault.h"
#include "src/crypto/random.h"

namespace kms::daemon {

Result<ports::WrappedCredential> MakeTimingDecoy(ports::KeyVault& vault, crypto::Random& random,
                                                 bool token_objects);

}  // namespace kms::daemon
