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

Status HmacWithKey(HmacAlg alg, std::span<const uint8_t> key, std::span<const uint8_t> data,
                   std::span<uint8_t> out) {
  if (out.size() != HmacSize(alg)) {
    return InvalidArgumentError("HMAC output buffer has the wrong size");
  }
  if (key.empty()) {
    return InvalidArgumentError("HMAC key is empty");
  }
  EvpMac mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  if (!mac) {
    return OsslError("EVP_MAC_fetch(HMAC)");
  }
  EvpMacCtx ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) {
    return OsslError("EVP_MAC_CTX_new");
  }
  // OSSL_PARAM wants a non-const char* for the digest name; it is only read.
  std::string digest = alg == HmacAlg::kSha1 ? "SHA1" : "SHA256";
  const std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_end()};
  size_t written = 0;
  if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params.data()) != 1 ||
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
