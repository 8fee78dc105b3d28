#include "src/http/tls_identity.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <mutex>
#include <string>

namespace kms::http {

struct TlsIdentity::Impl {
  std::vector<gnutls_pcert_st> certs;
  unsigned cert_count = 0;
  gnutls_privkey_t key = nullptr;
  TlsSigner signer;  // empty sign_digest for a PEM key

  ~Impl() {
    for (unsigned i = 0; i < cert_count; ++i) {
      gnutls_pcert_deinit(&certs[i]);
    }
    if (key != nullptr) {
      gnutls_privkey_deinit(key);
    }
  }
};

namespace {

constexpr unsigned kMaxChain = 8;

Status TlsError(const std::string& what, int rc) {
  return InvalidArgumentError("TLS " + what + ": " + gnutls_strerror(rc));
}

gnutls_datum_t Datum(std::string_view s) {
  return gnutls_datum_t{reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
                        static_cast<unsigned>(s.size())};
}

Status LoadChain(TlsIdentity::Impl& impl, std::string_view pem) {
  impl.certs.resize(kMaxChain);
  unsigned count = kMaxChain;
  gnutls_datum_t data = Datum(pem);
  const int rc = gnutls_pcert_list_import_x509_raw(impl.certs.data(), &count, &data,
                                                   GNUTLS_X509_FMT_PEM, 0);
  if (rc < 0) {
    return TlsError("certificate chain", rc);
  }
  if (count == 0) {
    return InvalidArgumentError("TLS certificate chain: no certificate in the PEM data");
  }
  impl.cert_count = count;
  return Status::Ok();
}

// Ext-key callbacks (gnutls/abstract.h): ECDSA signing through TlsSigner.
int SignHash(gnutls_privkey_t /*key*/, gnutls_sign_algorithm_t /*algo*/, void* userdata,
             unsigned /*flags*/, const gnutls_datum_t* hash, gnutls_datum_t* signature) {
  const auto* signer = static_cast<const TlsSigner*>(userdata);
  Result<std::vector<uint8_t>> rs = signer->sign_digest({hash->data, hash->size});
  if (!rs.ok() || rs->size() % 2 != 0 || rs->empty()) {
    return GNUTLS_E_PK_SIGN_FAILED;
  }
  const unsigned half = static_cast<unsigned>(rs->size() / 2);
  const gnutls_datum_t r{rs->data(), half};
  const gnutls_datum_t s{rs->data() + half, half};
  // TLS carries ECDSA signatures as DER Ecdsa-Sig-Value (RFC 8446 §4.2.3, RFC 4492 §5.4).
  return gnutls_encode_rs_value(signature, &r, &s) < 0 ? GNUTLS_E_PK_SIGN_FAILED : 0;
}

int KeyInfo(gnutls_privkey_t /*key*/, unsigned flags, void* userdata) {
  const auto* signer = static_cast<const TlsSigner*>(userdata);
  if ((flags & GNUTLS_PRIVKEY_INFO_PK_ALGO) != 0) {
    return GNUTLS_PK_ECDSA;
  }
  if ((flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS) != 0) {
    return static_cast<int>(signer->curve_bits);
  }
  if ((flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) != 0) {
    const auto algo = static_cast<gnutls_sign_algorithm_t>(GNUTLS_FLAGS_TO_SIGN_ALGO(flags));
    return gnutls_sign_get_pk_algorithm(algo) == GNUTLS_PK_ECDSA ? 1 : 0;
  }
  if ((flags & GNUTLS_PRIVKEY_INFO_SIGN_ALGO) != 0) {
    return signer->curve_bits == 384 ? GNUTLS_SIGN_ECDSA_SHA384 : GNUTLS_SIGN_ECDSA_SHA256;
  }
  return GNUTLS_E_INVALID_REQUEST;
}

// CheckKeyMatchesLeaf: sign a fixed message with the key, verify with the leaf certificate.
Status CheckKeyMatchesLeaf(const TlsIdentity::Impl& impl) {
  static constexpr char kProbe[] = "kmsd: TLS key matches the certificate";
  const gnutls_datum_t probe = Datum(kProbe);
  const int pk = gnutls_privkey_get_pk_algorithm(impl.key, nullptr);
  if (pk < 0) {
    return TlsError("private key", pk);
  }
  const gnutls_sign_algorithm_t algo =
      gnutls_pk_to_sign(static_cast<gnutls_pk_algorithm_t>(pk), GNUTLS_DIG_SHA256);
  gnutls_datum_t sig{nullptr, 0};
  int rc = gnutls_privkey_sign_data2(impl.key, algo, 0, &probe, &sig);
  if (rc < 0) {
    return TlsError("private key cannot sign", rc);
  }
  rc = gnutls_pubkey_verify_data2(impl.certs[0].pubkey, algo, 0, &probe, &sig);
  gnutls_free(sig.data);
  if (rc < 0) {
    return InvalidArgumentError("TLS private key does not match the certificate");
  }
  return Status::Ok();
}

std::mutex slot_mu;
std::shared_ptr<TlsIdentity> current;
std::vector<std::shared_ptr<TlsIdentity>> retired;  // kept alive until Clear()

}  // namespace

TlsIdentity::TlsIdentity() : impl_(std::make_unique<Impl>()) {}
TlsIdentity::~TlsIdentity() = default;

Result<std::shared_ptr<TlsIdentity>> TlsIdentity::FromPem(std::string_view cert_chain_pem,
                                                          std::string_view key_pem) {
  std::shared_ptr<TlsIdentity> id(new TlsIdentity());
  KMS_RETURN_IF_ERROR(LoadChain(*id->impl_, cert_chain_pem));
  int rc = gnutls_privkey_init(&id->impl_->key);
  if (rc < 0) {
    return TlsError("private key", rc);
  }
  gnutls_datum_t data = Datum(key_pem);
  rc = gnutls_privkey_import_x509_raw(id->impl_->key, &data, GNUTLS_X509_FMT_PEM, nullptr, 0);
  if (rc < 0) {
    return TlsError("private key", rc);  // GnuTLS's message names no key material
  }
  KMS_RETURN_IF_ERROR(CheckKeyMatchesLeaf(*id->impl_));
  return id;
}

Result<std::shared_ptr<TlsIdentity>> TlsIdentity::FromSigner(std::string_view cert_chain_pem,
                                                             TlsSigner signer) {
  if (!signer.sign_digest || (signer.curve_bits != 256 && signer.curve_bits != 384)) {
    return InvalidArgumentError("TLS signer: ECDSA P-256 or P-384 expected");
  }
  std::shared_ptr<TlsIdentity> id(new TlsIdentity());
  KMS_RETURN_IF_ERROR(LoadChain(*id->impl_, cert_chain_pem));
  id->impl_->signer = std::move(signer);
  int rc = gnutls_privkey_init(&id->impl_->key);
  if (rc < 0) {
    return TlsError("private key", rc);
  }
  rc = gnutls_privkey_import_ext4(id->impl_->key, &id->impl_->signer, nullptr, &SignHash,
                                  nullptr, nullptr, &KeyInfo, 0);
  if (rc < 0) {
    return TlsError("token key", rc);
  }
  KMS_RETURN_IF_ERROR(CheckKeyMatchesLeaf(*id->impl_));
  return id;
}

namespace {

// The gnutls_certificate_retrieve_function2 libmicrohttpd installs for every handshake.
int RetrieveCertificate(gnutls_session_t /*session*/, const gnutls_datum_t* /*req_ca_dn*/,
                        int /*nreqs*/, const gnutls_pk_algorithm_t* /*pk_algos*/,
                        int /*pk_algos_length*/, gnutls_pcert_st** pcert,
                        unsigned int* pcert_length, gnutls_privkey_t* privkey) {
  std::lock_guard<std::mutex> lock(slot_mu);
  if (current == nullptr) {
    return -1;  // no identity: the handshake fails
  }
  TlsIdentity::Impl& impl = current->impl();
  *pcert = impl.certs.data();
  *pcert_length = impl.cert_count;
  *privkey = impl.key;
  return 0;
}

}  // namespace

void TlsIdentitySlot::Set(std::shared_ptr<TlsIdentity> identity) {
  std::lock_guard<std::mutex> lock(slot_mu);
  if (current != nullptr) {
    retired.push_back(std::move(current));
  }
  current = std::move(identity);
}

void TlsIdentitySlot::Clear() {
  std::lock_guard<std::mutex> lock(slot_mu);
  current.reset();
  retired.clear();
}

void* TlsIdentitySlot::Callback() { return reinterpret_cast<void*>(&RetrieveCertificate); }

}  // namespace kms::http
