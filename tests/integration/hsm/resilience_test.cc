// Concurrency, PIN handling and token loss against SoftHSM2 (evaluator-checklist.md §2
// item 3; style.md anti-patterns 2, 3, 5).
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/key_manager.h"
#include "hsm/token_key_vault.h"
#include "tests/integration/hsm/softhsm_fixture.h"

namespace kms::hsm {
namespace {

using testing::SoftHsmToken;

const std::vector<uint8_t> kData = {9, 8, 7, 6, 5, 4, 3, 2, 1};

TEST(ResilienceTest, ManyThreadsShareTheBoundedPool) {
  SoftHsmToken softhsm("kms-threads");
  std::unique_ptr<P11Module> module = SoftHsmToken::OpenModule();
  ASSERT_NE(module, nullptr);
  TokenConfig config = softhsm.Config();
  config.pool_size = 4;
  config.acquire_timeout = std::chrono::milliseconds(30000);
  Result<std::unique_ptr<Token>> token = Token::Open(*module, config);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  ASSERT_TRUE(KeyManager(**token).CreateTicketKey(1).ok());
  TokenKeyVault vault(**token);
  ports::KeyRef tpk = *vault.TicketKey(1);
  std::vector<uint8_t> expected(32);
  ASSERT_TRUE(vault.Hmac(tpk, crypto::HmacAlg::kSha256, kData, expected).ok());

  constexpr int kThreads = 16;
  int ops = 10000;
  if (const char* e = std::getenv("KMS_HSM_THREAD_OPS")) {
    ops = std::atoi(e);
  }
  std::atomic<int> failures{0};
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<uint8_t> out(32);
      for (int i = 0; i < ops; ++i) {
        if (!vault.Hmac(tpk, crypto::HmacAlg::kSha256, kData, out).ok()) {
          failures.fetch_add(1);
        } else if (out != expected) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_LE((*token)->pool_capacity(), 4u);
}

// Counts C_Login calls made through the module's (copied) function table.
std::atomic<int> g_login_calls{0};
CK_C_Login g_real_login = nullptr;
CK_RV CountingLogin(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  g_login_calls.fetch_add(1);
  return g_real_login(s, u, pin, len);
}

TEST(ResilienceTest, WrongPinIsOneLoginAttemptAndPermissionDenied) {
  SoftHsmToken softhsm("kms-badpin");
  std::unique_ptr<P11Module> module = SoftHsmToken::OpenModule();
  ASSERT_NE(module, nullptr);
  g_real_login = module->mutable_functions_for_testing()->C_Login;
  module->mutable_functions_for_testing()->C_Login = &CountingLogin;
  g_login_calls = 0;

  TokenConfig config = softhsm.Config();
  config.pin.location = softhsm.WritePinFile("wrong.pin", "0000-wrong\n", 0400);
  Result<std::unique_ptr<Token>> token = Token::Open(*module, config);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(token.status().message(), "C_Login: CKR_PIN_INCORRECT");
  EXPECT_EQ(g_login_calls.load(), 1);
  // A world-readable PIN file is refused before any login attempt.
  config.pin.location = softhsm.WritePinFile("loose.pin", std::string(testing::kUserPin), 0644);
  token = Token::Open(*module, config);
  EXPECT_EQ(token.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(token.status().message().find("group or others"), std::string::npos);
  EXPECT_EQ(g_login_calls.load(), 1);

  // The right PIN still works: one more attempt, and the token was not locked.
  token = Token::Open(*module, softhsm.Config());
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(g_login_calls.load(), 2);
  module->mutable_functions_for_testing()->C_Login = g_real_login;
}

// The pool never exceeds its bound; a lease marked broken is closed, not pooled.
TEST(ResilienceTest, PoolIsBoundedAndBrokenLeasesAreClosed) {
  SoftHsmToken softhsm("kms-pool");
  std::unique_ptr<P11Module> module = SoftHsmToken::OpenModule();
  ASSERT_NE(module, nullptr);
  TokenConfig config = softhsm.Config();
  config.pool_size = 1;
  config.acquire_timeout = std::chrono::milliseconds(50);
  Result<std::unique_ptr<Token>> token = Token::Open(*module, config);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  CK_SESSION_HANDLE first = CK_INVALID_HANDLE;
  {
    Result<SessionLease> lease = (*token)->Acquire();
    ASSERT_TRUE(lease.ok());
    first = lease->handle();
    EXPECT_EQ((*token)->Acquire().status().code(), StatusCode::kResourceExhausted);
  }
  {
    Result<SessionLease> lease = (*token)->Acquire();
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ(lease->handle(), first);  // returned to the pool and reused
    // An operation left active: the lease reports it and is marked broken.
    CK_MECHANISM mech{CKM_SHA256, nullptr, 0};
    ASSERT_EQ(lease->fn()->C_DigestInit(lease->handle(), &mech), CKR_OK);
    Status s = lease->Check(lease->fn()->C_DigestInit(lease->handle(), &mech), "C_DigestInit");
    EXPECT_EQ(s.message(), "C_DigestInit: CKR_OPERATION_ACTIVE");
    EXPECT_TRUE(lease->broken());
  }
  // The broken session was closed (C_CloseSession), so its handle is invalid now...
  CK_SESSION_INFO info{};
  EXPECT_EQ(module->fn()->C_GetSessionInfo(first, &info), CKR_SESSION_HANDLE_INVALID);
  // ...and the login survived (the dedicated login session is still open).
  Result<SessionLease> lease = (*token)->Acquire();
  ASSERT_TRUE(lease.ok());
  EXPECT_NE(lease->handle(), first);
  ASSERT_EQ(module->fn()->C_GetSessionInfo(lease->handle(), &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_USER_FUNCTIONS);
}

TEST(ResilienceTest, PinFromSystemdCredential) {
  SoftHsmToken softhsm("kms-cred-dir");
  std::unique_ptr<P11Module> module = SoftHsmToken::OpenModule();
  ASSERT_NE(module, nullptr);
  softhsm.WritePinFile("kms-pin", std::string(testing::kUserPin), 0400);
  setenv("CREDENTIALS_DIRECTORY", softhsm.dir().c_str(), 1);
  TokenConfig config = softhsm.Config();
  config.pin.kind = PinSource::Kind::kSystemdCredential;
  config.pin.location = "kms-pin";
  Result<std::unique_ptr<Token>> token = Token::Open(*module, config);
  EXPECT_TRUE(token.ok()) << token.status().ToString();
  config.pin.location = "../kms-pin";
  EXPECT_EQ(Token::Open(*module, config).status().code(), StatusCode::kInvalidArgument);
  unsetenv("CREDENTIALS_DIRECTORY");
}

TEST(ResilienceTest, TokenLossGivesUnavailableThenRecovers) {
  SoftHsmToken softhsm("kms-loss");
  std::unique_ptr<P11Module> module = SoftHsmToken::OpenModule();
  ASSERT_NE(module, nullptr);
  Result<std::unique_ptr<Token>> token = Token::Open(*module, softhsm.Config());
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  KeyManager km(**token);
  ASSERT_TRUE(km.CreateTicketKey(1).ok());
  ASSERT_TRUE(km.CreateKek(1).ok());
  TokenKeyVault vault(**token);
  ports::KeyRef tpk = *vault.TicketKey(1);
  std::vector<uint8_t> before(32), out(32);
  ASSERT_TRUE(vault.Hmac(tpk, crypto::HmacAlg::kSha256, kData, before).ok());
  Result<ports::WrappedCredential> cred = vault.GenerateCredential("btid-loss", 32);
  ASSERT_TRUE(cred.ok());
  Result<ports::KeyRef> cref = vault.OpenCredential(*cred);
  ASSERT_TRUE(cref.ok());
  uint64_t generation = (*token)->generation();

  // The token disappears: its directory is moved away.
  std::string moved = softhsm.dir() + "/tokens-away";
  std::filesystem::rename(softhsm.token_dir(), moved);
  // The module only notices at its next call on the key; give it a few operations.
  Status s;
  for (int i = 0; i < 3; ++i) {
    s = vault.Hmac(tpk, crypto::HmacAlg::kSha256, kData, out);
    if (!s.ok()) {
      break;
    }
  }
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_EQ(vault.Hmac(tpk, crypto::HmacAlg::kSha256, kData, out).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(vault.Ready().code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*token)->connected());

  // The token returns: the next call reconnects by itself (slot by URI, login, keys by
  // label) and gives the same HMAC as before.
  std::filesystem::rename(moved, softhsm.token_dir());
  s = vault.Hmac(tpk, crypto::HmacAlg::kSha256, kData, out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, before);
  EXPECT_GT((*token)->generation(), generation);
  // Cached credential handles were dropped: the old reference is stale, reopening works.
  EXPECT_EQ(vault.Hmac(*cref, crypto::HmacAlg::kSha256, kData, out).code(),
            StatusCode::kUnavailable);
  Result<ports::KeyRef> reopened = vault.OpenCredential(*cred);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_TRUE(vault.Hmac(*reopened, crypto::HmacAlg::kSha256, kData, out).ok());
}

// Checks at every C_SignInit that the handle names the TPK the test uses: a handle read in
// one connection generation and used in the next may name another object there (after
// C_Finalize + C_Initialize SoftHSM2 numbers sessions and objects afresh).
std::atomic<bool> g_expect_tpk{false};
std::atomic<int> g_wrong_key{0};
std::atomic<int> g_checked{0};
CK_C_SignInit g_real_sign_init = nullptr;
CK_C_GetAttributeValue g_real_get_attribute = nullptr;
CK_RV CheckingSignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  char label[64];
  CK_ATTRIBUTE a{CKA_LABEL, label, sizeof(label)};
  if (g_expect_tpk.load() && g_real_get_attribute(s, key, &a, 1) == CKR_OK) {
    g_checked.fetch_add(1);
    if (std::string_view(label, a.ulValueLen) != "kms-tpk-v1") {
      g_wrong_key.fetch_add(1);
    }
  }
  return g_real_sign_init(s, m, key);
}

// Long-term handles are resolved under the lease that pins the connection: a reconnect
// forced at the very start of Acquire/AcquireOwner (where Hmac, the credential store and the
// KEK re-wrap used to have their handle already) renumbers every handle, and still every
// C_SignInit gets the TPK and every unwrap/wrap the KEK.
TEST(ResilienceTest, LongTermHandlesAreResolvedUnderTheLease) {
  SoftHsmToken softhsm("kms-handles");
  std::unique_ptr<P11Module> module = SoftHsmToken::OpenModule();
  ASSERT_NE(module, nullptr);
  CK_FUNCTION_LIST* f = module->mutable_functions_for_testing();
  g_real_sign_init = f->C_SignInit;
  g_real_get_attribute = f->C_GetAttributeValue;
  f->C_SignInit = &CheckingSignInit;
  TokenConfig config = softhsm.Config();
  config.reinitialize_module_on_loss = true;
  Result<std::unique_ptr<Token>> opened = Token::Open(*module, config);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Token& token = **opened;
  KeyManager km(token);
  ASSERT_TRUE(km.CreateAuditKey(1).ok());
  ASSERT_TRUE(km.CreateKek(1).ok());
  ASSERT_TRUE(km.CreateTicketKey(1).ok());
  TokenKeyVault vault(token);
  ports::KeyRef tpk = *vault.TicketKey(1);
  Result<ports::WrappedCredential> cred = vault.GenerateCredential("btid-gen", 32);
  ASSERT_TRUE(cred.ok());
  std::atomic<bool> armed{false};
  token.SetAcquireHookForTesting([&] {
    if (armed.exchange(false)) {
      token.MarkLost();
      EXPECT_TRUE(token.EnsureConnected().ok());
    }
  });
  auto handle = [&](KeyKind kind) { return token.LongTermKey(kind, 1)->handle; };
  std::vector<uint8_t> out(32);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    const CK_OBJECT_HANDLE tpk_before = handle(KeyKind::kTicket);
    const CK_OBJECT_HANDLE kek_before = handle(KeyKind::kKek);
    g_checked = 0;
    armed = true;
    g_expect_tpk = true;
    Status s = vault.Hmac(tpk, crypto::HmacAlg::kSha256, kData, out);
    g_expect_tpk = false;
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(g_checked.load(), 1);
    EXPECT_EQ(g_wrong_key.load(), 0) << "C_SignInit got another object's handle";
    // The credential store's KEK: wrapping (AcquireOwner) and unwrapping (AcquireOwner).
    armed = true;
    Result<ports::WrappedCredential> fresh = vault.GenerateCredential("btid-r", 32);
    EXPECT_TRUE(fresh.ok()) << fresh.status().ToString();
    armed = true;
    Result<ports::KeyRef> ref = vault.OpenCredential(*cred);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    EXPECT_TRUE(vault.Hmac(*ref, crypto::HmacAlg::kSha256, kData, out).ok());
    if (round == 0) {
      // The first reconnect numbered the keys afresh: a handle read before the lease would
      // have named another object (or none) in the connection the call ran in.
      EXPECT_TRUE(handle(KeyKind::kTicket) != tpk_before || handle(KeyKind::kKek) != kek_before);
    }
  }
  token.SetAcquireHookForTesting(nullptr);
  f->C_SignInit = g_real_sign_init;
}

}  // namespace
}  // namespace kms::hsm
