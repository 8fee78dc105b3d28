// Recovery from a logout made by someone else in kmsd's process. Login state is per
// application (PKCS#11 v2.40 §5.6 C_Login/C_Logout): another library using the same module,
// or a C_Logout on any session, logs every session of the Token out. SoftHSM2 then forgets
// its handles to private objects (the cached TPK and KEK handles answer *_HANDLE_INVALID)
// and destroys the private session objects (the unwrapped credentials). The promise
// (architecture.md §7, hsm/token_key_vault.h): the next operation fails at most once, with
// kUnavailable (503, retryable), and the one after it logs in again and succeeds, with the
// credential handles of the old login dropped (generation bump).
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hsm/key_manager.h"
#include "hsm/token_key_ops.h"
#include "hsm/token_key_vault.h"
#include "tests/integration/hsm/softhsm_fixture.h"

namespace kms::hsm {
namespace {

using testing::ForeignLogout;
using testing::SoftHsmTest;

const std::vector<uint8_t> kData = {'l', 'o', 'g', 'o', 'u', 't'};

class ForeignLogoutTest : public SoftHsmTest<::testing::TestWithParam<CredentialStorage>> {
 protected:
  ForeignLogoutTest() : SoftHsmTest("kms-logout") {}
  void SetUp() override {
    TokenConfig config = softhsm_.Config();
    config.credential_storage = GetParam();
    ASSERT_NO_FATAL_FAILURE(OpenToken(config));
    KeyManager km(*token_);
    ASSERT_TRUE(km.CreateTicketKey(1).ok());
    ASSERT_TRUE(km.CreateKek(1).ok());
    vault_ = std::make_unique<TokenKeyVault>(*token_);
    Result<ports::WrappedCredential> c = vault_->GenerateCredential("btid-alice", 32);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    alice_ = *c;
    c = vault_->GenerateCredential("btid-bob", 32);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    bob_ = *c;
    // Before the logout: alice's key is unwrapped and cached, the TPK handle is in use.
    ASSERT_TRUE(Request(alice_, &alice_mac_).ok());
    ASSERT_TRUE(Resolve(&tpk_mac_).ok());
  }

  // Request: what the core does for a REQUEST_INIT: open the initiator's credential (an
  // unwrap under the KEK unless cached), then a PRF block under it through TokenKeyOps.
  Status Request(const ports::WrappedCredential& credential, std::vector<uint8_t>* out) {
    KMS_ASSIGN_OR_RETURN(ports::KeyRef ref, vault_->OpenCredential(credential));
    KMS_ASSIGN_OR_RETURN(TokenKeyOps ops, TokenKeyOps::Create(*vault_, ref));
    out->resize(32);
    return ops.Hmac(crypto::HmacAlg::kSha256, kData, *out);
  }
  // Resolve: what sealing or opening a ticket does: the TPK version, its reference, HMAC.
  Status Resolve(std::vector<uint8_t>* out) {
    KMS_ASSIGN_OR_RETURN(uint32_t version, vault_->ActiveTicketKeyVersion());
    KMS_ASSIGN_OR_RETURN(ports::KeyRef tpk, vault_->TicketKey(version));
    KMS_ASSIGN_OR_RETURN(TokenKeyOps ops, TokenKeyOps::Create(*vault_, tpk));
    out->resize(32);
    return ops.Hmac(crypto::HmacAlg::kSha256, kData, *out);
  }
  // ExpectRecovers: op succeeds, or fails exactly once with kUnavailable (the client's
  // retry after a 503) and then succeeds; *failures counts the failed attempt.
  static void ExpectRecovers(const std::function<Status()>& op, int* failures) {
    Status first = op();
    if (first.ok()) {
      return;
    }
    ++*failures;
    EXPECT_EQ(first.code(), StatusCode::kUnavailable) << first.ToString();
    Status second = op();
    EXPECT_TRUE(second.ok()) << "second attempt: " << second.ToString();
  }

  std::unique_ptr<TokenKeyVault> vault_;  // destroyed before the token (SoftHsmTest)
  ports::WrappedCredential alice_, bob_;
  std::vector<uint8_t> alice_mac_, tpk_mac_;
};

// The request path first, with the credential cached from the old login (its session object
// is gone): one 503 at most, then the same MAC as before, and the ticket key works at once.
TEST_P(ForeignLogoutTest, CachedCredentialRecovers) {
  const uint64_t generation = token_->generation();
  ASSERT_NO_FATAL_FAILURE(ForeignLogout(*module_, *token_));
  int failures = 0;
  std::vector<uint8_t> mac;
  ExpectRecovers([&] { return Request(alice_, &mac); }, &failures);
  EXPECT_LE(failures, 1);
  EXPECT_EQ(mac, alice_mac_);
  EXPECT_GT(token_->generation(), generation);  // logged in again: a new connection
  EXPECT_TRUE(Resolve(&mac).ok());
  EXPECT_EQ(mac, tpk_mac_);
  EXPECT_TRUE(Request(alice_, &mac).ok());
}

// A credential not cached yet: Materialize unwraps it under the KEK (wrapped storage) or
// searches its token object (token-object storage), both invisible while logged out.
TEST_P(ForeignLogoutTest, CredentialNotCachedRecovers) {
  ASSERT_NO_FATAL_FAILURE(ForeignLogout(*module_, *token_));
  int failures = 0;
  std::vector<uint8_t> mac;
  ExpectRecovers([&] { return Request(bob_, &mac); }, &failures);
  EXPECT_LE(failures, 1);
  EXPECT_TRUE(token_->connected());
  EXPECT_TRUE(Request(alice_, &mac).ok());
  EXPECT_EQ(mac, alice_mac_);
  EXPECT_TRUE(Resolve(&mac).ok());
}

// The resolve path first (TPK handle from the old login), then the request path, whose
// cached credential handle belongs to the old generation and must not be used again.
TEST_P(ForeignLogoutTest, TicketKeyRecoversAndOldCredentialHandlesAreDropped) {
  Result<ports::KeyRef> old_ref = vault_->OpenCredential(alice_);
  ASSERT_TRUE(old_ref.ok());
  ASSERT_NO_FATAL_FAILURE(ForeignLogout(*module_, *token_));
  int failures = 0;
  std::vector<uint8_t> mac;
  ExpectRecovers([&] { return Resolve(&mac); }, &failures);
  EXPECT_LE(failures, 1);
  EXPECT_EQ(mac, tpk_mac_);
  // A reference opened under the old login is stale (503), never a handle reused...
  EXPECT_EQ(vault_->Hmac(*old_ref, crypto::HmacAlg::kSha256, kData, mac).code(),
            StatusCode::kUnavailable);
  // ...and the request opens the credential again in the new login at the first attempt.
  EXPECT_TRUE(Request(alice_, &mac).ok());
  EXPECT_EQ(mac, alice_mac_);
}

// The key index must never be rebuilt from what a logged-out session sees (no private
// object, so no key at all): a refresh while logged out is kUnavailable and triggers the
// re-login, and the keys are all still there afterwards.
TEST_P(ForeignLogoutTest, KeyIndexIsNotRebuiltWhileLoggedOut) {
  ASSERT_NO_FATAL_FAILURE(ForeignLogout(*module_, *token_));
  Status refresh = token_->RefreshKeyIndex();
  EXPECT_EQ(refresh.code(), StatusCode::kUnavailable) << refresh.ToString();
  EXPECT_FALSE(token_->connected());
  std::vector<uint8_t> mac;
  EXPECT_TRUE(Resolve(&mac).ok());
  EXPECT_EQ(mac, tpk_mac_);
  EXPECT_TRUE(token_->LongTermKey(KeyKind::kKek, 1).ok());
  EXPECT_TRUE(Request(bob_, &mac).ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, ForeignLogoutTest,
                         ::testing::Values(CredentialStorage::kWrapped,
                                           CredentialStorage::kTokenObjects),
                         testing::StorageModeName);

}  // namespace
}  // namespace kms::hsm
