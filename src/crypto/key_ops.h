// KeyOps: HMAC under an opaque key (one PRF inkey block, RFC 3830 §4.1.2). The MIKEY PRF
// runs over this interface so that the KMS computes it inside the PKCS#11 token (the key
// never leaves it) and the UE computes it with OpenSSL; the same PRF code serves both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "src/base/status.h"

namespace kms::crypto {

enum class HmacAlg : uint8_t {
  kSha1,    // MIKEY-1 PRF, HMAC-SHA-1-160 MAC (20-byte output)
  kSha256,  // PRF-HMAC-SHA-256, HMAC-SHA-256-256 MAC (32-byte output), RFC 6043 §6.1
};

constexpr size_t HmacSize(HmacAlg alg) { return alg == HmacAlg::kSha1 ? 20 : 32; }

class KeyOps {
 public:
  virtual ~KeyOps() = default;
  // Hmac: writes HMAC(key, data) into out, which must be exactly HmacSize(alg) bytes.
  virtual Status Hmac(HmacAlg alg, std::span<const uint8_t> data, std::span<uint8_t> out) const = 0;
  // key_size: the key length in bytes (the PRF splits inkeys into 256-bit blocks).
  virtual size_t key_size() const = 0;
};

}  // namespace kms::crypto
