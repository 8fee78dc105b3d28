// kmsctl audit archive / verify-archive (policy/audit_archive.h, audit_archive_file.h)
// against a real token and database: archived rows leave the database and the trail still
// verifies; the file verifies against the token and the database's MAC'd record; every
// change to the file, a record made without the token, a deletion of rows not archived, an
// archive of a broken trail and an existing output file are refused or reported.
#include "policy/audit_archive.h"

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "hsm/token.h"
#include "hsm/token_key_vault.h"
#include "policy/sqlite_db.h"
#include "tests/integration/kmsctl/kmsctl_fixture.h"
#include "tests/integration/policy/policy_test_support.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

json Json(const std::string& s) {
  json j = json::parse(s, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << s;
  return j;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

class AuditArchiveTest : public KmsctlTest {
 protected:
  // Trail: init (admin rows), then 10 rows sealed every 4 (checkpoints at 4, 8, 10 of them).
  void Trail() {
    InitWithAlice();
    ASSERT_EQ(SealWithWriter(10, 4).size(), 3u);
  }
  std::string Out(const std::string& name) { return token_->dir() + "/" + name; }
  // Archive: kmsctl --json audit archive --before <far future> --out <file>.
  RunResult Archive(const std::string& file) {
    return Ctl({"--json", "audit", "archive", "--before", "4000000000", "--out", file});
  }
  int64_t MinSeq() { return std::stoll(Sql("SELECT min(seq) FROM audit_log").out); }
  json VerifyTrail() {
    RunResult r = Ctl({"--json", "audit", "verify"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return Json(r.out);
  }
};

TEST_F(AuditArchiveTest, ArchivedRowsLeaveTheDatabaseAndBothSidesVerify) {
  Trail();
  const json before = VerifyTrail();
  const int64_t rows = before["rows"].get<int64_t>();
  const std::string file = Out("a1.jsonl");
  RunResult r = Archive(file);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const json a = Json(r.out);
  EXPECT_EQ(a["archive"], 1);
  EXPECT_EQ(a["first_row"], 1);
  // Up to the newest checkpoint: every row there was sealed (the writer sealed at its end).
  EXPECT_EQ(a["last_row"], rows);
  EXPECT_EQ(a["deleted_rows"], rows);
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(access((file + ".partial").c_str(), F_OK), 0);

  // The database keeps only the archive's own row, chained after the archived ones.
  EXPECT_EQ(MinSeq(), rows + 1);
  EXPECT_EQ(Sql("SELECT count(*) FROM audit_log").out, "1\n");
  EXPECT_EQ(Sql("SELECT action FROM audit_log").out, "audit.archive\n");
  // Labelled with the policy version committed when it was written (not 0, not stale).
  EXPECT_EQ(Sql("SELECT policy_version FROM audit_log").out,
            Sql("SELECT policy_version FROM policy_meta").out);
  EXPECT_NE(Sql("SELECT policy_version FROM audit_log").out, "0\n");
  const json after = VerifyTrail();
  EXPECT_EQ(after["problem"], "none");
  EXPECT_EQ(after["rows"], rows + 1);
  EXPECT_EQ(after["archives"], 1);
  EXPECT_EQ(after["archived_rows"], rows);
  EXPECT_EQ(after["unsealed_rows"], 1);

  RunResult v = Ctl({"--json", "audit", "verify-archive", file});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_EQ(Json(v.out)["intact"], true);
  EXPECT_EQ(Json(v.out)["checkpoints"], 3);
  EXPECT_EQ(Json(v.out)["sha256"], a["sha256"]);

  // The chain goes on: kmsd's writer appends after the archive row, and a second archive
  // starts where the first ended.
  ASSERT_FALSE(SealWithWriter(5, 100, 1).empty());
  const std::string file2 = Out("a2.jsonl");
  RunResult r2 = Archive(file2);
  ASSERT_EQ(r2.code, 0) << r2.out << r2.err;
  EXPECT_EQ(Json(r2.out)["archive"], 2);
  EXPECT_EQ(Json(r2.out)["first_row"], rows + 1);
  EXPECT_EQ(Json(r2.out)["last_row"], rows + 6);
  EXPECT_EQ(VerifyTrail()["archived_rows"], rows + 6);
  EXPECT_EQ(Ctl({"audit", "verify-archive", file}).code, 0);
  RunResult v2 = Ctl({"audit", "verify-archive", file2});
  EXPECT_EQ(v2.code, 0) << v2.out << v2.err;
  EXPECT_NE(v2.out.find("archive 2 intact"), std::string::npos) << v2.out;
  // The archive rows are the operator's, with the file named.
  RunResult exp = Ctl({"--json", "audit", "export", "--action", "audit.archive"});
  ASSERT_EQ(exp.code, 0);
  const json rows_now = Json(exp.out);
  ASSERT_EQ(rows_now.size(), 1u);  // the first one is archived itself
  EXPECT_EQ(rows_now[0]["actor"], "admin:tester");
  EXPECT_NE(rows_now[0]["detail"].get<std::string>().find(file2), std::string::npos);
}

TEST_F(AuditArchiveTest, EveryChangeToTheFileIsReported) {
  Trail();
  const std::string file = Out("a.jsonl");
  ASSERT_EQ(Archive(file).code, 0);
  const std::string good = ReadAll(file);
  std::vector<std::string> lines;
  std::stringstream ss(good);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  ASSERT_GE(lines.size(), 6u);
  const auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += l + "\n";
    return s;
  };
  struct Case {
    const char* what;
    std::string content;
    const char* problem;  // a part of the reported problem
  };
  std::vector<Case> cases;
  {  // a row's text changed (its stored hash kept)
    std::vector<std::string> v = lines;
    const size_t row = v.size() - 2;  // the last row
    const size_t at = v[row].find("\"detail\":\"");
    EXPECT_NE(at, std::string::npos);
    v[row].insert(at + 10, "X");
    cases.push_back({"row text changed", join(v), "does not match its hash"});
  }
  {  // a row removed
    std::vector<std::string> v = lines;
    v.erase(v.end() - 3);
    cases.push_back({"row removed", join(v), "is missing"});
  }
  {  // cut off before the end line
    std::vector<std::string> v(lines.begin(), lines.end() - 1);
    cases.push_back({"cut off", join(v), "cut off"});
  }
  {  // a checkpoint MAC changed
    std::vector<std::string> v = lines;
    const size_t at = v[1].find("\"mac\":\"");
    EXPECT_NE(at, std::string::npos);
    v[1][at + 7] = v[1][at + 7] == '0' ? '1' : '0';
    cases.push_back({"checkpoint MAC", join(v), "wrong MAC"});
  }
  {  // the same JSON, formatted differently: every row still hashes right, but it is not
     // the file the database recorded
    std::vector<std::string> v = lines;
    v[v.size() - 2].insert(1, " ");
    cases.push_back({"reformatted", join(v), "SHA-256"});
  }
  cases.push_back({"not JSON", "garbage\n", "malformed"});
  cases.push_back({"empty", "", "cut off"});
  for (const Case& c : cases) {
    WriteAll(file, c.content);
    RunResult r = Ctl({"--json", "audit", "verify-archive", file});
    EXPECT_EQ(r.code, 3) << c.what << ": " << r.out << r.err;
    const json j = Json(r.out);
    EXPECT_EQ(j["intact"], false) << c.what;
    EXPECT_NE(j["problem"].get<std::string>().find(c.problem), std::string::npos)
        << c.what << ": " << j["problem"];
  }
  WriteAll(file, good);
  EXPECT_EQ(Ctl({"audit", "verify-archive", file}).code, 0);
  EXPECT_EQ(Ctl({"audit", "verify-archive", Out("missing.jsonl")}).code, 1);
}

TEST_F(AuditArchiveTest, RowsNotArchivedCannotBeDeletedNorAForgedRecordPass) {
  Trail();
  ASSERT_EQ(Archive(Out("a.jsonl")).code, 0);
  const int64_t first_kept = MinSeq();
  // The trigger still refuses to delete a row after the archived ones...
  RunResult del = Sql("DELETE FROM audit_log WHERE seq = " + std::to_string(first_kept));
  EXPECT_NE(del.code, 0);
  EXPECT_NE(del.err.find("append-only"), std::string::npos) << del.err;
  // ...and an archive record inserted without the token (any MAC) unlocks the trigger, but
  // not the verifier.
  ASSERT_FALSE(SealWithWriter(3, 100, 1).empty());
  const std::string last = Sql("SELECT max(seq) FROM audit_log").out;
  const std::string cp = Sql("SELECT max(seq) FROM audit_checkpoint").out;
  const std::string h = Sql("SELECT hex(hash) FROM audit_log WHERE seq = " + last).out;
  const std::string z = "x'" + std::string(64, '0') + "'";
  RunResult forge =
      Sql("INSERT INTO audit_archive VALUES (2, " + std::to_string(first_kept) + ", " + last +
          ", x'" + h.substr(0, 64) + "', " + cp + ", " + z + ", 1, 0, " +
          "(SELECT mac FROM audit_archive WHERE seq = 1), " + z + "); DELETE FROM audit_log;");
  ASSERT_EQ(forge.code, 0) << forge.err;
  RunResult v = Ctl({"--json", "audit", "verify"});
  EXPECT_EQ(v.code, 3) << v.out;
  EXPECT_EQ(Json(v.out)["problem"], "forged_archive");
  EXPECT_NE(Json(v.out)["detail"].get<std::string>().find("archive 2 has a wrong MAC"),
            std::string::npos)
      << v.out;
}

TEST_F(AuditArchiveTest, RefusedWhenTheTrailIsBrokenOrNothingIsSealedOrTheFileExists) {
  Trail();
  // Nothing sealed before 1970-01-01T00:00:01Z: nothing to do (exit 0), nothing written.
  RunResult early = Ctl({"audit", "archive", "--before", "1", "--out", Out("e.jsonl")});
  EXPECT_EQ(early.code, 0) << early.err;
  EXPECT_NE(early.out.find("nothing to archive: no checkpoint"), std::string::npos) << early.out;
  EXPECT_NE(access(Out("e.jsonl").c_str(), F_OK), 0);
  // An existing file is never overwritten, and nothing is recorded.
  const std::string taken = WriteFile("taken.jsonl", "mine\n");
  RunResult exists = Ctl({"audit", "archive", "--before", "4000000000", "--out", taken});
  EXPECT_EQ(exists.code, 1);
  EXPECT_NE(exists.err.find("never overwritten"), std::string::npos) << exists.err;
  EXPECT_EQ(ReadAll(taken), "mine\n");
  EXPECT_EQ(Sql("SELECT count(*) FROM audit_archive").out, "0\n");
  // Bad usage: a time that is not one, or a missing --out.
  EXPECT_EQ(Ctl({"audit", "archive", "--before", "yesterday", "--out", Out("u.jsonl")}).code, 2);
  EXPECT_EQ(Ctl({"audit", "archive", "--before", "1"}).code, 2);
  // A modified row: the trail does not verify, so nothing is archived (exit 3).
  ASSERT_EQ(Sql("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = 'x' WHERE "
                "seq = 2")
                .code,
            0);
  RunResult broken = Ctl({"audit", "archive", "--before", "4000000000", "--out", Out("b.jsonl")});
  EXPECT_EQ(broken.code, 3) << broken.err;
  EXPECT_NE(broken.err.find("modified_row"), std::string::npos) << broken.err;
  EXPECT_NE(access(Out("b.jsonl").c_str(), F_OK), 0);
  EXPECT_EQ(Sql("SELECT count(*) FROM audit_archive").out, "0\n");
  EXPECT_EQ(MinSeq(), 1);
}

// A run stopped after the record committed and before the rows were deleted: the trail
// verifies meanwhile (the archived rows are skipped), and the next run deletes them.
TEST_F(AuditArchiveTest, AnInterruptedDeletionIsFinishedByTheNextRun) {
  Trail();
  auto module = kms::hsm::testing::SoftHsmToken::OpenModule();
  ASSERT_NE(module, nullptr);
  auto token = kms::hsm::Token::Open(*module, token_->Config());
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  kms::hsm::TokenKeyVault vault(**token);
  int64_t last_row = 0;
  {
    auto db = kms::policy::Db::Open(db_);
    ASSERT_TRUE(db.ok());
    auto plan = kms::policy::PlanArchive(*db, 4000000000LL * 1000000000LL);
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    last_row = plan->last_row;
    kms::policy::Hash32 sha{};
    auto rec =
        kms::policy::RecordArchive(*db, vault, *plan, sha, 1, kms::policy::testing::AuditRow(9, 0));
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  }
  EXPECT_EQ(MinSeq(), 1);  // nothing deleted yet
  const json mid = VerifyTrail();
  EXPECT_EQ(mid["problem"], "none");
  EXPECT_EQ(mid["archived_rows"], last_row);
  RunResult r = Ctl({"audit", "archive", "--before", "1", "--out", Out("n.jsonl")});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("finished deleting " + std::to_string(last_row)), std::string::npos)
      << r.out;
  EXPECT_EQ(MinSeq(), last_row + 1);
  EXPECT_EQ(VerifyTrail()["problem"], "none");
}

}  // namespace
}  // namespace kmsctl::testing
