// KEK re-wrap inside the token (issue 9 item 3; docs/security-target.md "KEK rotation").
//
// Stored credentials are RFC 5649 blobs under a KEK version. Moving one to a newer KEK
// needs a copy of the key that the new KEK may wrap, and no key value may leave the token.
// The KEK's CKA_UNWRAP_TEMPLATE forces CKA_WRAP_WITH_TRUSTED on every unwrapped copy
// (hsm/key_templates.cc), so only a key with CKA_TRUSTED may wrap one, and only the SO can
// set CKA_TRUSTED (PKCS#11 v2.40 §4.4, §4.7). Our KEKs are private objects of the user role
// and cannot carry it (SoftHSM2: the SO cannot create private objects). So each run of the
// re-wrap uses a transient trusted key T that the SO makes:
//
//  1. RewrapKey::Create, before the user role logs in (PKCS#11 allows one role per
//     application): a session of its own, C_Login(SO), C_GenerateKey of T (public session
//     object: it is never written to the token's storage and dies with the session;
//     RewrapKeyTemplate), C_Logout. The session stays open for the run.
//  2. RewrapKey::Rewrap, per credential, logged in as the user (Token::Open after Create):
//     C_UnwrapKey under the old KEK -> C1 (extractable, wrap-with-trusted);
//     C_WrapKey(T, C1) -> an intermediate blob under T;
//     C_UnwrapKey under T -> C2 (extractable, not wrap-with-trusted: T's unwrap template);
//     C_WrapKey(new KEK, C2) -> the new stored blob; C_DestroyObject of C1 and C2.
//  3. ~RewrapKey: C_DestroyObject(T), C_CloseSession. The intermediate blobs are useless
//     from then on.
//
// What this costs: anyone holding both the SO PIN and the user PIN could make a trusted key
// of known value and extract credentials with it; with the user PIN alone nothing can wrap
// an unwrapped credential (tests/integration/kmsctl/rewrap_test.cc). That is the dual
// control PKCS#11 intends for CKA_TRUSTED.
#pragma once

#include <memory>
#include <string>

#include "hsm/p11_module.h"
#include "hsm/pkcs11.h"
#include "hsm/token.h"
#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/core/ports/key_vault.h"

namespace kms::hsm {

class RewrapKey {
 public:
  // Create: step 1 on the token named by token_uri. kPermissionDenied for a wrong SO PIN
  // (C_Login is tried once; out_pin_refusal, if set, receives the CKR code when the token
  // refused the PIN itself: IsPinRefusal); kFailedPrecondition if this process is already
  // logged in (the user must log in after).
  static Result<std::unique_ptr<RewrapKey>> Create(P11Module& module, const std::string& token_uri,
                                                   const SecretBytes& so_pin,
                                                   CK_RV* out_pin_refusal = nullptr);
  ~RewrapKey();
  RewrapKey(const RewrapKey&) = delete;
  RewrapKey& operator=(const RewrapKey&) = delete;

  // Rewrap: step 2 for one credential, from its KEK version to to_version (both in the
  // token's key index). kInvalidArgument if the blob does not unwrap under its KEK;
  // kFailedPrecondition if its KEK predates trusted re-wrap (its unwrap template forces
  // non-extractable copies: such credentials must be re-provisioned).
  Result<ports::WrappedCredential> Rewrap(Token& token, const ports::WrappedCredential& in,
                                          uint32_t to_version) const;

  CK_OBJECT_HANDLE handle_for_testing() const { return key_; }

 private:
  RewrapKey(P11Module& module, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key)
      : module_(module), session_(session), key_(key) {}

  P11Module& module_;
  CK_SESSION_HANDLE session_;
  CK_OBJECT_HANDLE key_;
};

}  // namespace kms::hsm
