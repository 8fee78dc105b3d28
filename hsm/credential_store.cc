#include "hsm/credential_store.h"

#include <vector>

#include "hsm/ck_rv.h"
#include "hsm/find_scope.h"
#include "hsm/key_templates.h"
#include "hsm/transient_object.h"

namespace kms::hsm {
namespace {

Status CheckKeyBytes(size_t n) {
  if (n < kMinCredentialBytes || n > kMaxCredentialBytes || n % 8 != 0) {
    return InvalidArgumentError("credential keys must be 32..64 bytes, a multiple of 8");
  }
  return Status::Ok();
}

Result<size_t> ReadValueLen(SessionLease& lease, CK_OBJECT_HANDLE h) {
  CK_ULONG len = 0;
  CK_ATTRIBUTE a{CKA_VALUE_LEN, &len, sizeof(len)};
  KMS_RETURN_IF_ERROR(lease.Check(lease.fn()->C_GetAttributeValue(lease.handle(), h, &a, 1),
                                  "C_GetAttributeValue(CKA_VALUE_LEN)"));
  return static_cast<size_t>(len);
}

std::vector<uint8_t> LabelBytes(const std::string& label) {
  return std::vector<uint8_t>(label.begin(), label.end());
}

// CreateSecretKey: a new secret-key object from tmpl, its value generated inside the token
// (generate) or taken from tmpl's CKA_VALUE (an import).
Result<CK_OBJECT_HANDLE> CreateSecretKey(SessionLease& lease, AttrTemplate& tmpl, bool generate) {
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  if (generate) {
    CK_MECHANISM gen{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
    KMS_RETURN_IF_ERROR(
        lease.Check(lease.fn()->C_GenerateKey(lease.handle(), &gen, tmpl.data(), tmpl.size(), &h),
                    "C_GenerateKey"));
  } else {
    KMS_RETURN_IF_ERROR(
        lease.Check(lease.fn()->C_CreateObject(lease.handle(), tmpl.data(), tmpl.size(), &h),
                    "C_CreateObject"));
  }
  return h;
}

}  // namespace

// ---- CredentialHandle ----

CredentialHandle::CredentialHandle(Token& token, CK_OBJECT_HANDLE handle, size_t value_len,
                                   uint64_t generation, bool destroy_on_release)
    : token_(token),
      handle_(handle),
      value_len_(value_len),
      generation_(generation),
      destroy_on_release_(destroy_on_release) {}

CredentialHandle::~CredentialHandle() {
  if (!destroy_on_release_ || token_.generation() != generation_) {
    return;  // persistent object, or the session object already died with its session
  }
  Result<SessionLease> lease = token_.AcquireOwner();
  if (!lease.ok() || token_.generation() != generation_) {
    return;  // token lost: the object goes with the login session
  }
  // Evicted from the LRU and unused: the unwrapped copy is destroyed (FCS_CKM.4).
  lease->fn()->C_DestroyObject(lease->handle(), handle_);
}

// ---- CredentialStore ----

CredentialStore::CredentialStore(Token& token, CredentialStorage mode, size_t cache_size)
    : token_(token), mode_(mode), capacity_(cache_size == 0 ? 1 : cache_size) {}

CredentialStore::~CredentialStore() {
  Lru drop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    drop.swap(lru_);
    by_id_.clear();
    by_ref_.clear();
  }
}

size_t CredentialStore::cached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

void CredentialStore::DropStaleLocked(
    std::vector<std::shared_ptr<const CredentialHandle>>* out) {
  uint64_t gen = token_.generation();
  if (gen == generation_seen_) {
    return;
  }
  generation_seen_ = gen;
  for (Entry& e : lru_) {
    out->push_back(std::move(e.handle));
  }
  lru_.clear();
  by_id_.clear();
  by_ref_.clear();
}

Result<ports::KeyRef> CredentialStore::Open(const ports::WrappedCredential& credential) {
  KMS_RETURN_IF_ERROR(CredentialLabel(credential.credential_id).status());
  if (mode_ == CredentialStorage::kWrapped && credential.kek_version == 0) {
    return InvalidArgumentError("credential is not wrapped under a KEK (token-object form)");
  }
  if (mode_ == CredentialStorage::kTokenObjects && credential.kek_version != 0) {
    return InvalidArgumentError("credential is in wrapped form but storage is token objects");
  }
  // Released after the lock: a handle's destructor talks to the token.
  std::vector<std::shared_ptr<const CredentialHandle>> release;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DropStaleLocked(&release);
    auto it = by_id_.find(credential.credential_id);
    if (it != by_id_.end()) {
      Entry& e = *it->second;
      if (e.kek_version == credential.kek_version &&
          ConstantTimeEquals(e.blob, credential.blob)) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return ports::KeyRef{e.ref_id};
      }
      // Re-provisioned credential: the cached key is not this one any more.
      release.push_back(std::move(e.handle));
      by_ref_.erase(e.ref_id);
      lru_.erase(it->second);
      by_id_.erase(it);
    }
  }
  KMS_ASSIGN_OR_RETURN(std::shared_ptr<const CredentialHandle> handle, Materialize(credential));
  std::lock_guard<std::mutex> lock(mu_);
  DropStaleLocked(&release);
  if (handle->generation() != generation_seen_) {
    release.push_back(std::move(handle));
    return UnavailableError("token reconnected while opening a credential");
  }
  if (auto it = by_id_.find(credential.credential_id); it != by_id_.end()) {
    release.push_back(std::move(handle));  // another thread won the race; use its handle
    lru_.splice(lru_.begin(), lru_, it->second);
    return ports::KeyRef{it->second->ref_id};
  }
  uint64_t ref_id = kRefTag | next_ref_++;
  lru_.push_front(Entry{credential.credential_id, credential.kek_version, credential.blob,
                        ref_id, std::move(handle)});
  by_id_[credential.credential_id] = lru_.begin();
  by_ref_[ref_id] = lru_.begin();
  while (lru_.size() > capacity_) {
    Entry& victim = lru_.back();
    release.push_back(std::move(victim.handle));
    by_id_.erase(victim.credential_id);
    by_ref_.erase(victim.ref_id);
    lru_.pop_back();
  }
  return ports::KeyRef{ref_id};
}

Result<std::shared_ptr<const CredentialHandle>> CredentialStore::Resolve(ports::KeyRef ref) {
  std::vector<std::shared_ptr<const CredentialHandle>> release;
  std::lock_guard<std::mutex> lock(mu_);
  DropStaleLocked(&release);
  auto it = by_ref_.find(ref.id);
  if (it == by_ref_.end()) {
    // The reference outlived its cache entry (LRU eviction between OpenCredential and the
    // PRF's Hmac calls, or a reconnect): a condition of the cache, not of the credential.
    return UnavailableError("credential reference is stale (evicted or token reconnected)");
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->handle;
}

void CredentialStore::Forget(ports::KeyRef ref) {
  std::shared_ptr<const CredentialHandle> release;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_ref_.find(ref.id);
  if (it == by_ref_.end()) {
    return;
  }
  release = std::move(it->second->handle);
  by_id_.erase(it->second->credential_id);
  lru_.erase(it->second);
  by_ref_.erase(it);
}

Result<std::shared_ptr<const CredentialHandle>> CredentialStore::Materialize(
    const ports::WrappedCredential& credential) {
  // Error codes (the KeyVault contract, hsm/token_key_vault.h): kInvalidArgument and
  // kNotFound only for what the credential itself names (a blob that does not unwrap, an
  // unknown KEK version, a missing token object); every other failure is TokenSide.
  KMS_RETURN_IF_ERROR(TokenSide(token_.EnsureConnected()));
  if (mode_ == CredentialStorage::kWrapped) {
    if (token_.LongTermKey(KeyKind::kKek, credential.kek_version).status().code() ==
        StatusCode::kNotFound) {
      // A KEK version kmsctl created after this process connected (key rotate kek, then
      // key rewrap): look again in the token instead of needing a restart. (Before the
      // lease: the refresh takes the login session itself.)
      KMS_RETURN_IF_ERROR(TokenSide(token_.RefreshKeyIndex()));
    }
    Result<SessionLease> acquired = token_.AcquireOwner();
    KMS_RETURN_IF_ERROR(TokenSide(acquired.status()));
    SessionLease& lease = *acquired;
    uint64_t gen = token_.generation();
    // The KEK's handle is read under the lease, for the connection it pins.
    KMS_ASSIGN_OR_RETURN(LongTermKeyInfo kek,
                         token_.LongTermKey(lease, KeyKind::kKek, credential.kek_version));
    // RFC 5649 §4.1: the wrapped form is the key padded to a multiple of 8 bytes plus an
    // 8-byte integrity block; credential sizes are multiples of 8, so the key length is
    // known from the blob (SoftHSM2 does not set CKA_VALUE_LEN on unwrapped secrets).
    if (credential.blob.size() < kMinCredentialBytes + 8 ||
        credential.blob.size() > kMaxCredentialBytes + 8 || credential.blob.size() % 8 != 0) {
      return InvalidArgumentError("wrapped credential has a bad length");
    }
    const size_t key_len = credential.blob.size() - 8;
    AttrTemplate t = CredentialTemplate(CredentialObject::kSessionInUse, "", 0, {});
    CK_MECHANISM mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};  // RFC 5649
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    // PKCS#11 takes the wrapped bytes through a non-const pointer but only reads them.
    const CK_RV rv = lease.fn()->C_UnwrapKey(
        lease.handle(), &mech, kek.handle, const_cast<CK_BYTE_PTR>(credential.blob.data()),
        checked_ulong_cast(credential.blob.size()), t.data(), t.size(), &h);
    // RFC 5649 §3 integrity check failed: the blob is not this KEK's (PKCS#11 names
    // CKR_WRAPPED_KEY_INVALID; SoftHSM2 2.6 reports a failed unwrap as CKR_GENERAL_ERROR, as
    // for a bad GCM tag in KeyManager::OpenBackup).
    if (rv == CKR_WRAPPED_KEY_INVALID || rv == CKR_WRAPPED_KEY_LEN_RANGE ||
        rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
        rv == CKR_GENERAL_ERROR) {
      return InvalidArgumentError(FromCkRv(rv, "C_UnwrapKey").message() +
                                  ": the credential does not unwrap under its KEK");
    }
    Status unwrapped = lease.Check(rv, "C_UnwrapKey");
    if (rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID) {
      // The KEK handle comes from this connection's index. If the token no longer knows it
      // while we are still logged in (a logout was marked by Check already), the token
      // changed behind our back: reconnect and re-find the keys by label, as
      // TokenKeyVault::Hmac does for the TPK, instead of failing every unwrap.
      token_.MarkLost();
    }
    KMS_RETURN_IF_ERROR(TokenSide(unwrapped));
    Result<size_t> len = ReadValueLen(lease, h);
    if (!len.ok() || (*len != 0 && *len != key_len)) {
      lease.fn()->C_DestroyObject(lease.handle(), h);  // result irrelevant: reported below
      return len.ok() ? InvalidArgumentError("unwrapped credential has a bad length")
                      : TokenSide(len.status());
    }
    return std::make_shared<const CredentialHandle>(token_, h, key_len, gen, true);
  }
  KMS_ASSIGN_OR_RETURN(std::string label, CredentialLabel(credential.credential_id));
  if (!ConstantTimeEquals(LabelBytes(label), credential.blob)) {
    return InvalidArgumentError("token-object credential names another object");
  }
  Result<SessionLease> acquired = token_.Acquire();
  KMS_RETURN_IF_ERROR(TokenSide(acquired.status()));
  SessionLease& lease = *acquired;
  uint64_t gen = token_.generation();
  AttrTemplate match;
  match.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Bool(CKA_TOKEN, true)
      .String(CKA_ID, kCredentialKeyId)
      .String(CKA_LABEL, label);
  Result<std::vector<CK_OBJECT_HANDLE>> found = FindAll(lease, match, 2);
  KMS_RETURN_IF_ERROR(TokenSide(found.status()));
  if (found->empty()) {
    // A logged-out session does not see private token objects (PKCS#11 v2.40 §4.4): that is
    // a token condition (kUnavailable, then a new login), not a missing credential.
    KMS_RETURN_IF_ERROR(TokenSide(lease.CheckLoggedIn()));
    return NotFoundError("no token object for this credential");
  }
  if (found->size() > 1) {
    return FailedPreconditionError("several token objects carry this credential's label");
  }
  Result<size_t> len = ReadValueLen(lease, (*found)[0]);
  KMS_RETURN_IF_ERROR(TokenSide(len.status()));
  return std::make_shared<const CredentialHandle>(token_, (*found)[0], *len, gen, false);
}

Result<uint32_t> CredentialStore::WrapKekVersion() const {
  const uint32_t pinned = wrap_kek_.load();
  if (pinned == 0) {
    return token_.ActiveVersion(KeyKind::kKek);
  }
  return pinned;  // its presence is checked under the lease (LongTermKey: kNotFound)
}

Result<ports::WrappedCredential> CredentialStore::WrapTransient(
    const std::string& credential_id, AttrTemplate& tmpl, bool generate) {
  KMS_RETURN_IF_ERROR(token_.EnsureConnected());
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.AcquireOwner());
  KMS_ASSIGN_OR_RETURN(uint32_t kek_version, WrapKekVersion());
  KMS_ASSIGN_OR_RETURN(LongTermKeyInfo kek, token_.LongTermKey(lease, KeyKind::kKek, kek_version));
  KMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE h, CreateSecretKey(lease, tmpl, generate));
  TransientObject transient(lease, h);
  CK_MECHANISM wrap{CKM_AES_KEY_WRAP_PAD, nullptr, 0};  // RFC 5649
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> blob, WrapWith(lease, wrap, kek.handle, h));
  return ports::WrappedCredential{credential_id, kek_version, std::move(blob)};
}

Result<ExportedCredential> CredentialStore::GenerateForTransport(
    const std::string& credential_id, size_t key_bytes, const TransportPublicKey& transport) {
  KMS_RETURN_IF_ERROR(CheckKeyBytes(key_bytes));
  KMS_RETURN_IF_ERROR(CredentialLabel(credential_id).status());
  if (mode_ != CredentialStorage::kWrapped) {
    return FailedPreconditionError("export needs the wrapped credential storage");
  }
  const size_t bits = transport.modulus.size() * 8;
  if (bits < 2048 || bits > 8192 || transport.exponent.empty() ||
      transport.exponent.size() > 8 || transport.modulus.front() == 0) {
    return InvalidArgumentError("transport key must be RSA with a 2048..8192-bit modulus");
  }
  KMS_RETURN_IF_ERROR(token_.EnsureConnected());
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.AcquireOwner());
  KMS_ASSIGN_OR_RETURN(uint32_t kek_version, WrapKekVersion());
  KMS_ASSIGN_OR_RETURN(LongTermKeyInfo kek, token_.LongTermKey(lease, KeyKind::kKek, kek_version));
  // The transport key: a public session object whose only use is this wrap.
  AttrTemplate pub;
  pub.Ulong(CKA_CLASS, CKO_PUBLIC_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_RSA)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_WRAP, true)
      .Bool(CKA_ENCRYPT, false)
      .Bool(CKA_VERIFY, false)
      .Bytes(CKA_MODULUS, transport.modulus)
      .Bytes(CKA_PUBLIC_EXPONENT, transport.exponent);
  CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE;
  KMS_RETURN_IF_ERROR(lease.Check(
      lease.fn()->C_CreateObject(lease.handle(), pub.data(), pub.size(), &pub_h),
      "C_CreateObject(transport key)"));
  TransientObject pub_obj(lease, pub_h);
  AttrTemplate t = CredentialTemplate(CredentialObject::kSessionToWrap, "",
                                      checked_ulong_cast(key_bytes), {});
  CK_MECHANISM gen{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  KMS_RETURN_IF_ERROR(lease.Check(
      lease.fn()->C_GenerateKey(lease.handle(), &gen, t.data(), t.size(), &h), "C_GenerateKey"));
  TransientObject transient(lease, h);
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};  // RFC 5649
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> stored, WrapWith(lease, kwp, kek.handle, h));
  CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM rsa{CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> exported, WrapWith(lease, rsa, pub_h, h));
  return ExportedCredential{{credential_id, kek_version, std::move(stored)}, std::move(exported)};
}

Result<std::vector<uint8_t>> CredentialStore::WrapWith(SessionLease& lease, CK_MECHANISM& mech,
                                                       CK_OBJECT_HANDLE wrapping_key,
                                                       CK_OBJECT_HANDLE key) {
  // One call with a buffer that fits every wrap we make (RFC 5649: the key plus at most 15
  // bytes; RSA-OAEP: the modulus, at most 1024 bytes); the PKCS#11 §5.2 length query runs
  // only if it did not fit. Bulk imports wrap 100,000 keys, so the second call counts.
  std::vector<uint8_t> blob(1024);
  CK_ULONG len = checked_ulong_cast(blob.size());
  CK_RV rv = lease.fn()->C_WrapKey(lease.handle(), &mech, wrapping_key, key, blob.data(), &len);
  if (rv == CKR_BUFFER_TOO_SMALL) {
    blob.resize(len);
    rv = lease.fn()->C_WrapKey(lease.handle(), &mech, wrapping_key, key, blob.data(), &len);
  }
  KMS_RETURN_IF_ERROR(lease.Check(rv, "C_WrapKey"));
  blob.resize(len);
  return blob;
}

Result<ports::WrappedCredential> CredentialStore::CreatePersistent(
    const std::string& credential_id, AttrTemplate& tmpl, bool generate) {
  KMS_ASSIGN_OR_RETURN(std::string label, CredentialLabel(credential_id));
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.Acquire());
  AttrTemplate match;
  match.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Bool(CKA_TOKEN, true)
      .String(CKA_ID, kCredentialKeyId)
      .String(CKA_LABEL, label);
  KMS_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found, FindAll(lease, match, 1));
  if (!found.empty()) {
    return AlreadyExistsError("a token object for this credential exists");
  }
  // A token object: it stays in the token, so the handle is not kept.
  KMS_RETURN_IF_ERROR(CreateSecretKey(lease, tmpl, generate).status());
  return ports::WrappedCredential{credential_id, 0, LabelBytes(label)};
}

Result<ports::WrappedCredential> CredentialStore::Generate(const std::string& credential_id,
                                                           size_t key_bytes) {
  KMS_RETURN_IF_ERROR(CheckKeyBytes(key_bytes));
  KMS_ASSIGN_OR_RETURN(std::string label, CredentialLabel(credential_id));
  CK_ULONG n = checked_ulong_cast(key_bytes);
  if (mode_ == CredentialStorage::kTokenObjects) {
    AttrTemplate t = CredentialTemplate(CredentialObject::kTokenPersistent, label, n, {});
    return CreatePersistent(credential_id, t, /*generate=*/true);
  }
  // Why a transient extractable object: the stored form must be the key wrapped under the
  // KEK, and PKCS#11 only wraps keys with CKA_EXTRACTABLE=TRUE. The object is a session
  // object that is sensitive (CKA_VALUE unreadable), lives only inside the login session
  // for the duration of one C_WrapKey and is destroyed right after; the only key in the
  // token allowed to wrap is the KEK (CKA_WRAP on nothing else). The alternative, drawing
  // random bytes and unwrapping them, would put the key in process memory, which is worse.
  // The key used afterwards is the non-extractable copy that C_UnwrapKey creates.
  AttrTemplate t = CredentialTemplate(CredentialObject::kSessionToWrap, "", n, {});
  return WrapTransient(credential_id, t, /*generate=*/true);
}

Result<ports::WrappedCredential> CredentialStore::Import(const std::string& credential_id,
                                                         const SecretBytes& raw_key) {
  KMS_RETURN_IF_ERROR(CheckKeyBytes(raw_key.size()));
  KMS_ASSIGN_OR_RETURN(std::string label, CredentialLabel(credential_id));
  if (mode_ == CredentialStorage::kTokenObjects) {
    AttrTemplate t =
        CredentialTemplate(CredentialObject::kTokenPersistent, label, 0, raw_key.Reveal());
    return CreatePersistent(credential_id, t, /*generate=*/false);
  }
  AttrTemplate t = CredentialTemplate(CredentialObject::kSessionToWrap, "", 0, raw_key.Reveal());
  return WrapTransient(credential_id, t, /*generate=*/false);
}

}  // namespace kms::hsm
