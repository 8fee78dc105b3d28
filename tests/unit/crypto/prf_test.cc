// PRF unit tests: block splitting, Hmac call counts, argument checks, and an independent
// reference (RFC 3830 §4.1.2 written out with OpenSSL EVP_Q_mac) for inkeys of many lengths,
// including exact multiples of 256 bits.
#include "src/crypto/prf.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "src/crypto/openssl_key_ops.h"
#include "tests/unit/crypto/test_util.h"

namespace kms::crypto {
namespace {

using test::Hex;

std::vector<uint8_t> RefHmac(PrfFunc f, std::span<const uint8_t> key,
                             std::span<const uint8_t> data) {
  std::vector<uint8_t> out(64);
  size_t len = 0;
  const char* digest = f == PrfFunc::kMikey1 ? "SHA1" : "SHA256";
  EXPECT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, digest, nullptr, key.data(), key.size(),
                      data.data(), data.size(), out.data(), out.size(), &len),
            nullptr);
  out.resize(len);
  return out;
}

// RefPrf: the RFC text, literally: P(s_j, label, m) for every 256-bit block, XORed, truncated.
std::vector<uint8_t> RefPrf(PrfFunc f, const std::vector<uint8_t>& inkey,
                            std::span<const uint8_t> label_span, size_t out_len) {
  const std::vector<uint8_t> label(label_span.begin(), label_span.end());
  const size_t h = f == PrfFunc::kMikey1 ? 20 : 32;
  const size_t m = (out_len + h - 1) / h;
  std::vector<uint8_t> acc(m * h, 0);
  for (size_t start = 0; start < inkey.size(); start += 32) {
    const size_t end = std::min(inkey.size(), start + 32);
    const std::vector<uint8_t> s(inkey.begin() + static_cast<long>(start),
                                 inkey.begin() + static_cast<long>(end));
    std::vector<uint8_t> a = label;  // A_0
    std::vector<uint8_t> p;
    for (size_t i = 1; i <= m; ++i) {
      a = RefHmac(f, s, a);
      std::vector<uint8_t> in = a;
      in.insert(in.end(), label.begin(), label.end());
      const std::vector<uint8_t> blk = RefHmac(f, s, in);
      p.insert(p.end(), blk.begin(), blk.end());
    }
    for (size_t i = 0; i < acc.size(); ++i) {
      acc[i] ^= p[i];
    }
  }
  acc.resize(out_len);
  return acc;
}

// CountingKey: a KeyOps over a software key that counts Hmac calls.
class CountingKey final : public KeyOps {
 public:
  explicit CountingKey(std::vector<uint8_t> key) : key_(std::move(key)) {}
  Status Hmac(HmacAlg alg, std::span<const uint8_t> data, std::span<uint8_t> out) const override {
    ++calls_;
    if (fail_at_ != 0 && calls_ == fail_at_) {
      return UnavailableError("token gone");
    }
    const auto r =
        RefHmac(alg == HmacAlg::kSha1 ? PrfFunc::kMikey1 : PrfFunc::kHmacSha256, key_, data);
    if (r.size() != out.size()) {
      return InvalidArgumentError("size");
    }
    std::copy(r.begin(), r.end(), out.begin());
    return Status::Ok();
  }
  size_t key_size() const override { return key_.size(); }
  int calls() const { return calls_; }
  void FailAt(int n) { fail_at_ = n; }

 private:
  std::vector<uint8_t> key_;
  mutable int calls_ = 0;
  int fail_at_ = 0;
};

std::vector<uint8_t> Seq(size_t n, uint8_t start = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<uint8_t>(start + i);
  }
  return v;
}

// RFC 3830-style auth label of the vector file: 2d22ac75 ff 11223344 || 10..1f.
constexpr std::array<uint8_t, 25> kLabel = {0x2d, 0x22, 0xac, 0x75, 0xff, 0x11, 0x22, 0x33, 0x44,
                                            0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
                                            0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

TEST(PrfTest, MatchesReferenceForManyInkeyLengths) {
  for (PrfFunc f : {PrfFunc::kMikey1, PrfFunc::kHmacSha256}) {
    for (size_t key_len : {1U, 16U, 20U, 31U, 32U, 33U, 40U, 63U, 64U, 65U, 96U}) {
      for (size_t out_len : {1U, 14U, 16U, 20U, 21U, 32U, 42U, 64U, 100U}) {
        const auto inkey = Seq(key_len, 7);
        auto got = PrfDerive(f, SecretBytes::CopyFrom(inkey), kLabel, out_len);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        EXPECT_EQ(Hex(*got), Hex(RefPrf(f, inkey, kLabel, out_len)))
            << "func " << static_cast<int>(f) << " key " << key_len << " out " << out_len;
      }
    }
  }
}

TEST(PrfTest, ExactMultipleOf256BitsHasNoEmptyTrailingBlock) {
  // 64-byte inkey: exactly two blocks. A third, empty block (minisip's bug) would fail
  // SoftwareInKey's block check or change the result.
  const auto inkey = Seq(64);
  auto k = SoftwareInKey::Create(SecretBytes::CopyFrom(inkey));
  ASSERT_TRUE(k.ok());
  ASSERT_EQ(k->blocks().size(), 2U);
  EXPECT_EQ(k->blocks()[0]->key_size(), 32U);
  EXPECT_EQ(k->blocks()[1]->key_size(), 32U);
  auto got = PrfDerive(PrfFunc::kMikey1, k->blocks(), kLabel, 16);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Hex(*got), Hex(RefPrf(PrfFunc::kMikey1, inkey, kLabel, 16)));
  // And it is not simply the first block's PRF.
  auto first = PrfDerive(PrfFunc::kMikey1, SecretBytes::CopyFrom(Seq(32)), kLabel, 16);
  ASSERT_TRUE(first.ok());
  EXPECT_NE(Hex(*got), Hex(*first));
}

TEST(PrfTest, SplitsFortyBytesInto32And8) {
  auto k = SoftwareInKey::Create(SecretBytes::CopyFrom(Seq(40)));
  ASSERT_TRUE(k.ok());
  ASSERT_EQ(k->blocks().size(), 2U);
  EXPECT_EQ(k->blocks()[1]->key_size(), 8U);
  EXPECT_EQ(k->size(), 40U);
  EXPECT_EQ(InKeySize(k->blocks()), 40U);
}

TEST(PrfTest, HmacCallCountIsTwoPerOutputBlockPerInkeyBlock) {
  struct Case {
    PrfFunc f;
    size_t blocks;
    size_t out;
    int expected;
  };
  for (const Case& c :
       {Case{PrfFunc::kMikey1, 1, 16, 2}, Case{PrfFunc::kMikey1, 1, 20, 2},
        Case{PrfFunc::kMikey1, 1, 21, 4}, Case{PrfFunc::kMikey1, 2, 42, 12},
        Case{PrfFunc::kHmacSha256, 1, 32, 2}, Case{PrfFunc::kHmacSha256, 3, 64, 12}}) {
    std::vector<std::unique_ptr<CountingKey>> keys;
    std::vector<const KeyOps*> views;
    for (size_t i = 0; i < c.blocks; ++i) {
      keys.push_back(std::make_unique<CountingKey>(Seq(32, static_cast<uint8_t>(i))));
      views.push_back(keys.back().get());
    }
    std::vector<uint8_t> out(c.out);
    ASSERT_TRUE(Prf(c.f, views, kLabel, out).ok());
    int total = 0;
    for (const auto& k : keys) {
      total += k->calls();
    }
    EXPECT_EQ(total, c.expected);
    EXPECT_EQ(PrfHmacCallCount(c.f, c.blocks, c.out), static_cast<size_t>(c.expected));
  }
}

TEST(PrfTest, KeyOpsPathEqualsSoftwarePath) {
  const auto inkey = Seq(32, 0x40);
  CountingKey k(inkey);
  const KeyOps* views[] = {&k};
  std::vector<uint8_t> out(20);
  ASSERT_TRUE(Prf(PrfFunc::kMikey1, views, kLabel, out).ok());
  EXPECT_EQ(Hex(out), Hex(RefPrf(PrfFunc::kMikey1, inkey, kLabel, 20)));
}

TEST(PrfTest, RejectsEmptyInkey) {
  auto r = PrfDerive(PrfFunc::kMikey1, SecretBytes(), kLabel, 16);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  std::vector<uint8_t> out(16);
  EXPECT_EQ(Prf(PrfFunc::kMikey1, {}, kLabel, out).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(SoftwareInKey::Create(SecretBytes()).ok());
  EXPECT_FALSE(OpenSslHmacKey::Create(SecretBytes()).ok());
}

TEST(PrfTest, RejectsBadOutputLength) {
  const SecretBytes key = SecretBytes::CopyFrom(Seq(16));
  EXPECT_EQ(PrfDerive(PrfFunc::kMikey1, key, kLabel, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PrfDerive(PrfFunc::kMikey1, key, kLabel, kMaxPrfOutputSize + 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(PrfDerive(PrfFunc::kMikey1, key, kLabel, kMaxPrfOutputSize).ok());
}

TEST(PrfTest, RejectsMalformedBlockLists) {
  CountingKey short_first(Seq(16));
  CountingKey full(Seq(32));
  CountingKey too_big(Seq(33));
  CountingKey empty_key(std::vector<uint8_t>{});
  std::vector<uint8_t> out(16, 0xAA);
  {
    const KeyOps* v[] = {&short_first, &full};  // only the last block may be short
    EXPECT_EQ(Prf(PrfFunc::kMikey1, v, kLabel, out).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(out, std::vector<uint8_t>(16, 0));  // scrubbed on failure
  }
  {
    const KeyOps* v[] = {&too_big};
    EXPECT_EQ(Prf(PrfFunc::kMikey1, v, kLabel, out).code(), StatusCode::kInvalidArgument);
  }
  {
    const KeyOps* v[] = {&full, &empty_key};
    EXPECT_EQ(Prf(PrfFunc::kMikey1, v, kLabel, out).code(), StatusCode::kInvalidArgument);
  }
  {
    const KeyOps* v[] = {&full, nullptr};
    EXPECT_EQ(Prf(PrfFunc::kMikey1, v, kLabel, out).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(short_first.calls() + full.calls() + too_big.calls(), 0);
}

TEST(PrfTest, KeyOpsFailureIsPassedThroughAndOutputScrubbed) {
  CountingKey a(Seq(32));
  CountingKey b(Seq(8));
  b.FailAt(2);
  const KeyOps* v[] = {&a, &b};
  std::vector<uint8_t> out(16, 0xAA);
  const Status s = Prf(PrfFunc::kMikey1, v, kLabel, out);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(out, std::vector<uint8_t>(16, 0));
}

TEST(PrfTest, OpenSslHmacKeyChecksOutputSize) {
  auto k = OpenSslHmacKey::Create(SecretBytes::CopyFrom(Seq(20)));
  ASSERT_TRUE(k.ok());
  std::vector<uint8_t> out(32);
  EXPECT_EQ((*k)->Hmac(HmacAlg::kSha1, kLabel, out).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*k)->Hmac(HmacAlg::kSha256, kLabel, out).ok());
  EXPECT_EQ(Hex(out), Hex(RefHmac(PrfFunc::kHmacSha256, Seq(20), kLabel)));
}

}  // namespace
}  // namespace kms::crypto
