// KEMAC encryption with AES-CM-128 / AES-CM-256 (RFC 3830 §4.2.3, RFC 6043 §6.2, spec §5.3):
// SRTP AES counter mode (RFC 3711 §4.1.1, SRTP_PREFIX_LENGTH 0, 128-bit big-endian counter)
// with IV = (S XOR (0x0000 || CSB_ID || T)) || 0x0000, where S is the 112-bit salt_key.
//   IV[0..1] = S[0..1]; IV[2..5] = S[2..5] ^ CSB_ID; IV[6..13] = S[6..13] ^ T; IV[14..15] = 0
// CSB_ID: the carrying message's HDR CSB ID; 0xFFFFFFFF for the KEMAC inside base-ticket
// Ticket Data (RFC 6043 App. A.1). T: the 64-bit timestamp chosen per spec §11 A3 by the
// caller; convert 32-bit forms with KemacIvTimeFromNtpUtc32 / KemacIvTimeFromCounter.
// AES-KW-128 and NULL are refused with kInvalidArgument, detail 4 (spec §11 A10).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/crypto/algorithms.h"

namespace kms::crypto {

inline constexpr size_t kKemacIvSize = 16;
// kMaxKemacDataSize: the KEMAC Encr data len field is 16 bits (RFC 3830 §6.2); this also
// keeps well inside the 2^16 keystream blocks allowed per IV.
inline constexpr size_t kMaxKemacDataSize = 0xFFFF;
// The CSB ID used in the IV of the base-ticket KEMAC (RFC 6043 App. A.1).
inline constexpr uint32_t kTicketKemacCsbId = 0xFFFFFFFF;

// NTP-UTC-32 → 64 bits with a zero fraction (T32 || 0x00000000) (RFC 6043 §6.3, spec §4.2).
constexpr uint64_t KemacIvTimeFromNtpUtc32(uint32_t seconds) {
  return static_cast<uint64_t>(seconds) << 32;
}
// COUNTER → zero-extended on the left (RFC 3830 §6.6, spec §4.2).
constexpr uint64_t KemacIvTimeFromCounter(uint32_t counter) { return counter; }

// KemacIv: the 16-byte AES-CM IV. salt_key must be 14 bytes (kInvalidArgument otherwise).
// Returned as SecretBytes: it reveals the salt XOR public values.
Result<SecretBytes> KemacIv(const SecretBytes& salt_key, uint32_t csb_id, uint64_t t64);

// KemacEncrypt: AES-CM encryption of a Key data sub-payload chain. encr_key must have
// EncrKeySize(alg) bytes and salt_key 14 bytes; plaintext at most kMaxKemacDataSize bytes.
// The output has the length of the input (no padding).
Result<std::vector<uint8_t>> KemacEncrypt(EncrAlgorithm alg, const SecretBytes& encr_key,
                                          const SecretBytes& salt_key, uint32_t csb_id,
                                          uint64_t t64, std::span<const uint8_t> plaintext);

// KemacDecrypt: the inverse; the plaintext (key material) comes back as SecretBytes. Counter
// mode has no integrity: verify the message MAC first and parse the result strictly.
Result<SecretBytes> KemacDecrypt(EncrAlgorithm alg, const SecretBytes& encr_key,
                                 const SecretBytes& salt_key, uint32_t csb_id, uint64_t t64,
                                 std::span<const uint8_t> ciphertext);

}  // namespace kms::crypto
