// Provenance check of the long-term key index (evaluator-checklist.md §1 "provenance
// checks"; docs/security-target.md "Key index").
//
// The connect-time search finds secret keys by CKA_ID "kms-long-term" and reads the version
// from CKA_LABEL. Anyone who can open a R/W public session (no user PIN, or only the SO PIN)
// can C_CreateObject a public secret key of known value with that CKA_ID and a label such as
// "kms-tpk-v4294967295"; if the index trusted it, every new ticket would be sealed (or every
// new credential wrapped) under a known key. So an object is indexed only if it is exactly
// what KeyManager generates (hsm/key_templates.h LongTermKeyTemplate: class, key type,
// length, private, sensitive, not extractable, not modifiable or copyable, the usage flags
// and CKA_ALLOWED_MECHANISMS of its kind) and the token vouches that it was generated inside
// it and never left it: CKA_LOCAL, CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE TRUE
// (PKCS#11 v2.40 §4.4, §4.10: set by the token only, never by a template).
//
// Every legitimate long-term key is generated in the token (KeyManager::Create is the only
// way this project makes one; they reach a second token by token cloning, which keeps the
// attributes: docs/operations.md "Backup and restore"), so no unwrapped or imported
// provenance is accepted. The backup key "kms-backup-vN" (hsm/key_templates.h
// BackupKeyTemplate) gets the same check: KeyManager::FindBackupKey finds it by label and
// CKA_ID, and a planted public known-value key with a higher version would otherwise seal
// every new backup under a key the planter knows (and let a restore accept a database the
// planter sealed). CKA_UNWRAP_TEMPLATE is not compared: KEKs made by earlier
// versions carry an earlier one, and only the user role can make a private key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "hsm/pkcs11.h"
#include "hsm/token.h"
#include "src/base/result.h"

namespace kms::hsm {

// InspectLongTermKey: reads object h through lease (a search result carrying our CKA_ID)
// and returns its index entry if it passes every check above. Otherwise returns nullopt and
// fills *rejected (label rendered printable, reason naming the first failed attribute;
// never a key value). An error only for a return value that says the session or the token
// is gone (lease.Check has then marked them); every other failure rejects the object, so a
// foreign object can never make the connect fail.
Result<std::optional<LongTermKeyInfo>> InspectLongTermKey(SessionLease& lease, CK_OBJECT_HANDLE h,
                                                          RejectedKeyObject* rejected);

// InspectBackupKey: the same check for object h found by the label and CKA_ID of backup key
// `version` against BackupKeyTemplate(version): true if it passes; false with *rejected
// filled otherwise; an error only when the session or the token is gone.
Result<bool> InspectBackupKey(SessionLease& lease, CK_OBJECT_HANDLE h, uint32_t version,
                              RejectedKeyObject* rejected);

}  // namespace kms::hsm
