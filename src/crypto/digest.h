// SHA-256 for identifiers that must not reveal what they identify: replay-cache keys and
// ticket ids in audit rows (never used as a MAC or a key derivation).
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace kms::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// Sha256: the SHA-256 of data (OpenSSL's one-shot EVP_Digest; cannot fail for SHA-256 with
// the default provider, and a failure would be a broken installation: KMS_CHECK).
Sha256Digest Sha256(std::span<const uint8_t> data);

}  // namespace kms::crypto
