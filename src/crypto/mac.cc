#include "src/crypto/mac.h"

#include "src/crypto/openssl_util.h"

namespace kms::crypto {

Result<std::vector<uint8_t>> ComputeMac(MacAlgorithm alg, const SecretBytes& auth_key,
                                        std::span<const uint8_t> data) {
  KMS_ASSIGN_OR_RETURN(const size_t key_len, AuthKeySize(alg));  // refuses NULL (detail 3)
  // RFC 3830 §4.2.4: 160-bit auth key for HMAC-SHA-1; RFC 6043 §6.2: 256-bit for SHA-256.
  if (auth_key.size() != key_len) {
    return InvalidArgumentError("auth_key has the wrong length");
  }
  const HmacAlg h = alg == MacAlgorithm::kHmacSha1_160 ? HmacAlg::kSha1 : HmacAlg::kSha256;
  std::vector<uint8_t> mac(HmacSize(h));
  KMS_RETURN_IF_ERROR(HmacWithKey(h, auth_key.Reveal(), data, mac));
  return mac;
}

Status VerifyMac(MacAlgorithm alg, const SecretBytes& auth_key, std::span<const uint8_t> data,
                 std::span<const uint8_t> mac) {
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> expected, ComputeMac(alg, auth_key, data));
  // style.md: MACs are compared with CRYPTO_memcmp (ConstantTimeEquals); the length is public.
  if (!ConstantTimeEquals(expected, mac)) {
    return AuthFailedError("MAC verification failed");
  }
  return Status::Ok();
}

}  // namespace kms::crypto
