#include "src/crypto/prf.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "src/base/secure_allocator.h"
#include "src/crypto/openssl_key_ops.h"

namespace kms::crypto {
namespace {

Status CheckBlocks(InKeyBlocks inkey) {
  if (inkey.empty()) {
    return InvalidArgumentError("PRF inkey has no blocks");
  }
  for (size_t i = 0; i < inkey.size(); ++i) {
    if (inkey[i] == nullptr) {
      return InvalidArgumentError("PRF inkey block is null");
    }
    const size_t sz = inkey[i]->key_size();
    const bool last = i + 1 == inkey.size();
    // RFC 3830 §4.1.2: 256-bit blocks, only s_n may be shorter (and never empty).
    if (sz == 0 || sz > kPrfInkeyBlockSize || (!last && sz != kPrfInkeyBlockSize)) {
      return InvalidArgumentError("PRF inkey block has the wrong size");
    }
  }
  return Status::Ok();
}

// XorP: out ^= P(s, label, m), m = ceil(out.size() / h). 2*m KeyOps calls.
Status XorP(const KeyOps& s, HmacAlg alg, std::span<const uint8_t> label, std::span<uint8_t> out) {
  const size_t h = HmacSize(alg);
  SecureBuffer a(h);                       // A_i
  SecureBuffer a_label(h + label.size());  // A_i || label
  SecureBuffer block(h);                   // HMAC(s, A_i || label)
  std::copy(label.begin(), label.end(), a_label.begin() + static_cast<std::ptrdiff_t>(h));
  std::span<const uint8_t> prev = label;  // A_0 = label
  for (size_t off = 0; off < out.size(); off += h) {
    KMS_RETURN_IF_ERROR(s.Hmac(alg, prev, a));  // A_i = HMAC(s, A_(i-1))
    std::copy(a.begin(), a.end(), a_label.begin());
    KMS_RETURN_IF_ERROR(s.Hmac(alg, a_label, block));
    const size_t take = std::min(h, out.size() - off);
    for (size_t j = 0; j < take; ++j) {
      out[off + j] = static_cast<uint8_t>(out[off + j] ^ block[j]);
    }
    prev = std::span<const uint8_t>(a_label).first(h);  // A_i, for the next round
  }
  return Status::Ok();
}

}  // namespace

size_t InKeySize(InKeyBlocks inkey) {
  size_t total = 0;
  for (const KeyOps* k : inkey) {
    total += k != nullptr ? k->key_size() : 0;
  }
  return total;
}

Status Prf(PrfFunc func, InKeyBlocks inkey, std::span<const uint8_t> label,
           std::span<uint8_t> out) {
  if (out.empty() || out.size() > kMaxPrfOutputSize) {
    return InvalidArgumentError("PRF output length out of range");
  }
  if (Status s = CheckBlocks(inkey); !s.ok()) {
    OPENSSL_cleanse(out.data(), out.size());
    return s;
  }
  std::fill(out.begin(), out.end(), uint8_t{0});
  const HmacAlg alg = PrfHmacAlg(func);
  // RFC 3830 §4.1.2: outkey = P(s_1, label, m) XOR ... XOR P(s_n, label, m).
  for (const KeyOps* s : inkey) {
    if (Status st = XorP(*s, alg, label, out); !st.ok()) {
      OPENSSL_cleanse(out.data(), out.size());
      return st;
    }
  }
  return Status::Ok();
}

Result<SecretBytes> PrfDerive(PrfFunc func, InKeyBlocks inkey, std::span<const uint8_t> label,
                              size_t out_len) {
  if (out_len == 0 || out_len > kMaxPrfOutputSize) {
    return InvalidArgumentError("PRF output length out of range");
  }
  SecretBytes out(out_len);
  KMS_RETURN_IF_ERROR(Prf(func, inkey, label, out.RevealMutable()));
  return out;
}

Result<SecretBytes> PrfDerive(PrfFunc func, const SecretBytes& inkey,
                              std::span<const uint8_t> label, size_t out_len) {
  KMS_ASSIGN_OR_RETURN(SoftwareInKey k, SoftwareInKey::Create(inkey));
  return PrfDerive(func, k.blocks(), label, out_len);
}

}  // namespace kms::crypto
