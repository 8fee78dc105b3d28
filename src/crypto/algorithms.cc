#include "src/crypto/algorithms.h"

namespace kms::crypto {

Result<PrfFunc> PrfFuncFromCode(uint8_t code) {
  switch (code) {
    case 0:
      return PrfFunc::kMikey1;
    case 1:
      return PrfFunc::kHmacSha256;
    default:
      return Status(StatusCode::kInvalidArgument, "unsupported PRF func", kMikeyErrorInvalidPrf);
  }
}

Result<EncrAlgorithm> EncrAlgorithmFromCode(uint8_t code) {
  switch (code) {
    case 0:
      return EncrAlgorithm::kNull;
    case 1:
      return EncrAlgorithm::kAesCm128;
    case 2:
      return EncrAlgorithm::kAesKw128;
    case 3:
      return EncrAlgorithm::kAesCm256;
    default:
      return Status(StatusCode::kInvalidArgument, "unknown encryption algorithm",
                    kMikeyErrorInvalidEa);
  }
}

Result<MacAlgorithm> MacAlgorithmFromCode(uint8_t code) {
  switch (code) {
    case 0:
      return MacAlgorithm::kNull;
    case 1:
      return MacAlgorithm::kHmacSha1_160;
    case 2:
      return MacAlgorithm::kHmacSha256_256;
    default:
      return Status(StatusCode::kInvalidArgument, "unknown MAC algorithm", kMikeyErrorInvalidMac);
  }
}

namespace {

Status RefuseEncr(EncrAlgorithm alg) {
  // Spec §11 A10: AES-KW-128 has no padding rule for key-data chains; not used here.
  if (alg == EncrAlgorithm::kAesKw128) {
    return {StatusCode::kInvalidArgument, "AES-KW-128 is not supported by this profile",
            kMikeyErrorInvalidEa};
  }
  return {StatusCode::kInvalidArgument, "encryption algorithm has no keys", kMikeyErrorInvalidEa};
}

}  // namespace

Result<size_t> EncrKeySize(EncrAlgorithm alg) {
  switch (alg) {
    case EncrAlgorithm::kAesCm128:
      return size_t{16};
    case EncrAlgorithm::kAesCm256:
      return size_t{32};
    case EncrAlgorithm::kNull:
    case EncrAlgorithm::kAesKw128:
      break;
  }
  return RefuseEncr(alg);
}

Result<size_t> SaltKeySize(EncrAlgorithm alg) {
  switch (alg) {
    case EncrAlgorithm::kAesCm128:
    case EncrAlgorithm::kAesCm256:
      return size_t{14};  // RFC 3830 §4.2.3 / RFC 6043 §6.2: 112-bit salt
    case EncrAlgorithm::kNull:
    case EncrAlgorithm::kAesKw128:
      break;
  }
  return RefuseEncr(alg);
}

Result<size_t> AuthKeySize(MacAlgorithm alg) {
  switch (alg) {
    case MacAlgorithm::kHmacSha1_160:
      return size_t{20};
    case MacAlgorithm::kHmacSha256_256:
      return size_t{32};
    case MacAlgorithm::kNull:
      break;
  }
  return Status(StatusCode::kInvalidArgument, "NULL MAC has no auth key", kMikeyErrorInvalidMac);
}

}  // namespace kms::crypto
