// Token profile check (hsm/token_profile.h): a real SoftHSM2 token meets it and keeps no
// probe object; the same token with mechanisms switched off in its softhsm2.conf
// (slots.mechanisms, softhsm2.conf(5)) is refused with each one named, by the check, by
// kmsd's start-up self-tests and for the needs that remain. The attribute probe is tested
// with a scripted generate function: SoftHSM2 takes every PKCS#11 2.40 attribute, and a
// token that refuses some (opencryptoki 3.8.1) cannot be made here without touching the
// system's own token store.
#include "hsm/token_profile.h"

#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/find_scope.h"
#include "hsm/token_key_vault.h"
#include "src/daemon/self_test.h"
#include "tests/integration/hsm/softhsm_fixture.h"

namespace kms::hsm {
namespace {

using testing::SoftHsmTest;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class TokenProfileTest : public SoftHsmTest<> {
 protected:
  TokenProfileTest() : SoftHsmTest("kms-profile") {}
  // Disable: switches mechanisms off for this token (read at C_Initialize, so before the
  // module is opened). list: comma-separated CKM_ names. SoftHSM2 2.6.1 ignores the first
  // name after the "-" (seen with pkcs11-tool -M), hence the empty first element.
  void Disable(const std::string& list) {
    std::ofstream c(softhsm_.conf(), std::ios::app);
    c << "slots.mechanisms = -," << list << "\n";
  }
  // ProbeObjects: session or token objects the probe could have left (its label).
  size_t ProbeObjects() {
    Result<SessionLease> lease = token_->Acquire();
    EXPECT_TRUE(lease.ok());
    if (!lease.ok()) return 0;
    AttrTemplate t;
    t.String(CKA_LABEL, "kms-profile-probe");
    Result<std::vector<CK_OBJECT_HANDLE>> found = FindAll(*lease, t, 16);
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    return found.ok() ? found->size() : 0;
  }
};

TEST_F(TokenProfileTest, SoftHsmMeetsTheFullProfileAndKeepsNoProbeObject) {
  ASSERT_NO_FATAL_FAILURE(OpenToken());
  Result<ProfileReport> r = ReadTokenProfile(*token_, FullProfile());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->ok());
  EXPECT_TRUE(r->attributes_probed);  // a key was made, and must be gone again
  EXPECT_EQ(r->checked.size(), 6u);
  EXPECT_TRUE(CheckTokenProfile(*token_, FullProfile()).ok());
  EXPECT_EQ(ProbeObjects(), 0u);
}

TEST_F(TokenProfileTest, SwitchedOffMechanismsAreEachNamedWithTheirUse) {
  Disable("CKM_AES_GCM,CKM_AES_KEY_WRAP_PAD");
  ASSERT_NO_FATAL_FAILURE(OpenToken());
  Status s = CheckTokenProfile(*token_, FullProfile());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(s.message(), "CKM_AES_GCM (encrypt, decrypt: backup sealing)")) << s.message();
  EXPECT_TRUE(Has(s.message(), "CKM_AES_KEY_WRAP_PAD (wrap, unwrap: credentials stored wrapped"))
      << s.message();
  EXPECT_TRUE(Has(s.message(), "pkcs11:token=kms-profile")) << s.message();
  EXPECT_FALSE(Has(s.message(), "CKM_SHA256_HMAC")) << s.message();
  EXPECT_FALSE(Has(s.message(), "key attributes refused")) << s.message();

  // kmsd with credential_storage = "token-objects" needs neither: the same token is fine.
  ProfileNeeds token_objects;
  token_objects.kwp_wrap = token_objects.kwp_unwrap = token_objects.gcm = false;
  EXPECT_TRUE(CheckTokenProfile(*token_, token_objects).ok());

  // kmsd's start-up with wrapped credentials stops at token_profile, before any known
  // answer is computed, and names the mechanism.
  TokenKeyVault vault(*token_);
  daemon::StartupSelfTestOptions o;
  daemon::SelfTestOutcome out = daemon::RunSelfTests(daemon::StartupSelfTests(*token_, vault, o));
  EXPECT_EQ(out.failed_test, "token_profile");
  EXPECT_TRUE(Has(out.status.message(), "self-test token_profile: ")) << out.status.message();
  EXPECT_TRUE(Has(out.status.message(), "CKM_AES_KEY_WRAP_PAD (wrap, unwrap"))
      << out.status.message();
  EXPECT_FALSE(Has(out.status.message(), "CKM_AES_GCM")) << "backups are not kmsd's";
  o.with_kwp = false;
  out = daemon::RunSelfTests(daemon::StartupSelfTests(*token_, vault, o));
  EXPECT_TRUE(out.status.ok()) << out.status.ToString();
}

TEST_F(TokenProfileTest, HmacSwitchedOffIsNamedAndTheProbeIsSkippedWithoutKeyGeneration) {
  Disable("CKM_SHA_1_HMAC,CKM_GENERIC_SECRET_KEY_GEN");
  ASSERT_NO_FATAL_FAILURE(OpenToken());
  Status s = CheckTokenProfile(*token_, FullProfile());
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Has(s.message(), "CKM_SHA_1_HMAC (sign: MIKEY MAC and PRF")) << s.message();
  EXPECT_TRUE(Has(s.message(), "CKM_GENERIC_SECRET_KEY_GEN (generate: ")) << s.message();
  Result<ProfileReport> r = ReadTokenProfile(*token_, FullProfile());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->attributes_probed);
  EXPECT_TRUE(r->refused.empty());
}

TEST(TokenProfileRules, MissingMechanismsNamesAbsentOnesAndMissingOperations) {
  const std::vector<MechanismNeed> needs = MechanismsNeeded(FullProfile());
  std::map<CK_MECHANISM_TYPE, CK_FLAGS> have;
  for (const MechanismNeed& n : needs) have[n.type] = n.flags | CKF_VERIFY;
  EXPECT_TRUE(MissingMechanisms(needs, have).empty());

  have[CKM_AES_KEY_WRAP_PAD] = CKF_WRAP;  // unwrap not offered
  have.erase(CKM_AES_GCM);
  const std::vector<std::string> missing = MissingMechanisms(needs, have);
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_TRUE(Has(missing[0], "CKM_AES_KEY_WRAP_PAD (wrap, unwrap: ")) << missing[0];
  EXPECT_TRUE(Has(missing[0], "; listed without unwrap)")) << missing[0];
  EXPECT_EQ(missing[1], "CKM_AES_GCM (encrypt, decrypt: backup sealing)");

  // Each need switched off removes exactly its mechanism from the list.
  ProfileNeeds small;
  small.generate_keys = small.kwp_wrap = small.kwp_unwrap = small.gcm = false;
  EXPECT_EQ(MechanismsNeeded(small).size(), 2u);  // the two HMACs
  small.kwp_unwrap = true;
  ASSERT_EQ(MechanismsNeeded(small).size(), 3u);
  EXPECT_EQ(MechanismsNeeded(small)[2].flags, CKF_UNWRAP);
}

// A scripted token: refuses (CKR_ATTRIBUTE_TYPE_INVALID) every template holding one of
// `refused`; counts the calls.
struct ScriptedGenerate {
  std::vector<CK_ATTRIBUTE_TYPE> refused;
  CK_RV other = CKR_OK;
  int calls = 0;
  CK_RV operator()(std::span<const CK_ATTRIBUTE> t) {
    ++calls;
    for (const CK_ATTRIBUTE& a : t) {
      for (CK_ATTRIBUTE_TYPE r : refused) {
        if (a.type == r) return CKR_ATTRIBUTE_TYPE_INVALID;
      }
    }
    return other;
  }
};

TEST(TokenProfileRules, ProbeNamesEachRefusedAttribute) {
  ScriptedGenerate all_taken;
  auto r = ProbeAttributes(std::ref(all_taken));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(all_taken.calls, 1) << "one key when the token takes the full template";

  // What opencryptoki 3.8.1 refuses (docs/evaluator-traceability.md, gap 1).
  ScriptedGenerate old{{CKA_ALLOWED_MECHANISMS, CKA_COPYABLE, CKA_DESTROYABLE}};
  r = ProbeAttributes(std::ref(old));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(
      *r, (std::vector<std::string>{"CKA_ALLOWED_MECHANISMS", "CKA_COPYABLE", "CKA_DESTROYABLE"}));
  EXPECT_EQ(old.calls, 5);

  ScriptedGenerate trusted{{CKA_WRAP_WITH_TRUSTED}};
  r = ProbeAttributes(std::ref(trusted));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<std::string>{"CKA_WRAP_WITH_TRUSTED"});

  // A token that says "no" with another template code is read the same way.
  int calls = 0;
  r = ProbeAttributes([&](std::span<const CK_ATTRIBUTE> t) -> CK_RV {
    ++calls;
    for (const CK_ATTRIBUTE& a : t) {
      if (a.type == CKA_COPYABLE) return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    return CKR_OK;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, std::vector<std::string>{"CKA_COPYABLE"});
  EXPECT_EQ(calls, 5);
}

TEST(TokenProfileRules, ProbeReportsOtherFailuresAsErrors) {
  ScriptedGenerate broken{{}, CKR_DEVICE_ERROR};
  auto r = ProbeAttributes(std::ref(broken));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "CKR_DEVICE_ERROR")) << r.status().message();

  // Refused together, taken one by one: the combination is named, not nothing.
  int calls = 0;
  r = ProbeAttributes([&](std::span<const CK_ATTRIBUTE> t) -> CK_RV {
    ++calls;
    return t.size() > 9 ? CKR_ATTRIBUTE_TYPE_INVALID : CKR_OK;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<std::string>{"their combination"});
}

}  // namespace
}  // namespace kms::hsm
