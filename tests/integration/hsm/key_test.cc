// Long-term keys in a real SoftHSM2 token: provisioning, lookup, and every extraction path
// an evaluator tries (evaluator-checklist.md §2 items 5-11).
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/attr_template.h"
#include "hsm/key_manager.h"
#include "hsm/key_templates.h"
#include "hsm/token_key_vault.h"
#include "tests/integration/hsm/softhsm_fixture.h"

namespace kms::hsm {
namespace {

using testing::SoftHsmTest;

class KeyTest : public SoftHsmTest<> {
 protected:
  KeyTest() : SoftHsmTest("kms-key-test") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenToken());
    KeyManager km(*token_);
    ASSERT_TRUE(km.CreateTicketKey(1).ok());
    ASSERT_TRUE(km.CreateKek(1).ok());
    ASSERT_TRUE(km.CreateAuditKey(1).ok());
  }
};

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

CK_BBOOL ReadBool(SessionLease& lease, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL v = CK_FALSE;
  CK_ATTRIBUTE a{type, &v, sizeof(v)};
  EXPECT_EQ(lease.fn()->C_GetAttributeValue(lease.handle(), h, &a, 1), CKR_OK) << type;
  return v;
}

TEST_F(KeyTest, LongTermKeysResistEveryExtractionPath) {
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  const CK_FUNCTION_LIST* f = lease->fn();
  CK_SESSION_HANDLE s = lease->handle();
  CK_OBJECT_HANDLE kek = token_->LongTermKey(KeyKind::kKek, 1)->handle;
  ASSERT_EQ(token_->LongTermKeys().size(), 3u);
  for (const LongTermKeyInfo& key : token_->LongTermKeys()) {
    SCOPED_TRACE(LongTermKeyLabel(key.name.kind, key.name.version));
    CK_OBJECT_HANDLE h = key.handle;
    // Item 5: the value is never readable.
    uint8_t value[64];
    CK_ATTRIBUTE va{CKA_VALUE, value, sizeof(value)};
    EXPECT_EQ(f->C_GetAttributeValue(s, h, &va, 1), CKR_ATTRIBUTE_SENSITIVE);
    // Item 6: wrapping with the KEK (the only wrapping key) fails.
    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_MECHANISM kw{CKM_AES_KEY_WRAP, nullptr, 0};
    uint8_t wrapped[128];
    CK_ULONG wl = sizeof(wrapped);
    EXPECT_NE(f->C_WrapKey(s, &kwp, kek, h, wrapped, &wl), CKR_OK);
    wl = sizeof(wrapped);
    EXPECT_NE(f->C_WrapKey(s, &kw, kek, h, wrapped, &wl), CKR_OK);
    // Item 7: no attribute relaxation.
    {
      AttrTemplate t;
      t.Bool(CKA_SENSITIVE, false);
      EXPECT_NE(f->C_SetAttributeValue(s, h, t.data(), t.size()), CKR_OK);
    }
    {
      AttrTemplate t;
      t.Bool(CKA_EXTRACTABLE, true);
      EXPECT_NE(f->C_SetAttributeValue(s, h, t.data(), t.size()), CKR_OK);
    }
    {
      AttrTemplate t;
      const CK_MECHANISM_TYPE any[] = {CKM_SHA512_HMAC, CKM_AES_ECB};
      t.Mechanisms(CKA_ALLOWED_MECHANISMS, any);
      EXPECT_NE(f->C_SetAttributeValue(s, h, t.data(), t.size()), CKR_OK);
    }
    // Item 8: no copy with relaxed attributes (nor any copy: CKA_COPYABLE is FALSE).
    for (CK_ATTRIBUTE_TYPE relaxed : {CKA_EXTRACTABLE, CKA_SENSITIVE}) {
      AttrTemplate t;
      t.Bool(relaxed, relaxed == CKA_EXTRACTABLE);
      CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
      EXPECT_NE(f->C_CopyObject(s, h, t.data(), t.size(), &copy), CKR_OK);
    }
    // Item 10: provenance.
    EXPECT_EQ(ReadBool(*lease, h, CKA_ALWAYS_SENSITIVE), CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_NEVER_EXTRACTABLE), CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_LOCAL), CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_TOKEN), CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_PRIVATE), CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_MODIFIABLE), CK_FALSE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_COPYABLE), CK_FALSE);
    // One purpose per key (checklist §1).
    bool is_kek = key.name.kind == KeyKind::kKek;
    EXPECT_EQ(ReadBool(*lease, h, CKA_SIGN), is_kek ? CK_FALSE : CK_TRUE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_WRAP), is_kek ? CK_TRUE : CK_FALSE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_DECRYPT), CK_FALSE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_ENCRYPT), CK_FALSE);
    EXPECT_EQ(ReadBool(*lease, h, CKA_DERIVE), CK_FALSE);
  }
}

// Checklist §1: CKA_UNWRAP_TEMPLATE on the KEK forces session, sensitive, wrap-with-trusted
// unwrapped keys: an unwrap asking for anything weaker (or leaving one out) is refused.
TEST_F(KeyTest, KekUnwrapTemplateRefusesWeakerKeys) {
  TokenKeyVault vault(*token_);
  Result<ports::WrappedCredential> blob = vault.GenerateCredential("btid-u", 32);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_OBJECT_HANDLE kek = token_->LongTermKey(KeyKind::kKek, 1)->handle;
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  struct Weak {
    CK_ATTRIBUTE_TYPE type;
    bool value;
  };
  for (Weak w : {Weak{CKA_EXTRACTABLE, true}, Weak{CKA_SENSITIVE, false}, Weak{CKA_TOKEN, true},
                 Weak{CKA_WRAP_WITH_TRUSTED, false}}) {
    SCOPED_TRACE(w.type);
    AttrTemplate t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET).Bool(CKA_SIGN, true);
    t.Bool(w.type, w.value);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = lease->fn()->C_UnwrapKey(lease->handle(), &kwp, kek, blob->blob.data(),
                                        static_cast<CK_ULONG>(blob->blob.size()), t.data(),
                                        t.size(), &h);
    EXPECT_NE(rv, CKR_OK);
    if (rv == CKR_OK) {
      lease->fn()->C_DestroyObject(lease->handle(), h);
    }
  }
}

// The KEK's unwrap template also forces a credential's shape (checklist §1: one purpose per
// key): with the user PIN, a stored PSK cannot be unwrapped as a deriving HMAC key or as an
// AES encryption key, even by a template that gives everything the template forced before.
TEST_F(KeyTest, KekUnwrapTemplateForcesTheCredentialShape) {
  TokenKeyVault vault(*token_);
  Result<ports::WrappedCredential> blob = vault.GenerateCredential("btid-shape", 32);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_OBJECT_HANDLE kek = token_->LongTermKey(KeyKind::kKek, 1)->handle;
  auto unwrap = [&](AttrTemplate& t) {
    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv =
        lease->fn()->C_UnwrapKey(lease->handle(), &kwp, kek, blob->blob.data(),
                                 checked_ulong_cast(blob->blob.size()), t.data(), t.size(), &h);
    if (rv == CKR_OK) {
      lease->fn()->C_DestroyObject(lease->handle(), h);
    }
    return rv;
  };
  for (auto [type, usage] : {std::pair{CKK_GENERIC_SECRET, CKA_DERIVE},
                             std::pair{CKK_AES, CKA_ENCRYPT}, std::pair{CKK_AES, CKA_DECRYPT}}) {
    SCOPED_TRACE(usage);
    AttrTemplate t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, type);
    t.Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, true).Bool(CKA_WRAP_WITH_TRUSTED, true);
    t.Bool(CKA_EXTRACTABLE, false).Bool(CKA_SIGN, type == CKK_GENERIC_SECRET).Bool(usage, true);
    EXPECT_EQ(unwrap(t), CKR_TEMPLATE_INCONSISTENT);
  }
  // kmsd's own template still unwraps, and so does the re-wrap's first step.
  for (CredentialObject kind :
       {CredentialObject::kSessionInUse, CredentialObject::kSessionToRewrap}) {
    AttrTemplate t = CredentialTemplate(kind, "", 0, {});
    EXPECT_EQ(unwrap(t), CKR_OK);
  }
}

// Item 11: an independent tool (OpenSC pkcs11-tool) sees every long-term key as sensitive,
// always sensitive, never extractable and local.
TEST_F(KeyTest, Pkcs11ToolShowsKeysSensitiveAndNeverExtractable) {
  std::string out;
  int rc = testing::RunCommand({"pkcs11-tool", "--module", KMS_SOFTHSM2_MODULE, "--token-label",
                                softhsm_.label(), "--login", "--pin", testing::kUserPin,
                                "--list-objects"},
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
  for (const char* want : {"kms-tpk-v1", "kms-kek-v1", "kms-audit-v1"}) {
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

::testing::AssertionResult Refused(const Token& token, const std::string& label,
                                   const std::string& why) {
  std::string seen;
  for (const RejectedKeyObject& r : token.RejectedKeyObjects()) {
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
    EXPECT_TRUE(Refused(*tok, "kms-tpk-v9", "CKA_PRIVATE"));
    EXPECT_TRUE(Refused(*tok, "kms-tpk-v4294967295", "CKA_PRIVATE"));
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
  EXPECT_TRUE(Refused(tok, "kms-kek-v7", "CKA_LOCAL"));
  EXPECT_TRUE(Refused(tok, "kms-audit-v4", "CKA_SENSITIVE"));
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
  EXPECT_TRUE(Refused(**again, "kms-tpk-v2", "CKA_"));
  EXPECT_TRUE(Refused(**again, "not-ours", "not a long-term key label"));
}

}  // namespace
}  // namespace kms::hsm
