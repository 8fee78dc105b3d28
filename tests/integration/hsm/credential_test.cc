// User credentials in both storage modes (parameterized): HMAC in the token equals OpenSSL's
// HMAC over the same key; generated keys are consistent; the LRU destroys evicted handles.
#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/attr_template.h"
#include "hsm/key_labels.h"
#include "hsm/key_manager.h"
#include "hsm/key_templates.h"
#include "hsm/token_key_ops.h"
#include "hsm/token_key_vault.h"
#include "tests/integration/hsm/hsm_test_util.h"
#include "tests/integration/hsm/softhsm_fixture.h"

namespace kms::hsm {
namespace {

using testing::OpensslHmac;
using testing::SoftHsmTest;

const std::vector<uint8_t> kData = {'M', 'I', 'K', 'E', 'Y', 0, 1, 2, 3, 250};

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<uint8_t>(seed + 7 * i);
  }
  return v;
}

class CredentialTest : public SoftHsmTest<::testing::TestWithParam<CredentialStorage>> {
 protected:
  CredentialTest() : SoftHsmTest("kms-cred-test") {}
  void SetUp() override {
    TokenConfig config = softhsm_.Config();
    config.credential_storage = GetParam();
    config.credential_cache_size = 2;
    ASSERT_NO_FATAL_FAILURE(OpenToken(config));
    KeyManager km(*token_);
    ASSERT_TRUE(km.CreateKek(1).ok());
    vault_ = std::make_unique<TokenKeyVault>(*token_);
  }

  std::vector<uint8_t> Hmac(ports::KeyRef ref, crypto::HmacAlg alg) {
    std::vector<uint8_t> out(crypto::HmacSize(alg));
    Status s = vault_->Hmac(ref, alg, kData, out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  // Opened: generates credential `id` and opens it as kmsd does; *h is the key object kmsd
  // uses (kept alive by the credential cache).
  void Opened(const std::string& id, ports::KeyRef* ref, CK_OBJECT_HANDLE* h) {
    Result<ports::WrappedCredential> stored = vault_->GenerateCredential(id, 32);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    Result<ports::KeyRef> opened = vault_->OpenCredential(*stored);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto handle = vault_->credentials().Resolve(*opened);
    ASSERT_TRUE(handle.ok());
    *ref = *opened;
    *h = (*handle)->handle();
  }

  std::unique_ptr<TokenKeyVault> vault_;  // destroyed before the token (SoftHsmTest)
};

TEST_P(CredentialTest, ImportedKeyHmacEqualsOpenSsl) {
  std::vector<uint8_t> raw = Pattern(32, 0x11);
  Result<ports::WrappedCredential> stored =
      vault_->ImportCredential("btid-alice@ims.example", SecretBytes::CopyFrom(raw));
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  if (GetParam() == CredentialStorage::kWrapped) {
    EXPECT_EQ(stored->kek_version, 1u);
    EXPECT_EQ(stored->blob.size(), 40u);  // RFC 5649: 32 bytes + 8-byte integrity block
    EXPECT_EQ(std::search(stored->blob.begin(), stored->blob.end(), raw.begin(), raw.end()),
              stored->blob.end());
  } else {
    EXPECT_EQ(stored->kek_version, 0u);
    EXPECT_EQ(std::string(stored->blob.begin(), stored->blob.end()),
              "kms-cred-btid-alice@ims.example");
  }
  Result<ports::KeyRef> ref = vault_->OpenCredential(*stored);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_EQ(*vault_->KeySize(*ref), 32u);
  EXPECT_EQ(Hmac(*ref, crypto::HmacAlg::kSha256), OpensslHmac("SHA256", raw, kData));
  EXPECT_EQ(Hmac(*ref, crypto::HmacAlg::kSha1), OpensslHmac("SHA1", raw, kData));
  // The PRF adapter computes the same through KeyOps.
  Result<TokenKeyOps> ops = TokenKeyOps::Create(*vault_, *ref);
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(ops->key_size(), 32u);
  std::vector<uint8_t> out(32);
  ASSERT_TRUE(ops->Hmac(crypto::HmacAlg::kSha256, kData, out).ok());
  EXPECT_EQ(out, OpensslHmac("SHA256", raw, kData));
  // Opening again hits the cache: same reference.
  EXPECT_EQ(*vault_->OpenCredential(*stored), *ref);
}

TEST_P(CredentialTest, GeneratedKeyIsStableAcrossOpens) {
  Result<ports::WrappedCredential> stored = vault_->GenerateCredential("btid-bob", 32);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  Result<ports::KeyRef> ref = vault_->OpenCredential(*stored);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  std::vector<uint8_t> first = Hmac(*ref, crypto::HmacAlg::kSha256);
  // Evict it by opening two others (cache size 2), then reopen: same key, new reference.
  for (const char* id : {"btid-c1", "btid-c2"}) {
    Result<ports::WrappedCredential> other = vault_->GenerateCredential(id, 48);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE(vault_->OpenCredential(*other).ok());
  }
  EXPECT_EQ(vault_->credentials().cached(), 2u);
  std::vector<uint8_t> out(32);
  EXPECT_EQ(vault_->Hmac(*ref, crypto::HmacAlg::kSha256, kData, out).code(),
            StatusCode::kUnavailable);  // stale reference, never another key
  Result<ports::KeyRef> again = vault_->OpenCredential(*stored);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *ref);
  EXPECT_EQ(Hmac(*again, crypto::HmacAlg::kSha256), first);
}

TEST_P(CredentialTest, RejectsBadInput) {
  EXPECT_EQ(vault_->GenerateCredential("short", 16).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(vault_->GenerateCredential("bad id", 32).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(vault_->ImportCredential("x", SecretBytes(65)).status().code(),
            StatusCode::kInvalidArgument);
  ports::WrappedCredential wrong_form{"btid-x", GetParam() == CredentialStorage::kWrapped ? 0u : 1u,
                                      {1, 2, 3}};
  EXPECT_EQ(vault_->OpenCredential(wrong_form).status().code(), StatusCode::kInvalidArgument);
  if (GetParam() == CredentialStorage::kWrapped) {
    Result<ports::WrappedCredential> good = vault_->GenerateCredential("btid-y", 32);
    ASSERT_TRUE(good.ok());
    ports::WrappedCredential corrupt = *good;
    corrupt.blob[5] ^= 1;
    Status s = vault_->OpenCredential(corrupt).status();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("C_UnwrapKey"), std::string::npos) << s.ToString();
    ports::WrappedCredential unknown_kek = *good;
    unknown_kek.kek_version = 9;
    EXPECT_EQ(vault_->OpenCredential(unknown_kek).status().code(), StatusCode::kNotFound);
  } else {
    ports::WrappedCredential missing{"btid-none", 0,
                                     std::vector<uint8_t>({'k', 'm', 's', '-', 'c', 'r', 'e',
                                                           'd', '-', 'b', 't', 'i', 'd', '-',
                                                           'n', 'o', 'n', 'e'})};
    EXPECT_EQ(vault_->OpenCredential(missing).status().code(), StatusCode::kNotFound);
    ASSERT_TRUE(vault_->GenerateCredential("btid-z", 32).ok());
    EXPECT_EQ(vault_->GenerateCredential("btid-z", 32).status().code(),
              StatusCode::kAlreadyExists);
  }
}

// The key object behind an opened credential is sensitive and non-extractable, and in the
// default mode a session object (CKA_TOKEN false): no persistent per-user object.
TEST_P(CredentialTest, OpenedCredentialIsNotExtractable) {
  ports::KeyRef ref{};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  ASSERT_NO_FATAL_FAILURE(Opened("btid-d", &ref, &h));
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_BBOOL token = CK_TRUE, sensitive = CK_FALSE, extractable = CK_TRUE, wwt = CK_FALSE;
  CK_ATTRIBUTE a[4] = {{CKA_TOKEN, &token, 1}, {CKA_SENSITIVE, &sensitive, 1},
                       {CKA_EXTRACTABLE, &extractable, 1}, {CKA_WRAP_WITH_TRUSTED, &wwt, 1}};
  ASSERT_EQ(lease->fn()->C_GetAttributeValue(lease->handle(), h, a, 4), CKR_OK);
  EXPECT_EQ(token, GetParam() == CredentialStorage::kTokenObjects ? CK_TRUE : CK_FALSE);
  EXPECT_EQ(sensitive, CK_TRUE);
  EXPECT_EQ(extractable, CK_FALSE);
  // The KEK's unwrap template adds wrap-with-trusted to the copies it makes.
  EXPECT_EQ(wwt, GetParam() == CredentialStorage::kWrapped ? CK_TRUE : CK_FALSE);
  uint8_t value[64];
  CK_ATTRIBUTE va{CKA_VALUE, value, sizeof(value)};
  EXPECT_EQ(lease->fn()->C_GetAttributeValue(lease->handle(), h, &va, 1), CKR_ATTRIBUTE_SENSITIVE);
  CK_OBJECT_HANDLE kek = token_->LongTermKey(KeyKind::kKek, 1)->handle;
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  uint8_t wrapped[128];
  CK_ULONG wl = sizeof(wrapped);
  EXPECT_NE(lease->fn()->C_WrapKey(lease->handle(), &kwp, kek, h, wrapped, &wl), CKR_OK);
}

// Gap 6 on kmsd's PSK copies: every change an attacker with the user PIN in kmsd's process
// could try, with the exact answer. Token objects (kTokenObjects) are CKA_MODIFIABLE FALSE:
// SoftHSM2 refuses any C_SetAttributeValue with CKR_ACTION_PROHIBITED. The session copies
// unwrapped under the KEK (kWrapped, the default) keep the default CKA_MODIFIABLE TRUE:
// SoftHSM2 refuses CKA_MODIFIABLE in the unwrap template and in C_SetAttributeValue after
// it (CKR_ATTRIBUTE_READ_ONLY; PKCS#11 v2.40 §4.4 lets it be set only at creation), so
// SENSITIVE->FALSE, EXTRACTABLE->TRUE and CKA_ALLOWED_MECHANISMS are refused as
// read-only (v2.40 §4.10, §4.6), but the usage flags can be switched on. What keeps a copy
// to one purpose is then CKA_ALLOWED_MECHANISMS (HMAC only, read-only): the derive and
// encrypt mechanisms stay CKR_MECHANISM_INVALID. docs/security-target.md "Known limits".
TEST_P(CredentialTest, OpenedCredentialResistsAttributeChanges) {
  ports::KeyRef ref{};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  ASSERT_NO_FATAL_FAILURE(Opened("btid-m", &ref, &h));
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  const CK_FUNCTION_LIST* f = lease->fn();
  CK_SESSION_HANDLE s = lease->handle();
  const bool session_copy = GetParam() == CredentialStorage::kWrapped;
  const CK_RV read_only = session_copy ? CKR_ATTRIBUTE_READ_ONLY : CKR_ACTION_PROHIBITED;
  auto read = [&](CK_ATTRIBUTE_TYPE type) {
    CK_BBOOL b = 2;
    CK_ATTRIBUTE a{type, &b, 1};
    EXPECT_EQ(f->C_GetAttributeValue(s, h, &a, 1), CKR_OK);
    return b;
  };
  auto set = [&](CK_ATTRIBUTE_TYPE type, bool value) {
    AttrTemplate t;
    t.Bool(type, value);
    return f->C_SetAttributeValue(s, h, t.data(), t.size());
  };
  EXPECT_EQ(read(CKA_MODIFIABLE), session_copy ? CK_TRUE : CK_FALSE);
  EXPECT_EQ(read(CKA_PRIVATE), CK_TRUE);
  EXPECT_EQ(read(CKA_COPYABLE), CK_FALSE);
  EXPECT_EQ(set(CKA_SENSITIVE, false), read_only);
  EXPECT_EQ(read(CKA_SENSITIVE), CK_TRUE);
  EXPECT_EQ(set(CKA_EXTRACTABLE, true), read_only);
  EXPECT_EQ(read(CKA_EXTRACTABLE), CK_FALSE);
  EXPECT_EQ(set(CKA_MODIFIABLE, false), read_only);
  {
    AttrTemplate t;
    const CK_MECHANISM_TYPE wider[] = {CKM_SHA_1_HMAC, CKM_SHA256_HMAC,
                                       CKM_CONCATENATE_BASE_AND_DATA};
    t.Mechanisms(CKA_ALLOWED_MECHANISMS, wider);
    EXPECT_EQ(f->C_SetAttributeValue(s, h, t.data(), t.size()), read_only);
  }
  // A copy, relaxed or not: CKA_COPYABLE FALSE (v3.0 §5.7: CKR_ACTION_PROHIBITED).
  {
    AttrTemplate t;
    t.Bool(CKA_EXTRACTABLE, true);
    CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
    EXPECT_EQ(f->C_CopyObject(s, h, t.data(), t.size(), &copy), CKR_ACTION_PROHIBITED);
    EXPECT_EQ(copy, CK_INVALID_HANDLE);
  }
  // Item 9: HMAC-SHA-512 is outside CKA_ALLOWED_MECHANISMS.
  CK_MECHANISM sha512{CKM_SHA512_HMAC, nullptr, 0};
  EXPECT_EQ(f->C_SignInit(s, &sha512, h), CKR_MECHANISM_INVALID);
  // Second purposes. FINDING (session copies only): SoftHSM2 accepts them (CKR_OK).
  for (CK_ATTRIBUTE_TYPE type : {CKA_DERIVE, CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP}) {
    SCOPED_TRACE(type);
    EXPECT_EQ(set(type, true), session_copy ? CKR_OK : CKR_ACTION_PROHIBITED);
    EXPECT_EQ(read(type), session_copy ? CK_TRUE : CK_FALSE);
  }
  // With DERIVE on, derivation (which would make a key without CKA_WRAP_WITH_TRUSTED,
  // hsm/key_templates.cc ForceCredentialShape) is still outside the allowed mechanisms.
  CK_BYTE extra[3] = {1, 2, 3};
  CK_KEY_DERIVATION_STRING_DATA data{extra, sizeof(extra)};
  CK_MECHANISM concat{CKM_CONCATENATE_BASE_AND_DATA, &data, sizeof(data)};
  AttrTemplate dt;
  dt.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  dt.Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, false).Bool(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE derived = CK_INVALID_HANDLE;
  // SoftHSM2 checks the allowed mechanisms before CKA_DERIVE, so both modes give this.
  EXPECT_EQ(f->C_DeriveKey(s, &concat, h, dt.data(), dt.size(), &derived), CKR_MECHANISM_INVALID);
  EXPECT_EQ(derived, CK_INVALID_HANDLE);
  // The token's own HMAC still works after the failed attempts.
  EXPECT_EQ(Hmac(ref, crypto::HmacAlg::kSha256).size(), 32u);
}

INSTANTIATE_TEST_SUITE_P(Modes, CredentialTest,
                         ::testing::Values(CredentialStorage::kWrapped,
                                           CredentialStorage::kTokenObjects),
                         testing::StorageModeName);

// A known PSK wrapped by OpenSSL (EVP_aes_256_wrap_pad, an outside implementation of
// RFC 5649) under a known KEK: for these tests only, never how the product makes KEKs.
class WrappedImportTest : public SoftHsmTest<> {
 protected:
  WrappedImportTest() : SoftHsmTest("kms-kwp-test") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenToken());
    ASSERT_EQ(blob_.size(), 40u);
  }
  // KnownKek: a KEK object holding kek_ (C_CreateObject) with the extra attributes in t.
  CK_OBJECT_HANDLE KnownKek(SessionLease& lease, AttrTemplate& t) {
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CKK_AES)
        .Bool(CKA_SENSITIVE, true)
        .Bool(CKA_UNWRAP, true)
        .Bytes(CKA_VALUE, kek_);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_EQ(lease.fn()->C_CreateObject(lease.handle(), t.data(), t.size(), &h), CKR_OK);
    return h;
  }

  const std::vector<uint8_t> kek_ = Pattern(32, 0xA0);
  const std::vector<uint8_t> psk_ = Pattern(32, 0x42);
  const std::vector<uint8_t> blob_ = testing::OpensslWrapPad(kek_, psk_);
};

// Imported with our CKA_ID and a KEK label, the known KEK is still not a KEK of this layer:
// the index refuses it (not generated in the token, hsm/key_provenance.h), so a credential
// naming its version is not found instead of being unwrapped under a known key.
TEST_F(WrappedImportTest, ImportedKnownKekIsNotIndexed) {
  {
    Result<SessionLease> lease = token_->Acquire();
    ASSERT_TRUE(lease.ok());
    AttrTemplate t;
    t.Bool(CKA_TOKEN, true)
        .Bool(CKA_PRIVATE, true)
        .String(CKA_LABEL, "kms-kek-v7")
        .String(CKA_ID, kLongTermKeyId);
    KnownKek(*lease, t);
  }
  Result<std::unique_ptr<Token>> reopened = Token::Open(*module_, softhsm_.Config());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  TokenKeyVault vault(**reopened);
  EXPECT_EQ(vault.OpenCredential(ports::WrappedCredential{"btid-known", 7, blob_}).status().code(),
            StatusCode::kNotFound);
  ASSERT_EQ((*reopened)->RejectedKeyObjects().size(), 1u);
  EXPECT_EQ((*reopened)->RejectedKeyObjects()[0].label, "kms-kek-v7");
}

// The cross-check: under the known KEK (a session object, never indexed) the OpenSSL blob
// unwraps in the token, with the template kmsd uses, to a key whose HMAC equals OpenSSL's
// HMAC over the known PSK.
TEST_F(WrappedImportTest, OpenSslWrappedKeyUnwrapsInToken) {
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  const CK_FUNCTION_LIST* f = lease->fn();
  AttrTemplate t;
  t.Bool(CKA_TOKEN, false);
  CK_OBJECT_HANDLE kek = KnownKek(*lease, t);
  AttrTemplate u = CredentialTemplate(CredentialObject::kSessionInUse, "", 0, {});
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  std::vector<uint8_t> blob = blob_;
  ASSERT_EQ(f->C_UnwrapKey(lease->handle(), &kwp, kek, blob.data(), checked_ulong_cast(blob.size()),
                           u.data(), u.size(), &key),
            CKR_OK);
  for (auto [mech, name, len] :
       {std::tuple{CKM_SHA256_HMAC, "SHA256", 32}, std::tuple{CKM_SHA_1_HMAC, "SHA1", 20}}) {
    CK_MECHANISM m{mech, nullptr, 0};
    std::vector<uint8_t> out(static_cast<size_t>(len));
    CK_ULONG out_len = checked_ulong_cast(out.size());
    std::vector<uint8_t> data = kData;
    ASSERT_EQ(f->C_SignInit(lease->handle(), &m, key), CKR_OK);
    ASSERT_EQ(f->C_Sign(lease->handle(), data.data(), checked_ulong_cast(data.size()), out.data(),
                        &out_len),
              CKR_OK);
    EXPECT_EQ(out, OpensslHmac(name, psk_, kData));
  }
  f->C_DestroyObject(lease->handle(), key);
  f->C_DestroyObject(lease->handle(), kek);
}

}  // namespace
}  // namespace kms::hsm
