#include "src/base/byte_writer.h"

#include <gtest/gtest.h>

#include "src/base/encoding.h"
#include "src/base/secret_bytes.h"

namespace kms {
namespace {

TEST(ByteWriterTest, WritesIntegersAndBytesInNetworkOrder) {
  ByteWriter w;
  w.U8(0x01);
  w.U16(0x0203);
  w.U32(0x04050607);
  w.U64(0x08090a0b0c0d0e0fULL);
  const uint8_t raw[] = {0xaa, 0xbb};
  w.Bytes(raw);
  w.Chars("hi");
  auto out = std::move(w).Finish();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(HexEncode(*out), "0102030405060708090a0b0c0d0e0faabb6869");
}

TEST(ByteWriterTest, DeferredLengthPrefixes) {
  ByteWriter w;
  auto p16 = w.Reserve16();
  w.U8(0xff);
  auto p8 = w.Reserve8();
  w.Chars("abc");
  w.Fill(p8);
  w.Fill(p16);
  w.PatchU8(2, 0xee);
  auto out = std::move(w).Finish();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(HexEncode(*out), "0005ee03616263");
}

TEST(ByteWriterTest, OverflowIsSticky) {
  ByteWriter w(4);
  w.U16(1);
  w.U32(2);  // does not fit: the writer fails
  EXPECT_FALSE(w.ok());
  w.U8(3);  // ignored after the failure, even though it would fit
  EXPECT_EQ(w.size(), 2u);
  auto out = std::move(w).Finish();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);
}

TEST(ByteWriterTest, LengthThatDoesNotFitItsPrefixFails) {
  ByteWriter w;
  auto p = w.Reserve8();
  std::vector<uint8_t> big(256, 0);
  w.Bytes(big);
  w.Fill(p);
  EXPECT_FALSE(w.ok());
  EXPECT_FALSE(std::move(w).Finish().ok());

  ByteWriter w16;
  auto p16 = w16.Reserve16();
  std::vector<uint8_t> huge(0x10000, 0);
  w16.Bytes(huge);
  w16.Fill(p16);
  EXPECT_FALSE(w16.ok());

  ByteWriter ok16;
  auto q = ok16.Reserve16();
  std::vector<uint8_t> max(0xffff, 0);
  ok16.Bytes(max);
  ok16.Fill(q);
  EXPECT_TRUE(ok16.ok());
}

TEST(ByteWriterTest, PatchOutsideWrittenBytesFails) {
  ByteWriter w;
  w.U8(1);
  w.PatchU8(1, 2);
  EXPECT_FALSE(w.ok());
}

TEST(ByteWriterTest, SecretWriterProducesSecureStorage) {
  SecretByteWriter w;
  w.U8(0x14);
  w.U16(0x0010);
  auto out = std::move(w).Finish();
  ASSERT_TRUE(out.ok());
  SecretBytes s(std::move(out).value());
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.Reveal()[0], 0x14);
}

}  // namespace
}  // namespace kms
