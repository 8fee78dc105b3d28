// TokenTlsKey: the private key of kmsd's HTTPS certificate kept in the token (issue 7 item 1:
// "the key in the token through a PKCS#11 URI"). The key never leaves the token: TLS asks
// for a signature over a handshake digest and the token computes it (CKM_ECDSA, PKCS#11
// v2.40 §2.3.6). All token access goes through the same Token (session pool, loss and
// reconnect handling) as the KMS keys, rather than through a second PKCS#11 stack inside
// the TLS library, so a token loss is seen and recovered in one place.
//
// Supported keys: EC on P-256 or P-384 (CKK_EC, CKA_SIGN=true, CKA_ALWAYS_AUTHENTICATE=false). The
// URI names the object by label (object=) and/or CKA_ID (id=); exactly one private key must match.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "hsm/pkcs11_uri.h"
#include "hsm/token.h"
#include "src/base/result.h"

namespace kms::hsm {

class TokenTlsKey {
 public:
  // Open: finds the private key named by `uri` in `token` (the token attributes of the URI
  // must select this same token). kInvalidArgument for a URI without object/id, a key that
  // is not an EC P-256/P-384 signing key, or one with CKA_ALWAYS_AUTHENTICATE; kNotFound
  // when no key or several keys match.
  static Result<std::unique_ptr<TokenTlsKey>> Open(Token& token, std::string_view uri);

  // curve_bits: 256 or 384.
  unsigned curve_bits() const { return curve_bits_; }
  // SignDigest: ECDSA over a precomputed digest; returns r || s, each curve_bits/8 bytes
  // (PKCS#11 v2.40 §2.3.1 signature format). Finds the key again after a token reconnect.
  Result<std::vector<uint8_t>> SignDigest(std::span<const uint8_t> digest);

 private:
  TokenTlsKey(Token& token, Pkcs11Uri uri) : token_(token), uri_(std::move(uri)) {}
  // Locate: the key handle for the current token generation (caller holds mu_).
  Result<CK_OBJECT_HANDLE> Locate(SessionLease& lease);

  Token& token_;
  const Pkcs11Uri uri_;
  unsigned curve_bits_ = 0;
  std::mutex mu_;  // guards handle_ and generation_
  CK_OBJECT_HANDLE handle_ = CK_INVALID_HANDLE;
  uint64_t generation_ = 0;
};

}  // namespace kms::hsm
