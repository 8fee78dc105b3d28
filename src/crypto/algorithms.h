// MIKEY algorithm identifiers used by kms::crypto, with the values of the MIKEY code points
// (RFC 3830 §6.1, §6.2, §6.9; RFC 6043 §6.1) so that the codec's numbers convert with a
// checked cast (PrfFuncFromCode & co.). kms::crypto does not depend on kms::mikey.
#pragma once

#include <cstddef>
#include <cstdint>

#include "src/base/result.h"
#include "src/crypto/key_ops.h"

namespace kms::crypto {

// MIKEY error numbers (RFC 3830 §6.12, Table 6.12.a) put into Status::detail() when an
// algorithm is refused, so the protocol layer can answer with the right Error payload.
inline constexpr uint8_t kMikeyErrorInvalidPrf = 2;  // "Invalid PRF function"
inline constexpr uint8_t kMikeyErrorInvalidMac = 3;  // "Invalid MAC algorithm"
inline constexpr uint8_t kMikeyErrorInvalidEa = 4;   // "Invalid encryption algorithm"

// PRF func (HDR and TP/TICKET flags): RFC 3830 §6.1 (MIKEY-1), RFC 6043 §6.1 (HMAC-SHA-256).
enum class PrfFunc : uint8_t {
  kMikey1 = 0,      // HMAC-SHA-1 based, H = 160
  kHmacSha256 = 1,  // PRF-HMAC-SHA-256, H = 256
};

// KEMAC Encr alg: RFC 3830 §6.2 Table 6.2.a, RFC 6043 §6.2.
enum class EncrAlgorithm : uint8_t {
  kNull = 0,
  kAesCm128 = 1,
  kAesKw128 = 2,  // recognised only to be refused (spec §11 A10): MIKEY error 4
  kAesCm256 = 3,
};

// MAC alg (KEMAC and V): RFC 3830 §6.2 Table 6.2.b, RFC 6043 §6.2.
enum class MacAlgorithm : uint8_t {
  kNull = 0,
  kHmacSha1_160 = 1,
  kHmacSha256_256 = 2,
};

// PrfHmacAlg: the HMAC under the PRF (RFC 3830 §4.1.2, RFC 6043 §6.1).
constexpr HmacAlg PrfHmacAlg(PrfFunc f) {
  return f == PrfFunc::kMikey1 ? HmacAlg::kSha1 : HmacAlg::kSha256;
}

// Checked conversions from wire code points. An unknown value fails with kInvalidArgument and
// detail() = the MIKEY error number for that field (2 PRF, 4 encryption, 3 MAC).
Result<PrfFunc> PrfFuncFromCode(uint8_t code);
Result<EncrAlgorithm> EncrAlgorithmFromCode(uint8_t code);
Result<MacAlgorithm> MacAlgorithmFromCode(uint8_t code);

// EncrKeySize / SaltKeySize: the encr_key and salt_key lengths in bytes for a KEMAC cipher
// (RFC 3830 §4.2.3: AES-CM-128 → 128-bit key, 112-bit salt; RFC 6043 §6.2: AES-CM-256 →
// 256-bit key, 112-bit salt). Only AES-CM is supported: kNull has no keys and AES-KW-128
// is refused by this profile (spec §11 A10); both fail with kInvalidArgument, detail 4.
Result<size_t> EncrKeySize(EncrAlgorithm alg);
Result<size_t> SaltKeySize(EncrAlgorithm alg);

// AuthKeySize: auth_key length in bytes (RFC 3830 §4.2.4, RFC 6043 §6.2): 20 for
// HMAC-SHA-1-160, 32 for HMAC-SHA-256-256. kNull fails with kInvalidArgument, detail 3.
Result<size_t> AuthKeySize(MacAlgorithm alg);

// MacSize: the MAC field length on the wire: 0 (NULL), 20 or 32.
constexpr size_t MacSize(MacAlgorithm alg) {
  switch (alg) {
    case MacAlgorithm::kNull:
      return 0;
    case MacAlgorithm::kHmacSha1_160:
      return 20;
    case MacAlgorithm::kHmacSha256_256:
      return 32;
  }
  return 0;
}

}  // namespace kms::crypto
