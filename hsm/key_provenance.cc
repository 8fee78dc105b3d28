#include "hsm/key_provenance.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "hsm/attr_template.h"
#include "hsm/ck_rv.h"
#include "hsm/key_labels.h"
#include "hsm/key_templates.h"

namespace kms::hsm {
namespace {

// Longer than any label of ours ("kms-audit-v4294967295").
constexpr size_t kMaxLabel = 128;

// The attributes LongTermKeyTemplate sets plus the provenance ones, by name for the reason.
#define KMS_CKA(type) \
  std::pair<CK_ATTRIBUTE_TYPE, const char*> { type, #type }
constexpr std::array kAttributeNames = {
    KMS_CKA(CKA_CLASS),
    KMS_CKA(CKA_KEY_TYPE),
    KMS_CKA(CKA_VALUE_LEN),
    KMS_CKA(CKA_LABEL),
    KMS_CKA(CKA_ID),
    KMS_CKA(CKA_TOKEN),
    KMS_CKA(CKA_PRIVATE),
    KMS_CKA(CKA_SENSITIVE),
    KMS_CKA(CKA_EXTRACTABLE),
    KMS_CKA(CKA_MODIFIABLE),
    KMS_CKA(CKA_COPYABLE),
    KMS_CKA(CKA_DESTROYABLE),
    KMS_CKA(CKA_SIGN),
    KMS_CKA(CKA_VERIFY),
    KMS_CKA(CKA_ENCRYPT),
    KMS_CKA(CKA_DECRYPT),
    KMS_CKA(CKA_WRAP),
    KMS_CKA(CKA_UNWRAP),
    KMS_CKA(CKA_DERIVE),
    KMS_CKA(CKA_ALLOWED_MECHANISMS),
    KMS_CKA(CKA_LOCAL),
    KMS_CKA(CKA_ALWAYS_SENSITIVE),
    KMS_CKA(CKA_NEVER_EXTRACTABLE),
};
#undef KMS_CKA

std::string AttributeName(CK_ATTRIBUTE_TYPE type) {
  for (const auto& [t, name] : kAttributeNames) {
    if (t == type) {
      return name;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "CKA_0x%lX", type);
  return buf;
}

// Printable: the label as it may appear in a log (it is not secret, but it is chosen by
// whoever made the object).
std::string Printable(const char* p, size_t n) {
  std::string out(p, n);
  for (char& c : out) {
    if (c < ' ' || c > '~') {
      c = '?';
    }
  }
  return out;
}

// Gone: the session or token cannot answer any more; the caller's connect or refresh fails
// (and is retried) instead of silently dropping good keys.
bool Gone(CK_RV rv) { return IsSessionBroken(rv) || IsTokenLost(rv); }

// SameMechanisms: CKA_ALLOWED_MECHANISMS as a set (the order the token returns is its own).
bool SameMechanisms(const CK_ATTRIBUTE& want, const CK_ATTRIBUTE& got) {
  if (want.ulValueLen != got.ulValueLen || want.ulValueLen % sizeof(CK_MECHANISM_TYPE) != 0) {
    return false;
  }
  const size_t n = want.ulValueLen / sizeof(CK_MECHANISM_TYPE);
  std::vector<CK_MECHANISM_TYPE> a(n), b(n);
  std::memcpy(a.data(), want.pValue, want.ulValueLen);
  std::memcpy(b.data(), got.pValue, got.ulValueLen);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

// MatchesGenerated: true if h carries every attribute of want (except the nested
// CKA_UNWRAP_TEMPLATE) with the same value, and CKA_LOCAL, CKA_ALWAYS_SENSITIVE and
// CKA_NEVER_EXTRACTABLE TRUE. Otherwise false with rejected->reason naming the first
// attribute that differs. An error only when the session or token is gone.
Result<bool> MatchesGenerated(SessionLease& lease, CK_OBJECT_HANDLE h, AttrTemplate want,
                              RejectedKeyObject* rejected) {
  // What KeyManager asked for, plus what only the token sets for a key generated in it and
  // never readable or extractable since (PKCS#11 v2.40 §4.10: CKA_LOCAL, CKA_ALWAYS_SENSITIVE
  // and CKA_NEVER_EXTRACTABLE are set by the token, never by a template).
  want.Bool(CKA_LOCAL, true).Bool(CKA_ALWAYS_SENSITIVE, true).Bool(CKA_NEVER_EXTRACTABLE, true);
  // The same attributes with zeroed buffers of the expected sizes, read in one call.
  AttrTemplate got;
  std::vector<size_t> compared;  // indexes into want (the nested unwrap template is skipped)
  for (size_t i = 0; i < want.size(); ++i) {
    const CK_ATTRIBUTE& w = want.data()[i];
    if (w.type == CKA_UNWRAP_TEMPLATE) {
      continue;
    }
    got.Bytes(w.type, std::vector<uint8_t>(w.ulValueLen, 0));
    compared.push_back(i);
  }
  const CK_RV rv = lease.fn()->C_GetAttributeValue(lease.handle(), h, got.data(), got.size());
  if (Gone(rv)) {
    return lease.Check(rv, "C_GetAttributeValue(key attributes)");
  }
  // CKR_ATTRIBUTE_TYPE_INVALID, _SENSITIVE or CKR_BUFFER_TOO_SMALL mark the offending
  // attribute CK_UNAVAILABLE_INFORMATION and still fill the others (PKCS#11 v2.40 §5.7).
  const bool per_attribute = rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
                             rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_BUFFER_TOO_SMALL;
  if (!per_attribute) {
    rejected->reason = "attributes unreadable (" + CkRvName(rv) + ")";
    return false;
  }
  for (size_t k = 0; k < compared.size(); ++k) {
    const CK_ATTRIBUTE& w = want.data()[compared[k]];
    const CK_ATTRIBUTE& g = got.data()[k];
    bool same;
    if (g.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
      same = false;
    } else if (w.type == CKA_ALLOWED_MECHANISMS) {
      same = SameMechanisms(w, g);
    } else {
      same = w.ulValueLen == g.ulValueLen &&
             (w.ulValueLen == 0 || std::memcmp(w.pValue, g.pValue, w.ulValueLen) == 0);
    }
    if (!same) {
      rejected->reason = AttributeName(w.type) + (g.ulValueLen == CK_UNAVAILABLE_INFORMATION
                                                      ? " is missing"
                                                      : " differs from what KeyManager generates");
      return false;
    }
  }
  if (rv != CKR_OK) {  // not expected once every attribute compared equal; never trusted
    rejected->reason = "attributes unreadable (" + CkRvName(rv) + ")";
    return false;
  }
  return true;
}

}  // namespace

Result<std::optional<LongTermKeyInfo>> InspectLongTermKey(SessionLease& lease, CK_OBJECT_HANDLE h,
                                                          RejectedKeyObject* rejected) {
  char label[kMaxLabel];
  CK_ATTRIBUTE la{CKA_LABEL, label, sizeof(label)};
  CK_RV rv = lease.fn()->C_GetAttributeValue(lease.handle(), h, &la, 1);
  if (Gone(rv)) {
    return lease.Check(rv, "C_GetAttributeValue(CKA_LABEL)");
  }
  if (rv != CKR_OK) {
    *rejected = {"", "CKA_LABEL unreadable (" + CkRvName(rv) + ")"};
    return std::optional<LongTermKeyInfo>();
  }
  rejected->label = Printable(label, la.ulValueLen);
  std::optional<KeyName> name = ParseLongTermKeyLabel(std::string_view(label, la.ulValueLen));
  if (!name.has_value()) {
    rejected->reason = "carries the long-term CKA_ID but not a long-term key label";
    return std::optional<LongTermKeyInfo>();
  }

  KMS_ASSIGN_OR_RETURN(bool generated,
                       MatchesGenerated(lease, h, LongTermKeyTemplate(*name), rejected));
  if (!generated) {
    return std::optional<LongTermKeyInfo>();
  }
  return std::optional<LongTermKeyInfo>(LongTermKeyInfo{*name, h, kLongTermKeyBytes});
}

Result<bool> InspectBackupKey(SessionLease& lease, CK_OBJECT_HANDLE h, uint32_t version,
                              RejectedKeyObject* rejected) {
  rejected->label = BackupKeyLabel(version);  // the search matched this label exactly
  return MatchesGenerated(lease, h, BackupKeyTemplate(version), rejected);
}

}  // namespace kms::hsm
