// Known-answer self-tests (src/crypto/self_test.h): every software KAT passes with its
// published vector and fails, naming itself, when any part of the vector is corrupted; the
// token vectors are checked here against OpenSSL (an implementation other than the token),
// so a typo in the table cannot hide behind the token test; the RNG health check refuses a
// stuck or empty generator.
#include "src/crypto/self_test.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <set>
#include <string>

#include "src/crypto/random.h"

namespace kms::crypto {
namespace {

TEST(SelfTestKatTest, EverySoftwareKatPassesWithItsVector) {
  const std::vector<KnownAnswer> kats = SoftwareKnownAnswers();
  std::set<std::string_view> names;
  for (const KnownAnswer& k : kats) {
    EXPECT_FALSE(IsTokenKat(k.algorithm)) << k.name;
    Status s = RunSoftwareKat(k);
    EXPECT_TRUE(s.ok()) << k.name << ": " << s.ToString();
    names.insert(k.name);
  }
  // The four primitives kmsd computes in software: both PRFs, both AES-CM key sizes.
  EXPECT_EQ(names, (std::set<std::string_view>{"prf-mikey1", "prf-hmac-sha256", "aes-cm-128",
                                               "aes-cm-256"}));
}

// Corrupted: kat with one bit flipped in the chosen field (byte i).
enum class Field { kKey, kInput, kSalt, kExpected };
KnownAnswer Corrupted(KnownAnswer k, Field f, size_t i) {
  std::vector<uint8_t>* v = f == Field::kKey     ? &k.key
                            : f == Field::kInput ? &k.input
                            : f == Field::kSalt  ? &k.salt
                                                 : &k.expected;
  (*v)[i % v->size()] ^= 0x80;
  return k;
}

TEST(SelfTestKatTest, ACorruptedVectorIsDetectedAndNamed) {
  for (const KnownAnswer& k : SoftwareKnownAnswers()) {
    std::vector<Field> fields = {Field::kKey, Field::kInput, Field::kExpected};
    if (!k.salt.empty()) {
      fields.push_back(Field::kSalt);
    }
    for (Field f : fields) {
      for (size_t i : {size_t{0}, size_t{7}, size_t{1000}}) {  // first, middle, last-ish
        Status s = RunSoftwareKat(Corrupted(k, f, i));
        ASSERT_FALSE(s.ok()) << k.name << " field " << static_cast<int>(f) << " byte " << i;
        EXPECT_EQ(s.code(), StatusCode::kInternal);
        EXPECT_NE(s.message().find("self-test " + std::string(k.name)), std::string::npos)
            << s.message();
      }
    }
    // A truncated answer is a wrong answer for AES-CM (the plaintext fixes the length). For
    // the PRF it is not: the output length follows the vector and a shorter output is the
    // leftmost bits of the longer one (RFC 3830 §4.1.2), so the lengths are pinned below.
    KnownAnswer shorter = k;
    shorter.expected.pop_back();
    const bool prf =
        k.algorithm == KatAlgorithm::kPrfMikey1 || k.algorithm == KatAlgorithm::kPrfHmacSha256;
    EXPECT_EQ(RunSoftwareKat(shorter).ok(), prf) << k.name;
  }
}

TEST(SelfTestKatTest, VectorsHaveThePublishedLengths) {
  for (const KnownAnswer& k : SoftwareKnownAnswers()) {
    const size_t want = k.name == "prf-mikey1"        ? 20   // 160-bit output
                        : k.name == "prf-hmac-sha256" ? 32   // 256-bit output
                                                      : 48;  // three AES-CM blocks
    EXPECT_EQ(k.expected.size(), want) << k.name;
  }
}

TEST(SelfTestKatTest, TokenAlgorithmsAreNotRunInSoftware) {
  for (const KnownAnswer& k : TokenKnownAnswers(true)) {
    EXPECT_TRUE(IsTokenKat(k.algorithm)) << k.name;
    EXPECT_EQ(RunSoftwareKat(k).code(), StatusCode::kInvalidArgument) << k.name;
  }
}

TEST(SelfTestKatTest, KwpIsListedOnlyWhenCredentialsAreUnwrapped) {
  EXPECT_EQ(TokenKnownAnswers(true).size(), 3u);
  ASSERT_EQ(TokenKnownAnswers(false).size(), 2u);
  for (const KnownAnswer& k : TokenKnownAnswers(false)) {
    EXPECT_NE(k.algorithm, KatAlgorithm::kAesKwpUnwrap);
  }
}

// The token vectors against OpenSSL: the table is right independently of any token.
TEST(SelfTestKatTest, TokenVectorsAgreeWithOpenSsl) {
  for (const KnownAnswer& k : TokenKnownAnswers(true)) {
    std::vector<uint8_t> got(64);
    if (k.algorithm == KatAlgorithm::kAesKwpUnwrap) {
      const EVP_CIPHER* c = k.key.size() == 24 ? EVP_aes_192_wrap_pad() : EVP_aes_256_wrap_pad();
      EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
      EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
      int len = 0;
      int fin = 0;
      ASSERT_EQ(EVP_DecryptInit_ex(ctx, c, nullptr, k.key.data(), nullptr), 1);
      ASSERT_EQ(EVP_DecryptUpdate(ctx, got.data(), &len, k.input.data(),
                                  static_cast<int>(k.input.size())),
                1);
      ASSERT_EQ(EVP_DecryptFinal_ex(ctx, got.data() + len, &fin), 1);
      EVP_CIPHER_CTX_free(ctx);
      got.resize(static_cast<size_t>(len + fin));
    } else {
      unsigned int len = 0;
      HMAC(k.algorithm == KatAlgorithm::kHmacSha1 ? EVP_sha1() : EVP_sha256(), k.key.data(),
           static_cast<int>(k.key.size()), k.input.data(), k.input.size(), got.data(), &len);
      got.resize(len);
    }
    EXPECT_TRUE(CheckKnownAnswer(k, got).ok()) << k.name;
    got[0] ^= 1;
    Status s = CheckKnownAnswer(k, got);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << k.name;
    EXPECT_NE(s.message().find(std::string(k.source)), std::string::npos) << s.message();
  }
}

TEST(RngHealthCheckTest, AWorkingGeneratorPasses) {
  size_t calls = 0;
  OpenSslRandom rng;
  EXPECT_TRUE(RngHealthCheck([&](std::span<uint8_t> out) {
                ++calls;
                EXPECT_GE(out.size(), 16u);
                return rng.Fill(out);
              }).ok());
  EXPECT_EQ(calls, 2u);
}

TEST(RngHealthCheckTest, AStuckGeneratorFails) {
  uint8_t next = 0x5a;
  Status s = RngHealthCheck([&](std::span<uint8_t> out) {
    std::fill(out.begin(), out.end(), next);  // the same block every time
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("self-test rng"), std::string::npos) << s.message();
  // Differing only in the last byte is enough to pass: the check compares whole blocks.
  int call = 0;
  EXPECT_TRUE(RngHealthCheck([&](std::span<uint8_t> out) {
                std::fill(out.begin(), out.end(), next);
                out.back() = static_cast<uint8_t>(call++);
                return Status::Ok();
              }).ok());
}

TEST(RngHealthCheckTest, AnAllZeroOutputOrAFailedDrawFails) {
  int call = 0;
  EXPECT_FALSE(RngHealthCheck([&](std::span<uint8_t> out) {
                 // First block all zero, second not: equal-blocks alone would not catch it.
                 std::fill(out.begin(), out.end(), call++ == 0 ? 0 : 1);
                 return Status::Ok();
               }).ok());
  Status s = RngHealthCheck([](std::span<uint8_t>) { return UnavailableError("token gone"); });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("token gone"), std::string::npos);
}

}  // namespace
}  // namespace kms::crypto
