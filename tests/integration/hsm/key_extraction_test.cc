// Every extraction path an evaluator tries on the long-term keys (TPK, KEK, audit key and
// the backup key) in a real SoftHSM2 token (evaluator-checklist.md §2 items 5-11, §1
// "attribute-change circumvention"): each attempt with its exact return value.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/attr_template.h"
#include "hsm/key_manager.h"
#include "hsm/key_templates.h"
#include "hsm/token_key_vault.h"
#include "tests/integration/hsm/key_test_fixture.h"

namespace kms::hsm {
namespace {

using testing::KeyTest;
using testing::ReadBool;

TEST_F(KeyTest, HmacUsesOnlyAllowedMechanisms) {
  TokenKeyVault vault(*token_);
  Result<ports::KeyRef> tpk = vault.TicketKey(1);
  ASSERT_TRUE(tpk.ok());
  std::vector<uint8_t> data = {1, 2, 3};
  std::vector<uint8_t> out20(20), out32(32);
  EXPECT_TRUE(vault.Hmac(*tpk, crypto::HmacAlg::kSha1, data, out20).ok());
  EXPECT_TRUE(vault.Hmac(*tpk, crypto::HmacAlg::kSha256, data, out32).ok());
  EXPECT_EQ(vault.Hmac(*tpk, crypto::HmacAlg::kSha256, data, out20).code(),
            StatusCode::kInvalidArgument);
  // The audit key allows HMAC-SHA-256 only (evaluator-checklist.md §2 item 9).
  Result<ports::KeyRef> audit = vault.AuditKey(1);
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(vault.Hmac(*audit, crypto::HmacAlg::kSha256, data, out32).ok());
  Status s = vault.Hmac(*audit, crypto::HmacAlg::kSha1, data, out20);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("C_SignInit: CKR_MECHANISM_INVALID"), std::string::npos)
      << s.ToString();
  // A mechanism outside CKA_ALLOWED_MECHANISMS, called directly.
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_MECHANISM sha512{CKM_SHA512_HMAC, nullptr, 0};
  CK_OBJECT_HANDLE h = token_->LongTermKey(KeyKind::kTicket, 1)->handle;
  EXPECT_EQ(lease->fn()->C_SignInit(lease->handle(), &sha512, h), CKR_MECHANISM_INVALID);
  // Unknown references never reach another key.
  EXPECT_EQ(vault.Hmac(ports::KeyRef{12345}, crypto::HmacAlg::kSha256, data, out32).code(),
            StatusCode::kNotFound);
}

// Usage: what each long-term key may do (checklist §1: one purpose per key). Everything not
// listed must read FALSE and stay FALSE.
struct Usage {
  std::vector<CK_ATTRIBUTE_TYPE> on;
  std::vector<CK_MECHANISM_TYPE> mechanisms;
};
Usage UsageOf(const std::string& label) {
  if (label.starts_with("kms-kek-")) return {{CKA_WRAP, CKA_UNWRAP}, {CKM_AES_KEY_WRAP_PAD}};
  if (label.starts_with("kms-tpk-")) {
    return {{CKA_SIGN, CKA_VERIFY}, {CKM_SHA_1_HMAC, CKM_SHA256_HMAC}};
  }
  if (label.starts_with("kms-audit-")) return {{CKA_SIGN}, {CKM_SHA256_HMAC}};
  return {{CKA_ENCRYPT, CKA_DECRYPT}, {CKM_AES_GCM}};  // kms-backup-vN
}

std::vector<CK_MECHANISM_TYPE> ReadMechanisms(SessionLease& lease, CK_OBJECT_HANDLE h) {
  std::vector<CK_MECHANISM_TYPE> m(16);
  CK_ATTRIBUTE a{CKA_ALLOWED_MECHANISMS, m.data(),
                 checked_ulong_cast(m.size() * sizeof(CK_MECHANISM_TYPE))};
  EXPECT_EQ(lease.fn()->C_GetAttributeValue(lease.handle(), h, &a, 1), CKR_OK);
  m.resize(a.ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a.ulValueLen / sizeof(m[0]));
  std::sort(m.begin(), m.end());
  return m;
}

// ExtractableUserKey: a session key the user role may wrap (the positive control of the
// wrap attempts); CK_INVALID_HANDLE with a failure if it cannot be generated.
CK_OBJECT_HANDLE ExtractableUserKey(SessionLease& lease) {
  AttrTemplate t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  t.Bool(CKA_TOKEN, false).Bool(CKA_EXTRACTABLE, true).Ulong(CKA_VALUE_LEN, 32);
  CK_MECHANISM gen{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  EXPECT_EQ(lease.fn()->C_GenerateKey(lease.handle(), &gen, t.data(), t.size(), &h), CKR_OK);
  return h;
}

// Items 5-8 and 10 for the TPK, the KEK, the audit key and the backup key. Every change is
// tried, its exact return value asserted, and the attribute read back unchanged afterwards
// (a token could return an error and still apply part of a template).
TEST_F(KeyTest, LongTermKeysResistEveryExtractionPath) {
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  const CK_FUNCTION_LIST* f = lease->fn();
  CK_SESSION_HANDLE s = lease->handle();
  CK_OBJECT_HANDLE kek = token_->LongTermKey(KeyKind::kKek, 1)->handle;
  const auto keys = AllKeys(*lease);
  ASSERT_EQ(keys.size(), 4u);
  for (const auto& [label, h] : keys) {
    SCOPED_TRACE(label);
    const Usage usage = UsageOf(label);
    // Item 5: the value is never readable (PKCS#11 v2.40 §4.10: CKA_SENSITIVE TRUE or
    // CKA_EXTRACTABLE FALSE makes CKA_VALUE unreadable).
    uint8_t value[64];
    CK_ATTRIBUTE va{CKA_VALUE, value, sizeof(value)};
    EXPECT_EQ(f->C_GetAttributeValue(s, h, &va, 1), CKR_ATTRIBUTE_SENSITIVE);
    EXPECT_EQ(va.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    // Item 6 with the KEK: KWP is its one allowed mechanism, so the key to be wrapped is
    // what refuses (CKA_EXTRACTABLE FALSE, v2.40 §5.13 C_WrapKey: CKR_KEY_UNEXTRACTABLE);
    // plain KW is refused first as outside the KEK's CKA_ALLOWED_MECHANISMS.
    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_MECHANISM kw{CKM_AES_KEY_WRAP, nullptr, 0};
    uint8_t wrapped[128];
    CK_ULONG wl = sizeof(wrapped);
    EXPECT_EQ(f->C_WrapKey(s, &kwp, kek, h, wrapped, &wl), CKR_KEY_UNEXTRACTABLE);
    wl = sizeof(wrapped);
    EXPECT_EQ(f->C_WrapKey(s, &kw, kek, h, wrapped, &wl), CKR_MECHANISM_INVALID);
    // Item 7: no relaxation. CKA_MODIFIABLE FALSE: SoftHSM2 refuses every
    // C_SetAttributeValue on the object with CKR_ACTION_PROHIBITED (v3.0 §4.4.1 names it
    // for an object whose CKA_MODIFIABLE is FALSE).
    // A copy: clang 14 does not implement C++20's capture of structured bindings (P1381).
    const CK_OBJECT_HANDLE key = h;
    auto set_refused = [&](AttrTemplate& t) {
      EXPECT_EQ(f->C_SetAttributeValue(s, key, t.data(), t.size()), CKR_ACTION_PROHIBITED);
    };
    {
      AttrTemplate t;
      t.Bool(CKA_SENSITIVE, false);
      set_refused(t);
      EXPECT_EQ(ReadBool(*lease, h, CKA_SENSITIVE), CK_TRUE);
    }
    {
      AttrTemplate t;
      t.Bool(CKA_EXTRACTABLE, true);
      set_refused(t);
      EXPECT_EQ(ReadBool(*lease, h, CKA_EXTRACTABLE), CK_FALSE);
    }
    {
      AttrTemplate t;
      const CK_MECHANISM_TYPE any[] = {CKM_SHA512_HMAC, CKM_AES_ECB, CKM_AES_KEY_WRAP};
      t.Mechanisms(CKA_ALLOWED_MECHANISMS, any);
      set_refused(t);
      std::vector<CK_MECHANISM_TYPE> want = usage.mechanisms;
      std::sort(want.begin(), want.end());
      EXPECT_EQ(ReadMechanisms(*lease, h), want);
    }
    // Gap 6: switching on a second purpose (the Clulow wrap/decrypt and sign/derive classes)
    // or CKA_MODIFIABLE itself; each attempt refused and read back unchanged.
    for (CK_ATTRIBUTE_TYPE type : {CKA_WRAP, CKA_UNWRAP, CKA_DECRYPT, CKA_ENCRYPT, CKA_DERIVE,
                                   CKA_SIGN, CKA_MODIFIABLE, CKA_COPYABLE}) {
      SCOPED_TRACE(type);
      const bool on = std::find(usage.on.begin(), usage.on.end(), type) != usage.on.end();
      EXPECT_EQ(ReadBool(*lease, h, type), on ? CK_TRUE : CK_FALSE);
      if (!on) {
        AttrTemplate t;
        t.Bool(type, true);
        set_refused(t);
        EXPECT_EQ(ReadBool(*lease, h, type), CK_FALSE);
      }
    }
    // Item 8: no copy with relaxed attributes (nor any copy: CKA_COPYABLE FALSE; v3.0
    // §5.7 C_CopyObject: CKR_ACTION_PROHIBITED).
    for (CK_ATTRIBUTE_TYPE relaxed : {CKA_EXTRACTABLE, CKA_SENSITIVE}) {
      AttrTemplate t;
      t.Bool(relaxed, relaxed == CKA_EXTRACTABLE);
      CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
      EXPECT_EQ(f->C_CopyObject(s, h, t.data(), t.size(), &copy), CKR_ACTION_PROHIBITED);
      EXPECT_EQ(copy, CK_INVALID_HANDLE);
    }
    // Item 10: provenance (set by the token only, v2.40 §4.10), and the rest of §1.
    EXPECT_EQ(ReadBool(*lease, h, CKA_ALWAYS_SENSITIVE), CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_NEVER_EXTRACTABLE), CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_LOCAL), CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_TOKEN), CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_PRIVATE), CK_TRUE);
    // Destroyable: rotation retires old versions (hsm/key_templates.cc KeepInToken).
    EXPECT_EQ(ReadBool(*lease, h, CKA_DESTROYABLE), CK_TRUE);
  }
}

// Gap 6: a wrapping key the user role makes itself (known value, CKA_WRAP TRUE, both AES
// wrap mechanisms SoftHSM2 2.6 offers for secret keys; it refuses CKM_AES_CBC_PAD in
// C_WrapKey with CKR_MECHANISM_INVALID) wraps none of the long-term keys. SoftHSM2
// checks the key to be wrapped after the wrapping key and the mechanism, and refuses it
// with CKR_KEY_UNEXTRACTABLE (CKA_EXTRACTABLE FALSE; v2.40 §5.13). None of them carries
// CKA_WRAP_WITH_TRUSTED, so CKR_KEY_NOT_WRAPPABLE is not the answer here; the PSK copies
// (credential_test.cc) get that one.
TEST_F(KeyTest, LongTermKeysResistAUserMadeWrappingKey) {
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  const CK_FUNCTION_LIST* f = lease->fn();
  CK_SESSION_HANDLE s = lease->handle();
  AttrTemplate wt;
  wt.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_WRAP, true)
      .Bool(CKA_UNWRAP, true)
      .Bool(CKA_ENCRYPT, true)
      .Bool(CKA_DECRYPT, true)
      .Bytes(CKA_VALUE, std::vector<uint8_t>(32, 0x77));
  CK_OBJECT_HANDLE wrapper = CK_INVALID_HANDLE;
  ASSERT_EQ(f->C_CreateObject(s, wt.data(), wt.size(), &wrapper), CKR_OK);
  // Positive control: the wrapping key does wrap an extractable key of the user's.
  const CK_OBJECT_HANDLE control = ExtractableUserKey(*lease);
  ASSERT_NE(control, CK_INVALID_HANDLE);
  CK_MECHANISM mechs[] = {{CKM_AES_KEY_WRAP_PAD, nullptr, 0}, {CKM_AES_KEY_WRAP, nullptr, 0}};
  for (CK_MECHANISM& m : mechs) {
    SCOPED_TRACE(m.mechanism);
    uint8_t wrapped[128];
    CK_ULONG wl = sizeof(wrapped);
    ASSERT_EQ(f->C_WrapKey(s, &m, wrapper, control, wrapped, &wl), CKR_OK);
    for (const auto& [label, h] : AllKeys(*lease)) {
      SCOPED_TRACE(label);
      wl = sizeof(wrapped);
      EXPECT_EQ(f->C_WrapKey(s, &m, wrapper, h, wrapped, &wl), CKR_KEY_UNEXTRACTABLE);
    }
  }
  f->C_DestroyObject(s, control);
  f->C_DestroyObject(s, wrapper);
}

// Item 9 for the KEK and the backup key (the HMAC keys are above): a mechanism the key's
// usage flags allow but CKA_ALLOWED_MECHANISMS does not gives CKR_MECHANISM_INVALID (v2.40
// §4.6 CKA_ALLOWED_MECHANISMS).
TEST_F(KeyTest, KekAndBackupKeyUseOnlyAllowedMechanisms) {
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  const CK_FUNCTION_LIST* f = lease->fn();
  CK_SESSION_HANDLE s = lease->handle();
  CK_OBJECT_HANDLE backup = BackupKey(*lease);
  std::vector<uint8_t> iv(16, 0);
  for (CK_MECHANISM m :
       {CK_MECHANISM{CKM_AES_ECB, nullptr, 0}, CK_MECHANISM{CKM_AES_CBC_PAD, iv.data(), 16}}) {
    SCOPED_TRACE(m.mechanism);
    EXPECT_EQ(f->C_EncryptInit(s, &m, backup), CKR_MECHANISM_INVALID);
    EXPECT_EQ(f->C_DecryptInit(s, &m, backup), CKR_MECHANISM_INVALID);
  }
  // The KEK wraps with KWP only: plain KW (RFC 3394), which SoftHSM2 supports for C_WrapKey
  // (LongTermKeysResistAUserMadeWrappingKey's control), is refused on an extractable key of
  // the user's, so the refusal is the KEK's mechanism list.
  CK_OBJECT_HANDLE kek = token_->LongTermKey(KeyKind::kKek, 1)->handle;
  const CK_OBJECT_HANDLE target = ExtractableUserKey(*lease);
  ASSERT_NE(target, CK_INVALID_HANDLE);
  uint8_t wrapped[128];
  CK_ULONG wl = sizeof(wrapped);
  CK_MECHANISM kw{CKM_AES_KEY_WRAP, nullptr, 0};
  EXPECT_EQ(f->C_WrapKey(s, &kw, kek, target, wrapped, &wl), CKR_MECHANISM_INVALID);
  wl = sizeof(wrapped);
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  EXPECT_EQ(f->C_WrapKey(s, &kwp, kek, target, wrapped, &wl), CKR_OK);  // control
  f->C_DestroyObject(s, target);
}

// Item 11: an independent tool (OpenSC pkcs11-tool) sees every long-term key, the backup
// key included, as sensitive, always sensitive, never extractable and local.
TEST_F(KeyTest, Pkcs11ToolShowsKeysSensitiveAndNeverExtractable) {
  std::string out;
  int rc = testing::RunCommand(
      {"pkcs11-tool", "--module", KMS_SOFTHSM2_MODULE, "--token-label", softhsm_.label(), "--login",
       "--pin", testing::kUserPin, "--list-objects"},
      &out);
  ASSERT_EQ(rc, 0) << out;
  // Split into object blocks: each starts at a line without leading blanks.
  std::istringstream in(out);
  std::string line;
  std::string label;
  std::map<std::string, std::string> access;  // label -> Access line
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ') {
      label.clear();
    }
    if (auto p = line.find("label:"); p != std::string::npos) {
      label = line.substr(p + 6);
      label.erase(0, label.find_first_not_of(' '));
    }
    if (auto p = line.find("Access:"); p != std::string::npos && !label.empty()) {
      access[label] = line.substr(p + 7);
    }
  }
  for (const char* want : {"kms-tpk-v1", "kms-kek-v1", "kms-audit-v1", "kms-backup-v1"}) {
    SCOPED_TRACE(want);
    ASSERT_EQ(access.count(want), 1u) << out;
    // Split "sensitive, always sensitive, never extractable, local" into its items.
    std::set<std::string> items;
    std::istringstream list(access[want]);
    std::string item;
    while (std::getline(list, item, ',')) {
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      items.insert(item);
    }
    for (const char* must : {"sensitive", "always sensitive", "never extractable", "local"}) {
      EXPECT_EQ(items.count(must), 1u) << must << " missing in: " << access[want];
    }
    EXPECT_EQ(items.count("extractable"), 0u) << access[want];
  }
}

}  // namespace
}  // namespace kms::hsm
