// Label builders (spec §5.2): exact layouts from hand-written bytes, length limits, refusals.
#include "src/crypto/labels.h"

#include <gtest/gtest.h>

#include <array>

#include "tests/unit/crypto/test_util.h"

namespace kms::crypto {
namespace {

using test::FromHex;
using test::Hex;

constexpr std::array<uint8_t, 3> kRi = {0xa1, 0xa2, 0xa3};
constexpr std::array<uint8_t, 2> kRr = {0xb1, 0xb2};

TEST(LabelsTest, ConstantsMatchTheRfcTables) {
  EXPECT_EQ(kLabelEncr, 0x150533E1u);
  EXPECT_EQ(kLabelAuth, 0x2D22AC75u);
  EXPECT_EQ(kLabelSalt, 0x29B88916u);
  EXPECT_EQ(kLabelTek, 0x2AD01C64u);
  EXPECT_EQ(kLabelTgkAuth, 0x1B5C7973u);
  EXPECT_EQ(kLabelTgkEncr, 0x15798CEFu);
  EXPECT_EQ(kLabelTgkSalt, 0x39A2C14Bu);
  EXPECT_EQ(kLabelForkMpkr, 0x2B288856u);
  EXPECT_EQ(kLabelForkTgk, 0x1512B54Au);
  EXPECT_EQ(kLabelMpki, 0x220E99A2u);
  EXPECT_EQ(kLabelMpkr, 0x1F4D675Bu);
}

TEST(LabelsTest, MessageKeyLabelBothRands) {
  auto l = MessageKeyLabel(kLabelEncr, 0x01020304, MessageRole::kResponse, kRi, kRr);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(Hex(*l),
            "150533e1ff0102030402"
            "03a1a2a3"
            "02b1b2");
}

TEST(LabelsTest, MessageKeyLabelAbsentRandsHaveLengthZero) {
  auto l = MessageKeyLabel(kLabelSalt, 0xAABBCCDD, MessageRole::kInitial, {}, {});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(Hex(*l), "29b88916ffaabbccdd010000");
  auto r = MessageKeyLabel(kLabelAuth, 1, MessageRole::kInitial, {}, kRr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Hex(*r),
            "2d22ac75ff0000000101"
            "00"
            "02b1b2");
}

TEST(LabelsTest, MessageKeyLabelRefusesRandOver255) {
  const std::vector<uint8_t> big(256, 1);
  EXPECT_EQ(MessageKeyLabel(kLabelAuth, 1, MessageRole::kInitial, big, {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MessageKeyLabel(kLabelAuth, 1, MessageRole::kInitial, {}, big).status().code(),
            StatusCode::kInvalidArgument);
  const std::vector<uint8_t> max(255, 1);
  auto ok = MessageKeyLabel(kLabelAuth, 1, MessageRole::kInitial, max, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 10U + 1U + 255U + 1U);
  EXPECT_EQ((*ok)[10], 0xFF);
}

TEST(LabelsTest, TgkDerivedLabel) {
  auto l = TgkDerivedLabel(kLabelTek, 3, kRi, kRr);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(Hex(*l),
            "2ad01c6403ffffffff03"
            "03a1a2a3"
            "02b1b2");
  auto only_ri = TgkDerivedLabel(kLabelTgkSalt, 1, kRi, {});  // G = 0
  ASSERT_TRUE(only_ri.ok());
  EXPECT_EQ(Hex(*only_ri),
            "39a2c14b01ffffffff03"
            "03a1a2a3"
            "00");
  auto only_rr = TgkDerivedLabel(kLabelTek, 1, {}, kRr);  // H = 0
  ASSERT_TRUE(only_rr.ok());
  EXPECT_EQ(Hex(*only_rr),
            "2ad01c6401ffffffff03"
            "00"
            "02b1b2");
  EXPECT_EQ(TgkDerivedLabel(kLabelTek, 1, {}, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST(LabelsTest, ForkLabelHasTwoByteIdLength) {
  const std::vector<uint8_t> id = FromHex("6162");
  auto l = ForkLabel(kLabelForkTgk, id, kRr);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(Hex(*l),
            "1512b54affffffffff00"
            "00026162"
            "02b1b2");
  const std::vector<uint8_t> long_id(300, 0x41);
  auto l2 = ForkLabel(kLabelForkMpkr, long_id, kRr);
  ASSERT_TRUE(l2.ok());
  EXPECT_EQ((*l2)[10], 0x01);
  EXPECT_EQ((*l2)[11], 0x2C);
  EXPECT_EQ(l2->size(), 10U + 2U + 300U + 1U + 2U);
}

TEST(LabelsTest, ForkLabelRefusals) {
  const std::vector<uint8_t> id = FromHex("61");
  EXPECT_FALSE(ForkLabel(kLabelForkTgk, {}, kRr).ok());
  EXPECT_FALSE(ForkLabel(kLabelForkTgk, id, {}).ok());
  EXPECT_FALSE(ForkLabel(kLabelForkTgk, std::vector<uint8_t>(0x10000, 1), kRr).ok());
  EXPECT_FALSE(ForkLabel(kLabelForkTgk, id, std::vector<uint8_t>(256, 1)).ok());
  EXPECT_TRUE(ForkLabel(kLabelForkTgk, std::vector<uint8_t>(0xFFFF, 1), kRr).ok());
}

TEST(LabelsTest, VrTicketAndMpkLabels) {
  EXPECT_EQ(Hex(VrKeyLabel()), "2d22ac75ffffffffff04");
  auto t = TicketKeyLabel(kLabelEncr, kRi);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Hex(*t),
            "150533e1ffffffffff05"
            "03a1a2a3");
  auto m = MpkLabel(kLabelMpkr, kRr);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(Hex(*m),
            "1f4d675bffffffffff06"
            "02b1b2");
  EXPECT_FALSE(TicketKeyLabel(kLabelEncr, {}).ok());
  EXPECT_FALSE(MpkLabel(kLabelMpki, {}).ok());
  EXPECT_FALSE(TicketKeyLabel(kLabelEncr, std::vector<uint8_t>(256, 1)).ok());
  EXPECT_FALSE(MpkLabel(kLabelMpki, std::vector<uint8_t>(256, 1)).ok());
}

TEST(LabelsTest, PlainRfc3830Labels) {
  EXPECT_EQ(Hex(Rfc3830TransportKeyLabel(kLabelSalt, 0x11223344, kRi)), "29b88916ff11223344a1a2a3");
  EXPECT_EQ(Hex(Rfc3830TekLabel(kLabelTek, 7, 0x11223344, kRr)), "2ad01c640711223344b1b2");
}

}  // namespace
}  // namespace kms::crypto
