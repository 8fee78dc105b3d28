// Helpers shared by the hsm integration tests: OpenSSL reference HMAC and key wrap.
#pragma once

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdint>
#include <span>
#include <vector>

namespace kms::hsm::testing {

// OpensslHmac: HMAC(key, data) with EVP_MAC, the independent reference.
inline std::vector<uint8_t> OpensslHmac(const char* digest, std::span<const uint8_t> key,
                                        std::span<const uint8_t> data) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  std::vector<uint8_t> out(64);
  size_t len = 0;
  bool ok = EVP_MAC_init(ctx, key.data(), key.size(), params) == 1 &&
            EVP_MAC_update(ctx, data.data(), data.size()) == 1 &&
            EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  out.resize(ok ? len : 0);
  return out;
}

// OpensslWrapPad: RFC 5649 AES key wrap with padding under a 256-bit KEK.
inline std::vector<uint8_t> OpensslWrapPad(std::span<const uint8_t> kek,
                                           std::span<const uint8_t> key) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  std::vector<uint8_t> out(key.size() + 16);
  int len = 0;
  int fin = 0;
  bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_wrap_pad(), nullptr, kek.data(), nullptr) == 1 &&
            EVP_EncryptUpdate(ctx, out.data(), &len, key.data(), static_cast<int>(key.size())) ==
                1 &&
            EVP_EncryptFinal_ex(ctx, out.data() + len, &fin) == 1;
  EVP_CIPHER_CTX_free(ctx);
  out.resize(ok ? static_cast<size_t>(len + fin) : 0);
  return out;
}

// OpensslGcmSeal: IV(12) || AES-256-GCM(key, iv, plaintext, aad) || tag(16), the layout of
// KeyManager::SealBackup, computed outside the token (what a planter of a known backup key
// could make).
inline std::vector<uint8_t> OpensslGcmSeal(std::span<const uint8_t> key,
                                           std::span<const uint8_t> iv,
                                           std::span<const uint8_t> plaintext,
                                           std::span<const uint8_t> aad) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  std::vector<uint8_t> out(iv.begin(), iv.end());
  out.resize(iv.size() + plaintext.size() + 16);
  int len = 0;
  int fin = 0;
  int aad_len = 0;
  bool ok =
      EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), iv.data()) == 1 &&
      EVP_EncryptUpdate(ctx, nullptr, &aad_len, aad.data(), static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx, out.data() + iv.size(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx, out.data() + iv.size() + len, &fin) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + iv.size() + len + fin) == 1;
  EVP_CIPHER_CTX_free(ctx);
  out.resize(ok ? iv.size() + static_cast<size_t>(len + fin) + 16 : 0);
  return out;
}

}  // namespace kms::hsm::testing
