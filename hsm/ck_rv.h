// FromCkRv: the one table that maps PKCS#11 return values to kms::Status (style.md
// "PKCS#11 RAII"). Messages name the function and the CKR code, never key bytes or PINs.
#pragma once

#include <string_view>

#include "hsm/pkcs11.h"
#include "src/base/status.h"

namespace kms::hsm {

// CkRvName: "CKR_DEVICE_REMOVED" etc.; "CKR_0x<hex>" for codes outside the table.
std::string CkRvName(CK_RV rv);

// FromCkRv: OK for CKR_OK, otherwise a Status "<function>: <CKR name>" whose code follows
// the table in ck_rv.cc (device and session loss -> kUnavailable, bad PIN ->
// kPermissionDenied, bad handles -> kNotFound, ...).
Status FromCkRv(CK_RV rv, std::string_view function);

// TokenSide: s unchanged if OK or kUnavailable, otherwise kUnavailable with the same
// message. For failures that say nothing about the caller's input (a token call failing, the
// pool exhausted, the PIN refused at a reconnect): the KeyVault contract
// (hsm/token_key_vault.h) reports them all as kUnavailable, which the core answers with 503.
Status TokenSide(Status s);

// IsPinRefusal: C_Login failed because of the PIN itself (wrong, locked, expired, or a
// value or length the token refuses), as opposed to the token or session being unusable.
// These are the authentication failures kmsctl audits (FIA_AFL.1, docs/security-target.md
// "Administrator authentication"); a caller must never retry the login after one.
bool IsPinRefusal(CK_RV rv);

// IsSessionBroken: the session cannot be reused (it is gone, or the token behind it is);
// a lease seeing one of these codes is marked broken and closed, not pooled.
bool IsSessionBroken(CK_RV rv);

// IsTokenLost: the token (or the module's view of it) is gone; the layer reconnects.
bool IsTokenLost(CK_RV rv);

}  // namespace kms::hsm
