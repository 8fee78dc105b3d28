// TokenConfig: how the layer reaches its token (filled by the composition root from the
// strictly parsed configuration file; style.md "Config").
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "hsm/secret_file.h"

namespace kms::hsm {

// CredentialStorage: how user PSKs and mode-3 keys are kept (architecture.md §3).
enum class CredentialStorage : uint8_t {
  // Default: wrapped under the active KEK (CKM_AES_KEY_WRAP_PAD, RFC 5649) in the policy
  // store, unwrapped into a session object on use.
  kWrapped,
  // Small deployments: one persistent non-extractable token object "kms-cred-<id>" each.
  kTokenObjects,
};

struct TokenConfig {
  std::string token_uri = "pkcs11:";  // RFC 7512, e.g. "pkcs11:token=kms;serial=1234"
  PinSource pin;
  // Operation sessions besides the login session; capped at ulMaxSessionCount - 1 when
  // the token states a finite maximum.
  size_t pool_size = 8;
  std::chrono::milliseconds acquire_timeout{2000};
  // Minimum time between two reconnection attempts after the token was lost.
  std::chrono::milliseconds reconnect_interval{1000};
  // On reconnect, C_Finalize + C_Initialize the module for a fresh slot view (the only
  // portable way; SoftHSM2 reads its token directory at C_Initialize).
  bool reinitialize_module_on_loss = true;
  CredentialStorage credential_storage = CredentialStorage::kWrapped;
  size_t credential_cache_size = 1024;  // unwrapped credential handles kept (LRU)
};

}  // namespace kms::hsm
