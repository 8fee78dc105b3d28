#include "src/base/encoding.h"

#include <gtest/gtest.h>

namespace kms {
namespace {

TEST(HexTest, RoundTripAndCase) {
  const std::vector<uint8_t> b = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(HexEncode(b), "000fa5ff");
  auto d = HexDecode("000FA5ff");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, b);
  EXPECT_TRUE(HexDecode("")->empty());
}

TEST(HexTest, RejectsBadInput) {
  EXPECT_FALSE(HexDecode("0").ok());
  EXPECT_FALSE(HexDecode("0g").ok());
  EXPECT_FALSE(HexDecode("00 1").ok());
  EXPECT_EQ(HexDecode("zz").status().code(), StatusCode::kInvalidArgument);
}

TEST(HexTest, DigitValueAtTheEdgesOfEachRange) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('9'), 9);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  // The neighbours of each range in ASCII, and a byte above it.
  for (char c : {'/', ':', '@', 'G', '`', 'g', '\0', static_cast<char>(0xc1)}) {
    EXPECT_EQ(HexDigitValue(c), -1) << static_cast<int>(c);
  }
}

// RFC 4648 §10 test vectors.
TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, enc] : cases) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), enc);
    auto d = Base64Decode(enc);
    ASSERT_TRUE(d.ok()) << enc;
    EXPECT_EQ(std::string(d->begin(), d->end()), plain);
  }
}

TEST(Base64Test, DecodesRfc4567ExampleAnswer) {
  // spec §10.1: the RFC 4567 answer message is 71 bytes and starts with 01 01 05 80.
  auto d = Base64Decode(
      "AQEFgM0XflABAAAAAAAAAAAAAAYAyONQ6gAAAAAJAAAQbWlja2V5QG1vdXNlLmNvbQABn8HdGE5BMDXFIuGEga+6"
      "2AgY5cc=");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size(), 71u);
  EXPECT_EQ(HexEncode(std::span<const uint8_t>(d->data(), 4)), "01010580");
}

TEST(Base64Test, RejectsBadInput) {
  EXPECT_FALSE(Base64Decode("Zg=").ok());     // length
  EXPECT_FALSE(Base64Decode("Zg=a").ok());    // data after padding
  EXPECT_FALSE(Base64Decode("=Zm9").ok());    // padding first
  EXPECT_FALSE(Base64Decode("Zm9v\n").ok());  // whitespace
  EXPECT_FALSE(Base64Decode("Zh==").ok());    // non-canonical: low bits set
  EXPECT_FALSE(Base64Decode("Zm9=").ok());    // non-canonical: low bits of the last symbol
  EXPECT_TRUE(Base64Decode("Zm8=").ok());     // the canonical form of the same two bytes
  EXPECT_FALSE(Base64Decode("Zm-v").ok());    // URL alphabet is not accepted
  EXPECT_FALSE(Base64Decode("Zg==Zg==").ok());  // padding in the middle
}

}  // namespace
}  // namespace kms
