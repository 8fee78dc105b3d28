// The MIKEY PRF (RFC 3830 §4.1.2; RFC 6043 §6.1; spec §5.1), computed over KeyOps blocks so
// that the same code runs inside a PKCS#11 token (KMS) and in OpenSSL (UE).
//
//   P(s, label, m) = HMAC(s, A_1 || label) || ... || HMAC(s, A_m || label),
//   A_0 = label, A_i = HMAC(s, A_(i-1))
//   PRF(inkey, label) = leftmost bits of P(s_1, label, m) XOR ... XOR P(s_n, label, m)
//
// s_1..s_n are the 256-bit blocks of the inkey (the last one may be shorter); H = 160 for
// MIKEY-1 and 256 for PRF-HMAC-SHA-256; m = ceil(out_bits / H).
//
// Cost: exactly PrfHmacCallCount(func, n, out_len) = 2 * n * m calls of KeyOps::Hmac (one for
// A_i, one for HMAC(s, A_i || label), for each output block of each inkey block). In the KMS
// each call is a token round-trip. Typical: a 128/160/256-bit inkey is one block, so a
// 128-bit encr_key, a 112-bit salt or a 160-bit auth_key costs 2 calls each (MIKEY-1), and
// a full encr/salt/auth set costs 6.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/base/status.h"
#include "src/crypto/algorithms.h"
#include "src/crypto/key_ops.h"

namespace kms::crypto {

// Inkey blocks s_1..s_n (RFC 3830 §4.1.2): every block but the last is exactly
// kPrfInkeyBlockSize bytes, the last 1..kPrfInkeyBlockSize bytes.
using InKeyBlocks = std::span<const KeyOps* const>;
inline constexpr size_t kPrfInkeyBlockSize = 32;
// kMaxPrfOutputSize: the largest outkey accepted (bounds token round-trips; MIKEY needs
// at most 64 bytes).
inline constexpr size_t kMaxPrfOutputSize = 1024;

// PrfHmacCallCount: KeyOps::Hmac calls made by Prf() for n inkey blocks and out_len bytes.
constexpr size_t PrfHmacCallCount(PrfFunc func, size_t n_blocks, size_t out_len) {
  const size_t h = HmacSize(PrfHmacAlg(func));
  return 2 * n_blocks * ((out_len + h - 1) / h);
}

// Prf: writes PRF(inkey, label) into out (its length is the outkey length). Fails with
// kInvalidArgument for no blocks, a null block, a block of the wrong size (see
// InKeyBlocks), an empty out or one above kMaxPrfOutputSize; a KeyOps failure is passed
// through. On any failure out is scrubbed.
Status Prf(PrfFunc func, InKeyBlocks inkey, std::span<const uint8_t> label, std::span<uint8_t> out);

// PrfDerive: Prf into a new SecretBytes of out_len bytes.
Result<SecretBytes> PrfDerive(PrfFunc func, InKeyBlocks inkey, std::span<const uint8_t> label,
                              size_t out_len);
// PrfDerive: convenience for an inkey in memory; splits it into OpenSSL-backed blocks
// (SoftwareInKey). An empty inkey is kInvalidArgument.
Result<SecretBytes> PrfDerive(PrfFunc func, const SecretBytes& inkey,
                              std::span<const uint8_t> label, size_t out_len);

// InKeySize: total length of the inkey in bytes (sum of the block sizes).
size_t InKeySize(InKeyBlocks inkey);

}  // namespace kms::crypto
