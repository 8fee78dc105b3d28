// The fixed key templates (architecture.md §3, evaluator-checklist.md §1): every key this
// layer creates is built from one of these functions and nothing else.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hsm/attr_template.h"
#include "hsm/key_labels.h"
#include "hsm/pkcs11.h"

namespace kms::hsm {

// Long-term keys are 256 bits: SoftHSM2 refuses HMAC keys shorter than the hash.
inline constexpr CK_ULONG kLongTermKeyBytes = 32;
// Credentials (user PSKs, mode-3 keys): 32..64 bytes (HMAC-SHA-256 needs >= 32 in SoftHSM2).
inline constexpr size_t kMinCredentialBytes = 32;
inline constexpr size_t kMaxCredentialBytes = 64;

// LongTermKeyTemplate: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE TRUE; CKA_EXTRACTABLE,
// CKA_MODIFIABLE, CKA_COPYABLE FALSE; only the usage the kind needs:
//   kTicket: generic secret, SIGN+VERIFY, HMAC-SHA-1/SHA-256 only;
//   kKek:    AES-256, WRAP+UNWRAP, CKM_AES_KEY_WRAP_PAD only, with CKA_UNWRAP_TEMPLATE
//            forcing session, sensitive, non-extractable, sign-only unwrapped keys;
//   kAudit:  generic secret, SIGN only, HMAC-SHA-256 only.
AttrTemplate LongTermKeyTemplate(KeyName name);
// LongTermKeyGenMechanism: CKM_GENERIC_SECRET_KEY_GEN or CKM_AES_KEY_GEN.
CK_MECHANISM_TYPE LongTermKeyGenMechanism(KeyKind kind);

// Backup key (kmsctl backup, docs/security-target.md "Backup"): "kms-backup-v<N>" with
// CKA_ID kBackupKeyId (not kLongTermKeyId: the request path never indexes it). AES-256,
// ENCRYPT+DECRYPT only, CKM_AES_GCM only, never WRAP (one purpose per key), otherwise the
// long-term attributes (token, private, sensitive, never extractable, not modifiable or
// copyable).
inline constexpr std::string_view kBackupKeyId = "kms-backup";
std::string BackupKeyLabel(uint32_t version);
AttrTemplate BackupKeyTemplate(uint32_t version);

// How a credential object is created.
enum class CredentialObject : uint8_t {
  kSessionInUse,       // unwrapped for use: session, sensitive, non-extractable, sign only
  kSessionToWrap,      // transient, only to be wrapped under the KEK and destroyed:
                       // session, sensitive, extractable (wrap is the only way out)
  kTokenPersistent,    // kTokenObjects mode: token, private, sensitive, non-extractable
};

// CredentialTemplate: a generic-secret HMAC key (SHA-1/SHA-256 HMAC only). label may be
// empty (session objects). value_len > 0 adds CKA_VALUE_LEN (generation); value, if not
// empty, adds CKA_VALUE (import; the template scrubs its copy).
AttrTemplate CredentialTemplate(CredentialObject kind, std::string_view label,
                                CK_ULONG value_len, std::span<const uint8_t> value);

}  // namespace kms::hsm
