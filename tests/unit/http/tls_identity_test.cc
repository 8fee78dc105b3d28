// TlsIdentity (src/http/tls_identity.h): PEM pairs and external ECDSA signers are accepted only
// when the key matches the certificate; malformed input is a clear kInvalidArgument.
#include "src/http/tls_identity.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace kms::http {
namespace {

struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
  std::shared_ptr<EVP_PKEY> key;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<size_t>(n));
  BIO_free(bio);
  return s;
}

// MakeSelfSigned: a P-256 key and a self-signed certificate for it, with OpenSSL.
KeyAndCert MakeSelfSigned(const char* cn) {
  KeyAndCert out;
  char curve[] = "P-256";  // EVP_EC_gen casts away const, which -Wcast-qual refuses
  out.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve), EVP_PKEY_free);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, out.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, out.key.get(), EVP_sha256());
  BIO* cb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, x);
  out.cert_pem = BioText(cb);
  BIO* kb = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(kb, out.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = BioText(kb);
  X509_free(x);
  return out;
}

// SignerFor: a TlsSigner backed by an OpenSSL key, standing in for the token.
TlsSigner SignerFor(std::shared_ptr<EVP_PKEY> key, int* calls) {
  return TlsSigner{256, [key, calls](std::span<const uint8_t> digest) -> Result<std::vector<uint8_t>> {
                     ++*calls;
                     EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key.get(), nullptr);
                     size_t len = 0;
                     EVP_PKEY_sign_init(ctx);
                     EVP_PKEY_sign(ctx, nullptr, &len, digest.data(), digest.size());
                     std::vector<uint8_t> der(len);
                     EVP_PKEY_sign(ctx, der.data(), &len, digest.data(), digest.size());
                     EVP_PKEY_CTX_free(ctx);
                     const unsigned char* p = der.data();
                     ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
                     std::vector<uint8_t> rs(64);
                     BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs.data(), 32);
                     BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs.data() + 32, 32);
                     ECDSA_SIG_free(sig);
                     return rs;
                   }};
}

TEST(TlsIdentityTest, AcceptsAMatchingPemPair) {
  KeyAndCert a = MakeSelfSigned("a");
  Result<std::shared_ptr<TlsIdentity>> id = TlsIdentity::FromPem(a.cert_pem, a.key_pem);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_NE(*id, nullptr);
}

TEST(TlsIdentityTest, RefusesAKeyThatDoesNotMatchTheCertificate) {
  KeyAndCert a = MakeSelfSigned("a");
  KeyAndCert b = MakeSelfSigned("b");
  Result<std::shared_ptr<TlsIdentity>> id = TlsIdentity::FromPem(a.cert_pem, b.key_pem);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(id.status().message().find("does not match the certificate"), std::string::npos);
}

TEST(TlsIdentityTest, RefusesMalformedPem) {
  KeyAndCert a = MakeSelfSigned("a");
  EXPECT_EQ(TlsIdentity::FromPem("", a.key_pem).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TlsIdentity::FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                 a.key_pem)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TlsIdentity::FromPem(a.cert_pem, "not a key").status().code(),
            StatusCode::kInvalidArgument);
  // The message never repeats the key text.
  Result<std::shared_ptr<TlsIdentity>> bad = TlsIdentity::FromPem(a.cert_pem, a.key_pem.substr(0, 60));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("PRIVATE KEY"), std::string::npos);
}

TEST(TlsIdentityTest, ExternalSignerIsUsedAndChecked) {
  KeyAndCert a = MakeSelfSigned("a");
  int calls = 0;
  Result<std::shared_ptr<TlsIdentity>> id =
      TlsIdentity::FromSigner(a.cert_pem, SignerFor(a.key, &calls));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(calls, 1);  // the key-matches-certificate probe went through the signer

  KeyAndCert b = MakeSelfSigned("b");
  Result<std::shared_ptr<TlsIdentity>> wrong =
      TlsIdentity::FromSigner(a.cert_pem, SignerFor(b.key, &calls));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("does not match"), std::string::npos);
}

TEST(TlsIdentityTest, ExternalSignerFailuresAreRefusals) {
  KeyAndCert a = MakeSelfSigned("a");
  TlsSigner failing{256, [](std::span<const uint8_t>) -> Result<std::vector<uint8_t>> {
                      return UnavailableError("token unavailable (lost)");
                    }};
  EXPECT_FALSE(TlsIdentity::FromSigner(a.cert_pem, failing).ok());
  TlsSigner odd{256, [](std::span<const uint8_t>) -> Result<std::vector<uint8_t>> {
                  return std::vector<uint8_t>(63, 1);
                }};
  EXPECT_FALSE(TlsIdentity::FromSigner(a.cert_pem, odd).ok());
  EXPECT_EQ(TlsIdentity::FromSigner(a.cert_pem, TlsSigner{521, failing.sign_digest}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TlsIdentity::FromSigner(a.cert_pem, TlsSigner{256, {}}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kms::http
