#include "src/crypto/openssl_util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include <array>
#include <string>

namespace kms::crypto {

Status OsslError(std::string_view what) {
  std::string msg(what);
  const unsigned long first = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL type
  if (first != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(first, buf.data(), buf.size());
    msg += ": ";
    msg += buf.data();
  }
  ERR_clear_error();
  return InternalError(std::move(msg));
}

namespace {

// NewHmacTemplate: an HMAC context with its digest chosen and no key. Per call we duplicate it
// and key the copy, instead of fetching "HMAC" and then the digest by name every time
// (both are locked look-ups in the provider's method store).
EVP_MAC_CTX* NewHmacTemplate(const char* digest_name) {
  EvpMac mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  if (!mac) return nullptr;
  EvpMacCtx ctx(EVP_MAC_CTX_new(mac.get()));  // holds its own reference to mac
  if (!ctx) return nullptr;
  std::string digest(digest_name);  // OSSL_PARAM wants a non-const char*; it is only read
  const std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(ctx.get(), params.data()) != 1) return nullptr;
  return ctx.release();
}

}  // namespace

const EVP_MAC_CTX* HmacTemplate(HmacAlg alg) {
  // Built once per process and never freed (still in use by threads until exit; OpenSSL's
  // own exit handler may run before static destructors would). Only ever duplicated.
  static const EVP_MAC_CTX* const sha1 = NewHmacTemplate("SHA1");
  static const EVP_MAC_CTX* const sha256 = NewHmacTemplate("SHA256");
  return alg == HmacAlg::kSha1 ? sha1 : sha256;
}

const EVP_CIPHER* FetchedCipher(CipherName name) {
  // Fetched once per process and never freed, for the same reason as HmacTemplate.
  static const EVP_CIPHER* const aes128_ctr = EVP_CIPHER_fetch(nullptr, "AES-128-CTR", nullptr);
  static const EVP_CIPHER* const aes256_ctr = EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
  return name == CipherName::kAes128Ctr ? aes128_ctr : aes256_ctr;
}

Status HmacWithKey(HmacAlg alg, std::span<const uint8_t> key, std::span<const uint8_t> data,
                   std::span<uint8_t> out) {
  if (out.size() != HmacSize(alg)) {
    return InvalidArgumentError("HMAC output buffer has the wrong size");
  }
  if (key.empty()) {
    return InvalidArgumentError("HMAC key is empty");
  }
  const EVP_MAC_CTX* tmpl = HmacTemplate(alg);
  if (tmpl == nullptr) {
    return OsslError("EVP_MAC_fetch(HMAC)");
  }
  EvpMacCtx ctx(EVP_MAC_CTX_dup(tmpl));
  if (!ctx) {
    return OsslError("EVP_MAC_CTX_dup");
  }
  size_t written = 0;
  if (EVP_MAC_init(ctx.get(), key.data(), key.size(), nullptr) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &written, out.size()) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return OsslError("HMAC computation");
  }
  if (written != out.size()) {
    OPENSSL_cleanse(out.data(), out.size());
    return InternalError("HMAC produced an unexpected length");
  }
  return Status::Ok();
}

}  // namespace kms::crypto
