// Token half of the start-up known-answer tests (ISO/IEC 19790:2012 §7.10; Common Criteria
// FPT_TST_EXT.1): the mechanisms kmsd asks the token for, computed on a public test key that
// exists only for this one call. The key is a session object (CKA_TOKEN=FALSE) made with
// C_CreateObject and destroyed right after (hsm/transient_object.h), so a test vector can
// never be mistaken for, or indexed as, a long-term key (those need CKA_TOKEN=TRUE and the
// provenance of hsm/key_provenance.h). These functions return what the token computed; the
// comparison with the published answer is crypto::CheckKnownAnswer (src/crypto/self_test.h),
// so the token layer needs no vector of its own.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hsm/token.h"
#include "src/base/result.h"
#include "src/crypto/key_ops.h"

namespace kms::hsm {

// TokenHmacWithTestKey: HMAC(key, data) computed by the token with the mechanism kmsd uses
// for alg (CKM_SHA_1_HMAC or CKM_SHA256_HMAC, C_SignInit/C_Sign on a pool session) under a
// transient generic-secret session object holding key. key must be a public test value:
// it goes into a CKA_VALUE. Every PKCS#11 failure is returned (FromCkRv codes), nothing is
// retried; the object is destroyed on every path.
Result<std::vector<uint8_t>> TokenHmacWithTestKey(Token& token, crypto::HmacAlg alg,
                                                  std::span<const uint8_t> key,
                                                  std::span<const uint8_t> data);

// TokenKwpUnwrapWithTestKek: C_UnwrapKey with CKM_AES_KEY_WRAP_PAD (RFC 5649; the
// mechanism of credential unwrap, hsm/credential_store.cc) of wrapped under a transient AES
// session key holding kek (16, 24 or 32 bytes), into a transient generic-secret session
// object whose CKA_VALUE is then read back and returned. Only for public test values: the
// unwrapped object is made readable (CKA_SENSITIVE=FALSE) so the answer can be compared;
// both objects are destroyed on every path. An integrity-check failure (RFC 5649 §3) is an
// error like any other.
Result<std::vector<uint8_t>> TokenKwpUnwrapWithTestKek(Token& token, std::span<const uint8_t> kek,
                                                       std::span<const uint8_t> wrapped);

}  // namespace kms::hsm
