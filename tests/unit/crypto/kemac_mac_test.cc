// AES-CM KEMAC encryption (IV construction, RFC 3711 counter mode against an AES-ECB
// reference), MACs, algorithm tables and Random.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <vector>

#include "src/crypto/algorithms.h"
#include "src/crypto/kemac_cipher.h"
#include "src/crypto/mac.h"
#include "src/crypto/random.h"
#include "tests/unit/crypto/test_util.h"

namespace kms::crypto {
namespace {

using test::FromHex;
using test::Hex;
using test::SecretFromHex;

std::vector<uint8_t> Seq(size_t n, uint8_t start) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<uint8_t>(start + 7 * i);
  }
  return v;
}

// RefAesCm: RFC 3711 §4.1.1 by hand: E(k, IV + i) with a 128-bit big-endian increment,
// using AES-ECB on single blocks.
std::vector<uint8_t> RefAesCm(const std::vector<uint8_t>& key, std::array<uint8_t, 16> ctr,
                              const std::vector<uint8_t>& in) {
  const EVP_CIPHER* c = key.size() == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb();
  std::vector<uint8_t> out(in.size());
  for (size_t off = 0; off < in.size(); off += 16) {
    std::array<uint8_t, 16> ks{};
    int len = 0;
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    EXPECT_EQ(EVP_EncryptInit_ex(ctx, c, nullptr, key.data(), nullptr), 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    EXPECT_EQ(EVP_EncryptUpdate(ctx, ks.data(), &len, ctr.data(), 16), 1);
    EVP_CIPHER_CTX_free(ctx);
    for (size_t j = 0; j < 16 && off + j < in.size(); ++j) {
      out[off + j] = static_cast<uint8_t>(in[off + j] ^ ks[j]);
    }
    for (int j = 15; j >= 0; --j) {  // big-endian increment of the whole block
      if (++ctr[static_cast<size_t>(j)] != 0) {
        break;
      }
    }
  }
  return out;
}

TEST(KemacIvTest, LayoutOfSpecSection53) {
  const SecretBytes salt = SecretFromHex("000102030405060708090a0b0c0d");
  auto iv = KemacIv(salt, 0xA0B0C0D0, 0x1122334455667788);
  ASSERT_TRUE(iv.ok());
  // IV[0..1]=S, IV[2..5]=S^CSB, IV[6..13]=S^T, IV[14..15]=0.
  EXPECT_EQ(Hex(*iv),
            "0001"
            "a2b3c4d5"
            "17253b4d5f6d7b85"
            "0000");
  EXPECT_FALSE(KemacIv(SecretFromHex("0001"), 0, 0).ok());
}

TEST(KemacIvTest, TimestampWidening) {
  EXPECT_EQ(KemacIvTimeFromNtpUtc32(0xE8FE7D90), 0xE8FE7D9000000000u);
  EXPECT_EQ(KemacIvTimeFromCounter(0x01020304), 0x0000000001020304u);
}

TEST(KemacCipherTest, AesCmMatchesReferenceAndRoundTrips) {
  const SecretBytes salt = SecretFromHex("f0e1d2c3b4a5968778695a4b3c2d");
  for (EncrAlgorithm alg : {EncrAlgorithm::kAesCm128, EncrAlgorithm::kAesCm256}) {
    const size_t klen = alg == EncrAlgorithm::kAesCm128 ? 16 : 32;
    const std::vector<uint8_t> key = Seq(klen, 3);
    for (size_t n : {1U, 15U, 16U, 17U, 50U, 75U, 1000U}) {
      const std::vector<uint8_t> pt = Seq(n, 11);
      auto ct =
          KemacEncrypt(alg, SecretBytes::CopyFrom(key), salt, 0x11223344, 0x0102030405060708, pt);
      ASSERT_TRUE(ct.ok()) << ct.status().ToString();
      auto iv = KemacIv(salt, 0x11223344, 0x0102030405060708);
      ASSERT_TRUE(iv.ok());
      std::array<uint8_t, 16> ctr{};
      std::copy(iv->Reveal().begin(), iv->Reveal().end(), ctr.begin());
      EXPECT_EQ(Hex(*ct), Hex(RefAesCm(key, ctr, pt))) << "n=" << n;
      EXPECT_NE(Hex(*ct), Hex(pt));
      auto back =
          KemacDecrypt(alg, SecretBytes::CopyFrom(key), salt, 0x11223344, 0x0102030405060708, *ct);
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(Hex(*back), Hex(pt));
      // Another CSB ID or T gives another keystream.
      auto other =
          KemacEncrypt(alg, SecretBytes::CopyFrom(key), salt, 0x11223345, 0x0102030405060708, pt);
      ASSERT_TRUE(other.ok());
      EXPECT_NE(Hex(*other), Hex(*ct));
    }
  }
}

TEST(KemacCipherTest, EmptyPlaintextGivesEmptyCiphertext) {
  auto ct = KemacEncrypt(EncrAlgorithm::kAesCm128, SecretBytes::CopyFrom(Seq(16, 0)),
                         SecretBytes::CopyFrom(Seq(14, 0)), 1, 2, {});
  ASSERT_TRUE(ct.ok());
  EXPECT_TRUE(ct->empty());
}

TEST(KemacCipherTest, RefusesOtherAlgorithmsWithMikeyError4) {
  const std::vector<uint8_t> pt(16, 1);
  for (EncrAlgorithm alg : {EncrAlgorithm::kAesKw128, EncrAlgorithm::kNull}) {
    auto ct = KemacEncrypt(alg, SecretBytes::CopyFrom(Seq(16, 0)),
                           SecretBytes::CopyFrom(Seq(14, 0)), 1, 2, pt);
    ASSERT_FALSE(ct.ok());
    EXPECT_EQ(ct.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(ct.status().detail(), std::optional<uint8_t>(kMikeyErrorInvalidEa));
    auto dec = KemacDecrypt(alg, SecretBytes::CopyFrom(Seq(16, 0)),
                            SecretBytes::CopyFrom(Seq(14, 0)), 1, 2, pt);
    ASSERT_FALSE(dec.ok());
    EXPECT_EQ(dec.status().detail(), std::optional<uint8_t>(4));
  }
}

TEST(KemacCipherTest, RefusesWrongKeySizesAndOversizedData) {
  const std::vector<uint8_t> pt(16, 1);
  const SecretBytes salt = SecretBytes::CopyFrom(Seq(14, 0));
  // AES-CM-128 with a 32-byte key, AES-CM-256 with a 16-byte key, 13/15-byte salts.
  EXPECT_EQ(
      KemacEncrypt(EncrAlgorithm::kAesCm128, SecretBytes::CopyFrom(Seq(32, 0)), salt, 1, 2, pt)
          .status()
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      KemacDecrypt(EncrAlgorithm::kAesCm256, SecretBytes::CopyFrom(Seq(16, 0)), salt, 1, 2, pt)
          .status()
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_FALSE(KemacEncrypt(EncrAlgorithm::kAesCm128, SecretBytes::CopyFrom(Seq(16, 0)),
                            SecretBytes::CopyFrom(Seq(13, 0)), 1, 2, pt)
                   .ok());
  EXPECT_FALSE(KemacDecrypt(EncrAlgorithm::kAesCm128, SecretBytes::CopyFrom(Seq(16, 0)),
                            SecretBytes::CopyFrom(Seq(15, 0)), 1, 2, pt)
                   .ok());
  const std::vector<uint8_t> big(kMaxKemacDataSize + 1, 0);
  EXPECT_FALSE(
      KemacEncrypt(EncrAlgorithm::kAesCm128, SecretBytes::CopyFrom(Seq(16, 0)), salt, 1, 2, big)
          .ok());
  const std::vector<uint8_t> max(kMaxKemacDataSize, 0);
  EXPECT_TRUE(
      KemacEncrypt(EncrAlgorithm::kAesCm128, SecretBytes::CopyFrom(Seq(16, 0)), salt, 1, 2, max)
          .ok());
}

TEST(MacTest, HmacSha1Rfc2202Case1) {
  // RFC 2202 §3 test case 1: key = 0x0b x 20, data = "Hi There".
  const SecretBytes key = SecretBytes::CopyFrom(std::vector<uint8_t>(20, 0x0b));
  auto mac = ComputeMac(MacAlgorithm::kHmacSha1_160, key, AsBytes("Hi There"));
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(Hex(*mac), "b617318655057264e28bc0b6fb378c8ef146be00");
  EXPECT_TRUE(VerifyMac(MacAlgorithm::kHmacSha1_160, key, AsBytes("Hi There"), *mac).ok());
}

TEST(MacTest, HmacSha256AgainstOpenSslOneShot) {
  const std::vector<uint8_t> key = Seq(32, 1);
  const std::vector<uint8_t> data = Seq(100, 9);
  std::array<uint8_t, 32> ref{};
  size_t len = 0;
  ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                      data.data(), data.size(), ref.data(), ref.size(), &len),
            nullptr);
  auto mac = ComputeMac(MacAlgorithm::kHmacSha256_256, SecretBytes::CopyFrom(key), data);
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(Hex(*mac), Hex(ref));
}

TEST(MacTest, VerifyRejectsWrongAndMisSizedMacs) {
  const SecretBytes key = SecretBytes::CopyFrom(Seq(20, 5));
  const std::vector<uint8_t> data = Seq(40, 1);
  auto mac = ComputeMac(MacAlgorithm::kHmacSha1_160, key, data);
  ASSERT_TRUE(mac.ok());
  for (size_t i = 0; i < mac->size(); ++i) {
    std::vector<uint8_t> bad = *mac;
    bad[i] ^= 0x01;
    EXPECT_EQ(VerifyMac(MacAlgorithm::kHmacSha1_160, key, data, bad).code(),
              StatusCode::kAuthFailed);
  }
  std::vector<uint8_t> other_data = data;
  other_data.back() ^= 0x80;
  EXPECT_EQ(VerifyMac(MacAlgorithm::kHmacSha1_160, key, other_data, *mac).code(),
            StatusCode::kAuthFailed);
  const std::span<const uint8_t> truncated(mac->data(), 19);
  EXPECT_EQ(VerifyMac(MacAlgorithm::kHmacSha1_160, key, data, truncated).code(),
            StatusCode::kAuthFailed);
  std::vector<uint8_t> longer = *mac;
  longer.push_back(0);
  EXPECT_EQ(VerifyMac(MacAlgorithm::kHmacSha1_160, key, data, longer).code(),
            StatusCode::kAuthFailed);
  EXPECT_EQ(VerifyMac(MacAlgorithm::kHmacSha1_160, key, data, {}).code(), StatusCode::kAuthFailed);
}

TEST(MacTest, RefusesWrongKeySizeAndNullMac) {
  const std::vector<uint8_t> data = Seq(8, 1);
  EXPECT_EQ(ComputeMac(MacAlgorithm::kHmacSha1_160, SecretBytes::CopyFrom(Seq(32, 0)), data)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeMac(MacAlgorithm::kHmacSha256_256, SecretBytes::CopyFrom(Seq(20, 0)), data)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeMac(MacAlgorithm::kHmacSha1_160, SecretBytes(), data).status().code(),
            StatusCode::kInvalidArgument);
  auto null_mac = ComputeMac(MacAlgorithm::kNull, SecretBytes::CopyFrom(Seq(20, 0)), data);
  ASSERT_FALSE(null_mac.ok());
  EXPECT_EQ(null_mac.status().detail(), std::optional<uint8_t>(kMikeyErrorInvalidMac));
  EXPECT_EQ(VerifyMac(MacAlgorithm::kHmacSha1_160, SecretBytes::CopyFrom(Seq(16, 0)), data,
                      std::vector<uint8_t>(20, 0))
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(AlgorithmsTest, CodePointsAndCheckedConversions) {
  EXPECT_EQ(static_cast<int>(PrfFunc::kHmacSha256), 1);
  EXPECT_EQ(static_cast<int>(EncrAlgorithm::kAesCm256), 3);
  EXPECT_EQ(static_cast<int>(MacAlgorithm::kHmacSha256_256), 2);
  EXPECT_EQ(*PrfFuncFromCode(0), PrfFunc::kMikey1);
  EXPECT_EQ(*PrfFuncFromCode(1), PrfFunc::kHmacSha256);
  EXPECT_EQ(PrfFuncFromCode(2).status().detail(), std::optional<uint8_t>(2));
  EXPECT_EQ(*EncrAlgorithmFromCode(2), EncrAlgorithm::kAesKw128);
  EXPECT_EQ(EncrAlgorithmFromCode(4).status().detail(), std::optional<uint8_t>(4));
  EXPECT_EQ(*MacAlgorithmFromCode(2), MacAlgorithm::kHmacSha256_256);
  EXPECT_EQ(MacAlgorithmFromCode(3).status().detail(), std::optional<uint8_t>(3));
  EXPECT_EQ(MacAlgorithmFromCode(255).status().code(), StatusCode::kInvalidArgument);
}

TEST(AlgorithmsTest, KeySizes) {
  EXPECT_EQ(*EncrKeySize(EncrAlgorithm::kAesCm128), 16U);
  EXPECT_EQ(*EncrKeySize(EncrAlgorithm::kAesCm256), 32U);
  EXPECT_EQ(*SaltKeySize(EncrAlgorithm::kAesCm128), 14U);
  EXPECT_EQ(*SaltKeySize(EncrAlgorithm::kAesCm256), 14U);
  EXPECT_EQ(*AuthKeySize(MacAlgorithm::kHmacSha1_160), 20U);
  EXPECT_EQ(*AuthKeySize(MacAlgorithm::kHmacSha256_256), 32U);
  EXPECT_EQ(EncrKeySize(EncrAlgorithm::kAesKw128).status().detail(), std::optional<uint8_t>(4));
  EXPECT_EQ(SaltKeySize(EncrAlgorithm::kNull).status().detail(), std::optional<uint8_t>(4));
  EXPECT_EQ(AuthKeySize(MacAlgorithm::kNull).status().detail(), std::optional<uint8_t>(3));
  EXPECT_EQ(MacSize(MacAlgorithm::kNull), 0U);
  EXPECT_EQ(MacSize(MacAlgorithm::kHmacSha1_160), 20U);
  EXPECT_EQ(MacSize(MacAlgorithm::kHmacSha256_256), 32U);
  EXPECT_EQ(PrfHmacAlg(PrfFunc::kMikey1), HmacAlg::kSha1);
  EXPECT_EQ(PrfHmacAlg(PrfFunc::kHmacSha256), HmacAlg::kSha256);
}

class FailingRandom final : public Random {
 public:
  Status Fill(std::span<uint8_t>) override { return UnavailableError("rng down"); }
};

TEST(RandomTest, OpenSslRandomFillsAndDiffers) {
  OpenSslRandom rng;
  auto a = RandomBytes(rng, 32);
  auto b = RandomBytes(rng, 32);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->size(), 32U);
  EXPECT_NE(*a, *b);
  auto s = RandomSecret(rng, 16);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->size(), 16U);
  EXPECT_FALSE(s->ConstantTimeEqual(std::vector<uint8_t>(16, 0)));
  EXPECT_TRUE(rng.Fill({}).ok());
}

TEST(RandomTest, LimitsAndFailuresPropagate) {
  OpenSslRandom rng;
  EXPECT_EQ(RandomBytes(rng, kMaxRandomRequest + 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RandomSecret(rng, kMaxRandomRequest + 1).status().code(), StatusCode::kInvalidArgument);
  FailingRandom bad;
  EXPECT_EQ(RandomBytes(bad, 16).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(RandomSecret(bad, 16).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kms::crypto
