// Why KEK rotation does not re-wrap stored credentials on SoftHSM2 (docs/security-target.md
// "KEK rotation"): these tests pin down the token behaviour the design rests on, so that a
// SoftHSM2 upgrade that changes it fails here and the design is revisited.
#include "gtest/gtest.h"
#include "hsm/attr_template.h"
#include "hsm/key_manager.h"
#include "hsm/token_key_vault.h"
#include "tests/integration/hsm/softhsm_fixture.h"

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

// The stored credentials' KEK forces non-extractable copies (hsm/key_templates.cc), so the
// only copy the KEK produces cannot be wrapped by any key, the new KEK included.
TEST_F(RewrapTest, UnwrappedCredentialCannotBeRewrapped) {
  ASSERT_TRUE(KeyManager(*token_).CreateKek(2).ok());
  TokenKeyVault vault(*token_);
  // Wrapped under v2 (the newest); unwrap it with v2 and try to wrap the copy under v1.
  auto blob = vault.GenerateCredential("btid-r", 32);
  ASSERT_TRUE(blob.ok());
  ASSERT_EQ(blob->kek_version, 2u);
  auto ref = vault.OpenCredential(*blob);
  ASSERT_TRUE(ref.ok());
  auto handle = vault.credentials().Resolve(*ref);
  ASSERT_TRUE(handle.ok());
  auto lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  uint8_t buf[128];
  CK_ULONG len = sizeof(buf);
  EXPECT_NE(lease->fn()->C_WrapKey(lease->handle(), &kwp, token_->LongTermKey(KeyKind::kKek, 1)
                                                          ->handle,
                                   (*handle)->handle(), buf, &len),
            CKR_OK);
}

}  // namespace
}  // namespace kms::hsm
