// kmsctl backup create|restore (issue 9 items 5 and 8): round trip into an empty database,
// refusals (tampered or truncated file, not a backup, existing database, existing output,
// wrong PIN), and the end-to-end check that a ticket issued before the backup resolves after
// the restore on a second appliance (backup_roundtrip.sh, with kmsd and kms-client).
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

class BackupTest : public KmsctlTest {
 protected:
  void SetUp() override {
    KmsctlTest::SetUp();
    InitWithAlice();
    CtlOk({"peer", "add", "example.net", "--url", "https://kms.example.net/kms",
           "--tls-identity", "kms.example.net"});
    backup_ = token_->dir() + "/kms.backup";
  }
  std::string Restored() { return token_->dir() + "/restored.db"; }
  RunResult RestoreTo(const std::string& db, const std::string& file) {
    const std::string saved = db_;
    db_ = db;
    RunResult r = Ctl({"backup", "restore", file});
    db_ = saved;
    return r;
  }
  std::string backup_;
};

TEST_F(BackupTest, RoundTripIntoAnEmptyDatabase) {
  CtlOk({"backup", "create", backup_});
  struct stat st {};
  ASSERT_EQ(stat(backup_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(backup_, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.substr(0, 8), "KMSBK001");
  EXPECT_EQ(bytes.find("alice"), std::string::npos);  // encrypted
  EXPECT_EQ(bytes.find("SQLite"), std::string::npos);
  const std::string before = CtlOk({"--json", "user", "show", "alice"});
  RunResult r = RestoreTo(Restored(), backup_);
  ASSERT_EQ(r.code, 0) << r.err;
  db_ = Restored();
  EXPECT_EQ(CtlOk({"--json", "user", "show", "alice"}), before);
  EXPECT_EQ(json::parse(CtlOk({"--json", "peer", "list"})).size(), 1u);
  EXPECT_EQ(Ctl({"audit", "verify"}).code, 0);
  json rows = json::parse(CtlOk({"--json", "audit", "export", "--action", "backup.create"}));
  ASSERT_EQ(rows.size(), 1u);  // the backup records that it was taken
  rows = json::parse(CtlOk({"--json", "audit", "export", "--action", "backup.restore"}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["actor"], "admin:tester");
  // A second backup reuses the backup key (one object, version 1).
  CtlOk({"backup", "create", token_->dir() + "/second.backup"});
}

TEST_F(BackupTest, Refusals) {
  CtlOk({"backup", "create", backup_});
  EXPECT_EQ(Ctl({"backup", "create", backup_}).code, 1);  // never overwrites
  EXPECT_EQ(RestoreTo(db_, backup_).code, 1);             // never over a database
  std::ifstream in(backup_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t pos : {size_t{11}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    std::string t = bytes;
    t[pos] = static_cast<char>(t[pos] ^ 0x01);
    RunResult r = RestoreTo(Restored(), WriteFile("t.backup", t));
    EXPECT_EQ(r.code, 1) << pos << " " << r.err;
    EXPECT_NE(access(Restored().c_str(), F_OK), 0) << pos;
    EXPECT_NE(access((Restored() + ".restoring").c_str(), F_OK), 0) << pos;
  }
  EXPECT_EQ(RestoreTo(Restored(), WriteFile("short.backup", bytes.substr(0, 30))).code, 1);
  EXPECT_EQ(RestoreTo(Restored(), WriteFile("junk.backup", "not a backup at all")).code, 2);
  EXPECT_EQ(RestoreTo(Restored(), token_->dir() + "/missing.backup").code, 1);
  pin_file_ = token_->WritePinFile("bad.pin", "wrong", 0600);
  EXPECT_EQ(RestoreTo(Restored(), backup_).code, 1);
  EXPECT_EQ(Ctl({"backup", "create", token_->dir() + "/x.backup"}).code, 1);
  EXPECT_NE(access(Restored().c_str(), F_OK), 0);
}

// A known-value key labelled like a newer backup key, written with pkcs11-tool WITHOUT the
// user PIN (a public token object: PKCS#11 v2.40 §4.4 lets a R/W public session create it),
// is not used: the backup is sealed under the generated kms-backup-v1 and kmsctl reports the
// planted object (hsm/key_provenance.h InspectBackupKey). Before the check the backup was
// sealed under the planted key.
TEST_F(BackupTest, PlantedBackupKeyIsReportedAndNotUsed) {
  CtlOk({"backup", "create", backup_});
  const std::string key = WriteFile("known.key", std::string(32, 'K'));
  RunResult plant =
      RunProgram({"pkcs11-tool", "--module", KMS_SOFTHSM2_MODULE, "--token-label", token_->label(),
                  "--write-object", key, "--type", "secrkey", "--key-type", "AES:32", "--label",
                  "kms-backup-v9", "--id", "6b6d732d6261636b7570"});  // "kms-backup"
  ASSERT_EQ(plant.code, 0) << plant.out << plant.err;
  RunResult r = Ctl({"backup", "create", token_->dir() + "/second.backup"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("sealed under kms-backup-v1)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("warning: token object kms-backup-v9 refused and not used: CKA_"),
            std::string::npos)
      << r.err;
}

TEST_F(BackupTest, TicketIssuedBeforeBackupResolvesAfterRestore) {
  RunResult r = RunProgram({"bash", std::string(KMS_SOURCE_DIR) +
                                 "/tests/integration/kmsctl/backup_roundtrip.sh",
                     KMS_BUILD_DIR, KMS_SOURCE_DIR});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("backup round trip: ok"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace kmsctl::testing
