// kmsctl key rewrap past a credential that cannot be re-wrapped (review finding 7): it used
// to stop at the first such credential, discarding its page and never reaching the rest, on
// every rerun; and the documented remedy (re-provision that credential) had no command.
#include <nlohmann/json.hpp>

#include "hsm/token.h"
#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

class RewrapFailureTest : public KmsctlTest {
 protected:
  // AddLegacyKek: KEK `version` with the template of earlier releases, in the token.
  void AddLegacyKek(uint32_t version) {
    auto module = kms::hsm::testing::SoftHsmToken::OpenModule();
    ASSERT_NE(module, nullptr);
    auto token = kms::hsm::Token::Open(*module, token_->Config());
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    ASSERT_EQ(GenerateLegacyKek(**token, version), CKR_OK);
  }
  int KekVersionOf(const std::string& id) {
    RunResult r = Sql("SELECT kek_version FROM credentials WHERE credential_id = '" + id + "'");
    return r.out.empty() ? -1 : std::stoi(r.out);
  }
};

TEST_F(RewrapFailureTest, ContinuesPastACredentialThatCannotBeRewrappedAndReportsIt) {
  InitWithAlice();  // btid-alice under KEK v1
  AddLegacyKek(2);
  // Registered (active; v1 retired): new credentials go under the KEK the database lists.
  CtlOk({"init"});
  // Sorted before btid-alice, so the old loop stopped before reaching it.
  CtlOk({"cred", "generate", "alice", "--id", "a-legacy"});
  ASSERT_EQ(KekVersionOf("a-legacy"), 2);
  const auto mac = TokenHmac("btid-alice");
  const std::string so = WriteFile("so.pin", kms::hsm::testing::kSoPin);

  RunResult r = Ctl({"key", "rotate", "kek", "--so-pin-file", so});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("not re-wrapped: credential a-legacy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 credential(s) could not be re-wrapped"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("re-wrapped 1 credential(s) under KEK v3"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find(kTestKeyHex), std::string::npos);
  EXPECT_EQ(KekVersionOf("btid-alice"), 3);  // the good one was moved
  EXPECT_EQ(KekVersionOf("a-legacy"), 2);    // the bad one is left, still usable
  EXPECT_EQ(TokenHmac("btid-alice"), mac);

  // The remedy the message names: remove it (audited), then provision it again.
  EXPECT_EQ(Ctl({"cred", "remove", "no-such-id"}).code, 1);
  CtlOk({"cred", "remove", "a-legacy"});
  EXPECT_EQ(KekVersionOf("a-legacy"), -1);
  json rows = json::parse(CtlOk({"--json", "audit", "export", "--action", "credential.remove"}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["initiator"], "alice");
  EXPECT_EQ(rows[0]["detail"], "a-legacy");
  EXPECT_EQ(rows[0]["actor"], "admin:tester");
  CtlOk({"cred", "generate", "alice", "--id", "a-legacy"});
  EXPECT_EQ(KekVersionOf("a-legacy"), 3);
  RunResult again = Ctl({"key", "rewrap", "--so-pin-file", so});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("re-wrapped 0 credential(s)"), std::string::npos) << again.out;
  EXPECT_EQ(Ctl({"audit", "verify"}).code, 0);
}

}  // namespace
}  // namespace kmsctl::testing
