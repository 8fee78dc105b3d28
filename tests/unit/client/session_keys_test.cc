// KeyFingerprint: the public name of one crypto session's SRTP keys that kms-client shows
// instead of the keys (spec §9.3: no key bytes in output).
#include "src/client/session_keys.h"

#include <gtest/gtest.h>

#include "src/base/encoding.h"

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

}  // namespace
}  // namespace kms::client
