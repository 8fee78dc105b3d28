#include "src/crypto/openssl_key_ops.h"

#include <algorithm>

#include "src/crypto/openssl_util.h"
#include "src/crypto/prf.h"

namespace kms::crypto {

Result<std::unique_ptr<OpenSslHmacKey>> OpenSslHmacKey::Create(SecretBytes key) {
  if (key.empty()) {
    return InvalidArgumentError("HMAC key is empty");
  }
  return std::unique_ptr<OpenSslHmacKey>(new OpenSslHmacKey(std::move(key)));
}

Status OpenSslHmacKey::Hmac(HmacAlg alg, std::span<const uint8_t> data,
                            std::span<uint8_t> out) const {
  return HmacWithKey(alg, key_.Reveal(), data, out);
}

Result<SoftwareInKey> SoftwareInKey::Create(const SecretBytes& inkey) {
  if (inkey.empty()) {
    return InvalidArgumentError("PRF inkey is empty");
  }
  SoftwareInKey k;
  k.size_ = inkey.size();
  const std::span<const uint8_t> bytes = inkey.Reveal();
  // RFC 3830 §4.1.2: n = ceil(len / 256 bits); s_n holds what is left (never 0 bytes).
  for (size_t off = 0; off < bytes.size(); off += kPrfInkeyBlockSize) {
    const size_t len = std::min(kPrfInkeyBlockSize, bytes.size() - off);
    KMS_ASSIGN_OR_RETURN(auto block,
                         OpenSslHmacKey::Create(SecretBytes::CopyFrom(bytes.subspan(off, len))));
    k.views_.push_back(block.get());
    k.owned_.push_back(std::move(block));
  }
  return k;
}

}  // namespace kms::crypto
