#include "hsm/token_profile.h"

#include <array>
#include <string>

#include "hsm/attr_template.h"
#include "hsm/ck_rv.h"
#include "hsm/transient_object.h"

namespace kms::hsm {
namespace {

std::string FlagNames(CK_FLAGS flags) {
  static constexpr std::array<std::pair<CK_FLAGS, std::string_view>, 7> kNames = {{
      {CKF_GENERATE, "generate"},
      {CKF_SIGN, "sign"},
      {CKF_VERIFY, "verify"},
      {CKF_ENCRYPT, "encrypt"},
      {CKF_DECRYPT, "decrypt"},
      {CKF_WRAP, "wrap"},
      {CKF_UNWRAP, "unwrap"},
  }};
  std::string out;
  for (const auto& [flag, name] : kNames) {
    if ((flags & flag) != 0) {
      out += (out.empty() ? "" : ", ") + std::string(name);
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    out += (out.empty() ? "" : "; ") + p;
  }
  return out;
}

// The token's mechanisms with their flags (C_GetMechanismList, then C_GetMechanismInfo).
Result<std::map<CK_MECHANISM_TYPE, CK_FLAGS>> ListMechanisms(SessionLease& lease) {
  const CK_FUNCTION_LIST* f = lease.fn();
  CK_SESSION_INFO info{};
  KMS_RETURN_IF_ERROR(lease.Check(f->C_GetSessionInfo(lease.handle(), &info), "C_GetSessionInfo"));
  CK_ULONG n = 0;
  KMS_RETURN_IF_ERROR(
      lease.Check(f->C_GetMechanismList(info.slotID, nullptr, &n), "C_GetMechanismList"));
  constexpr CK_ULONG kMaxMechanisms = 4096;  // a bound against a module gone wrong
  if (n > kMaxMechanisms) {
    return InternalError("C_GetMechanismList: " + std::to_string(n) + " mechanisms");
  }
  std::vector<CK_MECHANISM_TYPE> types(n);
  KMS_RETURN_IF_ERROR(
      lease.Check(f->C_GetMechanismList(info.slotID, types.data(), &n), "C_GetMechanismList"));
  types.resize(n);
  std::map<CK_MECHANISM_TYPE, CK_FLAGS> have;
  for (const CK_MECHANISM_TYPE t : types) {
    CK_MECHANISM_INFO mi{};
    KMS_RETURN_IF_ERROR(
        lease.Check(f->C_GetMechanismInfo(info.slotID, t, &mi), "C_GetMechanismInfo"));
    have[t] = mi.flags;
  }
  return have;
}

}  // namespace

ProfileNeeds FullProfile() { return ProfileNeeds{}; }

std::vector<MechanismNeed> MechanismsNeeded(const ProfileNeeds& needs) {
  // Spec §5 (MIKEY MAC and PRF: HMAC-SHA-1-160, HMAC-SHA-256) and the audit checkpoint
  // MAC; architecture.md §3 for where each key lives.
  std::vector<MechanismNeed> out = {
      {CKM_SHA_1_HMAC, CKF_SIGN, "CKM_SHA_1_HMAC", "MIKEY MAC and PRF (HMAC-SHA-1-160)"},
      {CKM_SHA256_HMAC, CKF_SIGN, "CKM_SHA256_HMAC",
       "MIKEY MAC and PRF (HMAC-SHA-256), audit checkpoint MAC"},
  };
  if (needs.generate_keys) {
    out.push_back({CKM_GENERIC_SECRET_KEY_GEN, CKF_GENERATE, "CKM_GENERIC_SECRET_KEY_GEN",
                   "ticket protection, audit and credential keys"});
    out.push_back({CKM_AES_KEY_GEN, CKF_GENERATE, "CKM_AES_KEY_GEN", "KEK and backup key"});
  }
  const CK_FLAGS kwp = (needs.kwp_wrap ? CKF_WRAP : 0) | (needs.kwp_unwrap ? CKF_UNWRAP : 0);
  if (kwp != 0) {
    out.push_back({CKM_AES_KEY_WRAP_PAD, kwp, "CKM_AES_KEY_WRAP_PAD",
                   "credentials stored wrapped under the KEK (RFC 5649)"});
  }
  if (needs.gcm) {
    out.push_back({CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT, "CKM_AES_GCM", "backup sealing"});
  }
  if (needs.unlisted_mechanism_for_test) {
    out.push_back(
        {CKM_VENDOR_DEFINED | 0x4B4D53, CKF_SIGN, "CKM_VENDOR_DEFINED|0x4B4D53", "self-test hook"});
  }
  return out;
}

bool Meets(const MechanismNeed& need, const std::map<CK_MECHANISM_TYPE, CK_FLAGS>& have) {
  const auto it = have.find(need.type);
  return it != have.end() && (it->second & need.flags) == need.flags;
}

std::vector<std::string> MissingMechanisms(std::span<const MechanismNeed> needs,
                                           const std::map<CK_MECHANISM_TYPE, CK_FLAGS>& have) {
  std::vector<std::string> missing;
  for (const MechanismNeed& n : needs) {
    if (Meets(n, have)) continue;
    const auto it = have.find(n.type);
    std::string line = std::string(n.name) + " (" + FlagNames(n.flags) + ": " + std::string(n.use);
    if (it == have.end()) {
      missing.push_back(line + ")");
    } else {
      missing.push_back(line + "; listed without " + FlagNames(n.flags & ~it->second) + ")");
    }
  }
  return missing;
}

Result<std::vector<std::string>> ProbeAttributes(
    const std::function<CK_RV(std::span<const CK_ATTRIBUTE>)>& generate) {
  // A session HMAC key shaped like a credential copy (hsm/key_templates.cc): the
  // attributes that PKCS#11 2.40 added, or that older tokens skip, are probed.
  AttrTemplate base;
  base.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
      .Ulong(CKA_VALUE_LEN, 32)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_SIGN, true)
      .String(CKA_LABEL, "kms-profile-probe");
  static constexpr std::array<CK_MECHANISM_TYPE, 1> kHmac = {CKM_SHA256_HMAC};
  struct Probe {
    std::string_view name;
    AttrTemplate attr;
  };
  std::array<Probe, 4> probes = {{{"CKA_ALLOWED_MECHANISMS", {}},
                                  {"CKA_COPYABLE", {}},
                                  {"CKA_DESTROYABLE", {}},
                                  {"CKA_WRAP_WITH_TRUSTED", {}}}};
  probes[0].attr.Mechanisms(CKA_ALLOWED_MECHANISMS, kHmac);
  probes[1].attr.Bool(CKA_COPYABLE, false);
  probes[2].attr.Bool(CKA_DESTROYABLE, true);
  probes[3].attr.Bool(CKA_WRAP_WITH_TRUSTED, true);

  auto with = [&](std::span<Probe* const> extra) {
    std::vector<CK_ATTRIBUTE> t(base.data(), base.data() + base.size());
    for (Probe* p : extra) t.push_back(*p->attr.data());
    return t;
  };
  std::vector<Probe*> all;
  for (Probe& p : probes) all.push_back(&p);
  // Tokens say "no" to a template in several ways; each names the template, not the call.
  auto is_refusal = [](CK_RV rv) {
    return rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_VALUE_INVALID ||
           rv == CKR_ATTRIBUTE_READ_ONLY || rv == CKR_TEMPLATE_INCONSISTENT;
  };
  CK_RV rv = generate(with(all));
  if (rv == CKR_OK) return std::vector<std::string>{};
  if (!is_refusal(rv)) return FromCkRv(rv, "C_GenerateKey(profile probe)");
  std::vector<std::string> refused;
  for (Probe& p : probes) {
    const std::array<Probe*, 1> one = {&p};
    rv = generate(with(one));
    if (is_refusal(rv)) {
      refused.emplace_back(p.name);
    } else if (rv != CKR_OK) {
      return FromCkRv(rv, "C_GenerateKey(profile probe " + std::string(p.name) + ")");
    }
  }
  if (refused.empty()) {
    // Each alone is taken but not all together: name the combination rather than nothing.
    refused.emplace_back("their combination");
  }
  return refused;
}

Result<ProfileReport> ReadTokenProfile(Token& token, const ProfileNeeds& needs) {
  KMS_ASSIGN_OR_RETURN(SessionLease lease, token.Acquire());
  KMS_ASSIGN_OR_RETURN(auto have, ListMechanisms(lease));
  ProfileReport report;
  report.checked = MechanismsNeeded(needs);
  report.missing = MissingMechanisms(report.checked, have);
  for (const MechanismNeed& n : report.checked) report.met.push_back(Meets(n, have));
  const auto keygen = have.find(CKM_GENERIC_SECRET_KEY_GEN);
  if (keygen != have.end() && (keygen->second & CKF_GENERATE) != 0) {
    KMS_ASSIGN_OR_RETURN(report.refused,
                         ProbeAttributes([&](std::span<const CK_ATTRIBUTE> t) -> CK_RV {
                           CK_MECHANISM mech{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
                           CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
                           const CK_RV rv = lease.fn()->C_GenerateKey(
                               lease.handle(), &mech, const_cast<CK_ATTRIBUTE*>(t.data()),
                               checked_ulong_cast(t.size()), &h);
                           if (rv == CKR_OK) {
                             const TransientObject probe(lease, h);
                           }
                           return rv;
                         }));
    report.attributes_probed = true;
  }
  return report;
}

Status CheckTokenProfile(Token& token, const ProfileNeeds& needs) {
  KMS_ASSIGN_OR_RETURN(ProfileReport report, ReadTokenProfile(token, needs));
  return ProfileStatus(report, token.config().token_uri);
}

Status ProfileStatus(const ProfileReport& report, const std::string& token_uri) {
  if (report.ok()) return Status::Ok();
  std::vector<std::string> problems;
  for (const std::string& m : report.missing) problems.push_back("missing " + m);
  if (!report.refused.empty()) {
    std::string names;
    for (const std::string& r : report.refused) names += (names.empty() ? "" : ", ") + r;
    problems.push_back("key attributes refused: " + names +
                       " (PKCS#11 2.40; evaluator checklist §1 requires them)");
  }
  return FailedPreconditionError("token " + token_uri +
                                 " cannot hold this KMS's keys: " + Join(problems));
}

}  // namespace kms::hsm
