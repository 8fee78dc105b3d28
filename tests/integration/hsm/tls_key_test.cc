// The kmsd TLS key held in the token (issue 7 item 1): found through a PKCS#11 URI, signs
// digests inside the token (CKM_ECDSA), and the signatures verify with the public key.
// Refusals: URIs naming no object, another token, another type; a missing or non-EC key.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <array>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/attr_template.h"
#include "hsm/tls_key.h"
#include "tests/integration/hsm/softhsm_fixture.h"

namespace kms::hsm {
namespace {

using testing::SoftHsmTest;

constexpr std::array<uint8_t, 10> kP256Oid = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                              0xce, 0x3d, 0x03, 0x01, 0x07};

class TlsKeyTest : public SoftHsmTest<> {
 protected:
  TlsKeyTest() : SoftHsmTest("kms-tls-test") {}
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(OpenToken()); }

  // GenerateEcKey: a P-256 key pair as token objects (private: sensitive, not extractable);
  // returns the public point (CKA_EC_POINT, a DER OCTET STRING).
  // always_authenticate: CKA_ALWAYS_AUTHENTICATE (a context-specific login per signature).
  std::vector<uint8_t> GenerateEcKey(const std::string& label, bool always_authenticate = false) {
    Result<SessionLease> lease = token_->Acquire();
    EXPECT_TRUE(lease.ok());
    CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    AttrTemplate pub;
    pub.Bytes(CKA_EC_PARAMS, kP256Oid).Bool(CKA_TOKEN, true).Bool(CKA_VERIFY, true)
        .String(CKA_LABEL, label);
    AttrTemplate priv;
    priv.Bool(CKA_TOKEN, true)
        .Bool(CKA_PRIVATE, true)
        .Bool(CKA_SENSITIVE, true)
        .Bool(CKA_EXTRACTABLE, false)
        .Bool(CKA_SIGN, true)
        .String(CKA_LABEL, label)
        .String(CKA_ID, "tls-id")
        .Bool(CKA_ALWAYS_AUTHENTICATE, always_authenticate);
    CK_OBJECT_HANDLE hpub = 0;
    CK_OBJECT_HANDLE hpriv = 0;
    EXPECT_EQ(lease->fn()->C_GenerateKeyPair(lease->handle(), &mech, pub.data(), pub.size(),
                                             priv.data(), priv.size(), &hpub, &hpriv),
              CKR_OK);
    std::vector<uint8_t> point(128);
    CK_ATTRIBUTE a{CKA_EC_POINT, point.data(), point.size()};
    EXPECT_EQ(lease->fn()->C_GetAttributeValue(lease->handle(), hpub, &a, 1), CKR_OK);
    point.resize(a.ulValueLen);
    return point;
  }

  void CreateAesKey(const std::string& label) {
    Result<SessionLease> lease = token_->Acquire();
    ASSERT_TRUE(lease.ok());
    CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
    AttrTemplate t;
    t.Ulong(CKA_VALUE_LEN, 32).Bool(CKA_TOKEN, true).Bool(CKA_SIGN, true)
        .String(CKA_LABEL, label);
    CK_OBJECT_HANDLE h = 0;
    ASSERT_EQ(lease->fn()->C_GenerateKey(lease->handle(), &mech, t.data(), t.size(), &h),
              CKR_OK);
  }

  // Verify: OpenSSL checks r||s over `digest` with the P-256 public point.
  static bool Verify(const std::vector<uint8_t>& ec_point_der, std::span<const uint8_t> digest,
                     const std::vector<uint8_t>& rs) {
    // CKA_EC_POINT is DER OCTET STRING { 04 || X || Y } (PKCS#11 v2.40 §2.3.3).
    if (ec_point_der.size() != 67 || ec_point_der[0] != 0x04 || ec_point_der[1] != 65) {
      return false;
    }
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, ec_point_der.data() + 2, 65);
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* fctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    EVP_PKEY* pkey = nullptr;
    EVP_PKEY_fromdata_init(fctx);
    EVP_PKEY_fromdata(fctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    ECDSA_SIG* sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(rs.data(), 32, nullptr), BN_bin2bn(rs.data() + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(sig, &der);
    EVP_PKEY_CTX* vctx = EVP_PKEY_CTX_new(pkey, nullptr);
    bool ok = pkey != nullptr && EVP_PKEY_verify_init(vctx) == 1 &&
              EVP_PKEY_verify(vctx, der, static_cast<size_t>(der_len), digest.data(),
                              digest.size()) == 1;
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EVP_PKEY_CTX_free(vctx);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(fctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return ok;
  }
};

TEST_F(TlsKeyTest, SignsInsideTheTokenAndVerifiesWithThePublicKey) {
  const std::vector<uint8_t> point = GenerateEcKey("kmsd-tls");
  Result<std::unique_ptr<TokenTlsKey>> key =
      TokenTlsKey::Open(*token_, "pkcs11:token=kms-tls-test;object=kmsd-tls;type=private");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ((*key)->curve_bits(), 256u);
  std::array<uint8_t, 32> digest{};
  digest.fill(0x5a);
  Result<std::vector<uint8_t>> sig = (*key)->SignDigest(digest);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  ASSERT_EQ(sig->size(), 64u);
  EXPECT_TRUE(Verify(point, digest, *sig));
  digest[0] ^= 1;  // a signature is bound to its digest
  EXPECT_FALSE(Verify(point, digest, *sig));
}

TEST_F(TlsKeyTest, FindsTheKeyByIdAlone) {
  const std::vector<uint8_t> point = GenerateEcKey("some-label");
  Result<std::unique_ptr<TokenTlsKey>> key = TokenTlsKey::Open(*token_, "pkcs11:id=tls-id");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  std::array<uint8_t, 32> digest{};
  Result<std::vector<uint8_t>> sig = (*key)->SignDigest(digest);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(Verify(point, digest, *sig));
}

TEST_F(TlsKeyTest, KeepsSigningAfterATokenReconnect) {
  const std::vector<uint8_t> point = GenerateEcKey("kmsd-tls");
  Result<std::unique_ptr<TokenTlsKey>> key = TokenTlsKey::Open(*token_, "pkcs11:object=kmsd-tls");
  ASSERT_TRUE(key.ok());
  const uint64_t before = token_->generation();
  token_->MarkLost();
  ASSERT_TRUE(token_->EnsureConnected().ok());
  ASSERT_GT(token_->generation(), before);
  std::array<uint8_t, 32> digest{};
  Result<std::vector<uint8_t>> sig = (*key)->SignDigest(digest);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(Verify(point, digest, *sig));
}

// Another library's C_Logout logs kmsd out too (PKCS#11 v2.40 §5.6) and SoftHSM2 forgets the
// cached key handle: at most one failed signature (kUnavailable, the token marked lost), then
// the key is found again under the new login.
TEST_F(TlsKeyTest, KeepsSigningAfterAForeignLogout) {
  const std::vector<uint8_t> point = GenerateEcKey("kmsd-tls");
  Result<std::unique_ptr<TokenTlsKey>> key = TokenTlsKey::Open(*token_, "pkcs11:object=kmsd-tls");
  ASSERT_TRUE(key.ok());
  std::array<uint8_t, 32> digest{};
  ASSERT_TRUE((*key)->SignDigest(digest).ok());
  ASSERT_NO_FATAL_FAILURE(testing::ForeignLogout(*module_, *token_));
  Result<std::vector<uint8_t>> sig = (*key)->SignDigest(digest);
  if (!sig.ok()) {
    EXPECT_EQ(sig.status().code(), StatusCode::kUnavailable) << sig.status().ToString();
    sig = (*key)->SignDigest(digest);
  }
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(Verify(point, digest, *sig));
}

TEST_F(TlsKeyTest, RefusesUrisThatDoNotNameOneEcSigningKeyInThisToken) {
  GenerateEcKey("kmsd-tls");
  GenerateEcKey("twice");
  GenerateEcKey("twice");
  CreateAesKey("aes-key");
  auto code = [&](const std::string& uri) { return TokenTlsKey::Open(*token_, uri).status().code(); };
  EXPECT_EQ(code("pkcs11:token=kms-tls-test"), StatusCode::kInvalidArgument);  // no object/id
  EXPECT_EQ(code("pkcs11:token=other;object=kmsd-tls"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("pkcs11:object=kmsd-tls;type=secret-key"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("pkcs11:object=kmsd-tls;type=bogus"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("pkcs11:object=no-such-key"), StatusCode::kNotFound);
  EXPECT_EQ(code("pkcs11:object=twice"), StatusCode::kNotFound);   // ambiguous
  EXPECT_EQ(code("pkcs11:object=aes-key"), StatusCode::kNotFound);  // not a private key
  EXPECT_EQ(code("not-a-uri"), StatusCode::kInvalidArgument);
}

// A key needing a login per signature would make every handshake's C_Sign fail with
// CKR_USER_NOT_LOGGED_IN, which drops the whole token: refused at Open, the token untouched.
TEST_F(TlsKeyTest, RefusesAKeyThatAlwaysAuthenticates) {
  GenerateEcKey("per-use-pin", /*always_authenticate=*/true);
  const uint64_t generation = token_->generation();
  Result<std::unique_ptr<TokenTlsKey>> key =
      TokenTlsKey::Open(*token_, "pkcs11:object=per-use-pin");
  ASSERT_EQ(key.status().code(), StatusCode::kInvalidArgument) << key.status().ToString();
  EXPECT_NE(key.status().message().find("CKA_ALWAYS_AUTHENTICATE"), std::string::npos);
  EXPECT_TRUE(token_->connected());
  EXPECT_EQ(token_->generation(), generation);
}

}  // namespace
}  // namespace kms::hsm
