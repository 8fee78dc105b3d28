// Key-derivation helpers: lengths per algorithm, refusals with MIKEY error details, token
// round-trip counts, and that each derivation equals PRF(inkey, its label).
#include "src/crypto/key_derivation.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

#include "src/crypto/openssl_key_ops.h"
#include "tests/unit/crypto/test_util.h"

namespace kms::crypto {
namespace {

using test::Hex;

std::vector<uint8_t> Seq(size_t n, uint8_t start) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<uint8_t>(start + 3 * i);
  }
  return v;
}

// CountingOps: forwards to an OpenSslHmacKey and counts calls (one token round-trip each).
class CountingOps final : public KeyOps {
 public:
  explicit CountingOps(std::vector<uint8_t> key)
      : inner_(std::move(OpenSslHmacKey::Create(SecretBytes::CopyFrom(key))).value()) {}
  Status Hmac(HmacAlg alg, std::span<const uint8_t> data, std::span<uint8_t> out) const override {
    ++calls_;
    return inner_->Hmac(alg, data, out);
  }
  size_t key_size() const override { return inner_->key_size(); }
  int calls() const { return calls_; }

 private:
  std::unique_ptr<OpenSslHmacKey> inner_;
  mutable int calls_ = 0;
};

template <size_t N>
constexpr std::array<uint8_t, N> SeqArray(uint8_t start) {
  std::array<uint8_t, N> a{};
  for (size_t i = 0; i < N; ++i) {
    a[i] = static_cast<uint8_t>(start + 3 * i);
  }
  return a;
}
constexpr std::array<uint8_t, 32> kRi = SeqArray<32>(1);
constexpr std::array<uint8_t, 16> kRr = SeqArray<16>(9);

TEST(KeyDerivationTest, MessageKeysAes128Sha1AreThePrfOfTheirLabels) {
  const SecretBytes psk = SecretBytes::CopyFrom(Seq(32, 5));
  auto in = SoftwareInKey::Create(psk);
  ASSERT_TRUE(in.ok());
  const MessageLabelInput li{0x01020304, MessageRole::kResponse, kRi, kRr};
  auto keys = DeriveMessageKeys(PrfFunc::kMikey1, in->blocks(), li, EncrAlgorithm::kAesCm128,
                                MacAlgorithm::kHmacSha1_160);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->encr_key.size(), 16U);
  EXPECT_EQ(keys->salt_key.size(), 14U);
  EXPECT_EQ(keys->auth_key.size(), 20U);
  for (auto [c, key] :
       {std::pair{kLabelEncr, &keys->encr_key}, std::pair{kLabelSalt, &keys->salt_key},
        std::pair{kLabelAuth, &keys->auth_key}}) {
    auto label = MessageKeyLabel(c, li.csb_id, li.role, kRi, kRr);
    ASSERT_TRUE(label.ok());
    auto ref = PrfDerive(PrfFunc::kMikey1, psk, *label, key->size());
    ASSERT_TRUE(ref.ok());
    EXPECT_TRUE(ref->ConstantTimeEqual(*key));
  }
  auto auth = DeriveMessageAuthKey(PrfFunc::kMikey1, in->blocks(), li, MacAlgorithm::kHmacSha1_160);
  ASSERT_TRUE(auth.ok());
  EXPECT_TRUE(auth->ConstantTimeEqual(keys->auth_key));
}

TEST(KeyDerivationTest, The256BitSuiteSizes) {
  auto in = SoftwareInKey::Create(SecretBytes::CopyFrom(Seq(32, 5)));
  ASSERT_TRUE(in.ok());
  auto keys =
      DeriveMessageKeys(PrfFunc::kHmacSha256, in->blocks(), {7, MessageRole::kInitial, kRi, {}},
                        EncrAlgorithm::kAesCm256, MacAlgorithm::kHmacSha256_256);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->encr_key.size(), 32U);
  EXPECT_EQ(keys->salt_key.size(), 14U);
  EXPECT_EQ(keys->auth_key.size(), 32U);
  auto tk = DeriveTicketKeys(PrfFunc::kHmacSha256, in->blocks(), kRr, EncrAlgorithm::kAesCm256,
                             MacAlgorithm::kHmacSha256_256);
  ASSERT_TRUE(tk.ok());
  EXPECT_EQ(tk->encr_key.size(), 32U);
  EXPECT_FALSE(tk->encr_key.ConstantTimeEqual(keys->encr_key));
}

TEST(KeyDerivationTest, TokenRoundTripsForAMessageKeySet) {
  CountingOps psk(Seq(32, 5));
  const KeyOps* blocks[] = {&psk};
  auto keys = DeriveMessageKeys(PrfFunc::kMikey1, blocks, {1, MessageRole::kInitial, kRi, {}},
                                EncrAlgorithm::kAesCm128, MacAlgorithm::kHmacSha1_160);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(psk.calls(), 6);
  CountingOps psk2(Seq(32, 5));
  const KeyOps* blocks2[] = {&psk2};
  ASSERT_TRUE(DeriveMessageAuthKey(PrfFunc::kMikey1, blocks2, {1, MessageRole::kInitial, kRi, {}},
                                   MacAlgorithm::kHmacSha1_160)
                  .ok());
  EXPECT_EQ(psk2.calls(), 2);
}

TEST(KeyDerivationTest, RefusesAesKwAndNullWithMikeyErrors) {
  auto in = SoftwareInKey::Create(SecretBytes::CopyFrom(Seq(16, 5)));
  ASSERT_TRUE(in.ok());
  const MessageLabelInput li{1, MessageRole::kInitial, kRi, {}};
  for (EncrAlgorithm e : {EncrAlgorithm::kAesKw128, EncrAlgorithm::kNull}) {
    auto k = DeriveMessageKeys(PrfFunc::kMikey1, in->blocks(), li, e, MacAlgorithm::kHmacSha1_160);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(k.status().detail(), std::optional<uint8_t>(kMikeyErrorInvalidEa));
    auto t = DeriveTicketKeys(PrfFunc::kMikey1, in->blocks(), kRr, e, MacAlgorithm::kHmacSha1_160);
    EXPECT_EQ(t.status().detail(), std::optional<uint8_t>(4));
  }
  auto k = DeriveMessageKeys(PrfFunc::kMikey1, in->blocks(), li, EncrAlgorithm::kAesCm128,
                             MacAlgorithm::kNull);
  EXPECT_EQ(k.status().detail(), std::optional<uint8_t>(kMikeyErrorInvalidMac));
  EXPECT_EQ(DeriveMessageAuthKey(PrfFunc::kMikey1, in->blocks(), li, MacAlgorithm::kNull)
                .status()
                .detail(),
            std::optional<uint8_t>(3));
  EXPECT_EQ(DeriveVrAuthKey(PrfFunc::kMikey1, in->blocks(), MacAlgorithm::kNull).status().detail(),
            std::optional<uint8_t>(3));
}

TEST(KeyDerivationTest, EmptyInkeyAndBadLabelInputsAreRefused) {
  const std::span<const KeyOps* const> none;
  EXPECT_FALSE(DeriveMpkPair(PrfFunc::kMikey1, none, kRr).ok());
  EXPECT_FALSE(ForkKey(PrfFunc::kMikey1, ForkedKey::kTgk, none, kRi, kRr).ok());
  EXPECT_FALSE(DeriveMessageAuthKey(PrfFunc::kMikey1, none, {1, MessageRole::kInitial, kRi, {}},
                                    MacAlgorithm::kHmacSha1_160)
                   .ok());
  auto in = SoftwareInKey::Create(SecretBytes::CopyFrom(Seq(16, 5)));
  ASSERT_TRUE(in.ok());
  const std::vector<uint8_t> too_long(256, 1);
  EXPECT_FALSE(DeriveMessageAuthKey(PrfFunc::kMikey1, in->blocks(),
                                    {1, MessageRole::kInitial, too_long, {}},
                                    MacAlgorithm::kHmacSha1_160)
                   .ok());
  EXPECT_FALSE(DeriveMpkPair(PrfFunc::kMikey1, in->blocks(), {}).ok());
  EXPECT_FALSE(ForkKey(PrfFunc::kMikey1, ForkedKey::kMpkr, in->blocks(), {}, kRr).ok());
  EXPECT_FALSE(DeriveTekFromTgk(PrfFunc::kMikey1, in->blocks(), 1, {}, {}, 16, 14).ok());
  EXPECT_FALSE(DeriveTekFromTgk(PrfFunc::kMikey1, in->blocks(), 1, kRi, {}, 0, 14).ok());
}

TEST(KeyDerivationTest, ForkedAndMpkKeysKeepTheInkeyLength) {
  for (size_t len : {16U, 32U, 48U}) {
    auto in = SoftwareInKey::Create(SecretBytes::CopyFrom(Seq(len, 2)));
    ASSERT_TRUE(in.ok());
    auto pair = DeriveMpkPair(PrfFunc::kHmacSha256, in->blocks(), kRr);
    ASSERT_TRUE(pair.ok());
    EXPECT_EQ(pair->mpki.size(), len);
    EXPECT_EQ(pair->mpkr.size(), len);
    EXPECT_FALSE(pair->mpki.ConstantTimeEqual(pair->mpkr));
    auto f1 = ForkKey(PrfFunc::kMikey1, ForkedKey::kMpkr, in->blocks(), kRi, kRr);
    auto f2 = ForkKey(PrfFunc::kMikey1, ForkedKey::kTgk, in->blocks(), kRi, kRr);
    ASSERT_TRUE(f1.ok());
    ASSERT_TRUE(f2.ok());
    EXPECT_EQ(f1->size(), len);
    EXPECT_FALSE(f1->ConstantTimeEqual(*f2));  // different constants
  }
}

TEST(KeyDerivationTest, TekAndSaltFromTgkUseTheirConstants) {
  const SecretBytes tgk = SecretBytes::CopyFrom(Seq(16, 4));
  auto in = SoftwareInKey::Create(tgk);
  ASSERT_TRUE(in.ok());
  auto keys = DeriveTekFromTgk(PrfFunc::kMikey1, in->blocks(), 3, kRi, {}, 32, 14);
  ASSERT_TRUE(keys.ok());
  auto lt = TgkDerivedLabel(0x2AD01C64, 3, kRi, {});
  auto ls = TgkDerivedLabel(0x39A2C14B, 3, kRi, {});
  ASSERT_TRUE(lt.ok());
  ASSERT_TRUE(ls.ok());
  auto rt = PrfDerive(PrfFunc::kMikey1, tgk, *lt, 32);
  auto rs = PrfDerive(PrfFunc::kMikey1, tgk, *ls, 14);
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ(Hex(keys->master_key), Hex(*rt));
  EXPECT_EQ(Hex(keys->master_salt), Hex(*rs));
}

}  // namespace
}  // namespace kms::crypto
