// Token profile check: does a token offer what this KMS asks of it, before it is trusted
// with keys? Without it, a token that lacks a mechanism or predates the PKCS#11 2.40 key
// attributes is found out halfway through `kmsctl init` (an opaque
// "C_GenerateKey: CKR_ATTRIBUTE_TYPE_INVALID"), or by the first backup or request.
// Seen with Debian 12's second software token, opencryptoki 3.8.1 (docs/
// evaluator-traceability.md, gap 1): no CKM_AES_GCM, no CKM_AES_KEY_WRAP_PAD, and
// CKA_ALLOWED_MECHANISMS, CKA_COPYABLE, CKA_DESTROYABLE, CKA_WRAP_WITH_TRUSTED refused.
//
// The check only asks (C_GetMechanismList / C_GetMechanismInfo) and, for the attributes,
// generates one session key (CKA_TOKEN=FALSE, never a long-term key) that is destroyed at
// once. It never weakens a template to fit a token: a token that refuses an attribute the
// evaluator checklist (§1) requires is refused.
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hsm/pkcs11.h"
#include "hsm/token.h"
#include "src/base/status.h"

namespace kms::hsm {

// MechanismNeed: one mechanism, the operations (CKF_SIGN, CKF_WRAP, ...) that must all be
// listed for it, and what the KMS uses it for (named in the error).
struct MechanismNeed {
  CK_MECHANISM_TYPE type;
  CK_FLAGS flags;
  std::string_view name;
  std::string_view use;
};

// ProfileNeeds: which parts of the product will use the token.
struct ProfileNeeds {
  bool generate_keys = true;  // long-term keys, decoys (generic secret and AES key gen)
  bool kwp_wrap = true;       // storing credentials wrapped, KEK rewrap (RFC 5649)
  bool kwp_unwrap = true;     // opening a stored credential
  bool gcm = true;            // backup sealing (AES-GCM)
  // kmsd's self-test hook (KMS_SELF_TEST_FAIL=token_profile): also ask for a vendor-defined
  // mechanism that no token lists, so that the failure goes through the real check.
  bool unlisted_mechanism_for_test = false;
};

// kmsctl init: everything the appliance's tools will ask of the token.
ProfileNeeds FullProfile();

std::vector<MechanismNeed> MechanismsNeeded(const ProfileNeeds& needs);

// Meets: the token lists need.type with every operation of need.flags.
bool Meets(const MechanismNeed& need, const std::map<CK_MECHANISM_TYPE, CK_FLAGS>& have);

// MissingMechanisms: one line per need the token does not meet, e.g.
// "CKM_AES_GCM (encrypt, decrypt: backup sealing)" or "CKM_SHA256_HMAC (sign; listed
// without: sign)". have maps every listed mechanism to its CK_MECHANISM_INFO flags.
std::vector<std::string> MissingMechanisms(std::span<const MechanismNeed> needs,
                                           const std::map<CK_MECHANISM_TYPE, CK_FLAGS>& have);

// ProbeAttributes: the names of the PKCS#11 2.40 attributes the token refuses in a key
// template (empty when it takes them all). generate makes and destroys one session key
// from the template it is given and returns the CK_RV. The full template is tried first;
// only when the token refuses the template (CKR_ATTRIBUTE_TYPE_INVALID, _VALUE_INVALID,
// _READ_ONLY, CKR_TEMPLATE_INCONSISTENT) is each attribute tried alone, to name it. Any
// other failure is returned as an error.
Result<std::vector<std::string>> ProbeAttributes(
    const std::function<CK_RV(std::span<const CK_ATTRIBUTE>)>& generate);

// ProfileReport: what ReadTokenProfile found. missing: MissingMechanisms lines; refused:
// attribute names (ProbeAttributes; not probed unless CKM_GENERIC_SECRET_KEY_GEN is listed
// with CKF_GENERATE).
struct ProfileReport {
  std::vector<MechanismNeed> checked;
  std::vector<bool> met;  // per checked need: Meets
  std::vector<std::string> missing;
  std::vector<std::string> refused;
  bool attributes_probed = false;
  bool ok() const { return missing.empty() && refused.empty(); }
};

// ReadTokenProfile: the report for the token behind token; an error only when the token
// cannot be asked (session, C_GetMechanismList, or a probe failing other than by refusing
// an attribute).
Result<ProfileReport> ReadTokenProfile(Token& token, const ProfileNeeds& needs);

// ProfileStatus: OK for a report without problems, else kFailedPrecondition naming each
// missing mechanism and refused attribute of the token token_uri.
Status ProfileStatus(const ProfileReport& report, const std::string& token_uri);

// CheckTokenProfile: OK, or kFailedPrecondition naming every missing mechanism and refused
// attribute of the token behind token (its URI in the message).
Status CheckTokenProfile(Token& token, const ProfileNeeds& needs);

}  // namespace kms::hsm
