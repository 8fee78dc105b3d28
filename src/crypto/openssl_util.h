// OpenSSL helpers private to kms::crypto and its adapters: RAII owners (style.md "OpenSSL
// RAII", Tink SslUniquePtr) and error-queue draining. Success is judged by return values
// only; the error queue is read afterwards for the operator message and then cleared.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "src/base/status.h"
#include "src/crypto/key_ops.h"

namespace kms::crypto {

template <auto F>
struct FnDeleter {
  void operator()(auto* p) const { F(p); }
};

using EvpMac = std::unique_ptr<EVP_MAC, FnDeleter<&EVP_MAC_free>>;
using EvpMacCtx = std::unique_ptr<EVP_MAC_CTX, FnDeleter<&EVP_MAC_CTX_free>>;
using EvpCipherCtx = std::unique_ptr<EVP_CIPHER_CTX, FnDeleter<&EVP_CIPHER_CTX_free>>;

// OsslError: kInternal "<what>: <first queued OpenSSL reason>"; drains and clears the
// thread's error queue. The OpenSSL reason strings never contain key bytes.
Status OsslError(std::string_view what);

// HmacTemplate: a keyless HMAC-<alg> context, built once per process; callers duplicate it
// (EVP_MAC_CTX_dup) and key the copy. nullptr if the provider has no HMAC.
const EVP_MAC_CTX* HmacTemplate(HmacAlg alg);

// FetchedCipher: the cipher fetched once per process from the default provider (fetched
// objects are immutable and may be shared between threads). nullptr if unavailable.
enum class CipherName : uint8_t { kAes128Ctr, kAes256Ctr };
const EVP_CIPHER* FetchedCipher(CipherName name);

// HmacWithKey: out = HMAC-<alg>(key, data) via EVP_MAC "HMAC". out must be exactly
// HmacSize(alg) bytes and key non-empty (kInvalidArgument otherwise); OpenSSL failures are
// kInternal. out is scrubbed on failure.
Status HmacWithKey(HmacAlg alg, std::span<const uint8_t> key, std::span<const uint8_t> data,
                   std::span<uint8_t> out);

}  // namespace kms::crypto
