// kmsctl administration commands (issue 9 items 1, 2, 4, 7, 8): users, groups, policy,
// peers, audit export and verify, exit codes and refusals, the operator in every audit row.
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

class AdminTest : public KmsctlTest {};

json Json(const std::string& s) {
  json j = json::parse(s, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << s;
  return j;
}

TEST_F(AdminTest, HelpDocumentsExitCodesAndUsageErrorsExitTwo) {
  RunResult help = Ctl({"--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* line : {"0  success", "1  refused", "2  bad usage", "3  audit verify",
                           "4  user import"}) {
    EXPECT_NE(help.out.find(line), std::string::npos) << line;
  }
  EXPECT_EQ(Ctl({"no-such-command"}).code, 2);
  EXPECT_EQ(Ctl({}).code, 2);
  EXPECT_EQ(Ctl({"user", "add", "bob"}).code, 2);  // --impi/--identity missing
  EXPECT_EQ(Ctl({"policy", "set", "--suite", "512"}).code, 2);
}

TEST_F(AdminTest, InitIsIdempotentAndWrongPinIsRefused) {
  const std::string bad_pin = token_->WritePinFile("bad.pin", "not-the-pin", 0600);
  pin_file_ = bad_pin;
  RunResult r = Ctl({"init"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.err.find("not-the-pin"), std::string::npos);  // the PIN is never printed
  pin_file_ = token_->pin_file();
  CtlOk({"init"});
  const std::string again = CtlOk({"init"});
  EXPECT_NE(again.find("already exists"), std::string::npos);
  json keys = Json(CtlOk({"--json", "key", "list"}));
  ASSERT_EQ(keys.size(), 3u);  // the second init created nothing
  for (const auto& k : keys) {
    EXPECT_EQ(k["version"], 1);
    EXPECT_EQ(k["state"], "active");
    EXPECT_TRUE(k["retired"].is_null());
  }
  // A PIN file readable by others is refused before any token call.
  pin_file_ = token_->WritePinFile("loose.pin", kms::hsm::testing::kUserPin, 0644);
  EXPECT_EQ(Ctl({"key", "list"}).code, 0);  // key list reads the database only
  EXPECT_EQ(Ctl({"init"}).code, 1);
  pin_file_.clear();
  EXPECT_EQ(Ctl({"init"}).code, 2);  // --pin-file required
}

// A token without a mechanism the appliance needs is refused before any key is made, with
// the mechanism and its use named (hsm/token_profile.h). SoftHSM2 switches mechanisms off in
// its config (slots.mechanisms; 2.6.1 skips the first name after "-").
TEST_F(AdminTest, InitRefusesATokenLackingAMechanismAndMakesNoKey) {
  const std::string conf = token_->conf();
  std::string original;
  {
    std::ifstream in(conf);
    original.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::ofstream(conf, std::ios::app) << "slots.mechanisms = -,CKM_AES_GCM\n";
  RunResult r = Ctl({"init"});
  EXPECT_EQ(r.code, 1) << r.err;  // a token condition, not bad usage
  EXPECT_NE(r.err.find("cannot hold this KMS's keys: missing CKM_AES_GCM (encrypt, decrypt: "
                       "backup sealing)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::ifstream(db_).good()) << "the refused init created " << db_;
  std::ofstream(conf, std::ios::trunc) << original;
  // The refused run made nothing: on the full token, init creates every version 1 now.
  const std::string made = CtlOk({"init"});
  EXPECT_EQ(made.find("already exists"), std::string::npos) << made;
  EXPECT_EQ(Json(CtlOk({"--json", "key", "list"})).size(), 3u);
}

// kmsctl token check: the same check for an operator trying a token before init; it reads
// the token only (no database is created).
TEST_F(AdminTest, TokenCheckListsEachNeedAndTouchesNoDatabase) {
  RunResult r = Ctl({"token", "check"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ok      CKM_AES_GCM (backup sealing)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok      key attributes CKA_ALLOWED_MECHANISMS"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("MISSING"), std::string::npos) << r.out;
  EXPECT_FALSE(std::ifstream(db_).good()) << "token check created " << db_;

  std::ofstream(token_->conf(), std::ios::app) << "slots.mechanisms = -,CKM_AES_GCM\n";
  r = Ctl({"token", "check"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("MISSING CKM_AES_GCM (backup sealing)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok      CKM_AES_KEY_WRAP_PAD"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("cannot hold this KMS's keys"), std::string::npos) << r.err;
  r = Ctl({"--json", "token", "check"});
  EXPECT_EQ(r.code, 1);
  json j = Json(r.out);
  EXPECT_EQ(j["ok"], false);
  ASSERT_EQ(j["missing"].size(), 1u) << r.out;
  EXPECT_EQ(j["missing"][0].get<std::string>().rfind("CKM_AES_GCM (", 0), 0u) << r.out;
  EXPECT_EQ(j["refused_attributes"].size(), 0u);
  EXPECT_EQ(j["attributes_probed"], true);
  EXPECT_EQ(Ctl({"token"}).code, 2);  // a subcommand is required
}

TEST_F(AdminTest, UserShowListDisableAndRefusals) {
  InitWithAlice();
  json u = Json(CtlOk({"--json", "user", "show", "alice"}));
  EXPECT_EQ(u["private_identity"], "alice@ims.example.org");
  EXPECT_EQ(u["public_identities"], json::array({"sip:alice@example.org"}));
  EXPECT_EQ(u["enabled"], true);
  ASSERT_EQ(u["credentials"].size(), 1u);
  EXPECT_EQ(u["credentials"][0]["id"], "btid-alice");
  EXPECT_EQ(u["credentials"][0]["kek_version"], 1);
  EXPECT_TRUE(u["policy"].is_null());
  const std::string all = Ctl({"--json", "user", "show", "alice"}).out + CtlOk({"user", "list"});
  EXPECT_EQ(all.find(kTestKeyHex), std::string::npos);
  EXPECT_EQ(all.find("00112233"), std::string::npos);

  CtlOk({"user", "disable", "alice"});
  EXPECT_EQ(Json(CtlOk({"--json", "user", "show", "alice"}))["enabled"], false);
  EXPECT_EQ(Ctl({"user", "show", "bob"}).code, 1);
  EXPECT_EQ(Ctl({"user", "disable", "bob"}).code, 1);
  // Duplicates: name, private identity, public identity.
  EXPECT_EQ(Ctl({"user", "add", "alice", "--impi", "x@ims", "--identity", "sip:x@e.org"}).code, 1);
  EXPECT_EQ(Ctl({"user", "add", "a2", "--impi", "alice@ims.example.org", "--identity",
                 "sip:a2@example.org"}).code, 1);
  EXPECT_EQ(Ctl({"user", "add", "a3", "--impi", "a3@ims", "--identity",
                 "sip:alice@example.org"}).code, 1);
  // Not a sip:/sips:/tel: URI: bad input.
  EXPECT_EQ(Ctl({"user", "add", "a4", "--impi", "a4@ims", "--identity", "http://x"}).code, 2);
  EXPECT_EQ(Json(CtlOk({"--json", "user", "list"})).size(), 1u);  // nothing half-added
  // Credential for an unknown user, duplicate credential id, bad key files.
  const std::string key = WriteFile("k.psk", kTestKeyHex);
  EXPECT_EQ(Ctl({"cred", "import", "bob", "--id", "b1", "--key-file", key}).code, 1);
  EXPECT_EQ(Ctl({"cred", "import", "alice", "--id", "btid-alice", "--key-file", key}).code, 1);
  EXPECT_EQ(Ctl({"cred", "import", "alice", "--id", "x", "--key-file",
                 WriteFile("bad.psk", "zz")}).code, 2);
  EXPECT_EQ(Ctl({"cred", "import", "alice", "--id", "x", "--key-file",
                 WriteFile("short.psk", "0011")}).code, 2);
  EXPECT_EQ(Ctl({"cred", "import", "alice", "--id", "x", "--key-file",
                 WriteFile("open.psk", kTestKeyHex, 0644)}).code, 1);
}

TEST_F(AdminTest, GroupsListAndMembership) {
  InitWithAlice();
  CtlOk({"group", "add", "sip:team@example.org", "--description", "the team"});
  CtlOk({"group", "member-add", "sip:team@example.org", "sip:alice@example.org"});
  CtlOk({"group", "member-add", "sip:team@example.org", "sip:bob@example.net"});
  CtlOk({"group", "add", "sip:empty@example.org"});
  json groups = Json(CtlOk({"--json", "group", "list"}));
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0]["group"], "sip:empty@example.org");
  EXPECT_TRUE(groups[0]["members"].empty());
  EXPECT_EQ(groups[1]["members"],
            json::array({"sip:alice@example.org", "sip:bob@example.net"}));
  EXPECT_EQ(Json(CtlOk({"--json", "user", "show", "alice"}))["groups"],
            json::array({"sip:team@example.org"}));
  EXPECT_EQ(Ctl({"group", "add", "sip:team@example.org"}).code, 1);
  EXPECT_EQ(Ctl({"group", "member-add", "sip:nope@example.org", "sip:x@y"}).code, 1);
  EXPECT_EQ(Ctl({"group", "member-add", "sip:team@example.org", "sip:alice@example.org"}).code,
            1);
  EXPECT_EQ(Ctl({"group", "member-remove", "sip:team@example.org", "sip:zed@y"}).code, 1);
  CtlOk({"group", "member-remove", "sip:team@example.org", "sip:alice@example.org"});
  EXPECT_TRUE(Json(CtlOk({"--json", "user", "show", "alice"}))["groups"].empty());
}

TEST_F(AdminTest, PolicyShowDefaultUserAndEffective) {
  CtlOk({"init"});
  json none = Json(CtlOk({"--json", "policy", "show"}));
  EXPECT_TRUE(none["policy"].is_null());
  CtlOk({"policy", "set", "--may-request", "--max-validity", "3600", "--suite", "128",
         "--responder", "domain:*@example.org", "--rate", "60"});
  CtlOk({"user", "add", "alice", "--impi", "a@ims", "--identity", "sip:alice@example.org"});
  CtlOk({"policy", "set", "--user", "alice", "--max-validity", "600", "--reuse",
         "--responder", "exact:sip:bob@example.org", "--suite", "256"});
  json d = Json(CtlOk({"--json", "policy", "show"}));
  EXPECT_EQ(d["policy"]["max_validity_s"], 3600);
  EXPECT_EQ(d["policy"]["suites"], json::array({128}));
  EXPECT_EQ(d["policy"]["rate_limit_per_min"], 60);
  EXPECT_EQ(d["policy"]["reuse_allowed"], false);
  json u = Json(CtlOk({"--json", "policy", "show", "--user", "alice"}));
  EXPECT_EQ(u["own"]["max_validity_s"], 600);
  EXPECT_TRUE(u["own"]["may_request"].is_null());  // inherited
  EXPECT_TRUE(u["own"]["rate_limit_per_min"].is_null());
  EXPECT_EQ(u["effective"]["may_request"], true);
  EXPECT_EQ(u["effective"]["max_validity_s"], 600);
  EXPECT_EQ(u["effective"]["rate_limit_per_min"], 60);
  EXPECT_EQ(u["effective"]["reuse_allowed"], true);
  EXPECT_EQ(u["effective"]["suites"], json::array({256}));
  EXPECT_EQ(u["effective"]["responders"], json::array({"exact:sip:bob@example.org"}));
  EXPECT_TRUE(Json(CtlOk({"--json", "user", "show", "alice"}))["policy"].is_object());
  EXPECT_NE(CtlOk({"policy", "show", "--user", "alice"}).find("max_validity_s: 600"),
            std::string::npos);
  // Refusals.
  EXPECT_EQ(Ctl({"policy", "show", "--user", "bob"}).code, 1);
  EXPECT_EQ(Ctl({"policy", "set", "--user", "bob", "--reuse"}).code, 1);
  EXPECT_EQ(Ctl({"policy", "set", "--responder", "prefix:x"}).code, 2);
  EXPECT_EQ(Ctl({"policy", "set", "--responder", "exact:"}).code, 2);
  EXPECT_EQ(Ctl({"policy", "set", "--max-validity", "-5"}).code, 2);
  // The refused sets changed nothing.
  EXPECT_EQ(Json(CtlOk({"--json", "policy", "show"}))["policy"], d["policy"]);
}

TEST_F(AdminTest, PeersAddListRemoveAndRefusals) {
  CtlOk({"init"});
  CtlOk({"peer", "add", "example.net", "--url", "https://kms.example.net/kms",
         "--tls-identity", "kms.example.net"});
  CtlOk({"peer", "add", "other.org", "--url", "https://kms.other.org/", "--tls-identity",
         "kms.other.org", "--disabled"});
  json peers = Json(CtlOk({"--json", "peer", "list"}));
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0]["domain"], "example.net");
  EXPECT_EQ(peers[0]["url"], "https://kms.example.net/kms");
  EXPECT_EQ(peers[0]["allowed"], true);
  EXPECT_EQ(peers[1]["allowed"], false);
  EXPECT_EQ(Ctl({"peer", "add", "example.net", "--url", "https://x.example.net",
                 "--tls-identity", "x"}).code, 1);  // duplicate
  for (const char* bad_domain : {"Example.net", "ex ample.net", ".example.net", "example..net",
                                 "", "exa_mple.net"}) {
    EXPECT_EQ(Ctl({"peer", "add", bad_domain, "--url", "https://k.x", "--tls-identity",
                   "k"}).code, 2) << bad_domain;
  }
  for (const char* bad_url : {"http://kms.example.com", "https://", "kms.example.com",
                              "https://a b"}) {
    EXPECT_EQ(Ctl({"peer", "add", "example.com", "--url", bad_url, "--tls-identity",
                   "k"}).code, 2) << bad_url;
  }
  EXPECT_EQ(Ctl({"peer", "add", "example.com", "--url", "https://k.example.com",
                 "--tls-identity", ""}).code, 2);
  EXPECT_EQ(Ctl({"peer", "remove", "nowhere.org"}).code, 1);
  CtlOk({"peer", "remove", "example.net"});
  EXPECT_EQ(Json(CtlOk({"--json", "peer", "list"})).size(), 1u);
  json rows = Json(CtlOk({"--json", "audit", "export", "--action", "peer.add"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["actor"], "admin:tester");
  EXPECT_EQ(rows[0]["initiator"], "example.net");
  EXPECT_EQ(Json(CtlOk({"--json", "audit", "export", "--action", "peer.remove"})).size(), 1u);
}

TEST_F(AdminTest, AuditExportFiltersAndEveryChangeHasTheOperator) {
  InitWithAlice();
  CtlOk({"user", "add", "bob", "--impi", "bob@ims", "--identity", "sip:bob@example.org"});
  json all = Json(CtlOk({"--json", "audit", "export"}));
  // init (3 key rows), policy, alice, credential, bob.
  ASSERT_EQ(all.size(), 7u);
  for (const auto& r : all) {
    EXPECT_EQ(r["actor"], "admin:tester") << r.dump();
    EXPECT_EQ(r["hash"].get<std::string>().size(), 64u);
  }
  json adds = Json(CtlOk({"--json", "audit", "export", "--action", "user.add"}));
  ASSERT_EQ(adds.size(), 2u);
  EXPECT_EQ(adds[0]["initiator"], "alice");
  json alice = Json(CtlOk({"--json", "audit", "export", "--user", "alice"}));
  ASSERT_EQ(alice.size(), 2u);  // user.add and credential.add
  EXPECT_EQ(alice[1]["action"], "credential.add");
  EXPECT_EQ(alice[1]["detail"], "btid-alice");
  EXPECT_TRUE(Json(CtlOk({"--json", "audit", "export", "--user", "carol"})).empty());
  // Time window: everything is after 2020 and before 2100; nothing before 2020.
  EXPECT_EQ(Json(CtlOk({"--json", "audit", "export", "--since", "2020-01-01T00:00:00Z",
                        "--until", "4102444800"})).size(), 7u);
  EXPECT_TRUE(Json(CtlOk({"--json", "audit", "export", "--until", "1577836800"})).empty());
  const int64_t cut = all[4]["time_ns"].get<int64_t>() / 1000000000 + 1;
  json late = Json(CtlOk({"--json", "audit", "export", "--since", std::to_string(cut)}));
  for (const auto& r : late) {
    EXPECT_GE(r["time_ns"].get<int64_t>() / 1000000000, cut);
  }
  // Text output: one line per row, no key bytes.
  const std::string text = CtlOk({"audit", "export"});
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 7);
  EXPECT_EQ(text.find("00112233"), std::string::npos);
  // Refusals.
  for (const char* bad : {"yesterday", "2026-13-01T00:00:00Z", "2026-01-01 00:00:00", "-5",
                          "99999999999999999999"}) {
    EXPECT_EQ(Ctl({"audit", "export", "--since", bad}).code, 2) << bad;
  }
  EXPECT_EQ(Ctl({"audit", "export", "--since", "200", "--until", "100"}).code, 2);
}

TEST_F(AdminTest, AuditVerifyDetectsTampering) {
  InitWithAlice();
  RunResult ok = Ctl({"--json", "audit", "verify"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(Json(ok.out)["intact"], true);
  const nlohmann::json counts = Json(ok.out);
  RunResult text = Ctl({"audit", "verify"});
  ASSERT_EQ(text.code, 0) << text.err;
  const auto plural = [](int64_t n, const std::string& noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
  };
  EXPECT_EQ(text.out, "audit trail intact: " + plural(counts["rows"], "row") + ", " +
                          plural(counts["checkpoints"], "checkpoint") + ", " +
                          plural(counts["unsealed_rows"], "row") +
                          " not yet sealed by a checkpoint\n");
  // Bypass the append-only trigger as an attacker with file access would.
  ASSERT_EQ(Sql("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = 'forged' "
                "WHERE seq = 5;").code, 0);
  RunResult bad = Ctl({"--json", "audit", "verify"});
  EXPECT_EQ(bad.code, 3);
  EXPECT_EQ(Json(bad.out)["first_bad_row"], 5);
  EXPECT_EQ(Ctl({"audit", "verify"}).code, 3);
}

}  // namespace
}  // namespace kmsctl::testing
