// kmsd's readiness (/readyz, TicketService::Ready) against a real SoftHSM2 token: a logout
// made by anything else in the process is noticed by the probe itself, not only by the next
// request. SoftHSM2's RNG answers without a login, so Ready() also HMACs under its decoy
// credential (a private session object, like the unwrapped credentials): the first probe
// after the logout says not ready, and the vault's recovery (one kUnavailable, then one
// C_Login) makes the next one ready again, without a request in between.
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "hsm/key_manager.h"
#include "hsm/token_key_vault.h"
#include "src/core/memory_replay_cache.h"
#include "src/core/ticket_service.h"
#include "src/core/vault_adapters.h"
#include "tests/integration/hsm/softhsm_fixture.h"
#include "tests/unit/core/fakes.h"

namespace kms::hsm {
namespace {

using core::testing::FakeAuditSink;
using core::testing::FakePolicyStore;
using core::testing::ScriptedClock;
using testing::ForeignLogout;
using testing::SoftHsmTest;

class ReadinessTest : public SoftHsmTest<::testing::Test> {
 protected:
  ReadinessTest() : SoftHsmTest("kms-ready") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenToken());
    KeyManager km(*token_);
    ASSERT_TRUE(km.CreateTicketKey(1).ok());
    ASSERT_TRUE(km.CreateKek(1).ok());
    vault_ = std::make_unique<TokenKeyVault>(*token_);
    random_ = std::make_unique<core::VaultRandom>(*vault_);
    core::KmsOptions options;
    options.kms_identity = "https://kms.example.org";
    service_ = std::make_unique<core::TicketService>(
        core::ServicePorts{*vault_, policy_, audit_, replay_, clock_, *random_}, options);
  }
  void TearDown() override {
    service_.reset();  // before the vault it uses
    random_.reset();
    vault_.reset();
  }

  FakePolicyStore policy_;
  FakeAuditSink audit_;
  core::MemoryReplayCache replay_{core::ReplayCacheOptions{}};
  ScriptedClock clock_;
  std::unique_ptr<TokenKeyVault> vault_;
  std::unique_ptr<core::VaultRandom> random_;  // the token RNG, as kmsd wires it
  std::unique_ptr<core::TicketService> service_;
};

TEST_F(ReadinessTest, AForeignLogoutIsNoticedByTheProbeAndRecovered) {
  std::string why;
  ASSERT_TRUE(service_->Ready(&why)) << why;
  ASSERT_TRUE(service_->Ready(&why)) << why;

  ForeignLogout(*module_, *token_);
  uint8_t rng[4];
  ASSERT_TRUE(vault_->Random(rng).ok()) << "SoftHSM2's RNG needs no login: not a probe";
  EXPECT_FALSE(service_->Ready(&why));
  EXPECT_EQ(why, "token unavailable (not logged in)");
  why.clear();
  EXPECT_TRUE(service_->Ready(&why)) << "the probe after it logged in again: " << why;
}

}  // namespace
}  // namespace kms::hsm
