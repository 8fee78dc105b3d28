// Known-answer self-tests (ISO/IEC 19790:2012 §7.10, the self-test clause FIPS 140-3 adopts:
// cryptographic algorithm self-tests before first use; Common Criteria FPT_TST_EXT.1): the
// published vectors kmsd checks before it serves, and the software half of running them.
// Each vector is computed with the very code kmsd uses on a request (the PRF over KeyOps,
// KemacEncrypt) and compared with the published answer; the token half (HMAC and RFC 5649
// unwrap inside the PKCS#11 token) is hsm/token_self_test.h, the start-up sequence, error
// state and audit row are src/daemon/self_test.h.
//
// Every value here is a public test value from an RFC or from tests/vectors (produced by an
// implementation independent of this code); none is ever a key kmsd uses, so printing a name
// or a source is fine, and nothing else about a vector is ever logged.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "src/base/status.h"

namespace kms::crypto {

enum class KatAlgorithm : uint8_t {
  kHmacSha1,       // token: C_Sign with CKM_SHA_1_HMAC (MIKEY-1 PRF blocks under long-term keys)
  kHmacSha256,     // token: C_Sign with CKM_SHA256_HMAC (PRF-HMAC-SHA-256, audit checkpoints)
  kAesKwpUnwrap,   // token: C_UnwrapKey with CKM_AES_KEY_WRAP_PAD (credential unwrap, RFC 5649)
  kPrfMikey1,      // software: Prf(kMikey1) over OpenSSL HMAC-SHA-1 (RFC 3830 §4.1.2)
  kPrfHmacSha256,  // software: Prf(kHmacSha256) over OpenSSL HMAC-SHA-256 (RFC 6043 §6.1)
  kAesCm128,       // software: KemacEncrypt(kAesCm128) (RFC 3830 §4.2.3, RFC 3711 §4.1.1)
  kAesCm256,       // software: KemacEncrypt(kAesCm256) (RFC 6043 §6.2, RFC 6188 §7)
};

// KnownAnswer: one self-test vector. The meaning of each field depends on the algorithm:
//   HMAC: key, input = message, expected = MAC;
//   PRF: key = inkey, input = label, expected = PRF output (its length = the outkey length);
//   AES-CM: key = encr_key, salt = 14-byte salt_key, csb_id and t64 for the IV, input =
//     plaintext, expected = ciphertext;
//   KWP unwrap: key = KEK, input = wrapped blob, expected = the unwrapped key value.
struct KnownAnswer {
  std::string_view name;    // stable: log lines, audit rows and KMS_SELF_TEST_FAIL use it
  std::string_view source;  // provenance of the numbers, e.g. "RFC 4231 §4.7 (test case 6)"
  KatAlgorithm algorithm = KatAlgorithm::kHmacSha256;
  std::vector<uint8_t> key;
  std::vector<uint8_t> input;
  std::vector<uint8_t> salt;
  uint32_t csb_id = 0;
  uint64_t t64 = 0;
  std::vector<uint8_t> expected;
};

// IsTokenKat: true for the algorithms computed inside the token (hsm/token_self_test.h).
constexpr bool IsTokenKat(KatAlgorithm a) {
  return a == KatAlgorithm::kHmacSha1 || a == KatAlgorithm::kHmacSha256 ||
         a == KatAlgorithm::kAesKwpUnwrap;
}

// SoftwareKnownAnswers: the vectors for the primitives kmsd computes in process memory with
// OpenSSL: the MIKEY PRF (both functions) and AES-CM (both key sizes).
std::vector<KnownAnswer> SoftwareKnownAnswers();
// TokenKnownAnswers: the vectors for the mechanisms kmsd asks the token for: HMAC-SHA-1,
// HMAC-SHA-256 and, when with_kwp, the RFC 5649 unwrap (only the "wrapped" credential
// storage unwraps; "token-objects" never calls C_UnwrapKey).
std::vector<KnownAnswer> TokenKnownAnswers(bool with_kwp);

// RunSoftwareKat: computes kat with kmsd's own code and compares it with kat.expected.
// kInternal "self-test <name>: ..." when the answer differs or the computation fails (a
// failure is as fatal as a wrong answer); kInvalidArgument for a token algorithm.
Status RunSoftwareKat(const KnownAnswer& kat);

// CheckKnownAnswer: OK iff got == kat.expected; kInternal naming the test otherwise. The
// message never contains the bytes (they are public here, but a shared helper must not
// teach anyone to print outputs). Used by both halves.
Status CheckKnownAnswer(const KnownAnswer& kat, std::span<const uint8_t> got);

// kRngHealthBlockSize: bytes per draw of the start-up RNG health check (at least 16: two
// equal 128-bit outputs of a working generator have probability 2^-128).
inline constexpr size_t kRngHealthBlockSize = 32;
using RandomDraw = std::function<Status(std::span<uint8_t>)>;
// RngHealthCheck: draws two consecutive blocks with draw; kInternal "self-test rng: ..." if
// they are equal (a stuck generator: the continuous RNG test of FIPS 140-2 §4.9.2; SP
// 800-90B §4.4.1's repetition count test is the same idea per sample) or if a block is all
// zero; a failed draw is kInternal naming the test. The blocks are scrubbed before returning.
// Run at start-up only: per-request draws are not compared (see docs/security-target.md).
Status RngHealthCheck(const RandomDraw& draw);

}  // namespace kms::crypto
