// kmsctl key rotate|retire|destroy (issue 9 items 3 and 8): versions, the ticket-validity
// safety check for TPKs, credentials that still need a KEK, checkpoints that still need an
// audit key; every lifecycle step audited with the operator.
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

class KeyTest : public KmsctlTest {
 protected:
  // State: "kind vN" -> state, from key list --json.
  std::map<std::string, std::string> States() {
    std::map<std::string, std::string> out;
    json keys = json::parse(CtlOk({"--json", "key", "list"}));
    for (const auto& k : keys) {
      out[k["kind"].get<std::string>() + " v" + std::to_string(k["version"].get<int>())] =
          k["state"];
    }
    return out;
  }
  // TokenLabels: the labels pkcs11-tool (an independent tool) lists in the token.
  std::string TokenObjects() {
    RunResult r = RunProgram({"pkcs11-tool", "--module", KMS_SOFTHSM2_MODULE, "--token-label",
                       token_->label(), "--login", "--pin", kms::hsm::testing::kUserPin,
                       "--list-objects", "--type", "secrkey"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
};

TEST_F(KeyTest, RotateTpkRetiresTheOldVersionAndAudits) {
  CtlOk({"init"});
  CtlOk({"key", "rotate", "tpk"});
  auto st = States();
  EXPECT_EQ(st["tpk v1"], "retired");
  EXPECT_EQ(st["tpk v2"], "active");
  EXPECT_EQ(st["kek v1"], "active");
  json keys = json::parse(CtlOk({"--json", "key", "list"}));
  for (const auto& k : keys) {
    if (k["kind"] == "tpk" && k["version"] == 1) {
      EXPECT_TRUE(k["retired"].is_number());
    }
  }
  const std::string objects = TokenObjects();
  EXPECT_NE(objects.find("kms-tpk-v1"), std::string::npos);
  EXPECT_NE(objects.find("kms-tpk-v2"), std::string::npos);
  json rows = json::parse(CtlOk({"--json", "audit", "export", "--action", "key.rotate"}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["actor"], "admin:tester");
  EXPECT_EQ(rows[0]["initiator"], "tpk");
  EXPECT_EQ(rows[0]["detail"], "new version 2");
  EXPECT_EQ(Ctl({"audit", "verify"}).code, 0);
}

TEST_F(KeyTest, RefusalsForBadKindsVersionsAndTheNewestKey) {
  CtlOk({"init"});
  EXPECT_EQ(Ctl({"key", "rotate", "ticket"}).code, 2);
  EXPECT_EQ(Ctl({"key", "destroy", "tpk", "0"}).code, 2);
  EXPECT_EQ(Ctl({"key", "destroy", "tpk", "x"}).code, 2);
  EXPECT_EQ(Ctl({"key", "destroy", "tpk", "7"}).code, 1);   // unknown version
  EXPECT_EQ(Ctl({"key", "retire", "tpk", "1"}).code, 1);    // the newest: rotate first
  EXPECT_EQ(Ctl({"key", "destroy", "tpk", "1", "--force"}).code, 1);  // even with --force
  CtlOk({"key", "rotate", "tpk"});
  EXPECT_EQ(Ctl({"key", "retire", "tpk", "1"}).code, 1);    // already retired
  EXPECT_EQ(Ctl({"key", "destroy", "tpk", "2", "--force"}).code, 1);
  // Wrong PIN: nothing rotates.
  pin_file_ = token_->WritePinFile("bad.pin", "wrong-pin", 0600);
  EXPECT_EQ(Ctl({"key", "rotate", "tpk"}).code, 1);
  pin_file_ = token_->pin_file();
  EXPECT_EQ(States().count("tpk v3"), 0u);
}

TEST_F(KeyTest, TpkDestroyWaitsForTicketValidityUnlessForced) {
  CtlOk({"init"});
  CtlOk({"policy", "set", "--may-request", "--max-validity", "3600"});
  CtlOk({"key", "rotate", "tpk"});
  RunResult r = Ctl({"key", "destroy", "tpk", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("may still be valid"), std::string::npos) << r.err;
  EXPECT_EQ(States()["tpk v1"], "retired");
  EXPECT_NE(TokenObjects().find("kms-tpk-v1"), std::string::npos);
  CtlOk({"key", "destroy", "tpk", "1", "--force"});
  EXPECT_EQ(States()["tpk v1"], "destroyed");
  EXPECT_EQ(TokenObjects().find("kms-tpk-v1"), std::string::npos);  // gone from the token
  EXPECT_EQ(Ctl({"key", "destroy", "tpk", "1", "--force"}).code, 1);  // already destroyed
  json rows = json::parse(CtlOk({"--json", "audit", "export", "--action", "key.destroy"}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["actor"], "admin:tester");
}

TEST_F(KeyTest, TpkDestroyAllowedOnceTheLongestTicketExpired) {
  CtlOk({"init"});
  CtlOk({"policy", "set", "--may-request", "--max-validity", "1"});
  CtlOk({"key", "rotate", "tpk"});
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  CtlOk({"key", "destroy", "tpk", "1"});
  EXPECT_EQ(States()["tpk v1"], "destroyed");
  // A user policy with a longer validity extends the window again for the next version.
  CtlOk({"user", "add", "u", "--impi", "u@ims", "--identity", "sip:u@example.org"});
  CtlOk({"policy", "set", "--user", "u", "--max-validity", "7200"});
  CtlOk({"key", "rotate", "tpk"});
  EXPECT_EQ(Ctl({"key", "destroy", "tpk", "2"}).code, 1);
}

TEST_F(KeyTest, KekRotationKeepsOldCredentialsUsableAndGuardsTheirKek) {
  InitWithAlice();
  const std::string out = CtlOk({"key", "rotate", "kek", "--no-rewrap"});
  EXPECT_NE(out.find("1 credential(s) are under older KEK versions"), std::string::npos) << out;
  CtlOk({"cred", "import", "alice", "--id", "btid-new", "--key-file",
         WriteFile("n.psk", kTestKeyHex)});
  json u = json::parse(CtlOk({"--json", "user", "show", "alice"}));
  ASSERT_EQ(u["credentials"].size(), 2u);
  EXPECT_EQ(u["credentials"][0]["id"], "btid-alice");
  EXPECT_EQ(u["credentials"][0]["kek_version"], 1);
  EXPECT_EQ(u["credentials"][1]["kek_version"], 2);  // new credentials: the new KEK
  RunResult r = Ctl({"key", "destroy", "kek", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("1 credential(s)"), std::string::npos) << r.err;
  EXPECT_EQ(States()["kek v1"], "retired");
  CtlOk({"key", "destroy", "kek", "1", "--force"});
  EXPECT_EQ(States()["kek v1"], "destroyed");
}

// Issue 9 item 3: rotating the KEK re-wraps every stored credential inside the token
// (hsm/kek_rewrap.h); the keys stay the same, each move is audited, and the old KEK can
// then be destroyed without --force.
TEST_F(KeyTest, KekRotationRewrapsEveryCredentialInsideTheToken) {
  InitWithAlice();
  CtlOk({"user", "add", "bob", "--impi", "bob@ims.example.org", "--identity",
         "sip:bob@example.org"});
  CtlOk({"cred", "generate", "bob", "--id", "btid-bob"});
  const auto alice_mac = TokenHmac("btid-alice");
  const auto bob_mac = TokenHmac("btid-bob");
  ASSERT_EQ(alice_mac.size(), 32u);
  const std::string so = WriteFile("so.pin", kms::hsm::testing::kSoPin);
  const std::string out = CtlOk({"key", "rotate", "kek", "--so-pin-file", so});
  EXPECT_NE(out.find("re-wrapped 2 credential(s) under KEK v2"), std::string::npos) << out;
  for (const char* user : {"alice", "bob"}) {
    json u = json::parse(CtlOk({"--json", "user", "show", user}));
    EXPECT_EQ(u["credentials"][0]["kek_version"], 2) << user;
  }
  EXPECT_EQ(TokenHmac("btid-alice"), alice_mac);
  EXPECT_EQ(TokenHmac("btid-bob"), bob_mac);
  json rows = json::parse(CtlOk({"--json", "audit", "export", "--action", "credential.rewrap"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["actor"], "admin:tester");
  EXPECT_EQ(rows[0]["detail"], "kek v1 -> v2");
  // Nothing depends on v1 any more: destroyed without --force, and the keys still work.
  CtlOk({"key", "destroy", "kek", "1"});
  EXPECT_EQ(States()["kek v1"], "destroyed");
  EXPECT_EQ(TokenHmac("btid-alice"), alice_mac);
  EXPECT_EQ(Ctl({"audit", "verify"}).code, 0);
  // Nothing left to move: a second run is a no-op.
  EXPECT_NE(CtlOk({"key", "rewrap", "--so-pin-file", so}).find("re-wrapped 0 credential(s)"),
            std::string::npos);
}

// `key rotate kek --no-rewrap` then `key rewrap` finishes later (e.g. the SO was absent).
TEST_F(KeyTest, RewrapAfterARotationWithoutIt) {
  InitWithAlice();
  const auto mac = TokenHmac("btid-alice");
  CtlOk({"key", "rotate", "kek", "--no-rewrap"});
  json u = json::parse(CtlOk({"--json", "user", "show", "alice"}));
  EXPECT_EQ(u["credentials"][0]["kek_version"], 1);
  const std::string so = WriteFile("so.pin", kms::hsm::testing::kSoPin);
  const std::string out = CtlOk({"key", "rewrap", "--so-pin-file", so});
  EXPECT_NE(out.find("re-wrapped 1 credential(s) under KEK v2"), std::string::npos) << out;
  u = json::parse(CtlOk({"--json", "user", "show", "alice"}));
  EXPECT_EQ(u["credentials"][0]["kek_version"], 2);
  EXPECT_EQ(TokenHmac("btid-alice"), mac);
}

// The same on a running kmsd, with real calls before and after (kek_rotation_live.sh).
TEST_F(KeyTest, KekRotationWhileKmsdServes) {
  RunResult r = RunProgram({"bash", std::string(KMS_SOURCE_DIR) +
                                 "/tests/integration/kmsctl/kek_rotation_live.sh",
                            KMS_BUILD_DIR, KMS_SOURCE_DIR});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("kek rotation live: ok"), std::string::npos) << r.out << r.err;
}

// TPK and audit-key rotation picked up by a running kmsd; a destroyed TPK's ticket refused
// by it at once (tpk_rotation_live.sh).
TEST_F(KeyTest, TpkAndAuditKeyRotationWhileKmsdServes) {
  RunResult r = RunProgram(
      {"bash", std::string(KMS_SOURCE_DIR) + "/tests/integration/kmsctl/tpk_rotation_live.sh",
       KMS_BUILD_DIR, KMS_SOURCE_DIR});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("tpk rotation live: ok"), std::string::npos) << r.out << r.err;
}

TEST_F(KeyTest, KekRotationRefusals) {
  InitWithAlice();
  // Neither or both of --so-pin-file / --no-rewrap: usage error, nothing rotated.
  RunResult r = Ctl({"key", "rotate", "kek"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--so-pin-file"), std::string::npos) << r.err;
  const std::string so = WriteFile("so.pin", kms::hsm::testing::kSoPin);
  EXPECT_EQ(Ctl({"key", "rotate", "kek", "--no-rewrap", "--so-pin-file", so}).code, 2);
  EXPECT_EQ(Ctl({"key", "rotate", "tpk", "--so-pin-file", so}).code, 2);
  // A wrong SO PIN: refused before anything changes (no v2, alice still under v1).
  const std::string wrong = WriteFile("wrong.pin", "not-the-so-pin");
  r = Ctl({"key", "rotate", "kek", "--so-pin-file", wrong});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("SO step"), std::string::npos) << r.err;
  EXPECT_EQ(States().count("kek v2"), 0u);
  // A missing or world-readable SO PIN file is refused too.
  EXPECT_NE(Ctl({"key", "rewrap", "--so-pin-file", "/nonexistent/so.pin"}).code, 0);
  const std::string open_pin = WriteFile("open.pin", kms::hsm::testing::kSoPin, 0644);
  EXPECT_NE(Ctl({"key", "rewrap", "--so-pin-file", open_pin}).code, 0);
  EXPECT_EQ(Ctl({"key", "rewrap"}).code, 2);  // --so-pin-file is required
  json u = json::parse(CtlOk({"--json", "user", "show", "alice"}));
  EXPECT_EQ(u["credentials"][0]["kek_version"], 1);
}

TEST_F(KeyTest, AuditKeyDestroyGuardsSealedCheckpoints) {
  CtlOk({"init"});
  CtlOk({"key", "rotate", "audit"});
  // A checkpoint sealed with v1, as kmsd's audit writer would have written.
  ASSERT_EQ(Sql("INSERT INTO audit_checkpoint VALUES (1, 1, zeroblob(32), 1, 0, zeroblob(32), "
                "zeroblob(32));").code, 0);
  EXPECT_EQ(Ctl({"key", "destroy", "audit", "1"}).code, 1);
  CtlOk({"key", "destroy", "audit", "1", "--force"});
  EXPECT_EQ(States()["audit v1"], "destroyed");
}

}  // namespace
}  // namespace kmsctl::testing
