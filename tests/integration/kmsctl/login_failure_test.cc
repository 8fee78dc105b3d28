// Administrator authentication failures (evaluator checklist 15 and 20; FAU_GEN.1,
// FIA_AFL.1; docs/security-target.md "Administrator authentication"): when the token refuses
// the user or SO PIN, kmsctl exits 1 with a message naming the role and the PKCS#11 reason,
// and appends one admin.login_failed row (outcome denied, the operator, the role, the
// reason) to an existing database; the PIN appears nowhere, the chain still verifies.
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

// Distinctive wrong PINs, searched for in every output and in the raw database file.
constexpr char kWrongUserPin[] = "wrong-user-pin-7f3a9c";
constexpr char kWrongSoPin[] = "wrong-so-pin-51be0d";

class LoginFailureTest : public KmsctlTest {
 protected:
  json LoginRows() {
    return json::parse(CtlOk({"--json", "audit", "export", "--action", "admin.login_failed"}));
  }
  // RawDatabase: every byte of the database and its WAL, for a PIN search.
  std::string RawDatabase() {
    std::string all;
    for (const std::string& path : {db_, db_ + "-wal"}) {
      RunResult r = RunProgram({"cat", path});
      all += r.out;
    }
    return all;
  }
  void ExpectNoPinAnywhere(const RunResult& r) {
    for (const char* pin :
         {kWrongUserPin, kWrongSoPin, kms::hsm::testing::kUserPin, kms::hsm::testing::kSoPin}) {
      EXPECT_EQ(r.err.find(pin), std::string::npos) << pin << " in stderr: " << r.err;
      EXPECT_EQ(r.out.find(pin), std::string::npos) << pin << " in stdout: " << r.out;
      EXPECT_EQ(RawDatabase().find(pin), std::string::npos) << pin << " in the database";
    }
  }
};

TEST_F(LoginFailureTest, WrongUserPinIsAuditedWithOperatorRoleAndReason) {
  InitWithAlice();
  pin_file_ = token_->WritePinFile("bad.pin", kWrongUserPin, 0600);
  RunResult r = Ctl({"key", "rotate", "tpk"});
  EXPECT_EQ(r.code, 1) << r.err;  // docs/operations.md exit codes: 1 for a wrong PIN
  EXPECT_NE(r.err.find("the token refused the user PIN (C_Login: CKR_PIN_INCORRECT)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("login not retried; recorded in the audit trail as admin.login_failed"),
            std::string::npos)
      << r.err;
  ExpectNoPinAnywhere(r);
  pin_file_ = token_->pin_file();

  json rows = LoginRows();
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0]["actor"], "admin:tester");
  EXPECT_EQ(rows[0]["action"], "admin.login_failed");
  EXPECT_EQ(rows[0]["outcome"], "denied");
  EXPECT_EQ(rows[0]["rule"], "token.pin_refused");
  EXPECT_EQ(rows[0]["initiator"], "key rotate");
  EXPECT_EQ(rows[0]["detail"], "role=user reason=CKR_PIN_INCORRECT");
  // Nothing else happened: no rotation, no rotation row.
  EXPECT_EQ(json::parse(CtlOk({"--json", "audit", "export", "--action", "key.rotate"})).size(), 0u);
  EXPECT_EQ(json::parse(CtlOk({"--json", "key", "list"})).size(), 3u);
  // The text export shows it too, and --user matches the actor.
  const std::string text = CtlOk({"audit", "export", "--action", "admin.login_failed"});
  EXPECT_NE(text.find("admin:tester\tadmin.login_failed\tkey rotate"), std::string::npos) << text;
  EXPECT_EQ(json::parse(CtlOk({"--json", "audit", "export", "--user", "admin:tester", "--action",
                               "admin.login_failed"}))
                .size(),
            1u);

  // Every command that logs in records its own refusal, read commands included (audit
  // verify opens the database query-only, but appends this one row).
  pin_file_ = token_->WritePinFile("bad.pin", kWrongUserPin, 0600);
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"audit", "verify"},
        std::vector<std::string>{"cred", "generate", "alice", "--id", "btid-x"},
        std::vector<std::string>{"init"}}) {
    RunResult again = Ctl(cmd);
    EXPECT_EQ(again.code, 1) << cmd[0] << ": " << again.err;
    ExpectNoPinAnywhere(again);
  }
  pin_file_ = token_->pin_file();
  rows = LoginRows();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1]["initiator"], "audit verify");
  EXPECT_EQ(rows[2]["initiator"], "cred generate");
  EXPECT_EQ(rows[3]["initiator"], "init");
  RunResult verify = Ctl({"audit", "verify"});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
}

TEST_F(LoginFailureTest, WrongSoPinIsAuditedAndNothingRotates) {
  InitWithAlice();
  const std::string wrong = WriteFile("wrong-so.pin", kWrongSoPin);
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"key", "rotate", "kek", "--so-pin-file", wrong},
        std::vector<std::string>{"key", "rewrap", "--so-pin-file", wrong}}) {
    RunResult r = Ctl(cmd);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("the token refused the SO PIN (SO step: C_Login(SO): "
                         "CKR_PIN_INCORRECT)"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("recorded in the audit trail as admin.login_failed"), std::string::npos)
        << r.err;
    ExpectNoPinAnywhere(r);
  }
  json rows = LoginRows();
  ASSERT_EQ(rows.size(), 2u) << rows.dump();
  for (const auto& row : rows) {
    EXPECT_EQ(row["actor"], "admin:tester");
    EXPECT_EQ(row["outcome"], "denied");
    EXPECT_EQ(row["detail"], "role=so reason=CKR_PIN_INCORRECT");
  }
  EXPECT_EQ(rows[0]["initiator"], "key rotate");
  EXPECT_EQ(rows[1]["initiator"], "key rewrap");
  json keys = json::parse(CtlOk({"--json", "key", "list"}));
  EXPECT_EQ(keys.size(), 3u);  // no kek v2
  json u = json::parse(CtlOk({"--json", "user", "show", "alice"}));
  EXPECT_EQ(u["credentials"][0]["kek_version"], 1);

  // A right SO PIN but a wrong user PIN: the user login is refused after the SO step.
  pin_file_ = token_->WritePinFile("bad.pin", kWrongUserPin, 0600);
  const std::string so = WriteFile("so.pin", kms::hsm::testing::kSoPin);
  RunResult r = Ctl({"key", "rewrap", "--so-pin-file", so});
  EXPECT_EQ(r.code, 1) << r.err;
  ExpectNoPinAnywhere(r);
  pin_file_ = token_->pin_file();
  rows = LoginRows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2]["detail"], "role=user reason=CKR_PIN_INCORRECT");
  RunResult verify = Ctl({"audit", "verify"});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
}

// What is not an authentication attempt is not recorded as one, and a refused login
// creates no database and migrates none.
TEST_F(LoginFailureTest, NoDatabaseIsCreatedAndPinFileRefusalsAreNotLoginAttempts) {
  pin_file_ = token_->WritePinFile("bad.pin", kWrongUserPin, 0600);
  RunResult r = Ctl({"init"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("not audited: no policy database at " + db_ + " yet"), std::string::npos)
      << r.err;
  struct stat st {};
  EXPECT_NE(stat(db_.c_str(), &st), 0);  // init with a wrong PIN leaves no file
  pin_file_ = token_->pin_file();
  InitWithAlice();
  // A PIN file others can read is refused before any C_Login: no row (FIA_AFL.1 counts
  // attempts the token judged).
  pin_file_ = token_->WritePinFile("loose.pin", kms::hsm::testing::kUserPin, 0644);
  EXPECT_EQ(Ctl({"key", "rotate", "tpk"}).code, 1);
  pin_file_ = token_->pin_file();
  EXPECT_EQ(LoginRows().size(), 0u);
}

}  // namespace
}  // namespace kmsctl::testing
