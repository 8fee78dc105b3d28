// CredentialStore: user PSKs and mode-3 initiator keys (architecture.md §3).
//  kWrapped (default): the policy store keeps each key wrapped under a KEK version with
//    CKM_AES_KEY_WRAP_PAD (RFC 5649); on use it is unwrapped inside the token into a
//    session object (sensitive, non-extractable, sign only) owned by the login session,
//    and the handle is kept in a bounded LRU; an evicted handle is destroyed
//    (C_DestroyObject) once the last user has released it.
//  kTokenObjects: each credential is its own persistent non-extractable token object
//    "kms-cred-<id>"; the first use searches it by label (once), then the handle is cached.
// Handles are tied to the token's connection generation: after a reconnect every cached
// handle is dropped (the session objects died with their session).
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "hsm/attr_template.h"
#include "hsm/token.h"
#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/core/ports/key_vault.h"

namespace kms::hsm {

// CredentialHandle: one usable credential key in the token. Shared by the cache and the
// operations using it; a wrapped-mode session object is destroyed with the last owner.
class CredentialHandle {
 public:
  CredentialHandle(Token& token, CK_OBJECT_HANDLE handle, size_t value_len,
                   uint64_t generation, bool destroy_on_release);
  ~CredentialHandle();
  CredentialHandle(const CredentialHandle&) = delete;
  CredentialHandle& operator=(const CredentialHandle&) = delete;

  CK_OBJECT_HANDLE handle() const { return handle_; }
  size_t value_len() const { return value_len_; }
  uint64_t generation() const { return generation_; }

 private:
  Token& token_;
  CK_OBJECT_HANDLE handle_;
  size_t value_len_;
  uint64_t generation_;
  bool destroy_on_release_;
};

// TransportPublicKey: the RSA public key (big-endian modulus and public exponent) of the
// system that provisions UEs (kmsctl cred generate --export-wrapped).
struct TransportPublicKey {
  std::vector<uint8_t> modulus, exponent;
};

struct ExportedCredential {
  ports::WrappedCredential stored;      // under the active KEK, for the policy store
  std::vector<uint8_t> transport_blob;  // RSA-OAEP under the transport key, for the UE side
};

class CredentialStore {
 public:
  // The token must outlive the store. cache_size >= 1.
  CredentialStore(Token& token, CredentialStorage mode, size_t cache_size);
  ~CredentialStore();
  CredentialStore(const CredentialStore&) = delete;
  CredentialStore& operator=(const CredentialStore&) = delete;

  // Open: a reference to the credential's key in the token (cached). kNotFound for an
  // unknown token object or KEK version, kInvalidArgument for a blob that does not unwrap
  // (wrong KEK, corrupted) or a blob of the other storage mode, kFailedPrecondition for a
  // label several token objects carry; kUnavailable for every token-side failure.
  Result<ports::KeyRef> Open(const ports::WrappedCredential& credential);
  // Resolve: the handle behind a reference from Open; kUnavailable once it was evicted or
  // the token reconnected (the reference is then stale: the caller opens it again, e.g. on
  // the client's retry after the 503 the core answers).
  Result<std::shared_ptr<const CredentialHandle>> Resolve(ports::KeyRef ref);
  // Forget: drops a reference whose handle the token no longer accepts.
  void Forget(ports::KeyRef ref);

  // Generate: a new key of key_bytes (32..64) made inside the token. kWrapped: a transient
  // extractable session object is wrapped under the active KEK and destroyed at once (see
  // credential_store.cc for why). kTokenObjects: a persistent object "kms-cred-<id>".
  Result<ports::WrappedCredential> Generate(const std::string& credential_id, size_t key_bytes);
  // Import: raw key bytes (e.g. a Ks_NAF from a file) become a transient session object
  // (C_CreateObject), wrapped under the active KEK and destroyed; never a persistent object
  // in kWrapped mode, never written anywhere unwrapped. The template copy is scrubbed.
  Result<ports::WrappedCredential> Import(const std::string& credential_id,
                                          const SecretBytes& raw_key);

  // GenerateForTransport: a new key of key_bytes made inside the token and wrapped twice
  // before the transient object is destroyed: under the active KEK (stored form) and with
  // RSA-OAEP under `transport` (PKCS#11 v2.40 §2.1.8; SHA-1/MGF1-SHA-1, the only OAEP
  // parameters SoftHSM2 2.6 wraps with), so the UE provisioning system receives the key
  // without it ever existing outside a token. The transport key is a session object for
  // this call only. kWrapped mode only (kFailedPrecondition otherwise); moduli of 2048..8192
  // bits (kInvalidArgument otherwise).
  Result<ExportedCredential> GenerateForTransport(const std::string& credential_id,
                                                  size_t key_bytes,
                                                  const TransportPublicKey& transport);

  // SetWrapKek: Generate, Import and GenerateForTransport wrap under KEK `version` from now
  // on instead of the highest version the token holds (0 restores that default). kmsctl
  // sets the version the policy database registers as active: an unregistered KEK object
  // left by a rotation killed before its commit is higher, and must not receive credentials
  // the database would then name under a KEK it does not list (checklist 28). A version
  // the token lacks makes those calls kNotFound.
  void SetWrapKek(uint32_t version) { wrap_kek_.store(version); }

  CredentialStorage mode() const { return mode_; }
  // WrapWith: C_WrapKey of key under wrapping_key (one call; the length query only if the
  // 1 KiB buffer did not fit). Also used by hsm/kek_rewrap.cc.
  static Result<std::vector<uint8_t>> WrapWith(SessionLease& lease, CK_MECHANISM& mech,
                                               CK_OBJECT_HANDLE wrapping_key,
                                               CK_OBJECT_HANDLE key);
  size_t cached() const;

  static constexpr uint64_t kRefTag = uint64_t{0xC} << 56;

 private:
  struct Entry {
    std::string credential_id;
    uint32_t kek_version;
    std::vector<uint8_t> blob;
    uint64_t ref_id;
    std::shared_ptr<const CredentialHandle> handle;
  };
  using Lru = std::list<Entry>;

  Result<std::shared_ptr<const CredentialHandle>> Materialize(
      const ports::WrappedCredential& credential);
  // WrapKekVersion: the KEK version new credentials are wrapped under (SetWrapKek).
  Result<uint32_t> WrapKekVersion() const;
  Result<ports::WrappedCredential> WrapTransient(const std::string& credential_id,
                                                 AttrTemplate& tmpl, bool generate);
  Result<ports::WrappedCredential> CreatePersistent(const std::string& credential_id,
                                                    AttrTemplate& tmpl, bool generate);
  // DropStaleLocked: after a reconnect, forget every entry (moved to *out so the
  // shared_ptrs are released outside the lock).
  void DropStaleLocked(std::vector<std::shared_ptr<const CredentialHandle>>* out);

  Token& token_;
  const CredentialStorage mode_;
  const size_t capacity_;
  std::atomic<uint32_t> wrap_kek_{0};  // SetWrapKek; 0: the token's highest KEK version

  mutable std::mutex mu_;
  Lru lru_;  // front = most recently used
  std::unordered_map<std::string, Lru::iterator> by_id_;
  std::unordered_map<uint64_t, Lru::iterator> by_ref_;
  uint64_t next_ref_ = 1;
  uint64_t generation_seen_ = 0;
};

}  // namespace kms::hsm
