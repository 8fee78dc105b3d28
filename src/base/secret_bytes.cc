#include "src/base/secret_bytes.h"

#include <openssl/crypto.h>

#include "src/base/check.h"

namespace kms {

SecretBytes SecretBytes::CopyFrom(std::span<const uint8_t> bytes) {
  return SecretBytes(SecureBuffer(bytes.begin(), bytes.end()));
}

void SecretBytes::Truncate(size_t n) {
  KMS_CHECK(n <= buf_.size());
  OPENSSL_cleanse(buf_.data() + n, buf_.size() - n);
  buf_.resize(n);
}

bool SecretBytes::ConstantTimeEqual(const SecretBytes& other) const {
  return ConstantTimeEquals(buf_, other.buf_);
}

bool SecretBytes::ConstantTimeEqual(std::span<const uint8_t> other) const {
  return ConstantTimeEquals(buf_, other);
}

bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kms
