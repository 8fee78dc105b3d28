#include "src/crypto/self_test.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "src/base/check.h"
#include "src/base/encoding.h"
#include "src/base/secret_bytes.h"
#include "src/crypto/kemac_cipher.h"
#include "src/crypto/prf.h"

namespace kms::crypto {
namespace {

// Hex: the vectors below are compile-time constants; a typo is a programming error.
std::vector<uint8_t> Hex(std::string_view hex) {
  Result<std::vector<uint8_t>> v = HexDecode(hex);
  KMS_CHECK(v.ok());
  return std::move(v).value();
}

std::vector<uint8_t> Ascii(std::string_view s) { return {s.begin(), s.end()}; }

Status Failed(std::string_view name, std::string_view what) {
  return InternalError("self-test " + std::string(name) + ": " + std::string(what));
}

// PRF vectors: tests/vectors/mikey-ticket-mode1-fork.txt section 1 (computed from the RFC
// 3830 §4.1.2 / RFC 6043 §6.1 definitions by an implementation independent of this code;
// neither RFC publishes PRF vectors). Same inkey/label as tests/unit/crypto/prf_test.cc.
constexpr std::string_view kPrfLabel = "2d22ac75ff11223344101112131415161718191a1b1c1d1e1f";

// AES-CM: the keystream vectors of RFC 3711 Appendix B.2 (AES-128) and RFC 6188 §7
// (AES-256), both with the IV F0F1...FCFD0000. KemacIv builds IV = S XOR (0x0000 || CSB_ID ||
// T) || 0x0000 (RFC 3830 §4.2.3), so salt F0F1...FCFD with CSB ID 0 and T 0 gives that IV,
// and an all-zero plaintext makes the ciphertext the keystream: the IV construction and the
// counter increment across three blocks are both covered.
constexpr std::string_view kAesCmSalt = "f0f1f2f3f4f5f6f7f8f9fafbfcfd";

}  // namespace

std::vector<KnownAnswer> SoftwareKnownAnswers() {
  std::vector<KnownAnswer> v;
  {
    KnownAnswer k;
    k.name = "prf-mikey1";
    k.source = "tests/vectors/mikey-ticket-mode1-fork.txt §1 PRF MIKEY-1(inkey16,label,160)";
    k.algorithm = KatAlgorithm::kPrfMikey1;
    k.key = Hex("000102030405060708090a0b0c0d0e0f");
    k.input = Hex(kPrfLabel);
    k.expected = Hex("25492d64f940505a3a2b1645a8effa8a7663c2b2");
    v.push_back(std::move(k));
  }
  {
    KnownAnswer k;
    k.name = "prf-hmac-sha256";
    k.source = "tests/vectors/mikey-ticket-mode1-fork.txt §1 PRF HMAC-SHA-256(inkey32,label,256)";
    k.algorithm = KatAlgorithm::kPrfHmacSha256;
    k.key = Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    k.input = Hex(kPrfLabel);
    k.expected = Hex("6d2759a0c6f9ed020a46a88d6e7ef1150f3556c5e064d7411c262baa733d1ade");
    v.push_back(std::move(k));
  }
  {
    KnownAnswer k;
    k.name = "aes-cm-128";
    k.source = "RFC 3711 Appendix B.2 (AES-CM keystream, first three blocks)";
    k.algorithm = KatAlgorithm::kAesCm128;
    k.key = Hex("2b7e151628aed2a6abf7158809cf4f3c");
    k.salt = Hex(kAesCmSalt);
    k.input.assign(48, 0);
    k.expected =
        Hex("e03ead0935c95e80e166b16dd92b4eb4d23513162b02d0f72a43a2fe4a5f97ab"
            "41e95b3bb0a2e8dd477901e4fca894c0");
    v.push_back(std::move(k));
  }
  {
    KnownAnswer k;
    k.name = "aes-cm-256";
    k.source = "RFC 6188 §7 (AES-256-CM keystream, first three blocks)";
    k.algorithm = KatAlgorithm::kAesCm256;
    k.key = Hex("57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98");
    k.salt = Hex(kAesCmSalt);
    k.input.assign(48, 0);
    k.expected =
        Hex("92bdd28a93c3f52511c677d08b5515a49da71b2378a854f67050756ded165bac"
            "63c4868b7096d88421b563b8c94c9a31");
    v.push_back(std::move(k));
  }
  return v;
}

std::vector<KnownAnswer> TokenKnownAnswers(bool with_kwp) {
  std::vector<KnownAnswer> v;
  {
    // RFC 2202 §3 test case 1: a 20-byte key, shorter than the 64-byte block, so it is
    // zero-padded (RFC 2104 §2), the path kmsd's 32-byte long-term keys take. 20 bytes is
    // also the smallest key SoftHSM2 accepts for CKM_SHA_1_HMAC (architecture.md §3).
    KnownAnswer k;
    k.name = "hmac-sha1";
    k.source = "RFC 2202 §3 (test case 1)";
    k.algorithm = KatAlgorithm::kHmacSha1;
    k.key.assign(20, 0x0b);
    k.input = Ascii("Hi There");
    k.expected = Hex("b617318655057264e28bc0b6fb378c8ef146be00");
    v.push_back(std::move(k));
  }
  {
    // RFC 4231 §4.7 test case 6 (131-byte key, hashed first: RFC 2104 §2). Test cases 1-5
    // have keys of 4..25 bytes, which SoftHSM2 refuses for CKM_SHA256_HMAC (fewer than 32
    // bytes: CKR_KEY_SIZE_RANGE), so none of the padded-key cases can run in the token.
    KnownAnswer k;
    k.name = "hmac-sha256";
    k.source = "RFC 4231 §4.7 (test case 6)";
    k.algorithm = KatAlgorithm::kHmacSha256;
    k.key.assign(131, 0xaa);
    k.input = Ascii("Test Using Larger Than Block-Size Key - Hash Key First");
    k.expected = Hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    v.push_back(std::move(k));
  }
  if (with_kwp) {
    // RFC 5649 §6, first example: a 20-byte key (padded to 24, three 64-bit blocks) under a
    // 192-bit KEK. kmsd unwraps credentials with CKM_AES_KEY_WRAP_PAD only (the KEK's
    // CKA_ALLOWED_MECHANISMS, hsm/key_templates.cc); plain AES-KW (RFC 3394) is never used.
    KnownAnswer k;
    k.name = "aes-kwp";
    k.source = "RFC 5649 §6 (20-octet key, 192-bit KEK)";
    k.algorithm = KatAlgorithm::kAesKwpUnwrap;
    k.key = Hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
    k.input = Hex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
    k.expected = Hex("c37b7e6492584340bed12207808941155068f738");
    v.push_back(std::move(k));
  }
  return v;
}

Status CheckKnownAnswer(const KnownAnswer& kat, std::span<const uint8_t> got) {
  // Not a secret comparison (both sides are public test values), but the same constant-time
  // helper as everywhere else, so nobody copies a memcmp from here into a MAC check.
  if (!ConstantTimeEquals(got, kat.expected)) {
    return Failed(kat.name,
                  "output differs from the known answer (" + std::string(kat.source) + ")");
  }
  return Status::Ok();
}

Status RunSoftwareKat(const KnownAnswer& kat) {
  switch (kat.algorithm) {
    case KatAlgorithm::kPrfMikey1:
    case KatAlgorithm::kPrfHmacSha256: {
      // The UE-side entry point: the inkey split into RFC 3830 §4.1.2 blocks over OpenSSL
      // HMAC. The KMS runs the same Prf() over token blocks, whose HMAC is the token KAT.
      const PrfFunc f =
          kat.algorithm == KatAlgorithm::kPrfMikey1 ? PrfFunc::kMikey1 : PrfFunc::kHmacSha256;
      Result<SecretBytes> out =
          PrfDerive(f, SecretBytes::CopyFrom(kat.key), kat.input, kat.expected.size());
      if (!out.ok()) {
        return Failed(kat.name, out.status().message());
      }
      return CheckKnownAnswer(kat, out->Reveal());
    }
    case KatAlgorithm::kAesCm128:
    case KatAlgorithm::kAesCm256: {
      const EncrAlgorithm alg = kat.algorithm == KatAlgorithm::kAesCm128 ? EncrAlgorithm::kAesCm128
                                                                         : EncrAlgorithm::kAesCm256;
      const SecretBytes key = SecretBytes::CopyFrom(kat.key);
      const SecretBytes salt = SecretBytes::CopyFrom(kat.salt);
      Result<std::vector<uint8_t>> ct =
          KemacEncrypt(alg, key, salt, kat.csb_id, kat.t64, kat.input);
      if (!ct.ok()) {
        return Failed(kat.name, ct.status().message());
      }
      KMS_RETURN_IF_ERROR(CheckKnownAnswer(kat, *ct));
      // Counter mode is its own inverse, but KemacDecrypt is a separate entry point (the
      // resolve path opens tickets with it): check it gives the plaintext back.
      Result<SecretBytes> pt = KemacDecrypt(alg, key, salt, kat.csb_id, kat.t64, *ct);
      if (!pt.ok()) {
        return Failed(kat.name, pt.status().message());
      }
      if (!pt->ConstantTimeEqual(kat.input)) {
        return Failed(kat.name, "decryption does not give the plaintext back");
      }
      return Status::Ok();
    }
    case KatAlgorithm::kHmacSha1:
    case KatAlgorithm::kHmacSha256:
    case KatAlgorithm::kAesKwpUnwrap:
      break;
  }
  return InvalidArgumentError("self-test " + std::string(kat.name) + ": not a software algorithm");
}

Status RngHealthCheck(const RandomDraw& draw) {
  SecretBytes a(kRngHealthBlockSize);
  SecretBytes b(kRngHealthBlockSize);
  if (Status s = draw(a.RevealMutable()); !s.ok()) {
    return Failed("rng", "first draw failed: " + std::string(s.message()));
  }
  if (Status s = draw(b.RevealMutable()); !s.ok()) {
    return Failed("rng", "second draw failed: " + std::string(s.message()));
  }
  if (a.ConstantTimeEqual(b)) {
    return Failed("rng", "two consecutive outputs are equal (stuck generator)");
  }
  const std::span<const uint8_t> ra = a.Reveal();
  const std::span<const uint8_t> rb = b.Reveal();
  const auto zero = [](uint8_t x) { return x == 0; };
  if (std::all_of(ra.begin(), ra.end(), zero) || std::all_of(rb.begin(), rb.end(), zero)) {
    return Failed("rng", "an output is all zero (generator not filling its buffer)");
  }
  return Status::Ok();  // a and b are scrubbed by SecretBytes
}

}  // namespace kms::crypto
