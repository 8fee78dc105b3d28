#include "src/base/byte_reader.h"

#include <gtest/gtest.h>

#include <vector>

namespace kms {
namespace {

const std::vector<uint8_t> kData = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

TEST(ByteReaderTest, ReadsIntegersInNetworkOrder) {
  ByteReader r(kData);
  uint8_t a = 0;
  uint16_t b = 0;
  uint32_t c = 0;
  uint32_t d = 0;
  uint64_t e = 0;
  ASSERT_TRUE(r.U8(&a));
  ASSERT_TRUE(r.U16(&b));
  ASSERT_TRUE(r.U24(&c));
  ASSERT_TRUE(r.U32(&d));
  EXPECT_EQ(a, 0x01);
  EXPECT_EQ(b, 0x0203);
  EXPECT_EQ(c, 0x040506u);
  EXPECT_EQ(d, 0x0708090au);
  EXPECT_EQ(r.offset(), 10u);
  EXPECT_FALSE(r.U64(&e));  // only 6 left
  EXPECT_EQ(r.offset(), 10u);
  EXPECT_EQ(r.remaining(), 6u);
  ASSERT_TRUE(r.Skip(6));
  EXPECT_TRUE(r.empty());
  ByteReader r2(kData);
  ASSERT_TRUE(r2.U64(&e));
  EXPECT_EQ(e, 0x0102030405060708u);
}

// Every read at every truncation offset fails cleanly and leaves the reader untouched.
TEST(ByteReaderTest, EveryReadFailsCleanlyAtEveryTruncation) {
  for (size_t len = 0; len <= kData.size(); ++len) {
    std::span<const uint8_t> in(kData.data(), len);
    for (size_t start = 0; start <= len; ++start) {
      ByteReader r(in);
      ASSERT_TRUE(r.Skip(start));
      const size_t left = len - start;
      uint8_t u8 = 0xaa;
      uint16_t u16 = 0xaaaa;
      uint32_t u32 = 0xaaaaaaaa;
      uint64_t u64 = 0;
      std::span<const uint8_t> bytes;
      ByteReader child;
      struct Case {
        size_t need;
        bool ok;
      };
      const Case cases[] = {
          {1, ByteReader(r).U8(&u8)},           {2, ByteReader(r).U16(&u16)},
          {3, ByteReader(r).U24(&u32)},         {4, ByteReader(r).U32(&u32)},
          {8, ByteReader(r).U64(&u64)},         {5, ByteReader(r).Bytes(5, &bytes)},
          {7, ByteReader(r).Skip(7)},           {3, ByteReader(r).Sub(3, &child)},
      };
      for (const Case& c : cases) {
        EXPECT_EQ(c.ok, left >= c.need) << "len " << len << " start " << start;
      }
      // A failed read does not move the reader.
      ByteReader probe = r;
      if (left < 8) {
        EXPECT_FALSE(probe.U64(&u64));
        EXPECT_EQ(probe.offset(), start);
      }
    }
  }
}

TEST(ByteReaderTest, PrefixedChildIsBoundedByParentAndKeepsAbsoluteOffsets) {
  // 00 | len=3 | 0a 0b 0c | 0d
  const std::vector<uint8_t> in = {0x00, 0x03, 0x0a, 0x0b, 0x0c, 0x0d};
  ByteReader r(in);
  ASSERT_TRUE(r.Skip(1));
  ByteReader child;
  ASSERT_TRUE(r.Prefixed8(&child));
  EXPECT_EQ(child.offset(), 2u);
  EXPECT_EQ(child.remaining(), 3u);
  uint32_t v = 0;
  EXPECT_FALSE(child.U32(&v));  // cannot read past its own end into the parent
  ASSERT_TRUE(child.U24(&v));
  EXPECT_EQ(v, 0x0a0b0cu);
  EXPECT_TRUE(child.empty());
  EXPECT_EQ(r.offset(), 5u);
  uint8_t last = 0;
  ASSERT_TRUE(r.U8(&last));
  EXPECT_EQ(last, 0x0d);
  EXPECT_TRUE(r.empty());
}

TEST(ByteReaderTest, PrefixLongerThanInputFailsWithoutAdvancing) {
  const std::vector<uint8_t> in8 = {0x05, 0x01, 0x02};
  ByteReader r8(in8);
  ByteReader child;
  EXPECT_FALSE(r8.Prefixed8(&child));
  EXPECT_EQ(r8.offset(), 0u);
  const std::vector<uint8_t> in16 = {0x00, 0x04, 0x01, 0x02, 0x03};
  ByteReader r16(in16);
  EXPECT_FALSE(r16.Prefixed16(&child));
  EXPECT_EQ(r16.offset(), 0u);
  const std::vector<uint8_t> one = {0x00};
  ByteReader r1(one);
  EXPECT_FALSE(r1.Prefixed16(&child));
  EXPECT_EQ(r1.offset(), 0u);
}

TEST(ByteReaderTest, NestedChildrenReportOffsetsInTheOutermostBuffer) {
  ByteReader r(kData, 100);
  ByteReader a;
  ByteReader b;
  ASSERT_TRUE(r.Skip(2));
  ASSERT_TRUE(r.Sub(10, &a));
  ASSERT_TRUE(a.Skip(3));
  ASSERT_TRUE(a.Sub(4, &b));
  EXPECT_EQ(b.offset(), 105u);
  EXPECT_EQ(b.Rest()[0], 0x06);
  uint8_t peek = 0;
  ASSERT_TRUE(b.PeekU8(&peek));
  EXPECT_EQ(peek, 0x06);
  EXPECT_EQ(b.offset(), 105u);
  ByteReader empty;
  EXPECT_FALSE(empty.PeekU8(&peek));
  EXPECT_TRUE(empty.empty());
}

}  // namespace
}  // namespace kms
