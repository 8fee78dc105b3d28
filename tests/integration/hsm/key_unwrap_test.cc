// The KEK's CKA_UNWRAP_TEMPLATE in a real SoftHSM2 token (evaluator-checklist.md §1
// "CKA_UNWRAP_TEMPLATE", "one purpose per key"): what it forces on unwrapped credentials.
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/attr_template.h"
#include "hsm/key_templates.h"
#include "hsm/token_key_vault.h"
#include "tests/integration/hsm/key_test_fixture.h"

namespace kms::hsm {
namespace {

using testing::KeyTest;

// SetInPlace: overwrites the value of the one `type` attribute already in t (same length),
// so a case differs from the base template in exactly that attribute (AttrTemplate only
// appends, and a template with the type twice would test the token's tie-breaking instead).
template <typename V>
void SetInPlace(AttrTemplate& t, CK_ATTRIBUTE_TYPE type, const V& value) {
  for (CK_ULONG i = 0; i < t.size(); ++i) {
    CK_ATTRIBUTE& a = t.data()[i];
    if (a.type == type) {
      ASSERT_EQ(a.ulValueLen, sizeof(V));
      std::memcpy(a.pValue, &value, sizeof(V));
      return;
    }
  }
  FAIL() << "attribute " << type << " not in the base template";
}

// UnwrapUnderKek: C_UnwrapKey of blob under kek with template t (RFC 5649 KWP, the KEK's
// one mechanism); a key it makes is destroyed at once. Returns the token's answer.
CK_RV UnwrapUnderKek(SessionLease& lease, CK_OBJECT_HANDLE kek, std::vector<uint8_t>& blob,
                     AttrTemplate& t) {
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  const CK_RV rv = lease.fn()->C_UnwrapKey(lease.handle(), &kwp, kek, blob.data(),
                                           checked_ulong_cast(blob.size()), t.data(), t.size(), &h);
  if (rv == CKR_OK) {
    lease.fn()->C_DestroyObject(lease.handle(), h);
  }
  return rv;
}

// Gap 7 / checklist §1: CKA_UNWRAP_TEMPLATE on the KEK forces each of its attributes on
// every unwrapped key (PKCS#11 v2.40 §4.8: a caller template that contradicts it fails with
// CKR_TEMPLATE_INCONSISTENT). Each case starts from kmsd's own template, which unwraps (the
// control), and changes exactly one forced attribute, so the refusal can only come from
// that attribute being forced.
TEST_F(KeyTest, KekUnwrapTemplateRefusesWeakerKeys) {
  TokenKeyVault vault(*token_);
  Result<ports::WrappedCredential> blob = vault.GenerateCredential("btid-u", 32);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_OBJECT_HANDLE kek = token_->LongTermKey(KeyKind::kKek, 1)->handle;
  auto unwrap = [&](AttrTemplate& t) { return UnwrapUnderKek(*lease, kek, blob->blob, t); };
  auto base = [] { return CredentialTemplate(CredentialObject::kSessionInUse, "", 0, {}); };
  {
    AttrTemplate control = base();
    ASSERT_EQ(unwrap(control), CKR_OK);
  }
  // One forced boolean flipped at a time: session -> token, sensitive -> not, wrap with
  // trusted -> any wrapping key, and each second purpose switched on.
  for (auto [type, value] :
       {std::pair{CKA_TOKEN, CK_TRUE}, std::pair{CKA_SENSITIVE, CK_FALSE},
        std::pair{CKA_WRAP_WITH_TRUSTED, CK_FALSE}, std::pair{CKA_ENCRYPT, CK_TRUE},
        std::pair{CKA_DECRYPT, CK_TRUE}, std::pair{CKA_WRAP, CK_TRUE},
        std::pair{CKA_UNWRAP, CK_TRUE}, std::pair{CKA_DERIVE, CK_TRUE}}) {
    SCOPED_TRACE(type);
    AttrTemplate t = base();
    SetInPlace(t, type, static_cast<CK_BBOOL>(value));
    EXPECT_EQ(unwrap(t), CKR_TEMPLATE_INCONSISTENT);
  }
  {
    SCOPED_TRACE("CKA_KEY_TYPE CKK_AES");
    AttrTemplate t = base();
    SetInPlace(t, CKA_KEY_TYPE, CK_KEY_TYPE{CKK_AES});
    EXPECT_EQ(unwrap(t), CKR_TEMPLATE_INCONSISTENT);
  }
  {
    SCOPED_TRACE("CKA_ALLOWED_MECHANISMS with SHA-512 HMAC");
    AttrTemplate t = base();
    const std::array<CK_MECHANISM_TYPE, 2> other = {CKM_SHA_1_HMAC, CKM_SHA512_HMAC};
    SetInPlace(t, CKA_ALLOWED_MECHANISMS, other);
    EXPECT_EQ(unwrap(t), CKR_TEMPLATE_INCONSISTENT);
  }
  // CKA_EXTRACTABLE is deliberately not forced (hsm/key_templates.cc UnwrapTemplate: the
  // KEK re-wrap needs an extractable copy; docs/security-target.md "Known limits"): the
  // unwrap succeeds, and the copy is still wrap-with-trusted, so no key the user role can
  // make wraps it (credential_test.cc, rewrap_test.cc).
  {
    AttrTemplate t = base();
    SetInPlace(t, CKA_EXTRACTABLE, CK_BBOOL{CK_TRUE});
    EXPECT_EQ(unwrap(t), CKR_OK);
  }
}

// The KEK's unwrap template also forces a credential's shape (checklist §1: one purpose per
// key): with the user PIN, a stored PSK cannot be unwrapped as a deriving HMAC key or as an
// AES encryption key, even by a template that gives everything the template forced before.
TEST_F(KeyTest, KekUnwrapTemplateForcesTheCredentialShape) {
  TokenKeyVault vault(*token_);
  Result<ports::WrappedCredential> blob = vault.GenerateCredential("btid-shape", 32);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_OBJECT_HANDLE kek = token_->LongTermKey(KeyKind::kKek, 1)->handle;
  auto unwrap = [&](AttrTemplate& t) { return UnwrapUnderKek(*lease, kek, blob->blob, t); };
  for (auto [type, usage] : {std::pair{CKK_GENERIC_SECRET, CKA_DERIVE},
                             std::pair{CKK_AES, CKA_ENCRYPT}, std::pair{CKK_AES, CKA_DECRYPT}}) {
    SCOPED_TRACE(usage);
    AttrTemplate t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, type);
    t.Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, true).Bool(CKA_WRAP_WITH_TRUSTED, true);
    t.Bool(CKA_EXTRACTABLE, false).Bool(CKA_SIGN, type == CKK_GENERIC_SECRET).Bool(usage, true);
    EXPECT_EQ(unwrap(t), CKR_TEMPLATE_INCONSISTENT);
  }
  // kmsd's own template still unwraps, and so does the re-wrap's first step.
  for (CredentialObject kind :
       {CredentialObject::kSessionInUse, CredentialObject::kSessionToRewrap}) {
    AttrTemplate t = CredentialTemplate(kind, "", 0, {});
    EXPECT_EQ(unwrap(t), CKR_OK);
  }
}

}  // namespace
}  // namespace kms::hsm
