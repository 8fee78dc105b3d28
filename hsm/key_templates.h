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
//            forcing session, sensitive, CKA_WRAP_WITH_TRUSTED unwrapped keys of a
//            credential's shape (generic secret, HMAC-SHA-1/SHA-256 only, no ENCRYPT,
//            DECRYPT, WRAP, UNWRAP or DERIVE);
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

// RewrapKeyTemplate: the SO's transient key for one KEK re-wrap (hsm/kek_rewrap.h): a
// public session AES-256 key (never written to the token's storage, gone with its session)
// with CKA_TRUSTED, so it may wrap copies that carry CKA_WRAP_WITH_TRUSTED; sensitive,
// never extractable, WRAP+UNWRAP with CKM_AES_KEY_WRAP_PAD only; its CKA_UNWRAP_TEMPLATE
// forces session, sensitive, extractable, CKA_WRAP_WITH_TRUSTED FALSE and the same
// credential shape as the KEK's.
AttrTemplate RewrapKeyTemplate();

// How a credential object is created.
enum class CredentialObject : uint8_t {
  kSessionInUse,       // unwrapped for use: session, sensitive, non-extractable, sign only
                       // (and CKA_WRAP_WITH_TRUSTED, which the KEK forces)
  kSessionToWrap,      // transient, only to be wrapped under the KEK and destroyed:
                       // session, sensitive, extractable (wrap is the only way out)
  kSessionToRewrap,    // KEK re-wrap, unwrapped under the old KEK: session, sensitive,
                       // extractable but CKA_WRAP_WITH_TRUSTED (only the SO's key wraps it)
  kSessionRewrapped,   // KEK re-wrap, unwrapped under the SO's key: session, sensitive,
                       // extractable, only to be wrapped under the new KEK and destroyed
  kTokenPersistent,    // kTokenObjects mode: token, private, sensitive, non-extractable
};

// CredentialTemplate: a generic-secret HMAC key (SHA-1/SHA-256 HMAC only). label may be
// empty (session objects). value_len > 0 adds CKA_VALUE_LEN (generation); value, if not
// empty, adds CKA_VALUE (import; the template scrubs its copy).
AttrTemplate CredentialTemplate(CredentialObject kind, std::string_view label,
                                CK_ULONG value_len, std::span<const uint8_t> value);

}  // namespace kms::hsm
