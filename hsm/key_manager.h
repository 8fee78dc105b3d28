// KeyManager: provisioning of the long-term keys (architecture.md §3), used by kmsctl and
// the quickstart, never on a request path. Every key is generated inside the token from a
// fixed template (key_templates.h); no key value ever passes through this process.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "hsm/key_labels.h"
#include "hsm/token.h"
#include "src/base/result.h"

namespace kms::hsm {

class KeyManager {
 public:
  // The token must outlive the manager.
  explicit KeyManager(Token& token) : token_(token) {}

  // Create*: C_GenerateKey of "kms-<kind>-v<version>"; kAlreadyExists if that version
  // exists, kInvalidArgument for version 0. The token's key index is updated.
  Status CreateTicketKey(uint32_t version) { return Create({KeyKind::kTicket, version}); }
  Status CreateKek(uint32_t version) { return Create({KeyKind::kKek, version}); }
  Status CreateAuditKey(uint32_t version) { return Create({KeyKind::kAudit, version}); }
  Status Create(KeyName name);

  // ListKeys: every long-term key of this layer, ordered by kind then version.
  std::vector<KeyName> ListKeys() const;

  // DestroyKey: C_DestroyObject (FCS_CKM.4 key destruction by the token); kNotFound if
  // absent. Tickets sealed under a destroyed TPK version can no longer be opened.
  Status DestroyKey(KeyKind kind, uint32_t version);

 // ---- Backup key (kmsctl backup; docs/security-target.md "Backup") ----
  // EnsureBackupKey: the newest "kms-backup-vN", generating version 1 if there is none;
  // returns its version.
  Result<uint32_t> EnsureBackupKey();
  // SealBackup: AES-256-GCM (NIST SP 800-38D) in the token under backup key `version`:
  // a 96-bit IV from the token RNG, 128-bit tag, aad authenticated; returns IV||ct||tag.
  Result<std::vector<uint8_t>> SealBackup(uint32_t version, std::span<const uint8_t> plaintext,
                                          std::span<const uint8_t> aad);
  // OpenBackup: the inverse; kNotFound if this token lacks that backup key version,
  // kAuthFailed if the data or aad were changed (the tag does not verify).
  Result<std::vector<uint8_t>> OpenBackup(uint32_t version, std::span<const uint8_t> sealed,
                                          std::span<const uint8_t> aad);
  // RejectedBackupKeys: objects labelled "kms-backup-vN" with the backup CKA_ID that
  // failed the provenance check (hsm/key_provenance.h) and were never used, each once, for
  // the caller to report like Token::RejectedKeyObjects: someone wrote to the token.
  std::vector<RejectedKeyObject> RejectedBackupKeys() const;

 private:
  // FindBackupKey: the one object of version `version` that passes InspectBackupKey;
  // kNotFound if none does (refused ones are recorded), kFailedPrecondition if several do.
  Result<CK_OBJECT_HANDLE> FindBackupKey(SessionLease& lease, uint32_t version);
  void Reject(RejectedKeyObject why);  // records a refused object once

  Token& token_;
  std::mutex mu_;  // serialises provisioning (check-then-create)
  mutable std::mutex rejected_mu_;
  std::vector<RejectedKeyObject> rejected_;  // guarded by rejected_mu_
};

}  // namespace kms::hsm
