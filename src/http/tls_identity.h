// TlsIdentity: the certificate chain and private key the Ua listener presents (issue 7 item
// 1). The key is either PEM (from a file) or held elsewhere and reached through a signing
// function (the token, hsm/tls_key.h): GnuTLS then asks for a signature over each handshake
// digest and never sees the key.
//
// Certificates are chosen per handshake through libmicrohttpd's certificate callback
// (MHD_OPTION_HTTPS_CERT_CALLBACK), reading the process's current identity. SIGHUP thus
// swaps the identity without closing the listening socket: no gap for clients, and no
// rebinding after privileges were dropped.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "src/base/result.h"

namespace kms::http {

// TlsSigner: an ECDSA private key held outside this process's memory.
struct TlsSigner {
  unsigned curve_bits = 256;  // 256 (P-256) or 384 (P-384)
  // sign_digest: ECDSA over a digest; returns r || s (fixed width, curve_bits/8 each).
  std::function<Result<std::vector<uint8_t>>(std::span<const uint8_t> digest)> sign_digest;
};

class TlsIdentity {
 public:
  // FromPem: a PEM certificate chain (leaf first) and a PEM private key (RSA or EC).
  // FromSigner: the same chain with a key reached through `signer`.
  // Both check that the key matches the leaf certificate by signing a test message and
  // verifying it with the certificate's public key: a mismatched pair is kInvalidArgument
  // at start-up or reload, not a handshake failure later.
  static Result<std::shared_ptr<TlsIdentity>> FromPem(std::string_view cert_chain_pem,
                                                      std::string_view key_pem);
  static Result<std::shared_ptr<TlsIdentity>> FromSigner(std::string_view cert_chain_pem,
                                                         TlsSigner signer);
  ~TlsIdentity();
  TlsIdentity(const TlsIdentity&) = delete;
  TlsIdentity& operator=(const TlsIdentity&) = delete;

  struct Impl;  // GnuTLS objects; see tls_identity.cc
  Impl& impl() const { return *impl_; }

 private:
  TlsIdentity();
  std::unique_ptr<Impl> impl_;
};

// TlsIdentitySlot: the identity handshakes use now. One per process (libmicrohttpd's
// certificate callback carries no user pointer). Identities replaced by Set() stay alive
// until Clear(), since a handshake may still hold pointers into them.
class TlsIdentitySlot {
 public:
  static void Set(std::shared_ptr<TlsIdentity> identity);
  // Clear: drops every identity; only when no listener is running.
  static void Clear();
  // Callback: the function to pass as MHD_OPTION_HTTPS_CERT_CALLBACK (a GnuTLS
  // gnutls_certificate_retrieve_function2).
  static void* Callback();
};

}  // namespace kms::http
