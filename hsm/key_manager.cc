#include "hsm/key_manager.h"

#include <utility>

#include "hsm/find_scope.h"
#include "hsm/key_provenance.h"
#include "hsm/key_templates.h"

namespace kms::hsm {

Status KeyManager::Create(KeyName name) {
  if (name.version == 0) {
    return InvalidArgumentError("key versions start at 1");
  }
  std::lock_guard<std::mutex> lock(mu_);
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.Acquire());
  if (token_.LongTermKey(name.kind, name.version).ok()) {
    return AlreadyExistsError(LongTermKeyLabel(name.kind, name.version) + " already exists");
  }
  AttrTemplate t = LongTermKeyTemplate(name);
  CK_MECHANISM mech{LongTermKeyGenMechanism(name.kind), nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  KMS_RETURN_IF_ERROR(lease.Check(
      lease.fn()->C_GenerateKey(lease.handle(), &mech, t.data(), t.size(), &h),
      "C_GenerateKey"));
  token_.IndexAdd(LongTermKeyInfo{name, h, kLongTermKeyBytes});
  return Status::Ok();
}

std::vector<KeyName> KeyManager::ListKeys() const {
  std::vector<KeyName> out;
  for (const LongTermKeyInfo& info : token_.LongTermKeys()) {
    out.push_back(info.name);
  }
  return out;
}

Status KeyManager::DestroyKey(KeyKind kind, uint32_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.Acquire());
  KMS_ASSIGN_OR_RETURN(LongTermKeyInfo info, token_.LongTermKey(lease, kind, version));
  KMS_RETURN_IF_ERROR(
      lease.Check(lease.fn()->C_DestroyObject(lease.handle(), info.handle), "C_DestroyObject"));
  token_.IndexRemove(info.name);
  return Status::Ok();
}

// ---- Backup key ----

namespace {
constexpr size_t kGcmIvBytes = 12;   // SP 800-38D §8.2: 96-bit IVs
constexpr size_t kGcmTagBytes = 16;  // full-length tag
constexpr uint32_t kMaxBackupVersions = 16;
// More objects with one backup label than this is an error (fail closed), not a search cut.
constexpr size_t kMaxBackupKeyObjects = 16;
}  // namespace

Result<CK_OBJECT_HANDLE> KeyManager::FindBackupKey(SessionLease& lease, uint32_t version) {
  AttrTemplate match;
  match.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Bool(CKA_TOKEN, true)
      .String(CKA_ID, kBackupKeyId)
      .String(CKA_LABEL, BackupKeyLabel(version));
  // Label and CKA_ID are chosen by whoever creates an object: a R/W public session (no user
  // PIN) can C_CreateObject a public secret key of known value with them (PKCS#11 v2.40
  // §4.4). So every match must pass the provenance check (hsm/key_provenance.h); planted
  // objects beside the genuine one are refused, not an error, up to a bound.
  KMS_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found,
                       FindAll(lease, match, kMaxBackupKeyObjects));
  std::vector<CK_OBJECT_HANDLE> genuine;
  for (CK_OBJECT_HANDLE h : found) {
    RejectedKeyObject why;
    KMS_ASSIGN_OR_RETURN(bool ok, InspectBackupKey(lease, h, version, &why));
    if (ok) {
      genuine.push_back(h);
    } else {
      Reject(std::move(why));
    }
  }
  if (genuine.empty()) {
    // Invisible while logged out (PKCS#11 v2.40 §4.4): kUnavailable, never a new backup key.
    KMS_RETURN_IF_ERROR(lease.CheckLoggedIn());
    return NotFoundError(BackupKeyLabel(version) + " is not in this token");
  }
  if (genuine.size() > 1) {
    return FailedPreconditionError("several generated keys are labelled " +
                                   BackupKeyLabel(version));
  }
  return genuine[0];
}

void KeyManager::Reject(RejectedKeyObject why) {
  std::lock_guard<std::mutex> lock(rejected_mu_);
  for (const RejectedKeyObject& r : rejected_) {
    if (r.label == why.label && r.reason == why.reason) {
      return;
    }
  }
  rejected_.push_back(std::move(why));
}

std::vector<RejectedKeyObject> KeyManager::RejectedBackupKeys() const {
  std::lock_guard<std::mutex> lock(rejected_mu_);
  return rejected_;
}

Result<uint32_t> KeyManager::EnsureBackupKey() {
  std::lock_guard<std::mutex> lock(mu_);
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.Acquire());
  uint32_t newest = 0;
  for (uint32_t v = 1; v <= kMaxBackupVersions; ++v) {
    Result<CK_OBJECT_HANDLE> h = FindBackupKey(lease, v);
    if (h.ok()) {
      newest = v;
    } else if (h.status().code() != StatusCode::kNotFound) {
      return h.status();
    }
  }
  if (newest != 0) {
    return newest;
  }
  AttrTemplate t = BackupKeyTemplate(1);
  CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  KMS_RETURN_IF_ERROR(lease.Check(
      lease.fn()->C_GenerateKey(lease.handle(), &mech, t.data(), t.size(), &h),
      "C_GenerateKey(backup key)"));
  return 1U;
}

Result<std::vector<uint8_t>> KeyManager::SealBackup(uint32_t version,
                                                    std::span<const uint8_t> plaintext,
                                                    std::span<const uint8_t> aad) {
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.Acquire());
  KMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key, FindBackupKey(lease, version));
  std::vector<uint8_t> out(kGcmIvBytes + plaintext.size() + kGcmTagBytes);
  KMS_RETURN_IF_ERROR(lease.Check(
      lease.fn()->C_GenerateRandom(lease.handle(), out.data(), kGcmIvBytes), "C_GenerateRandom"));
  CK_GCM_PARAMS gcm{out.data(), kGcmIvBytes, kGcmIvBytes * 8,
                    const_cast<CK_BYTE_PTR>(aad.data()), checked_ulong_cast(aad.size()),
                    kGcmTagBytes * 8};
  CK_MECHANISM mech{CKM_AES_GCM, &gcm, sizeof(gcm)};
  KMS_RETURN_IF_ERROR(
      lease.Check(lease.fn()->C_EncryptInit(lease.handle(), &mech, key), "C_EncryptInit"));
  CK_ULONG len = checked_ulong_cast(out.size() - kGcmIvBytes);
  // PKCS#11 takes the plaintext through a non-const pointer but only reads it.
  KMS_RETURN_IF_ERROR(lease.Check(
      lease.fn()->C_Encrypt(lease.handle(), const_cast<CK_BYTE_PTR>(plaintext.data()),
                            checked_ulong_cast(plaintext.size()), out.data() + kGcmIvBytes,
                            &len),
      "C_Encrypt"));
  out.resize(kGcmIvBytes + len);
  return out;
}

Result<std::vector<uint8_t>> KeyManager::OpenBackup(uint32_t version,
                                                    std::span<const uint8_t> sealed,
                                                    std::span<const uint8_t> aad) {
  if (sealed.size() < kGcmIvBytes + kGcmTagBytes) {
    return AuthFailedError("backup is truncated");
  }
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.Acquire());
  KMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key, FindBackupKey(lease, version));
  std::vector<uint8_t> iv(sealed.begin(), sealed.begin() + kGcmIvBytes);
  CK_GCM_PARAMS gcm{iv.data(), kGcmIvBytes, kGcmIvBytes * 8,
                    const_cast<CK_BYTE_PTR>(aad.data()), checked_ulong_cast(aad.size()),
                    kGcmTagBytes * 8};
  CK_MECHANISM mech{CKM_AES_GCM, &gcm, sizeof(gcm)};
  KMS_RETURN_IF_ERROR(
      lease.Check(lease.fn()->C_DecryptInit(lease.handle(), &mech, key), "C_DecryptInit"));
  std::vector<uint8_t> out(sealed.size() - kGcmIvBytes);
  CK_ULONG len = checked_ulong_cast(out.size());
  const CK_RV rv = lease.fn()->C_Decrypt(
      lease.handle(), const_cast<CK_BYTE_PTR>(sealed.data() + kGcmIvBytes),
      checked_ulong_cast(sealed.size() - kGcmIvBytes), out.data(), &len);
  // PKCS#11 v3.0 §5.2 names CKR_ENCRYPTED_DATA_INVALID for a bad tag; SoftHSM2 2.6 reports
  // a GCM tag mismatch as CKR_GENERAL_ERROR. With a key found and fixed parameters, either
  // means the data is not what the key sealed.
  if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
      rv == CKR_GENERAL_ERROR) {
    return AuthFailedError("backup does not authenticate under " + BackupKeyLabel(version) +
                           " (changed, truncated or from another key)");
  }
  KMS_RETURN_IF_ERROR(lease.Check(rv, "C_Decrypt"));
  out.resize(len);
  return out;
}

}  // namespace kms::hsm
