// kmsctl against hostile or unexpected input (review findings): audit rows holding bytes
// exactly as clients sent them, missing database files, out-of-range times, the file mode
// of a new database, and init on a token that already holds keys.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "hsm/key_manager.h"
#include "hsm/token.h"
#include "hsm/token_key_vault.h"
#include "policy/audit_chain.h"
#include "policy/sqlite_db.h"
#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

class HardeningTest : public KmsctlTest {
 protected:
  // AppendTicketRow: a row as kmsd's core writes it, chained like every other (the core
  // copies IDRi and the IDRpsk credential id from the client's message unchanged).
  void AppendTicketRow(const std::string& initiator, const std::string& credential_id,
                       const std::string& detail) {
    auto db = kms::policy::Db::Open(db_, {.mode = kms::policy::OpenMode::kReadWrite});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto txn = kms::policy::Txn::Begin(*db, kms::policy::TxnKind::kImmediate);
    ASSERT_TRUE(txn.ok());
    auto head = kms::policy::ReadChainHead(*db);
    ASSERT_TRUE(head.ok());
    kms::ports::AuditRecord r;
    r.time = std::chrono::time_point_cast<std::chrono::nanoseconds>(
        std::chrono::system_clock::now());
    r.actor = "ue:" + initiator;
    r.action = "REQUEST_INIT_PSK";
    r.initiator = initiator;
    r.responder = "sip:bob@example.org";
    r.credential_id = credential_id;
    r.outcome = kms::ports::AuditOutcome::kDenied;
    r.rule = "credential.unknown";
    r.detail = detail;
    ASSERT_TRUE(kms::policy::AppendRow(*db, *head, r).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  // SealCheckpoint: a checkpoint over the current head, as kmsd's audit writer seals it
  // (HMAC with the token's active audit key).
  void SealCheckpoint() {
    auto module = kms::hsm::testing::SoftHsmToken::OpenModule();
    ASSERT_NE(module, nullptr);
    auto token = kms::hsm::Token::Open(*module, token_->Config());
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    kms::hsm::TokenKeyVault vault(**token);
    auto db = kms::policy::Db::Open(db_, {.mode = kms::policy::OpenMode::kReadWrite});
    ASSERT_TRUE(db.ok());
    auto txn = kms::policy::Txn::Begin(*db, kms::policy::TxnKind::kImmediate);
    ASSERT_TRUE(txn.ok());
    auto head = kms::policy::ReadChainHead(*db);
    auto prev = kms::policy::ReadCheckpointHead(*db);
    ASSERT_TRUE(head.ok() && prev.ok());
    auto cp = kms::policy::WriteCheckpoint(*db, vault, *head, *prev, 1);
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    ASSERT_TRUE(txn->Commit().ok());
  }
};

json Json(const std::string& s) {
  json j = json::parse(s, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << s;
  return j;
}

// Finding 1: invalid UTF-8 made --json export abort (type_error.316, SIGABRT), and a
// newline or tab in a stored field forged lines and columns of the text export.
TEST_F(HardeningTest, AuditExportSurvivesClientBytes) {
  CtlOk({"init"});
  AppendTicketRow("a\nb\tc", "\xff", "x\\y\x1b");
  AppendTicketRow("sip:caf\xc3\xa9@example.org", "btid-ok", "");

  RunResult j = Ctl({"--json", "audit", "export"});
  ASSERT_EQ(j.code, 0) << j.err;
  json rows = Json(j.out);
  ASSERT_EQ(rows.size(), 5u);  // init's three key rows and the two above
  const json& bad = rows[3];
  EXPECT_EQ(bad["initiator"], "a\nb\tc");       // valid UTF-8: kept exactly
  EXPECT_EQ(bad["credential_id"], "\xef\xbf\xbd");  // U+FFFD for the invalid byte...
  EXPECT_EQ(bad["credential_id_hex"], "ff");         // ...and the stored bytes, reversibly
  EXPECT_FALSE(bad.contains("initiator_hex"));
  EXPECT_EQ(rows[4]["initiator"], "sip:caf\xc3\xa9@example.org");
  EXPECT_FALSE(rows[4].contains("initiator_hex"));

  RunResult t = Ctl({"audit", "export"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(std::count(t.out.begin(), t.out.end(), '\n'), 5);
  const std::string line3 = t.out.substr(0, t.out.find('\n', t.out.find("REQUEST_INIT_PSK")));
  const std::string row = line3.substr(line3.rfind('\n') + 1);
  EXPECT_EQ(std::count(row.begin(), row.end(), '\t'), 8) << row;  // nine columns
  EXPECT_NE(row.find("\tue:a\\nb\\tc\t"), std::string::npos) << row;
  EXPECT_NE(row.find("\tx\\\\y\\x1b"), std::string::npos) << row;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// Finding 4: every command used to create (and migrate) a missing database, so
// `--db /typo audit verify` printed "intact: 0 rows" and exited 0.
TEST_F(HardeningTest, OnlyInitCreatesTheDatabase) {
  const std::string typo = token_->dir() + "/typo.db";
  db_ = typo;  // Ctl passes --db db_
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"audit", "verify"},
                                             {"audit", "export"},
                                             {"user", "list"},
                                             {"key", "list"},
                                             {"policy", "show"},
                                             {"user", "add", "bob", "--impi", "bob@ims",
                                              "--identity", "sip:bob@example.org"}}) {
    RunResult r = Ctl(cmd);
    EXPECT_EQ(r.code, 1) << cmd[0] << " " << cmd[1] << ": " << r.out;
    EXPECT_NE(r.err.find("no policy database at " + typo), std::string::npos) << r.err;
    EXPECT_FALSE(Exists(typo)) << cmd[0] << " " << cmd[1];
    EXPECT_FALSE(Exists(typo + "-wal"));
  }
  CtlOk({"init"});
  EXPECT_TRUE(Exists(typo));
  CtlOk({"audit", "verify"});
}

// Read commands never migrate: a database at an older schema is refused, and left as is.
TEST_F(HardeningTest, ReadCommandsDoNotMigrate) {
  CtlOk({"init"});
  ASSERT_EQ(Sql("DELETE FROM schema_migrations WHERE version = 2; PRAGMA user_version = 1;").code,
            0);
  for (const char* what : {"verify", "export"}) {
    RunResult r = Ctl({"audit", what});
    EXPECT_EQ(r.code, 1) << what;
    EXPECT_NE(r.err.find("read commands do not migrate"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Sql("PRAGMA user_version").out, "1\n");
}

// Finding 5: times after 2262-04-11 overflowed int64_t nanoseconds (9999-12-31 was stored
// as a date in 1816); they are refused now, as are times before 1970.
TEST_F(HardeningTest, OutOfRangeTimesAreRefused) {
  InitWithAlice();
  const std::string key = WriteFile("k2.psk", kTestKeyHex);
  for (const char* bad : {"9999-12-31T23:59:59Z", "2262-04-11T23:47:17Z", "9223372037",
                          "1969-12-31T23:59:59Z"}) {
    RunResult r = Ctl({"cred", "import", "alice", "--id", "btid-far", "--key-file", key,
                       "--not-after", bad});
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("is outside 1970-01-01T00:00:00Z..2262-04-11T23:47:16Z"),
              std::string::npos) << r.err;
    EXPECT_EQ(Ctl({"audit", "export", "--until", bad}).code, 2) << bad;
  }
  // The last representable second still works, and no --not-after means no expiry.
  CtlOk({"cred", "import", "alice", "--id", "btid-far", "--key-file", key, "--not-after",
         "2262-04-11T23:47:16Z"});
  CtlOk({"cred", "import", "alice", "--id", "btid-forever", "--key-file", key});
  json u = Json(CtlOk({"--json", "user", "show", "alice"}));
  for (const auto& c : u["credentials"]) {
    if (c["id"] == "btid-far") {
      EXPECT_EQ(c["not_after"], 9223372036) << c.dump();
    }
    if (c["id"] == "btid-forever") {
      EXPECT_TRUE(c["not_after"].is_null()) << c.dump();
    }
  }
}

// Finding 10: the database was created with the process umask (0644: world-readable
// identities, wrapped credentials and audit trail).
TEST_F(HardeningTest, NewDatabaseIsOwnerOnlyWhateverTheUmask) {
  const mode_t old = umask(022);
  CtlOk({"init"});
  CtlOk({"user", "add", "bob", "--impi", "bob@ims", "--identity", "sip:bob@example.org"});
  umask(old);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    struct stat st {};
    if (stat((db_ + suffix).c_str(), &st) != 0) {
      EXPECT_STRNE(suffix, "") << "the database must exist";
      continue;
    }
    EXPECT_EQ(st.st_mode & 077, 0u) << db_ << suffix << " mode " << std::oct << st.st_mode;
  }
}

// Finding 6: init kept the token's existing keys without registering them in a new
// database; every resolve was then refused as ticket.tpk_destroyed.
TEST_F(HardeningTest, InitRegistersKeysTheTokenAlreadyHolds) {
  CtlOk({"init"});
  CtlOk({"key", "rotate", "tpk"});
  db_ = token_->dir() + "/second.db";  // a new database on the same token
  RunResult r = Ctl({"init"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("registered kms-tpk-v1 found in the token (retired)"), std::string::npos)
      << r.out;
  json keys = Json(CtlOk({"--json", "key", "list"}));
  std::vector<std::string> got;
  for (const auto& k : keys) {
    got.push_back(k["kind"].get<std::string>() + "-v" + std::to_string(k["version"].get<int>()) +
                  "-" + k["state"].get<std::string>());
    if (k["state"] == "retired") {
      EXPECT_FALSE(k["retired"].is_null()) << k.dump();
    }
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"audit-v1-active", "kek-v1-active", "tpk-v1-retired",
                                           "tpk-v2-active"}));
  // Idempotent: a second run registers nothing more.
  RunResult again = Ctl({"init"});
  EXPECT_EQ(again.out.find("registered"), std::string::npos) << again.out;
  EXPECT_EQ(Json(CtlOk({"--json", "key", "list"})).size(), 4u);
  // The registered retired version can be named by key destroy (refused only by its safety
  // check: tickets under it may still be valid), not "not registered".
  CtlOk({"policy", "set", "--may-request", "--max-validity", "3600", "--suite", "128"});
  RunResult d = Ctl({"key", "destroy", "tpk", "1"});
  EXPECT_EQ(d.code, 1);
  EXPECT_NE(d.err.find("may still be valid"), std::string::npos) << d.err;
}

// Finding 2: a hash chain sealed from inside cannot show that rows after the newest
// checkpoint, or the newest checkpoints with the rows after the previous one, were cut off.
// Plain verify still passes then (the documented limit); the anchors catch it.
TEST_F(HardeningTest, AuditVerifyAnchorsCatchTruncation) {
  InitWithAlice();  // rows 1-6
  SealCheckpoint();
  CtlOk({"user", "add", "bob", "--impi", "bob@ims", "--identity", "sip:bob@example.org"});
  SealCheckpoint();  // checkpoint 2 seals row 7
  CtlOk({"user", "add", "carol", "--impi", "carol@ims", "--identity", "sip:carol@example.org"});
  json anchor = Json(CtlOk({"--json", "audit", "verify"}));
  ASSERT_EQ(anchor["rows"], 8);
  ASSERT_EQ(anchor["checkpoints"], 2);
  CtlOk({"audit", "verify", "--expect-seq", "8", "--expect-checkpoint", "2",
         "--max-rows-per-checkpoint", "6"});
  // Six rows before checkpoint 1: a bound of 5 means a checkpoint is missing.
  RunResult tight = Ctl({"--json", "audit", "verify", "--max-rows-per-checkpoint", "5"});
  EXPECT_EQ(tight.code, 3);
  EXPECT_EQ(Json(tight.out)["problem"], "missing_checkpoint");
  EXPECT_EQ(Ctl({"audit", "verify", "--expect-seq", "0"}).code, 2);  // bad usage

  // Cut the unsealed row 8: the chain alone still verifies, the anchor does not.
  ASSERT_EQ(Sql("DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_checkpoint_no_delete; "
                "DELETE FROM audit_log WHERE seq = 8;").code, 0);
  EXPECT_EQ(Ctl({"audit", "verify"}).code, 0);
  RunResult cut = Ctl({"--json", "audit", "verify", "--expect-seq", "8"});
  EXPECT_EQ(cut.code, 3);
  EXPECT_EQ(Json(cut.out)["problem"], "truncated");
  EXPECT_EQ(Json(cut.out)["first_bad_row"], 8);
  RunResult text = Ctl({"audit", "verify", "--expect-seq", "8"});
  EXPECT_EQ(text.code, 3);
  EXPECT_NE(text.out.find("BROKEN: truncated"), std::string::npos) << text.out;

  // Cut checkpoint 2 and the row it sealed: again invisible without the anchor.
  ASSERT_EQ(Sql("DELETE FROM audit_checkpoint WHERE seq = 2; DELETE FROM audit_log WHERE "
                "seq = 7;").code, 0);
  EXPECT_EQ(Ctl({"audit", "verify"}).code, 0);
  EXPECT_EQ(Ctl({"audit", "verify", "--expect-seq", "6"}).code, 0);
  RunResult gone = Ctl({"--json", "audit", "verify", "--expect-checkpoint", "2"});
  EXPECT_EQ(gone.code, 3);
  EXPECT_EQ(Json(gone.out)["problem"], "truncated");
  EXPECT_EQ(Json(gone.out)["bad_checkpoint"], 2);
}

// A domain responder rule without "*@" or "*." was stored and matched nothing.
TEST_F(HardeningTest, DomainRuleWithoutWildcardIsRefused) {
  CtlOk({"init"});
  for (const char* bad : {"domain:example.org", "domain:@example.org", "domain:*@"}) {
    RunResult r = Ctl({"policy", "set", "--may-request", "--max-validity", "60", "--suite",
                       "128", "--responder", bad});
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("a domain rule is *@<domain>"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(Json(CtlOk({"--json", "policy", "show"}))["policy"].is_null());
  CtlOk({"policy", "set", "--may-request", "--max-validity", "60", "--suite", "128",
         "--responder", "domain:*.example.org"});
}

// A token failure during user import was reported as a bad row (exit 4, reserved for bad
// rows); it is exit 1 now, and still nothing is imported.
TEST_F(HardeningTest, ImportTokenFailureIsExitOne) {
  CtlOk({"init"});
  {
    auto module = kms::hsm::testing::SoftHsmToken::OpenModule();
    ASSERT_NE(module, nullptr);
    auto token = kms::hsm::Token::Open(*module, token_->Config());
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    ASSERT_TRUE(kms::hsm::KeyManager(**token).DestroyKey(kms::hsm::KeyKind::kKek, 1).ok());
  }
  const std::string csv = WriteFile(
      "users.csv", std::string("name,impi,identities,credential_id,key,groups\n") +
                       "u1,u1@ims,sip:u1@example.org,btid-u1,hex:" + kTestKeyHex + ",\n");
  RunResult r = Ctl({"user", "import", csv});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("token error at line 2"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kTestKeyHex), std::string::npos);
  EXPECT_TRUE(Json(CtlOk({"--json", "user", "list"})).empty());
}

}  // namespace
}  // namespace kmsctl::testing
