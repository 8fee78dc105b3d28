// Message MACs (RFC 3830 §4.2.4, RFC 6043 §6.2, spec §5.4): MAC = HMAC(auth_key, covered
// bytes), HMAC-SHA-1-160 (20-byte key and MAC) or HMAC-SHA-256-256 (32-byte key and MAC).
// Which bytes are covered is the codec's business (spec §5.5). MAC keys are per-message keys
// in memory, so these take SecretBytes, not KeyOps.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/crypto/algorithms.h"

namespace kms::crypto {

// ComputeMac: fails with kInvalidArgument (detail 3) for the NULL MAC and with
// kInvalidArgument when auth_key is not AuthKeySize(alg) bytes (this profile always derives
// keys of exactly that size).
Result<std::vector<uint8_t>> ComputeMac(MacAlgorithm alg, const SecretBytes& auth_key,
                                        std::span<const uint8_t> data);

// VerifyMac: OK iff mac == ComputeMac(alg, auth_key, data), compared in constant time. A
// wrong MAC or a MAC of the wrong length is kAuthFailed (same message for both: no oracle);
// bad algorithm or key size as for ComputeMac.
Status VerifyMac(MacAlgorithm alg, const SecretBytes& auth_key, std::span<const uint8_t> data,
                 std::span<const uint8_t> mac);

}  // namespace kms::crypto
