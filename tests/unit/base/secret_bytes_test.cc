#include "src/base/secret_bytes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <type_traits>

#include "src/base/encoding.h"

namespace kms {
namespace {

static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(!std::is_convertible_v<SecretBytes, std::span<const uint8_t>>);

// The hook sees every secure block after scrubbing and before free: it records whether
// the block that held our marker pattern was all zeros.
std::atomic<int> g_blocks_seen{0};
std::atomic<int> g_nonzero_blocks{0};

void RecordFreedBlock(const uint8_t* block, size_t bytes) {
  g_blocks_seen.fetch_add(1);
  if (std::any_of(block, block + bytes, [](uint8_t b) { return b != 0; })) {
    g_nonzero_blocks.fetch_add(1);
  }
}

class SecretBytesZeroingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_blocks_seen = 0;
    g_nonzero_blocks = 0;
    SetSecureFreeHookForTesting(&RecordFreedBlock);
  }
  void TearDown() override { SetSecureFreeHookForTesting(nullptr); }
};

TEST_F(SecretBytesZeroingTest, DestructionScrubsTheBlock) {
  {
    SecretBytes s(32);
    std::fill(s.RevealMutable().begin(), s.RevealMutable().end(), 0xA5);
  }
  EXPECT_EQ(g_blocks_seen.load(), 1);
  EXPECT_EQ(g_nonzero_blocks.load(), 0);
}

// Key material read as hex (PSK files, key columns) lives only in secure blocks: a bad
// digit after 31 good bytes must not leave those bytes in an unscrubbed heap block.
TEST_F(SecretBytesZeroingTest, HexDecodeSecretScrubsOnTheErrorPathToo) {
  const std::string good = std::string(62, 'a') + "5a";
  {
    auto key = HexDecodeSecret(good);
    ASSERT_TRUE(key.ok());
    ASSERT_EQ(key->size(), 32u);
    EXPECT_EQ(key->Reveal()[0], 0xaa);
    EXPECT_EQ(key->Reveal()[31], 0x5a);
  }
  EXPECT_EQ(g_blocks_seen.load(), 1);
  auto bad = HexDecodeSecret(std::string(62, 'a') + "zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().find("aa"), std::string::npos);  // names no byte
  EXPECT_EQ(g_blocks_seen.load(), 2);
  EXPECT_EQ(g_nonzero_blocks.load(), 0);
  EXPECT_FALSE(HexDecodeSecret("abc").ok());  // odd length
}

TEST_F(SecretBytesZeroingTest, MovedFromAndClonesAreScrubbedToo) {
  {
    const uint8_t key[] = {1, 2, 3, 4, 5, 6, 7, 8};
    SecretBytes a = SecretBytes::CopyFrom(key);
    SecretBytes b = std::move(a);
    SecretBytes c = b.Clone();
    EXPECT_TRUE(b.ConstantTimeEqual(c));
  }
  EXPECT_EQ(g_blocks_seen.load(), 2);  // b's block and c's block; a owns nothing after move
  EXPECT_EQ(g_nonzero_blocks.load(), 0);
}

TEST_F(SecretBytesZeroingTest, GrowingBufferScrubsTheOldBlock) {
  {
    SecureBuffer buf;
    buf.reserve(4);
    buf.assign({9, 9, 9, 9});
    buf.insert(buf.end(), 100, 7);  // reallocates
    EXPECT_GE(g_blocks_seen.load(), 1);
  }
  EXPECT_GE(g_blocks_seen.load(), 2);
  EXPECT_EQ(g_nonzero_blocks.load(), 0);
}

TEST_F(SecretBytesZeroingTest, TruncateScrubsTheDroppedTail) {
  SecretBytes s(16);
  std::fill(s.RevealMutable().begin(), s.RevealMutable().end(), 0xEE);
  const uint8_t* tail = s.Reveal().data() + 8;
  s.Truncate(8);
  EXPECT_EQ(s.size(), 8u);
  // The tail is still inside the live allocation (capacity unchanged), so reading it is
  // defined behaviour: it must be zero now.
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(tail[i], 0) << i;
  }
}

TEST(SecretBytesTest, ConstantTimeEquality) {
  const uint8_t a[] = {1, 2, 3};
  const uint8_t b[] = {1, 2, 4};
  const uint8_t c[] = {1, 2};
  SecretBytes s = SecretBytes::CopyFrom(a);
  EXPECT_TRUE(s.ConstantTimeEqual(a));
  EXPECT_FALSE(s.ConstantTimeEqual(b));
  EXPECT_FALSE(s.ConstantTimeEqual(c));
  EXPECT_TRUE(ConstantTimeEquals({}, {}));
  EXPECT_FALSE(ConstantTimeEquals(a, {}));
  SecretBytes zero(3);
  EXPECT_EQ(zero.size(), 3u);
  EXPECT_TRUE(std::all_of(zero.Reveal().begin(), zero.Reveal().end(),
                          [](uint8_t v) { return v == 0; }));
  SecretBytes empty;
  EXPECT_TRUE(empty.empty());
}

}  // namespace
}  // namespace kms
