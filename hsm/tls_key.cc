#include "hsm/tls_key.h"

#include <array>
#include <cstring>

#include "hsm/attr_template.h"
#include "hsm/find_scope.h"

namespace kms::hsm {
namespace {

// DER encodings of the namedCurve OIDs in CKA_EC_PARAMS (RFC 5480 §2.1.1.1).
constexpr std::array<uint8_t, 10> kP256 = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                           0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr std::array<uint8_t, 7> kP384 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

bool Equals(const std::vector<uint8_t>& a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), b.size()) == 0;
}

Result<std::vector<uint8_t>> ReadAttribute(SessionLease& lease, CK_OBJECT_HANDLE h,
                                           CK_ATTRIBUTE_TYPE type, std::string_view what) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  KMS_RETURN_IF_ERROR(
      lease.Check(lease.fn()->C_GetAttributeValue(lease.handle(), h, &a, 1), what));
  std::vector<uint8_t> value(a.ulValueLen);
  a.pValue = value.data();
  KMS_RETURN_IF_ERROR(
      lease.Check(lease.fn()->C_GetAttributeValue(lease.handle(), h, &a, 1), what));
  value.resize(a.ulValueLen);
  return value;
}

}  // namespace

Result<std::unique_ptr<TokenTlsKey>> TokenTlsKey::Open(Token& token, std::string_view uri) {
  KMS_ASSIGN_OR_RETURN(Pkcs11Uri parsed, ParsePkcs11Uri(uri));
  if (!parsed.object.has_value() && !parsed.id.has_value()) {
    return InvalidArgumentError("TLS key URI must name the key with object= or id=");
  }
  if (parsed.type.has_value() && *parsed.type != "private") {
    return InvalidArgumentError("TLS key URI must have type=private (or no type)");
  }
  // The key must live in the KMS token: one login, one session pool, one loss handler.
  const Pkcs11Uri& kms = token.uri();
  auto differs = [](const std::optional<std::string>& a, const std::optional<std::string>& b) {
    return a.has_value() && b.has_value() && *a != *b;
  };
  if (differs(parsed.token, kms.token) || differs(parsed.serial, kms.serial) ||
      differs(parsed.manufacturer, kms.manufacturer) || differs(parsed.model, kms.model)) {
    return InvalidArgumentError("TLS key URI selects another token than [token] uri");
  }
  std::unique_ptr<TokenTlsKey> key(new TokenTlsKey(token, std::move(parsed)));
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token.Acquire());
  std::lock_guard<std::mutex> lock(key->mu_);
  KMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE h, key->Locate(lease));
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> key_type,
                       ReadAttribute(lease, h, CKA_KEY_TYPE, "C_GetAttributeValue(CKA_KEY_TYPE)"));
  CK_KEY_TYPE kt = 0;
  if (key_type.size() != sizeof kt) {
    return InvalidArgumentError("TLS key: unexpected CKA_KEY_TYPE size");
  }
  std::memcpy(&kt, key_type.data(), sizeof kt);
  if (kt != CKK_EC) {
    return InvalidArgumentError("TLS key in the token must be an EC key (P-256 or P-384)");
  }
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> params,
                       ReadAttribute(lease, h, CKA_EC_PARAMS, "C_GetAttributeValue(CKA_EC_PARAMS)"));
  if (Equals(params, kP256)) {
    key->curve_bits_ = 256;
  } else if (Equals(params, kP384)) {
    key->curve_bits_ = 384;
  } else {
    return InvalidArgumentError("TLS key in the token must be on P-256 or P-384");
  }
  return key;
}

Result<CK_OBJECT_HANDLE> TokenTlsKey::Locate(SessionLease& lease) {
  const uint64_t generation = token_.generation();
  if (handle_ != CK_INVALID_HANDLE && generation_ == generation) {
    return handle_;
  }
  AttrTemplate match;
  match.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Bool(CKA_SIGN, true);
  if (uri_.object.has_value()) {
    match.String(CKA_LABEL, *uri_.object);
  }
  if (uri_.id.has_value()) {
    match.String(CKA_ID, *uri_.id);
  }
  KMS_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found, FindAll(lease, match, 2));
  if (found.empty()) {
    // Private keys are invisible to a logged-out session (PKCS#11 v2.40 §4.4): kUnavailable
    // and a new login then, not "no key".
    KMS_RETURN_IF_ERROR(lease.CheckLoggedIn());
  }
  if (found.size() != 1) {
    return NotFoundError(found.empty() ? "TLS key: no signing private key matches the URI"
                                       : "TLS key: several private keys match the URI");
  }
  // A key that needs a context-specific login before every signature (PKCS#11 v2.40 §4.9)
  // answers C_Sign with CKR_USER_NOT_LOGGED_IN, which the lease takes for a lost token: every
  // TLS handshake would drop the token for every client. Refused here, also when the key is
  // found again after a reconnect.
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> always_auth,
                       ReadAttribute(lease, found[0], CKA_ALWAYS_AUTHENTICATE,
                                     "C_GetAttributeValue(CKA_ALWAYS_AUTHENTICATE)"));
  if (always_auth.size() == sizeof(CK_BBOOL) && always_auth[0] != CK_FALSE) {
    return InvalidArgumentError(
        "TLS key has CKA_ALWAYS_AUTHENTICATE set: it would need a PIN entry per handshake; "
        "use a key without it");
  }
  handle_ = found[0];
  generation_ = generation;
  return handle_;
}

Result<std::vector<uint8_t>> TokenTlsKey::SignDigest(std::span<const uint8_t> digest) {
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token_.Acquire());
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  {
    std::lock_guard<std::mutex> lock(mu_);
    KMS_ASSIGN_OR_RETURN(h, Locate(lease));
  }
  CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
  KMS_RETURN_IF_ERROR(lease.Check(lease.fn()->C_SignInit(lease.handle(), &mech, h), "C_SignInit"));
  std::vector<uint8_t> sig(2 * ((curve_bits_ + 7) / 8));
  CK_ULONG len = checked_ulong_cast(sig.size());
  // C_Sign ends the operation whatever it returns (PKCS#11 v2.40 §5.11), except for
  // CKR_BUFFER_TOO_SMALL, which cannot happen with the exact size.
  KMS_RETURN_IF_ERROR(lease.Check(
      lease.fn()->C_Sign(lease.handle(), const_cast<CK_BYTE*>(digest.data()),
                         checked_ulong_cast(digest.size()), sig.data(), &len),
      "C_Sign"));
  if (len != sig.size()) {
    return InternalError("TLS key: ECDSA signature of unexpected size");
  }
  return sig;
}

}  // namespace kms::hsm
