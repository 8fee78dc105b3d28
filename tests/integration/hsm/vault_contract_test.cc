// The KeyVault error contract (hsm/token_key_vault.h): every token-side condition is
// kUnavailable (the core's 503), never a code the core turns into a MIKEY authentication
// failure. Faults are injected through the module's copied function table.
#include <atomic>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/key_manager.h"
#include "hsm/token_key_vault.h"
#include "tests/integration/hsm/softhsm_fixture.h"

namespace kms::hsm {
namespace {

using testing::SoftHsmTest;

const std::vector<uint8_t> kData = {'p', 'r', 'f'};

// One-shot faults: the next call of the function returns the stored CK_RV instead of
// reaching SoftHSM2 (CKR_OK: pass through). Counters count every call.
std::atomic<CK_SESSION_HANDLE> g_faulted_session{CK_INVALID_HANDLE};
std::atomic<CK_RV> g_sign_fault{CKR_OK};
std::atomic<CK_RV> g_sign_init_fault{CKR_OK};
std::atomic<CK_RV> g_find_fault{CKR_OK};
std::atomic<CK_RV> g_random_fault{CKR_OK};
std::atomic<int> g_logins{0};
CK_FUNCTION_LIST g_real{};

CK_RV FaultyFindInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  const CK_RV fault = g_find_fault.exchange(CKR_OK);
  if (fault != CKR_OK) {
    g_faulted_session = s;
    return fault;
  }
  return g_real.C_FindObjectsInit(s, t, n);
}
CK_RV FaultyRandom(CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG n) {
  const CK_RV fault = g_random_fault.load();  // persistent: every call fails
  return fault != CKR_OK ? fault : g_real.C_GenerateRandom(s, out, n);
}

CK_RV FaultySign(CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol) {
  const CK_RV fault = g_sign_fault.exchange(CKR_OK);
  if (fault != CKR_OK) {
    g_faulted_session = s;  // the sign operation stays active in SoftHSM2 on this session
    return fault;
  }
  return g_real.C_Sign(s, d, dl, o, ol);
}
CK_RV FaultySignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k) {
  const CK_RV fault = g_sign_init_fault.exchange(CKR_OK);
  return fault != CKR_OK ? fault : g_real.C_SignInit(s, m, k);
}
CK_RV CountingLogin(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  g_logins.fetch_add(1);
  return g_real.C_Login(s, u, pin, len);
}

class VaultContractTest : public SoftHsmTest<> {
 protected:
  VaultContractTest() : SoftHsmTest("kms-contract") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenModule());
    CK_FUNCTION_LIST* f = module_->mutable_functions_for_testing();
    g_real = *f;
    f->C_Sign = &FaultySign;
    f->C_SignInit = &FaultySignInit;
    f->C_Login = &CountingLogin;
    f->C_FindObjectsInit = &FaultyFindInit;
    f->C_GenerateRandom = &FaultyRandom;
    g_random_fault = CKR_OK;
    g_logins = 0;
    TokenConfig config = softhsm_.Config();
    config.credential_cache_size = 1;
    ASSERT_NO_FATAL_FAILURE(OpenToken(config));
    KeyManager km(*token_);
    ASSERT_TRUE(km.CreateTicketKey(1).ok());
    ASSERT_TRUE(km.CreateKek(1).ok());
    vault_ = std::make_unique<TokenKeyVault>(*token_);
    tpk_ = *vault_->TicketKey(1);
  }
  Status Hmac(ports::KeyRef key) {
    std::vector<uint8_t> out(32);
    return vault_->Hmac(key, crypto::HmacAlg::kSha256, kData, out);
  }
  ports::WrappedCredential Credential(const std::string& id) {
    Result<ports::WrappedCredential> c = vault_->GenerateCredential(id, 32);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : ports::WrappedCredential{};
  }

  std::unique_ptr<TokenKeyVault> vault_;  // destroyed before the token (SoftHsmTest)
  ports::KeyRef tpk_;
};

// A KeyRef is not pinned between OpenCredential and the PRF's Hmac calls: with a cache of
// one, opening B evicts A. Using A then is a cache condition (503), never kNotFound (which
// the core would answer as a MIKEY authentication failure).
TEST_F(VaultContractTest, StaleCredentialReferenceIsUnavailable) {
  ports::WrappedCredential a = Credential("btid-a");
  ports::WrappedCredential b = Credential("btid-b");
  Result<ports::KeyRef> ref_a = vault_->OpenCredential(a);
  ASSERT_TRUE(ref_a.ok()) << ref_a.status().ToString();
  ASSERT_TRUE(vault_->OpenCredential(b).ok());
  EXPECT_EQ(Hmac(*ref_a).code(), StatusCode::kUnavailable);
  EXPECT_EQ(vault_->KeySize(*ref_a).status().code(), StatusCode::kUnavailable);
  // The retry opens it again.
  Result<ports::KeyRef> again = vault_->OpenCredential(a);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(Hmac(*again).ok());
  // After a reconnect too.
  token_->MarkLost();
  ASSERT_TRUE(token_->EnsureConnected().ok());
  EXPECT_EQ(Hmac(*again).code(), StatusCode::kUnavailable);
}

// Token errors of the HMAC calls are token-side whatever their PKCS#11 code.
TEST_F(VaultContractTest, TokenErrorsOfHmacAreUnavailable) {
  Result<ports::KeyRef> cred = vault_->OpenCredential(Credential("btid-c"));
  ASSERT_TRUE(cred.ok());
  // The credential first: the TPK's invalid handle makes the token reconnect, which would
  // make the credential's reference stale before its faults are reached.
  for (ports::KeyRef key : {*cred, tpk_}) {
    for (CK_RV rv : {CKR_GENERAL_ERROR, CKR_FUNCTION_FAILED, CKR_DEVICE_MEMORY}) {
      g_sign_fault = rv;
      Status s = Hmac(key);
      EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
      EXPECT_EQ(g_sign_fault.load(), CKR_OK);  // the fault was reached
    }
    g_sign_init_fault = CKR_OPERATION_ACTIVE;
    EXPECT_EQ(Hmac(key).code(), StatusCode::kUnavailable);
    g_sign_init_fault = CKR_KEY_HANDLE_INVALID;
    EXPECT_EQ(Hmac(key).code(), StatusCode::kUnavailable);
    EXPECT_EQ(g_sign_init_fault.load(), CKR_OK);
    ASSERT_TRUE(token_->EnsureConnected().ok());  // the TPK case marked the token lost
  }
  Result<ports::KeyRef> reopened = vault_->OpenCredential(Credential("btid-c2"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(Hmac(*reopened).ok());
  EXPECT_TRUE(Hmac(*vault_->TicketKey(1)).ok());
}

// A PIN refused at a reconnect (the PIN file changed under a running kmsd) is one more
// C_Login, then kUnavailable for every call, never kPermissionDenied, and no further login.
TEST_F(VaultContractTest, PinRefusedAtReconnectIsUnavailable) {
  ports::WrappedCredential c = Credential("btid-pin");
  softhsm_.WritePinFile("user.pin", "0000-wrong\n", 0400);
  const int logins = g_logins.load();
  token_->MarkLost();
  EXPECT_EQ(Hmac(tpk_).code(), StatusCode::kUnavailable);
  EXPECT_EQ(g_logins.load(), logins + 1);
  EXPECT_EQ(Hmac(tpk_).code(), StatusCode::kUnavailable);
  EXPECT_EQ(vault_->OpenCredential(c).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(vault_->ActiveTicketKeyVersion().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(vault_->TicketKey(1).status().code(), StatusCode::kUnavailable);
  std::vector<uint8_t> rnd(16);
  EXPECT_EQ(vault_->Random(rnd).code(), StatusCode::kUnavailable);
  EXPECT_EQ(g_logins.load(), logins + 1);
}

// The request's own bad data keeps its own code: a corrupted blob does not unwrap.
TEST_F(VaultContractTest, CorruptedBlobIsInvalidArgument) {
  ports::WrappedCredential c = Credential("btid-bad");
  c.blob[5] ^= 1;
  Status s = vault_->OpenCredential(c).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  c.kek_version = 9;
  EXPECT_EQ(vault_->OpenCredential(c).status().code(), StatusCode::kNotFound);
}

// Searches go through the lease's Check like every other call: a token-loss code from
// C_FindObjectsInit marks the token lost (the next call reconnects) ...
TEST_F(VaultContractTest, SearchErrorsMarkTheTokenLost) {
  const uint64_t generation = token_->generation();
  g_find_fault = CKR_DEVICE_REMOVED;
  EXPECT_EQ(token_->RefreshKeyIndex().code(), StatusCode::kUnavailable);
  EXPECT_EQ(g_find_fault.load(), CKR_OK);
  EXPECT_FALSE(token_->connected());
  EXPECT_TRUE(Hmac(tpk_).ok());
  EXPECT_GT(token_->generation(), generation);
}

// ... and a session-loss code breaks the lease: that session is closed, never pooled again.
TEST_F(VaultContractTest, SearchErrorsBreakTheSession) {
  g_find_fault = CKR_SESSION_HANDLE_INVALID;
  EXPECT_EQ(KeyManager(*token_).EnsureBackupKey().status().code(), StatusCode::kUnavailable);
  const CK_SESSION_HANDLE faulted = g_faulted_session.load();
  ASSERT_NE(faulted, CK_INVALID_HANDLE);
  CK_SESSION_INFO info{};
  EXPECT_EQ(module_->fn()->C_GetSessionInfo(faulted, &info), CKR_SESSION_HANDLE_INVALID);
  EXPECT_TRUE(KeyManager(*token_).EnsureBackupKey().ok());
}

// A failed C_Sign may leave the operation active: the session is closed, never pooled, and
// the next call runs on another session.
TEST_F(VaultContractTest, FailedSignBreaksTheSession) {
  g_faulted_session = CK_INVALID_HANDLE;
  g_sign_fault = CKR_ARGUMENTS_BAD;
  EXPECT_EQ(Hmac(tpk_).code(), StatusCode::kUnavailable);
  const CK_SESSION_HANDLE faulted = g_faulted_session.load();
  ASSERT_NE(faulted, CK_INVALID_HANDLE);
  CK_SESSION_INFO info{};
  EXPECT_EQ(module_->fn()->C_GetSessionInfo(faulted, &info), CKR_SESSION_HANDLE_INVALID);
  EXPECT_TRUE(token_->connected());  // a session problem, not a token loss
  EXPECT_TRUE(Hmac(tpk_).ok());
  Result<SessionLease> lease = token_->Acquire();
  ASSERT_TRUE(lease.ok());
  EXPECT_NE(lease->handle(), faulted);
}

// Logged out behind our back (another application's C_Logout ends the login for all):
// one kUnavailable, then the next call reconnects with exactly one more C_Login. SoftHSM2
// hides private objects from a logged-out application (CKR_KEY_HANDLE_INVALID); a token
// that says CKR_USER_NOT_LOGGED_IN (injected here) is handled the same way.
TEST_F(VaultContractTest, LogoutIsOneUnavailableThenOneLogin) {
  ports::WrappedCredential c = Credential("btid-logout");
  for (bool injected : {false, true}) {
    SCOPED_TRACE(injected);
    if (injected) {
      g_sign_init_fault = CKR_USER_NOT_LOGGED_IN;
    } else {
      Result<SessionLease> lease = token_->Acquire();
      ASSERT_TRUE(lease.ok());
      ASSERT_EQ(lease->fn()->C_Logout(lease->handle()), CKR_OK);
    }
    const int logins = g_logins.load();
    Status s = Hmac(tpk_);
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    EXPECT_FALSE(token_->connected());
    EXPECT_EQ(g_logins.load(), logins);
    EXPECT_TRUE(Hmac(tpk_).ok());
    Result<ports::KeyRef> ref = vault_->OpenCredential(c);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    EXPECT_TRUE(Hmac(*ref).ok());
    EXPECT_EQ(g_logins.load(), logins + 1);
  }
}

// RNG failure (evaluator-checklist.md §2 item 4): an error, nothing written, no fallback.
TEST_F(VaultContractTest, RngFailureIsAnErrorNeverAFallback) {
  g_random_fault = CKR_DEVICE_ERROR;
  std::vector<uint8_t> out(48, 0xAA);
  EXPECT_EQ(vault_->Random(out).code(), StatusCode::kUnavailable);
  EXPECT_EQ(out, std::vector<uint8_t>(48, 0xAA));
  EXPECT_EQ(vault_->Random(out).code(), StatusCode::kUnavailable);  // after the reconnect too
  EXPECT_EQ(out, std::vector<uint8_t>(48, 0xAA));
  g_random_fault = CKR_OK;
  EXPECT_TRUE(vault_->Random(out).ok());
  EXPECT_NE(out, std::vector<uint8_t>(48, 0xAA));
}

}  // namespace
}  // namespace kms::hsm
