// Long-term keys in a real SoftHSM2 token: provisioning, lookup, and the provenance check
// that keeps planted objects out of use (evaluator-checklist.md §1 "provenance checks").
// The extraction attempts are in key_extraction_test.cc, the unwrap template in
// key_unwrap_test.cc.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/attr_template.h"
#include "hsm/key_manager.h"
#include "hsm/key_templates.h"
#include "hsm/token_key_vault.h"
#include "tests/integration/hsm/hsm_test_util.h"
#include "tests/integration/hsm/key_test_fixture.h"

namespace kms::hsm {
namespace {

using testing::KeyTest;

TEST_F(KeyTest, CreateListFindDestroy) {
  KeyManager km(*token_);
  std::vector<KeyName> keys = km.ListKeys();
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(km.CreateTicketKey(1).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(km.CreateTicketKey(0).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(km.CreateTicketKey(2).ok());

  TokenKeyVault vault(*token_);
  Result<uint32_t> active = vault.ActiveTicketKeyVersion();
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(*active, 2u);
  EXPECT_TRUE(vault.TicketKey(1).ok());
  EXPECT_EQ(vault.TicketKey(3).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*vault.ActiveAuditKeyVersion(), 1u);
  Result<ports::KeyRef> audit = vault.AuditKey(1);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(*vault.KeySize(*audit), 32u);

  // A second connection finds the keys by label (the start-up search).
  Result<std::unique_ptr<Token>> again = Token::Open(*module_, softhsm_.Config());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->LongTermKeys().size(), 4u);
  EXPECT_TRUE((*again)->LongTermKey(KeyKind::kKek, 1).ok());

  ASSERT_TRUE(km.DestroyKey(KeyKind::kTicket, 1).ok());
  EXPECT_EQ(km.DestroyKey(KeyKind::kTicket, 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(vault.TicketKey(1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(km.ListKeys().size(), 3u);
}

// ---- The key index (hsm/key_provenance.h; checklist §1 provenance checks) ----

// Plant: a token object from t, by C_CreateObject or, with gen, by C_GenerateKey.
void Plant(Token& token, AttrTemplate& t, std::optional<CK_MECHANISM_TYPE> gen = std::nullopt) {
  Result<SessionLease> lease = token.Acquire();
  ASSERT_TRUE(lease.ok());
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  CK_MECHANISM m{gen.value_or(0), nullptr, 0};
  CK_RV rv = gen.has_value()
                 ? lease->fn()->C_GenerateKey(lease->handle(), &m, t.data(), t.size(), &h)
                 : lease->fn()->C_CreateObject(lease->handle(), t.data(), t.size(), &h);
  ASSERT_EQ(rv, CKR_OK);
}

// PublicKey: what a R/W public session (no user PIN, or the SO only) may create: a public
// token secret key of known value with our CKA_ID and a long-term label.
AttrTemplate PublicKey(std::string_view label, CK_KEY_TYPE type, size_t bytes) {
  AttrTemplate t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, type)
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, false)
      .Bool(CKA_SIGN, true)
      .String(CKA_LABEL, label)
      .String(CKA_ID, kLongTermKeyId)
      .Bytes(CKA_VALUE, std::vector<uint8_t>(bytes, 0x5A));
  return t;
}

// Refused: `label` is among the refused objects (Token::RejectedKeyObjects or
// KeyManager::RejectedBackupKeys) with a reason containing `why`.
::testing::AssertionResult Refused(const std::vector<RejectedKeyObject>& refused,
                                   const std::string& label, const std::string& why) {
  std::string seen;
  for (const RejectedKeyObject& r : refused) {
    if (r.label == label && r.reason.find(why) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    seen += " [" + r.label + ": " + r.reason + "]";
  }
  return ::testing::AssertionFailure()
         << label << " not refused for " << why << "; refused:" << seen;
}

// A public known-value key with the highest versions must not become the active TPK after
// a restart or an index refresh (else every new ticket is sealed under a known key).
TEST_F(KeyTest, PlantedPublicKnownValueTpkIsNotUsed) {
  for (const char* label : {"kms-tpk-v9", "kms-tpk-v4294967295"}) {
    AttrTemplate t = PublicKey(label, CKK_GENERIC_SECRET, 32);
    Plant(*token_, t);
  }
  Result<std::unique_ptr<Token>> again = Token::Open(*module_, softhsm_.Config());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  for (Token* tok : {again->get(), token_.get()}) {
    ASSERT_TRUE(tok->RefreshKeyIndex().ok());
    TokenKeyVault vault(*tok);
    Result<uint32_t> active = vault.ActiveTicketKeyVersion();
    ASSERT_TRUE(active.ok()) << active.status().ToString();
    EXPECT_EQ(*active, 1u);
    EXPECT_EQ(vault.TicketKey(9).status().code(), StatusCode::kNotFound);
    const std::vector<uint8_t> data = {1, 2, 3};
    std::vector<uint8_t> out(32);
    // A reference naming TPK v9 directly (kind 1 in bits 56..63) does not reach the object.
    const ports::KeyRef v9{(uint64_t{1} << 56) | 9};
    EXPECT_EQ(vault.Hmac(v9, crypto::HmacAlg::kSha256, data, out).code(), StatusCode::kNotFound);
    EXPECT_TRUE(vault.Hmac(*vault.TicketKey(1), crypto::HmacAlg::kSha256, data, out).ok());
    EXPECT_TRUE(Refused(tok->RejectedKeyObjects(), "kms-tpk-v9", "CKA_PRIVATE"));
    EXPECT_TRUE(Refused(tok->RejectedKeyObjects(), "kms-tpk-v4294967295", "CKA_PRIVATE"));
    EXPECT_EQ(tok->LongTermKeys().size(), 3u);
  }
}

// The user role's own imports and hand-made keys are refused too: only what KeyManager
// generates in the token (its template, CKA_LOCAL, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE).
TEST_F(KeyTest, KeysNotGeneratedByKeyManagerAreRefused) {
  // KeyManager's KEK attributes, but imported with a known value: CKA_LOCAL FALSE.
  AttrTemplate imported;
  imported.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES);
  imported.Bool(CKA_TOKEN, true).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true);
  imported.Bool(CKA_EXTRACTABLE, false).Bool(CKA_MODIFIABLE, false).Bool(CKA_COPYABLE, false);
  imported.Bool(CKA_DESTROYABLE, true).Bool(CKA_SIGN, false).Bool(CKA_VERIFY, false);
  imported.Bool(CKA_ENCRYPT, false).Bool(CKA_DECRYPT, false).Bool(CKA_DERIVE, false);
  imported.Bool(CKA_WRAP, true).Bool(CKA_UNWRAP, true);
  imported.String(CKA_LABEL, "kms-kek-v7").String(CKA_ID, kLongTermKeyId);
  const CK_MECHANISM_TYPE kwp[] = {CKM_AES_KEY_WRAP_PAD};
  imported.Mechanisms(CKA_ALLOWED_MECHANISMS, kwp);
  imported.Bytes(CKA_VALUE, std::vector<uint8_t>(32, 0x33));
  Plant(*token_, imported);
  // Generated in the token by the user role, but readable.
  AttrTemplate readable;
  readable.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  readable.Ulong(CKA_VALUE_LEN, 32).Bool(CKA_TOKEN, true).Bool(CKA_PRIVATE, true);
  readable.Bool(CKA_SENSITIVE, false).Bool(CKA_EXTRACTABLE, true).Bool(CKA_SIGN, true);
  readable.String(CKA_LABEL, "kms-audit-v4").String(CKA_ID, kLongTermKeyId);
  Plant(*token_, readable, CKM_GENERIC_SECRET_KEY_GEN);

  Result<std::unique_ptr<Token>> again = Token::Open(*module_, softhsm_.Config());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  Token& tok = **again;
  EXPECT_EQ(*tok.ActiveVersion(KeyKind::kKek), 1u);
  EXPECT_EQ(*tok.ActiveVersion(KeyKind::kAudit), 1u);
  EXPECT_TRUE(Refused(tok.RejectedKeyObjects(), "kms-kek-v7", "CKA_LOCAL"));
  EXPECT_TRUE(Refused(tok.RejectedKeyObjects(), "kms-audit-v4", "CKA_SENSITIVE"));
  EXPECT_EQ(tok.RejectedKeyObjects().size(), 2u);
  // Credentials are wrapped under the genuine KEK v1, never the imported v7.
  Result<ports::WrappedCredential> cred = TokenKeyVault(tok).GenerateCredential("btid-i", 32);
  ASSERT_TRUE(cred.ok()) << cred.status().ToString();
  EXPECT_EQ(cred->kek_version, 1u);
}

// A foreign object whose attributes cannot even be read as a key of ours (a DES3 key has no
// CKA_VALUE_LEN) is skipped: the connect succeeds and the genuine keys are indexed.
TEST_F(KeyTest, ObjectWithoutValueLenDoesNotBreakConnect) {
  for (const char* label : {"kms-tpk-v2", "not-ours"}) {
    AttrTemplate t = PublicKey(label, CKK_DES3, 24);
    Plant(*token_, t);
  }
  Result<std::unique_ptr<Token>> again = Token::Open(*module_, softhsm_.Config());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->LongTermKeys().size(), 3u);
  EXPECT_EQ(*(*again)->ActiveVersion(KeyKind::kTicket), 1u);
  EXPECT_TRUE(Refused((*again)->RejectedKeyObjects(), "kms-tpk-v2", "CKA_"));
  EXPECT_TRUE(Refused((*again)->RejectedKeyObjects(), "not-ours", "not a long-term key label"));
}

// ---- The backup key (kmsctl backup; hsm/key_provenance.h InspectBackupKey) ----

// PlantedBackupKey: a token AES key with the backup key's label, CKA_ID, usage and
// mechanism, of a value the planter knows: public (a R/W public session can create it
// without the user PIN, PKCS#11 v2.40 §4.4) or, with private, made by the user role.
AttrTemplate PlantedBackupKey(std::string_view label, bool priv, std::span<const uint8_t> value) {
  AttrTemplate t;
  const CK_MECHANISM_TYPE gcm[] = {CKM_AES_GCM};
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, priv)
      .Bool(CKA_ENCRYPT, true)
      .Bool(CKA_DECRYPT, true)
      .String(CKA_LABEL, label)
      .String(CKA_ID, kBackupKeyId)
      .Mechanisms(CKA_ALLOWED_MECHANISMS, gcm)
      .Bytes(CKA_VALUE, value);
  return t;
}

// Before the provenance check, EnsureBackupKey took the highest "kms-backup-vN" by label and
// CKA_ID: a planted known-value key would have sealed every new backup (readable by the
// planter), and a restore would have accepted a database the planter sealed under it.
TEST_F(KeyTest, PlantedBackupKeysAreNotUsed) {
  const std::vector<uint8_t> known(32, 0x5B);
  for (auto [label, priv] :
       {std::pair{"kms-backup-v16", false}, std::pair{"kms-backup-v9", true}}) {
    AttrTemplate t = PlantedBackupKey(label, priv, known);
    Plant(*token_, t);
  }
  // The user role's generated but readable key with every usage attribute right.
  AttrTemplate readable = BackupKeyTemplate(12);
  readable.Bool(CKA_SENSITIVE, false).Bool(CKA_EXTRACTABLE, true);
  Plant(*token_, readable, CKM_AES_KEY_GEN);

  KeyManager km(*token_);
  Result<uint32_t> version = km.EnsureBackupKey();
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, 1u);
  const std::vector<uint8_t> plain = {'d', 'b'};
  const std::vector<uint8_t> aad = {'h', 'd', 'r'};
  for (uint32_t planted : {9u, 12u, 16u}) {
    SCOPED_TRACE(planted);
    EXPECT_EQ(km.SealBackup(planted, plain, aad).status().code(), StatusCode::kNotFound);
    // A "backup" the planter sealed under the known value is not opened either.
    const std::vector<uint8_t> iv(12, 0x01);
    const std::vector<uint8_t> forged = testing::OpensslGcmSeal(known, iv, plain, aad);
    ASSERT_FALSE(forged.empty());
    EXPECT_EQ(km.OpenBackup(planted, forged, aad).status().code(), StatusCode::kNotFound);
  }
  // A planted public key beside the generated version 1 neither replaces it nor makes
  // "several objects" an error: the sealed data does not open under the known value, and
  // the token opens it.
  AttrTemplate twin = PlantedBackupKey("kms-backup-v1", false, known);
  Plant(*token_, twin);
  Result<std::vector<uint8_t>> sealed = km.SealBackup(1, plain, aad);
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  const std::vector<uint8_t> iv(sealed->begin(), sealed->begin() + 12);
  EXPECT_NE(testing::OpensslGcmSeal(known, iv, plain, aad), *sealed);
  Result<std::vector<uint8_t>> opened = km.OpenBackup(1, *sealed, aad);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, plain);
  // Each refused object is reported with its reason, once.
  EXPECT_TRUE(Refused(km.RejectedBackupKeys(), "kms-backup-v16", "CKA_PRIVATE"));
  EXPECT_TRUE(Refused(km.RejectedBackupKeys(), "kms-backup-v9", "CKA_"));
  EXPECT_TRUE(Refused(km.RejectedBackupKeys(), "kms-backup-v12", "CKA_SENSITIVE"));
  EXPECT_TRUE(Refused(km.RejectedBackupKeys(), "kms-backup-v1", "CKA_PRIVATE"));
  EXPECT_EQ(km.RejectedBackupKeys().size(), 4u);
}

}  // namespace
}  // namespace kms::hsm
