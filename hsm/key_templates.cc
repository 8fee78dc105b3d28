#include "hsm/key_templates.h"

#include <array>

namespace kms::hsm {
namespace {

constexpr std::array<CK_MECHANISM_TYPE, 2> kHmacMechs = {CKM_SHA_1_HMAC, CKM_SHA256_HMAC};
constexpr std::array<CK_MECHANISM_TYPE, 1> kAuditMechs = {CKM_SHA256_HMAC};
constexpr std::array<CK_MECHANISM_TYPE, 1> kKekMechs = {CKM_AES_KEY_WRAP_PAD};

// Usage flags: exactly one purpose per key (evaluator-checklist.md §1: never WRAP with
// DECRYPT, never SIGN with DERIVE).
void Usage(AttrTemplate& t, bool sign, bool verify, bool wrap_unwrap) {
  t.Bool(CKA_SIGN, sign)
      .Bool(CKA_VERIFY, verify)
      .Bool(CKA_ENCRYPT, false)
      .Bool(CKA_DECRYPT, false)
      .Bool(CKA_WRAP, wrap_unwrap)
      .Bool(CKA_UNWRAP, wrap_unwrap)
      .Bool(CKA_DERIVE, false);
}

// ForceCredentialShape: what every unwrapped copy must be, whoever asks: a generic secret
// used for HMAC only (checklist §1: one purpose per key, never SIGN with DERIVE). Without it
// the user role could unwrap a stored PSK as CKK_GENERIC_SECRET with DERIVE, or as CKK_AES
// with ENCRYPT, and on a token with CKM_CONCATENATE_BASE_AND_DATA, XOR_BASE_AND_DATA or
// EXTRACT_KEY_FROM_KEY derive a copy that has lost CKA_WRAP_WITH_TRUSTED (PKCS#11 v2.40
// §4.8, §6.27). The values repeat CredentialTemplate's, so kmsd's and the re-wrap's own
// unwraps satisfy them (SoftHSM2 compares every forced attribute with the caller's).
void ForceCredentialShape(AttrTemplate& t) {
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
      .Bool(CKA_ENCRYPT, false)
      .Bool(CKA_DECRYPT, false)
      .Bool(CKA_WRAP, false)
      .Bool(CKA_UNWRAP, false)
      .Bool(CKA_DERIVE, false)
      .Mechanisms(CKA_ALLOWED_MECHANISMS, kHmacMechs);
}

// The attributes forced on keys unwrapped with a KEK (PKCS#11 v2.40 §4.8: the unwrap
// template must be consistent with the caller's template or the unwrap fails; SoftHSM2 also
// refuses a caller template that leaves one of them out). Session, sensitive, and
// CKA_WRAP_WITH_TRUSTED (§4.7): whatever else the caller asks for, no key the user role
// can make may ever wrap the copy, because only the SO can set CKA_TRUSTED. CKA_EXTRACTABLE
// is deliberately not forced: kmsd asks for FALSE (hsm/credential_store.cc), the KEK
// re-wrap (hsm/kek_rewrap.cc) asks for TRUE and then wraps only under the SO's transient
// trusted key. docs/security-target.md "KEK rotation".
AttrTemplate UnwrapTemplate() {
  AttrTemplate t;
  t.Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, true).Bool(CKA_WRAP_WITH_TRUSTED, true);
  ForceCredentialShape(t);
  return t;
}

// The attributes forced on keys unwrapped with the re-wrap key: session, sensitive,
// extractable and no longer CKA_WRAP_WITH_TRUSTED, so the next step may wrap the copy
// under the new (untrusted, private) KEK; a credential's shape like the KEK's copies.
AttrTemplate RewrapUnwrapTemplate() {
  AttrTemplate t;
  t.Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, true)
      .Bool(CKA_WRAP_WITH_TRUSTED, false);
  ForceCredentialShape(t);
  return t;
}

// KeepInToken: the attributes every persistent key of ours carries (checklist §1): a
// 256-bit secret that is token, private, sensitive, never extractable, not modifiable or
// copyable; destroyable because rotation retires old versions (KeyManager::DestroyKey).
void KeepInToken(AttrTemplate& t, CK_KEY_TYPE type, std::string_view label,
                 std::string_view id) {
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, type)
      .Ulong(CKA_VALUE_LEN, kLongTermKeyBytes)
      .String(CKA_LABEL, label)
      .String(CKA_ID, id)
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_MODIFIABLE, false)
      .Bool(CKA_COPYABLE, false)
      .Bool(CKA_DESTROYABLE, true);
}

}  // namespace

CK_MECHANISM_TYPE LongTermKeyGenMechanism(KeyKind kind) {
  return kind == KeyKind::kKek ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN;
}

AttrTemplate LongTermKeyTemplate(KeyName name) {
  AttrTemplate t;
  KeepInToken(t, name.kind == KeyKind::kKek ? CKK_AES : CKK_GENERIC_SECRET,
              LongTermKeyLabel(name.kind, name.version), kLongTermKeyId);
  switch (name.kind) {
    case KeyKind::kTicket:
      Usage(t, /*sign=*/true, /*verify=*/true, /*wrap_unwrap=*/false);
      t.Mechanisms(CKA_ALLOWED_MECHANISMS, kHmacMechs);
      break;
    case KeyKind::kAudit:
      Usage(t, /*sign=*/true, /*verify=*/false, /*wrap_unwrap=*/false);
      t.Mechanisms(CKA_ALLOWED_MECHANISMS, kAuditMechs);
      break;
    case KeyKind::kKek:
      Usage(t, /*sign=*/false, /*verify=*/false, /*wrap_unwrap=*/true);
      t.Mechanisms(CKA_ALLOWED_MECHANISMS, kKekMechs);
      t.Nested(CKA_UNWRAP_TEMPLATE, UnwrapTemplate());
      break;
  }
  return t;
}

std::string BackupKeyLabel(uint32_t version) { return "kms-backup-v" + std::to_string(version); }

AttrTemplate BackupKeyTemplate(uint32_t version) {
  static constexpr std::array<CK_MECHANISM_TYPE, 1> kGcm = {CKM_AES_GCM};
  AttrTemplate t;
  KeepInToken(t, CKK_AES, BackupKeyLabel(version), kBackupKeyId);
  t.Bool(CKA_SIGN, false)
      .Bool(CKA_VERIFY, false)
      .Bool(CKA_ENCRYPT, true)
      .Bool(CKA_DECRYPT, true)
      .Bool(CKA_WRAP, false)
      .Bool(CKA_UNWRAP, false)
      .Bool(CKA_DERIVE, false);
  t.Mechanisms(CKA_ALLOWED_MECHANISMS, kGcm);
  return t;
}

AttrTemplate RewrapKeyTemplate() {
  static constexpr std::array<CK_MECHANISM_TYPE, 1> kKwp = {CKM_AES_KEY_WRAP_PAD};
  AttrTemplate t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Ulong(CKA_VALUE_LEN, kLongTermKeyBytes)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, false)
      .Bool(CKA_TRUSTED, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_MODIFIABLE, false)
      .Bool(CKA_COPYABLE, false);
  Usage(t, /*sign=*/false, /*verify=*/false, /*wrap_unwrap=*/true);
  t.Mechanisms(CKA_ALLOWED_MECHANISMS, kKwp);
  t.Nested(CKA_UNWRAP_TEMPLATE, RewrapUnwrapTemplate());
  return t;
}

AttrTemplate CredentialTemplate(CredentialObject kind, std::string_view label,
                                CK_ULONG value_len, std::span<const uint8_t> value) {
  const bool persistent = kind == CredentialObject::kTokenPersistent;
  const bool unwrapped = kind == CredentialObject::kSessionInUse ||
                         kind == CredentialObject::kSessionToRewrap ||
                         kind == CredentialObject::kSessionRewrapped;
  AttrTemplate t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
      .Bool(CKA_TOKEN, persistent)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, kind == CredentialObject::kSessionToWrap ||
                                 kind == CredentialObject::kSessionToRewrap ||
                                 kind == CredentialObject::kSessionRewrapped);
  // Unwrapped copies repeat what the unwrapping key's CKA_UNWRAP_TEMPLATE forces (SoftHSM2
  // refuses a template that omits it): the KEK forces CKA_WRAP_WITH_TRUSTED TRUE, the
  // re-wrap key forces it FALSE.
  if (kind == CredentialObject::kSessionInUse || kind == CredentialObject::kSessionToRewrap) {
    t.Bool(CKA_WRAP_WITH_TRUSTED, true);
  } else if (kind == CredentialObject::kSessionRewrapped) {
    t.Bool(CKA_WRAP_WITH_TRUSTED, false);
  }
  // SoftHSM2 refuses CKA_MODIFIABLE in a C_UnwrapKey template (CKR_ATTRIBUTE_READ_ONLY),
  // so the never-stored, session-only unwrapped copies leave it at its default; the
  // token still refuses SENSITIVE->FALSE and EXTRACTABLE->TRUE (PKCS#11 v2.40 §4.10).
  if (!unwrapped) {
    t.Bool(CKA_MODIFIABLE, false);
  }
  t.Bool(CKA_COPYABLE, false);
  Usage(t, /*sign=*/true, /*verify=*/false, /*wrap_unwrap=*/false);
  t.Mechanisms(CKA_ALLOWED_MECHANISMS, kHmacMechs);
  if (!label.empty()) {
    t.String(CKA_LABEL, label);
  }
  if (persistent) {
    t.String(CKA_ID, kCredentialKeyId);
  }
  if (value_len > 0) {
    t.Ulong(CKA_VALUE_LEN, value_len);
  }
  if (!value.empty()) {
    t.Bytes(CKA_VALUE, value);
  }
  return t;
}

}  // namespace kms::hsm
