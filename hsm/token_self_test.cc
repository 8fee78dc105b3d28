#include "hsm/token_self_test.h"

#include <array>
#include <string>

#include "hsm/attr_template.h"
#include "hsm/transient_object.h"

namespace kms::hsm {
namespace {

// A label that says what the object is if anyone lists the token while a test runs (the
// objects live for one call). No CKA_ID: the long-term key index looks objects up by
// CKA_ID (hsm/key_labels.h), so a test object can never be taken for a key kmsd uses.
constexpr std::string_view kTestObjectLabel = "kms-self-test";

// TestKeyTemplate: a session secret key (CKA_TOKEN=FALSE: gone with the session at the
// latest) of type key_type holding a public test value, with exactly one usage flag set and
// one allowed mechanism, like the long-term key it stands in for (one purpose per key).
AttrTemplate TestKeyTemplate(CK_KEY_TYPE key_type, CK_ATTRIBUTE_TYPE usage,
                             const std::array<CK_MECHANISM_TYPE, 1>& mechanism,
                             std::span<const uint8_t> value) {
  AttrTemplate t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, key_type)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false);
  for (CK_ATTRIBUTE_TYPE a :
       {CKA_SIGN, CKA_VERIFY, CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE}) {
    t.Bool(a, a == usage);
  }
  t.Mechanisms(CKA_ALLOWED_MECHANISMS, mechanism)
      .String(CKA_LABEL, kTestObjectLabel)
      .Bytes(CKA_VALUE, value);
  return t;
}

// CreateTestObject: C_CreateObject of tmpl (a session object with a public test value).
Result<CK_OBJECT_HANDLE> CreateTestObject(SessionLease& lease, AttrTemplate& tmpl,
                                          std::string_view what) {
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  KMS_RETURN_IF_ERROR(
      lease.Check(lease.fn()->C_CreateObject(lease.handle(), tmpl.data(), tmpl.size(), &h),
                  "C_CreateObject(" + std::string(what) + ")"));
  return h;
}

// ReadValue: CKA_VALUE of a non-sensitive test object (length query, then the value).
Result<std::vector<uint8_t>> ReadValue(SessionLease& lease, CK_OBJECT_HANDLE h) {
  CK_ATTRIBUTE a{CKA_VALUE, nullptr, 0};
  KMS_RETURN_IF_ERROR(lease.Check(lease.fn()->C_GetAttributeValue(lease.handle(), h, &a, 1),
                                  "C_GetAttributeValue(CKA_VALUE length)"));
  constexpr CK_ULONG kMaxValue = 1024;
  if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > kMaxValue) {
    return InternalError("C_GetAttributeValue: unexpected CKA_VALUE length");
  }
  std::vector<uint8_t> value(a.ulValueLen);
  a.pValue = value.data();
  KMS_RETURN_IF_ERROR(lease.Check(lease.fn()->C_GetAttributeValue(lease.handle(), h, &a, 1),
                                  "C_GetAttributeValue(CKA_VALUE)"));
  value.resize(a.ulValueLen);
  return value;
}

}  // namespace

Result<std::vector<uint8_t>> TokenHmacWithTestKey(Token& token, crypto::HmacAlg alg,
                                                  std::span<const uint8_t> key,
                                                  std::span<const uint8_t> data) {
  // The same mechanisms as TokenKeyVault::Hmac (the PRF blocks under long-term keys and
  // credentials, and the audit checkpoint MAC).
  const CK_MECHANISM_TYPE mech_type =
      alg == crypto::HmacAlg::kSha1 ? CKM_SHA_1_HMAC : CKM_SHA256_HMAC;
  const std::array<CK_MECHANISM_TYPE, 1> allowed = {mech_type};
  AttrTemplate t = TestKeyTemplate(CKK_GENERIC_SECRET, CKA_SIGN, allowed, key);
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token.Acquire());
  KMS_ASSIGN_OR_RETURN(const CK_OBJECT_HANDLE h, CreateTestObject(lease, t, "HMAC test key"));
  const TransientObject object(lease, h);
  CK_MECHANISM mech{mech_type, nullptr, 0};
  KMS_RETURN_IF_ERROR(lease.Check(lease.fn()->C_SignInit(lease.handle(), &mech, h), "C_SignInit"));
  std::vector<uint8_t> out(crypto::HmacSize(alg));
  CK_ULONG len = checked_ulong_cast(out.size());
  // PKCS#11 takes the data through a non-const pointer but only reads it.
  const CK_RV rv = lease.fn()->C_Sign(lease.handle(), const_cast<CK_BYTE_PTR>(data.data()),
                                      checked_ulong_cast(data.size()), out.data(), &len);
  if (rv != CKR_OK) {
    lease.MarkBroken();  // never pool a session whose operation might still be active
    return lease.Check(rv, "C_Sign");
  }
  out.resize(len);  // a short MAC is then a wrong answer, reported by the comparison
  return out;
}

Result<std::vector<uint8_t>> TokenKwpUnwrapWithTestKek(Token& token, std::span<const uint8_t> kek,
                                                       std::span<const uint8_t> wrapped) {
  // The same mechanism as CredentialStore::Materialize; the KEK template mirrors the real
  // KEK's usage (unwrap only, KWP only) without CKA_UNWRAP_TEMPLATE, whose point is to
  // force non-readable copies: here the copy must be readable to check the answer.
  static constexpr std::array<CK_MECHANISM_TYPE, 1> kKwp = {CKM_AES_KEY_WRAP_PAD};
  AttrTemplate k = TestKeyTemplate(CKK_AES, CKA_UNWRAP, kKwp, kek);
  AttrTemplate u;
  u.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, false)  // public test value: read back to compare
      .Bool(CKA_EXTRACTABLE, true)
      .Bool(CKA_SIGN, false)
      .Bool(CKA_VERIFY, false)
      .Bool(CKA_DERIVE, false)
      .String(CKA_LABEL, kTestObjectLabel);
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token.Acquire());
  KMS_ASSIGN_OR_RETURN(const CK_OBJECT_HANDLE kek_h, CreateTestObject(lease, k, "test KEK"));
  const TransientObject kek_object(lease, kek_h);
  CK_MECHANISM mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};  // RFC 5649
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  // PKCS#11 takes the wrapped bytes through a non-const pointer but only reads them.
  KMS_RETURN_IF_ERROR(lease.Check(
      lease.fn()->C_UnwrapKey(lease.handle(), &mech, kek_h, const_cast<CK_BYTE_PTR>(wrapped.data()),
                              checked_ulong_cast(wrapped.size()), u.data(), u.size(), &h),
      "C_UnwrapKey(CKM_AES_KEY_WRAP_PAD)"));
  const TransientObject unwrapped(lease, h);
  return ReadValue(lease, h);
}

}  // namespace kms::hsm
