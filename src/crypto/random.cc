#include "src/crypto/random.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <climits>

#include "src/crypto/openssl_util.h"

namespace kms::crypto {

Status OpenSslRandom::Fill(std::span<uint8_t> out) {
  if (out.size() > static_cast<size_t>(INT_MAX)) {
    return InvalidArgumentError("random request too large");
  }
  if (out.empty()) {
    return Status::Ok();
  }
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return OsslError("RAND_bytes");
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> RandomBytes(Random& rng, size_t n) {
  if (n > kMaxRandomRequest) {
    return InvalidArgumentError("random request too large");
  }
  std::vector<uint8_t> out(n);
  KMS_RETURN_IF_ERROR(rng.Fill(out));
  return out;
}

Result<SecretBytes> RandomSecret(Random& rng, size_t n) {
  if (n > kMaxRandomRequest) {
    return InvalidArgumentError("random request too large");
  }
  SecretBytes out(n);
  KMS_RETURN_IF_ERROR(rng.Fill(out.RevealMutable()));
  return out;
}

}  // namespace kms::crypto
