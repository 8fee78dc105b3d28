#include "src/crypto/digest.h"

#include <openssl/evp.h>

#include "src/base/check.h"

namespace kms::crypto {

Sha256Digest Sha256(std::span<const uint8_t> data) {
  Sha256Digest out{};
  unsigned int len = 0;
  const int ok = EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  KMS_CHECK(ok == 1 && len == out.size());
  return out;
}

}  // namespace kms::crypto
