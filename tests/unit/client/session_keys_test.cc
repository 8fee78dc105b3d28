// KeyFingerprint: the public name of one crypto session's SRTP keys that kms-client shows
// instead of the keys (spec §9.3: no key bytes in output); DeriveCryptoSessionKeys's SPI rule.
#include "src/client/session_keys.h"

#include <gtest/gtest.h>

#include "src/base/encoding.h"
#include "tests/unit/client/client_test_util.h"

namespace kms::client {
namespace {

CryptoSessionKeys Keys(std::vector<uint8_t> key, std::vector<uint8_t> salt) {
  CryptoSessionKeys k;
  k.cs_id = 1;
  k.master_key = SecretBytes::CopyFrom(key);
  k.master_salt = SecretBytes::CopyFrom(salt);
  return k;
}

TEST(KeyFingerprintTest, EqualForEqualKeysOnly) {
  const std::vector<uint8_t> key(16, 0x11), salt(14, 0x22);
  const std::string fp = KeyFingerprint(Keys(key, salt));
  EXPECT_EQ(fp.size(), 16u);  // 8 bytes in hex
  EXPECT_TRUE(HexDecode(fp).ok());
  EXPECT_EQ(fp, KeyFingerprint(Keys(key, salt)));

  // One bit of the key or of the salt changes it.
  std::vector<uint8_t> key2 = key, salt2 = salt;
  key2[15] ^= 0x01;
  salt2[0] ^= 0x80;
  EXPECT_NE(fp, KeyFingerprint(Keys(key2, salt)));
  EXPECT_NE(fp, KeyFingerprint(Keys(key, salt2)));

  // The same 30 bytes split differently between key and salt are other keys.
  std::vector<uint8_t> longer_key = key;
  longer_key.push_back(0x22);
  const std::vector<uint8_t> shorter_salt(13, 0x22);
  EXPECT_NE(fp, KeyFingerprint(Keys(longer_key, shorter_salt)));
}

TEST(KeyFingerprintTest, DoesNotShowTheKey) {
  const std::vector<uint8_t> key = {0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef,
                                    0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef};
  const std::vector<uint8_t> salt(14, 0xde);
  const std::string fp = KeyFingerprint(Keys(key, salt));
  EXPECT_EQ(fp.find("deadbeef"), std::string::npos);
  EXPECT_NE(fp, HexEncode(std::span<const uint8_t>(key.data(), 8)));
}

mikey::KeyData Tek(uint8_t fill, std::vector<uint8_t> spi) {
  return testing::TekSalt(fill, fill, std::move(spi));
}

// RFC 3830 §6.13: an SPI names one key. Two candidates with the crypto session's SPI are
// refused instead of taking the first (each side might order them differently).
TEST(DeriveCryptoSessionKeysTest, AmbiguousSpiRefused) {
  mikey::Hdr map;
  map.map_type = mikey::CsIdMapType::kGenericId;
  mikey::GenericIdBlock b;
  b.cs_id = 1;
  b.prot_type = mikey::ProtType::kSrtp;
  b.policy_nos = {0};
  b.SetSrtpSessionData(mikey::SrtpSessionData{0x1234, std::nullopt, std::nullopt});
  b.spi = {0, 0, 0, 7};
  map.generic_map.push_back(b);
  const mikey::SecurityPolicy sp = mikey::SecurityPolicy::MakeSrtpDefault(0);
  const mikey::KeyData k1 = Tek(0x11, {0, 0, 0, 7});
  const mikey::KeyData k2 = Tek(0x22, {0, 0, 0, 7});
  const mikey::KeyData other = Tek(0x33, {0, 0, 0, 8});
  auto one = DeriveCryptoSessionKeys(map, {&sp}, {&k1, &other}, TekInputs{});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(HexEncode((*one)[0].master_key.Reveal()), "11111111111111111111111111111111");
  auto two = DeriveCryptoSessionKeys(map, {&sp}, {&k1, &other, &k2}, TekInputs{});
  EXPECT_EQ(two.status().code(), StatusCode::kFailedPrecondition);

  std::vector<mikey::KeyData> a, b2;
  a.push_back(k1.Clone());
  b2.push_back(other.Clone());
  EXPECT_TRUE(CheckSpisDisjoint(a, b2).ok());
  b2.push_back(k2.Clone());
  EXPECT_EQ(CheckSpisDisjoint(a, b2).code(), StatusCode::kPermissionDenied);
  a.push_back(Tek(0x44, {0, 0, 0, 7}));
  EXPECT_EQ(CheckSpisDisjoint(a, {}).code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace kms::client
