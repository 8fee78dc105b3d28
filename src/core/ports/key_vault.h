// KeyVault: the port through which the KMS core (and the audit writer) uses keys that live
// in the PKCS#11 token (architecture.md §3). Implemented by hsm/ (the only place with
// CK_* types); faked in core unit tests. No method ever returns a long-term key's bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/crypto/key_ops.h"

namespace kms::ports {

// KeyRef: an opaque reference to a key inside the token. Valid until the vault says
// otherwise (a stale reference yields kNotFound or kUnavailable, never another key).
struct KeyRef {
  uint64_t id = 0;
  friend bool operator==(const KeyRef&, const KeyRef&) = default;
};

// WrappedCredential: a user PSK or a mode-3 initiator key as stored in the policy store:
// wrapped under KEK version kek_version (AES key wrap with padding, RFC 5649), or, in the
// "token objects" mode, naming a persistent non-extractable token object.
struct WrappedCredential {
  std::string credential_id;   // e.g. a B-TID; also the cache key for the unwrapped handle
  uint32_t kek_version = 0;    // 0 in token-object mode
  std::vector<uint8_t> blob;   // wrapped key bytes, or the token object's label
};

class KeyVault {
 public:
  virtual ~KeyVault() = default;

  // Hmac: HMAC(key, data) computed inside the token; out is crypto::HmacSize(alg) bytes.
  virtual Status Hmac(KeyRef key, crypto::HmacAlg alg, std::span<const uint8_t> data,
                      std::span<uint8_t> out) = 0;
  // Random: bytes from the token's RNG. Never falls back to another source.
  virtual Status Random(std::span<uint8_t> out) = 0;
  // KeySize: length in bytes of the key behind a reference (for the PRF block split).
  virtual Result<size_t> KeySize(KeyRef key) = 0;

  // Ticket protection keys (TPK, versioned). kNotFound for an unknown or destroyed version.
  virtual Result<uint32_t> ActiveTicketKeyVersion() = 0;
  virtual Result<KeyRef> TicketKey(uint32_t version) = 0;
  // Audit sealing key (HMAC-SHA-256 over checkpoint data).
  virtual Result<uint32_t> ActiveAuditKeyVersion() = 0;
  virtual Result<KeyRef> AuditKey(uint32_t version) = 0;

  // OpenCredential: the token handle of a stored credential (unwrapped inside the token into
  // a session object on first use, then cached in a bounded LRU).
  virtual Result<KeyRef> OpenCredential(const WrappedCredential& credential) = 0;
  // Provisioning: generate inside the token, or import raw bytes; both return the stored
  // form. The raw import never creates a persistent object and scrubs its copy.
  virtual Result<WrappedCredential> GenerateCredential(const std::string& credential_id,
                                                       size_t key_bytes) = 0;
  virtual Result<WrappedCredential> ImportCredential(const std::string& credential_id,
                                                     const SecretBytes& raw_key) = 0;
};

}  // namespace kms::ports
