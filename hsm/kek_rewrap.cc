#include "hsm/kek_rewrap.h"

#include <vector>

#include "hsm/ck_rv.h"
#include "hsm/credential_store.h"
#include "hsm/key_templates.h"
#include "hsm/pkcs11_uri.h"
#include "hsm/transient_object.h"

namespace kms::hsm {
namespace {

// UnwrapCopy: C_UnwrapKey (RFC 5649) of blob under unwrapping_key into a session object
// made from the template of `kind`.
Result<CK_OBJECT_HANDLE> UnwrapCopy(SessionLease& lease, CK_OBJECT_HANDLE unwrapping_key,
                                    const std::vector<uint8_t>& blob, CredentialObject kind,
                                    CK_RV* rv_out) {
  AttrTemplate t = CredentialTemplate(kind, "", 0, {});
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  // PKCS#11 takes the wrapped bytes through a non-const pointer but only reads them.
  const CK_RV rv = lease.fn()->C_UnwrapKey(lease.handle(), &kwp, unwrapping_key,
                                           const_cast<CK_BYTE_PTR>(blob.data()),
                                           checked_ulong_cast(blob.size()), t.data(), t.size(),
                                           &h);
  *rv_out = rv;
  KMS_RETURN_IF_ERROR(lease.Check(rv, "C_UnwrapKey"));
  return h;
}

}  // namespace

Result<std::unique_ptr<RewrapKey>> RewrapKey::Create(P11Module& module,
                                                     const std::string& token_uri,
                                                     const SecretBytes& so_pin,
                                                     CK_RV* out_pin_refusal) {
  const CK_FUNCTION_LIST* f = module.fn();
  KMS_ASSIGN_OR_RETURN(Pkcs11Uri uri, ParsePkcs11Uri(token_uri));
  CK_TOKEN_INFO info{};
  KMS_ASSIGN_OR_RETURN(CK_SLOT_ID slot, Token::FindSlotFor(f, uri, token_uri, &info));
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  CK_RV rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr,
                              &session);
  KMS_RETURN_IF_ERROR(FromCkRv(rv, "C_OpenSession"));
  std::span<const uint8_t> pin = so_pin.Reveal();
  // PKCS#11 takes a non-const pointer for the PIN but does not modify it.
  rv = f->C_Login(session, CKU_SO, const_cast<CK_UTF8CHAR_PTR>(pin.data()),
                  checked_ulong_cast(pin.size()));
  if (rv != CKR_OK) {
    f->C_CloseSession(session);
    if (rv == CKR_USER_ALREADY_LOGGED_IN || rv == CKR_USER_ANOTHER_ALREADY_LOGGED_IN) {
      return FailedPreconditionError("the SO step of a re-wrap must run before the user logs in");
    }
    if (out_pin_refusal != nullptr && IsPinRefusal(rv)) {
      *out_pin_refusal = rv;  // for the caller's audit row (FIA_AFL.1); never retried
    }
    return FromCkRv(rv, "C_Login(SO)");
  }
  AttrTemplate t = RewrapKeyTemplate();
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  rv = f->C_GenerateKey(session, &gen, t.data(), t.size(), &key);
  // Logged out whatever happened: the SO role is needed for this one call only. The
  // public session object survives the logout (PKCS#11 v2.40 §5.6 invalidates private
  // objects only).
  const CK_RV out = f->C_Logout(session);
  if (rv != CKR_OK || out != CKR_OK) {
    f->C_CloseSession(session);
    return FromCkRv(rv != CKR_OK ? rv : out, rv != CKR_OK ? "C_GenerateKey(re-wrap key)"
                                                          : "C_Logout(SO)");
  }
  return std::unique_ptr<RewrapKey>(new RewrapKey(module, session, key));
}

RewrapKey::~RewrapKey() {
  // Destroying T makes every intermediate blob worthless; closing the session would
  // destroy it too, so a failure of the first call is covered by the second.
  module_.fn()->C_DestroyObject(session_, key_);
  module_.fn()->C_CloseSession(session_);
}

Result<ports::WrappedCredential> RewrapKey::Rewrap(Token& token,
                                                   const ports::WrappedCredential& in,
                                                   uint32_t to_version) const {
  if (in.kek_version == 0) {
    return InvalidArgumentError("credential " + in.credential_id + " is not KEK-wrapped");
  }
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token.Acquire());
  // Under the lease: the handles belong to the connection it pins.
  KMS_ASSIGN_OR_RETURN(LongTermKeyInfo from,
                       token.LongTermKey(lease, KeyKind::kKek, in.kek_version));
  KMS_ASSIGN_OR_RETURN(LongTermKeyInfo to, token.LongTermKey(lease, KeyKind::kKek, to_version));
  CK_RV rv = CKR_OK;
  Result<CK_OBJECT_HANDLE> c1 =
      UnwrapCopy(lease, from.handle, in.blob, CredentialObject::kSessionToRewrap, &rv);
  if (rv == CKR_TEMPLATE_INCONSISTENT) {
    return FailedPreconditionError(
        "KEK v" + std::to_string(in.kek_version) +
        " forces non-extractable copies (made before trusted re-wrap); re-provision "
        "credential " + in.credential_id);
  }
  if (!c1.ok()) {
    return c1.status().WithContext("credential " + in.credential_id);
  }
  TransientObject c1_obj(lease, *c1);
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};  // RFC 5649
  // Under T: ciphertext that nothing can open once T is destroyed with this object.
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> under_t,
                       CredentialStore::WrapWith(lease, kwp, key_, *c1));
  KMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE c2, UnwrapCopy(lease, key_, under_t,
                                                       CredentialObject::kSessionRewrapped, &rv));
  TransientObject c2_obj(lease, c2);
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> blob, CredentialStore::WrapWith(lease, kwp,
                                                                            to.handle, c2));
  return ports::WrappedCredential{in.credential_id, to_version, std::move(blob)};
}

}  // namespace kms::hsm
