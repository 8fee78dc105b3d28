#include "src/crypto/kemac_cipher.h"

#include <openssl/evp.h>

#include <climits>

#include "src/crypto/openssl_util.h"

namespace kms::crypto {
namespace {

constexpr size_t kSaltSize = 14;

// ApplyAesCm: out = in XOR keystream(key, iv). Both directions of counter mode.
Status ApplyAesCm(EncrAlgorithm alg, const SecretBytes& encr_key, const SecretBytes& iv,
                  std::span<const uint8_t> in, std::span<uint8_t> out) {
  if (in.empty()) {
    return Status::Ok();
  }
  // RFC 3711 §4.1.1: the counter is the whole 128-bit block, incremented big-endian mod
  // 2^128 — exactly OpenSSL's CTR mode.
  const EVP_CIPHER* cipher = FetchedCipher(alg == EncrAlgorithm::kAesCm128
                                                ? CipherName::kAes128Ctr
                                                : CipherName::kAes256Ctr);
  if (cipher == nullptr) {
    return OsslError("EVP_CIPHER_fetch(AES-CTR)");
  }
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) {
    return OsslError("EVP_CIPHER_CTX_new");
  }
  int len = 0;
  int fin = 0;
  if (EVP_EncryptInit_ex2(ctx.get(), cipher, encr_key.Reveal().data(), iv.Reveal().data(),
                          nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    return OsslError("AES-CM");
  }
  if (static_cast<size_t>(len) + static_cast<size_t>(fin) != in.size()) {
    return InternalError("AES-CM produced an unexpected length");
  }
  return Status::Ok();
}

Status CheckKeys(EncrAlgorithm alg, const SecretBytes& encr_key, const SecretBytes& salt_key,
                 size_t data_len) {
  KMS_ASSIGN_OR_RETURN(const size_t key_len, EncrKeySize(alg));  // refuses NULL / AES-KW
  if (encr_key.size() != key_len) {
    return InvalidArgumentError("KEMAC encr_key has the wrong length");
  }
  if (salt_key.size() != kSaltSize) {
    return InvalidArgumentError("KEMAC salt_key has the wrong length");
  }
  if (data_len > kMaxKemacDataSize) {
    return InvalidArgumentError("KEMAC data too long");
  }
  return Status::Ok();
}

}  // namespace

Result<SecretBytes> KemacIv(const SecretBytes& salt_key, uint32_t csb_id, uint64_t t64) {
  if (salt_key.size() != kSaltSize) {
    return InvalidArgumentError("KEMAC salt_key has the wrong length");
  }
  // RFC 3830 §4.2.3: IV = (S XOR (0x0000 || CSB ID || T)) || 0x0000.
  SecretBytes iv(kKemacIvSize);
  std::span<uint8_t> v = iv.RevealMutable();
  const std::span<const uint8_t> s = salt_key.Reveal();
  uint8_t x[kSaltSize] = {};
  for (size_t i = 0; i < 4; ++i) {
    x[2 + i] = static_cast<uint8_t>(csb_id >> (24 - 8 * i));
  }
  for (size_t i = 0; i < 8; ++i) {
    x[6 + i] = static_cast<uint8_t>(t64 >> (56 - 8 * i));
  }
  for (size_t i = 0; i < kSaltSize; ++i) {
    v[i] = static_cast<uint8_t>(s[i] ^ x[i]);
  }
  // v[14], v[15] stay 0: the 16-bit block counter starts at zero.
  return iv;
}

Result<std::vector<uint8_t>> KemacEncrypt(EncrAlgorithm alg, const SecretBytes& encr_key,
                                          const SecretBytes& salt_key, uint32_t csb_id,
                                          uint64_t t64, std::span<const uint8_t> plaintext) {
  KMS_RETURN_IF_ERROR(CheckKeys(alg, encr_key, salt_key, plaintext.size()));
  KMS_ASSIGN_OR_RETURN(const SecretBytes iv, KemacIv(salt_key, csb_id, t64));
  std::vector<uint8_t> out(plaintext.size());
  KMS_RETURN_IF_ERROR(ApplyAesCm(alg, encr_key, iv, plaintext, out));
  return out;
}

Result<SecretBytes> KemacDecrypt(EncrAlgorithm alg, const SecretBytes& encr_key,
                                 const SecretBytes& salt_key, uint32_t csb_id, uint64_t t64,
                                 std::span<const uint8_t> ciphertext) {
  KMS_RETURN_IF_ERROR(CheckKeys(alg, encr_key, salt_key, ciphertext.size()));
  KMS_ASSIGN_OR_RETURN(const SecretBytes iv, KemacIv(salt_key, csb_id, t64));
  SecretBytes out(ciphertext.size());
  KMS_RETURN_IF_ERROR(ApplyAesCm(alg, encr_key, iv, ciphertext, out.RevealMutable()));
  return out;
}

}  // namespace kms::crypto
