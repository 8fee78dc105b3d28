// TokenKeyVault: the KeyVault port (src/core/ports/key_vault.h) over a PKCS#11 token.
// HMAC runs as C_SignInit/C_Sign on a pooled session with a cached key handle (no token
// search on a request path, architecture.md §4); Random is C_GenerateRandom with no
// fallback. KeyRef ids: bits 56..63 name the kind (1 TPK, 3 audit, 0xC credential), the
// low bits the version or a never-reused credential serial, so a stale reference can only
// yield kNotFound/kUnavailable, never another key.
//
// Error contract towards the core (src/core answers kUnavailable with 503 and refuses the
// MIKEY request, as an authentication failure, on any other code):
//  * kUnavailable: every condition of the token or of this layer, whatever the request:
//    token or session lost, logged out by other code in the process (a key or KEK handle
//    the token forgot, or a search coming back empty, while C_GetSessionInfo no longer
//    shows a user state: at most one call fails, the next logs in again), reconnect
//    pending or failed, the PIN refused at a reconnect,
//    pool exhausted, any PKCS#11 error of C_SignInit/C_Sign/C_GenerateRandom/C_UnwrapKey
//    other than those below (CKR_GENERAL_ERROR from C_Sign, CKR_OPERATION_ACTIVE, ...), and
//    a stale credential reference (evicted from the LRU, or opened before a reconnect: a
//    KeyRef is not pinned between OpenCredential and the PRF's Hmac calls; the client's
//    retry opens it again).
//  * kNotFound: a key the request names does not exist: an unknown or destroyed TPK/audit
//    key version, an invalid reference, a credential's unknown KEK version or missing token
//    object.
//  * kInvalidArgument: the request's own data is bad: a wrapped credential that does not
//    unwrap under its KEK (RFC 5649 integrity check; SoftHSM2 reports it as
//    CKR_GENERAL_ERROR), a blob of the wrong length or storage mode, a wrong output size;
//    kFailedPrecondition: several token objects carry one credential's label.
// Provisioning (Generate/ImportCredential, for kmsctl) keeps the codes of CredentialStore.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "hsm/credential_store.h"
#include "hsm/token.h"
#include "src/core/ports/key_vault.h"

namespace kms::hsm {

class TokenKeyVault final : public ports::KeyVault {
 public:
  // The token must outlive the vault. Credential storage mode and cache size come from the
  // token's configuration.
  explicit TokenKeyVault(Token& token);

  Status Hmac(ports::KeyRef key, crypto::HmacAlg alg, std::span<const uint8_t> data,
              std::span<uint8_t> out) override;
  Status Random(std::span<uint8_t> out) override;
  Result<size_t> KeySize(ports::KeyRef key) override;

  Result<uint32_t> ActiveTicketKeyVersion() override;
  Result<ports::KeyRef> TicketKey(uint32_t version) override;
  Result<uint32_t> ActiveAuditKeyVersion() override;
  Result<ports::KeyRef> AuditKey(uint32_t version) override;

  Result<ports::KeyRef> OpenCredential(const ports::WrappedCredential& credential) override;
  Result<ports::WrappedCredential> GenerateCredential(const std::string& credential_id,
                                                      size_t key_bytes) override;
  Result<ports::WrappedCredential> ImportCredential(const std::string& credential_id,
                                                    const SecretBytes& raw_key) override;

  // Ready: the token is connected (or reconnects now); for /readyz.
  Status Ready() { return token_.EnsureConnected(); }
  CredentialStore& credentials() { return credentials_; }
  Token& token() { return token_; }

 private:
  Result<ports::KeyRef> LongTermRef(KeyKind kind, uint32_t version);

  Token& token_;
  CredentialStore credentials_;
};

}  // namespace kms::hsm
