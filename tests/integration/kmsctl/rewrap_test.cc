// KEK rotation re-wraps stored credentials inside the token (docs/security-target.md "KEK
// rotation", hsm/kek_rewrap.h). These tests pin down the token behaviour the design rests
// on (what the user role alone can and cannot do), so that a SoftHSM2 upgrade that changes
// it fails here, and test the re-wrap itself.
#include "gtest/gtest.h"
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "hsm/attr_template.h"
#include "hsm/kek_rewrap.h"
#include "hsm/key_manager.h"
#include "hsm/token_key_vault.h"
#include "src/base/encoding.h"
#include "tests/integration/hsm/softhsm_fixture.h"
#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kms::hsm {
namespace {

class RewrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    module_ = testing::SoftHsmToken::OpenModule();
    ASSERT_NE(module_, nullptr);
    auto t = Token::Open(*module_, softhsm_.Config());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    token_ = std::move(t).value();
    ASSERT_TRUE(KeyManager(*token_).CreateKek(1).ok());
  }
  void TearDown() override {
    token_.reset();
    module_.reset();
  }
  // AesWrapKey: a session AES key with CKA_WRAP, optionally asking for CKA_TRUSTED.
  CK_RV AesWrapKey(SessionLease& l, bool trusted, CK_OBJECT_HANDLE* out) {
    AttrTemplate t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Ulong(CKA_VALUE_LEN, 32);
    t.Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false);
    t.Bool(CKA_WRAP, true).Bool(CKA_UNWRAP, true);
    if (trusted) t.Bool(CKA_TRUSTED, true);
    CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
    return l.fn()->C_GenerateKey(l.handle(), &gen, t.data(), t.size(), out);
  }

  testing::SoftHsmToken softhsm_{"kms-rewrap-test"};
  std::unique_ptr<P11Module> module_;
  std::unique_ptr<Token> token_;
};

// PKCS#11 v2.40 §4.4: CKA_TRUSTED can only be set to TRUE by the SO. SoftHSM2 enforces it
// at generation and at C_SetAttributeValue, so the user role can make no trusted KEK.
TEST_F(RewrapTest, UserCannotMakeATrustedWrappingKey) {
  auto lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  EXPECT_EQ(AesWrapKey(*lease, /*trusted=*/true, &h), CKR_ATTRIBUTE_READ_ONLY);
  ASSERT_EQ(AesWrapKey(*lease, /*trusted=*/false, &h), CKR_OK);
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE set{CKA_TRUSTED, &yes, sizeof(yes)};
  EXPECT_EQ(lease->fn()->C_SetAttributeValue(lease->handle(), h, &set, 1),
            CKR_ATTRIBUTE_READ_ONLY);
  lease->fn()->C_DestroyObject(lease->handle(), h);
}

// PKCS#11 v2.40 §4.7: a key with CKA_WRAP_WITH_TRUSTED can only be wrapped by a trusted key,
// and the attribute cannot be reset: with no trusted key, such a copy can never be re-wrapped.
TEST_F(RewrapTest, WrapWithTrustedKeyCannotBeWrappedByAnUntrustedKek) {
  auto lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE, sec = CK_INVALID_HANDLE;
  ASSERT_EQ(AesWrapKey(*lease, false, &kek), CKR_OK);
  AttrTemplate t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  t.Ulong(CKA_VALUE_LEN, 32).Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, true);
  t.Bool(CKA_EXTRACTABLE, true).Bool(CKA_WRAP_WITH_TRUSTED, true).Bool(CKA_SIGN, true);
  CK_MECHANISM gen{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  ASSERT_EQ(lease->fn()->C_GenerateKey(lease->handle(), &gen, t.data(), t.size(), &sec), CKR_OK);
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  uint8_t buf[128];
  CK_ULONG len = sizeof(buf);
  EXPECT_EQ(lease->fn()->C_WrapKey(lease->handle(), &kwp, kek, sec, buf, &len),
            CKR_KEY_NOT_WRAPPABLE);
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE clear{CKA_WRAP_WITH_TRUSTED, &no, sizeof(no)};
  EXPECT_NE(lease->fn()->C_SetAttributeValue(lease->handle(), sec, &clear, 1), CKR_OK);
  lease->fn()->C_DestroyObject(lease->handle(), sec);
  lease->fn()->C_DestroyObject(lease->handle(), kek);
}

// The KEK forces CKA_WRAP_WITH_TRUSTED on every copy it unwraps (hsm/key_templates.cc): with
// the user PIN alone, an attacker can neither unwrap a copy without it nor wrap a copy under
// a key of known value (the Clulow wrap-and-decrypt extraction).
TEST_F(RewrapTest, UserPinAloneCannotExtractAStoredCredential) {
  TokenKeyVault vault(*token_);
  auto blob = vault.GenerateCredential("btid-x", 32);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  auto lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_OBJECT_HANDLE kek = token_->LongTermKey(KeyKind::kKek, 1)->handle;
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  auto unwrap = [&](bool extractable, std::optional<bool> wwt, CK_OBJECT_HANDLE* h) {
    AttrTemplate t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    t.Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, extractable);
    t.Bool(CKA_SIGN, true).Bool(CKA_VERIFY, false).Bool(CKA_ENCRYPT, false);
    t.Bool(CKA_DECRYPT, false).Bool(CKA_WRAP, false).Bool(CKA_UNWRAP, false);
    t.Bool(CKA_DERIVE, false);  // the shape the KEK's unwrap template forces
    const CK_MECHANISM_TYPE hmac[] = {CKM_SHA_1_HMAC, CKM_SHA256_HMAC};
    t.Mechanisms(CKA_ALLOWED_MECHANISMS, hmac);
    if (wwt) t.Bool(CKA_WRAP_WITH_TRUSTED, *wwt);
    return lease->fn()->C_UnwrapKey(lease->handle(), &kwp, kek, blob->blob.data(),
                                    static_cast<CK_ULONG>(blob->blob.size()), t.data(), t.size(),
                                    h);
  };
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  EXPECT_EQ(unwrap(true, false, &h), CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(unwrap(true, std::nullopt, &h), CKR_TEMPLATE_INCONSISTENT);
  ASSERT_EQ(unwrap(true, true, &h), CKR_OK);
  // A wrapping key of the attacker's choosing (here: known value) cannot wrap the copy.
  AttrTemplate own;
  std::vector<uint8_t> known(32, 0x5A);
  own.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Bool(CKA_TOKEN, false);
  own.Bool(CKA_WRAP, true).Bytes(CKA_VALUE, known);
  CK_OBJECT_HANDLE mine = CK_INVALID_HANDLE;
  ASSERT_EQ(lease->fn()->C_CreateObject(lease->handle(), own.data(), own.size(), &mine), CKR_OK);
  uint8_t buf[128];
  CK_ULONG len = sizeof(buf);
  EXPECT_EQ(lease->fn()->C_WrapKey(lease->handle(), &kwp, mine, h, buf, &len),
            CKR_KEY_NOT_WRAPPABLE);
  len = sizeof(buf);
  EXPECT_EQ(lease->fn()->C_WrapKey(lease->handle(), &kwp, kek, h, buf, &len),
            CKR_KEY_NOT_WRAPPABLE);
  uint8_t value[64];
  CK_ATTRIBUTE va{CKA_VALUE, value, sizeof(value)};
  EXPECT_EQ(lease->fn()->C_GetAttributeValue(lease->handle(), h, &va, 1), CKR_ATTRIBUTE_SENSITIVE);
  lease->fn()->C_DestroyObject(lease->handle(), h);
  lease->fn()->C_DestroyObject(lease->handle(), mine);
}

// The re-wrap through the SO's transient trusted key (hsm/kek_rewrap.h).
class TrustedRewrapTest : public RewrapTest {
 protected:
  // Reconnect: closes the token (its last session closes: logged out); Reopen logs in again.
  void Reconnect() {
    token_.reset();
  }
  void Reopen() {
    auto t = Token::Open(*module_, softhsm_.Config());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    token_ = std::move(t).value();
  }
  static SecretBytes Pin(const char* pin) {
    return SecretBytes::CopyFrom(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(pin), std::strlen(pin)));
  }
  // Mac: HMAC-SHA-256("rewrap") with the stored credential, inside the token.
  std::vector<uint8_t> Mac(const ports::WrappedCredential& w) {
    TokenKeyVault vault(*token_);
    auto ref = vault.OpenCredential(w);
    EXPECT_TRUE(ref.ok()) << ref.status().ToString();
    if (!ref.ok()) return {};
    std::vector<uint8_t> mac(32);
    const std::string data = "rewrap";
    EXPECT_TRUE(vault.Hmac(*ref, crypto::HmacAlg::kSha256, AsBytes(data), mac).ok());
    return mac;
  }
};

TEST_F(TrustedRewrapTest, MovesACredentialToTheNewKekInsideTheToken) {
  auto v1 = TokenKeyVault(*token_).GenerateCredential("btid-r", 32);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  ASSERT_EQ(v1->kek_version, 1u);
  const std::vector<uint8_t> before = Mac(*v1);
  ASSERT_TRUE(KeyManager(*token_).CreateKek(2).ok());
  Reconnect();
  auto key = RewrapKey::Create(*module_, softhsm_.Config().token_uri, Pin(testing::kSoPin));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  Reopen();
  auto v2 = (*key)->Rewrap(*token_, *v1, 2);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->kek_version, 2u);
  EXPECT_EQ(v2->credential_id, "btid-r");
  EXPECT_NE(v2->blob, v1->blob);
  EXPECT_EQ(Mac(*v2), before);  // the same key, now under KEK v2
  // The new blob is bound to v2: presented as a v1 blob it does not unwrap.
  ports::WrappedCredential mislabelled = *v2;
  mislabelled.kek_version = 1;
  EXPECT_FALSE(TokenKeyVault(*token_).OpenCredential(mislabelled).ok());
  // Once the re-wrap key is gone, its handle names nothing (it was a session object).
  const CK_OBJECT_HANDLE t = (*key)->handle_for_testing();
  key->reset();
  auto lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_BBOOL trusted = CK_FALSE;
  CK_ATTRIBUTE a{CKA_TRUSTED, &trusted, 1};
  EXPECT_EQ(lease->fn()->C_GetAttributeValue(lease->handle(), t, &a, 1),
            CKR_OBJECT_HANDLE_INVALID);
}

TEST_F(TrustedRewrapTest, WrongSoPinAndLateSoStepAreRefused) {
  // The user is logged in (SetUp): the SO step must come first.
  auto late = RewrapKey::Create(*module_, softhsm_.Config().token_uri, Pin(testing::kSoPin));
  EXPECT_EQ(late.status().code(), StatusCode::kFailedPrecondition) << late.status().ToString();
  Reconnect();
  auto wrong = RewrapKey::Create(*module_, softhsm_.Config().token_uri, Pin("not-the-so-pin"));
  EXPECT_EQ(wrong.status().code(), StatusCode::kPermissionDenied) << wrong.status().ToString();
  Reopen();
}

// A KEK made with the earlier template (unwrap template forcing non-extractable copies)
// cannot release a copy for re-wrapping: reported, not half done.
TEST_F(TrustedRewrapTest, KekWithTheEarlierTemplateIsReported) {
  ASSERT_EQ(kmsctl::testing::GenerateLegacyKek(*token_, 2), CKR_OK);
  Reconnect();
  Reopen();  // indexes the hand-made v2
  auto legacy = TokenKeyVault(*token_).GenerateCredential("btid-old", 32);
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  ASSERT_EQ(legacy->kek_version, 2u);
  EXPECT_EQ(Mac(*legacy).size(), 32u);  // kmsd's template still works with such a KEK
  ASSERT_TRUE(KeyManager(*token_).CreateKek(3).ok());
  Reconnect();
  auto key = RewrapKey::Create(*module_, softhsm_.Config().token_uri, Pin(testing::kSoPin));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  Reopen();
  auto r = (*key)->Rewrap(*token_, *legacy, 3);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("re-provision credential btid-old"), std::string::npos);
  key->reset();
}

}  // namespace
}  // namespace kms::hsm
