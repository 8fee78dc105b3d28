// kmsctl user import (issue 9 items 6 and 8): one transaction, bad rows reported with their
// line numbers, nothing half-imported (database and token), wrapped keys under a KEK this
// token holds only, progress on a pipe, no key bytes in any output.
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

constexpr char kHeader[] = "name,impi,identities,credential_id,key,groups\n";

class ImportTest : public KmsctlTest {
 protected:
  void SetUp() override {
    KmsctlTest::SetUp();
    CtlOk({"init"});
    CtlOk({"group", "add", "sip:team@example.org"});
  }
  std::string Key(int i) {
    char buf[16];
    snprintf(buf, sizeof(buf), "%08x", i);
    std::string k;
    for (int j = 0; j < 8; ++j) k += buf;  // 32 bytes, distinct per user
    return "hex:" + k;
  }
  std::string Users(int n) {
    std::ostringstream s;
    s << kHeader;
    for (int i = 0; i < n; ++i) {
      s << "u" << i << ",u" << i << "@ims.example.org,sip:u" << i << "@example.org,btid-" << i
        << "," << Key(i) << "," << (i % 2 == 0 ? "sip:team@example.org" : "") << "\n";
    }
    return s.str();
  }
  size_t UserCount() { return json::parse(CtlOk({"--json", "user", "list"})).size(); }
  size_t SecretObjects() {
    RunResult r = RunProgram({"pkcs11-tool", "--module", KMS_SOFTHSM2_MODULE, "--token-label",
                       token_->label(), "--login", "--pin", kms::hsm::testing::kUserPin,
                       "--list-objects", "--type", "secrkey"});
    size_t n = 0;
    for (size_t p = r.out.find("Secret Key Object"); p != std::string::npos;
         p = r.out.find("Secret Key Object", p + 1)) {
      ++n;
    }
    return n;
  }
};

TEST_F(ImportTest, ImportsUsersCredentialsAndGroupsInOneGo) {
  const std::string csv = WriteFile("users.csv", Users(500));
  RunResult r = Ctl({"user", "import", csv});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("imported 500 users, 500 credentials, 250 group memberships"),
            std::string::npos) << r.out;
  // Not a terminal: plain progress lines, never a carriage return.
  EXPECT_NE(r.err.find("token: 500/500"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_EQ(UserCount(), 500u);
  json u = json::parse(CtlOk({"--json", "user", "show", "u42"}));
  EXPECT_EQ(u["public_identities"], json::array({"sip:u42@example.org"}));
  EXPECT_EQ(u["credentials"][0]["id"], "btid-42");
  EXPECT_EQ(u["credentials"][0]["kek_version"], 1);
  EXPECT_EQ(u["groups"], json::array({"sip:team@example.org"}));
  json g = json::parse(CtlOk({"--json", "group", "list"}));
  EXPECT_EQ(g[0]["members"].size(), 250u);
  EXPECT_EQ(SecretObjects(), 3u);  // only TPK, KEK, audit key: no object per user
  EXPECT_EQ(json::parse(CtlOk({"--json", "audit", "export", "--action", "user.import"})).size(),
            500u);
  EXPECT_EQ(Ctl({"audit", "verify"}).code, 0);
  for (const std::string& out : {r.out, r.err}) {
    EXPECT_EQ(out.find("0000002a"), std::string::npos);  // no key bytes
  }
}

// On a terminal the progress is one bar rewritten in place (util-linux `script` gives the
// child a pseudo-terminal); to a pipe it is plain lines (previous test).
TEST_F(ImportTest, ProgressBarOnATerminal) {
  std::string cmd;
  for (const std::string& a : CtlArgv({"user", "import", WriteFile("tty.csv", Users(50))})) {
    cmd += "'" + a + "' ";
  }
  RunResult r = RunProgram({"script", "-qec", cmd, "/dev/null"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find('\r'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[##############################] 100% (50/50)"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("token: 50/50"), std::string::npos);  // no plain lines on a TTY
  EXPECT_EQ(UserCount(), 50u);
}

TEST_F(ImportTest, BadRowsAreListedWithLineNumbersAndNothingIsImported) {
  std::string csv = kHeader;
  csv += "# a comment, then a blank line\n\n";
  csv += "good,good@ims,sip:good@example.org,btid-good," + Key(1) + ",\n";         // line 4
  csv += "short,short@ims,sip:short@example.org\n";                                 // 5
  csv += "badid,b@ims,http://x,,,\n";                                               // 6
  csv += "nokey,nk@ims,sip:nk@example.org,btid-nk,,\n";                             // 7
  csv += "badhex,bh@ims,sip:bh@example.org,btid-bh,hex:zz,\n";                      // 8
  csv += "shortkey,sk@ims,sip:sk@example.org,btid-sk,hex:0011,\n";                  // 9
  csv += "good,g2@ims,sip:g2@example.org,,,\n";                                     // 10
  csv += "q,\"q@ims\",sip:q@example.org,,,\n";                                      // 11
  csv += "w,w@ims,sip:w@example.org,btid-w,wrapped:1:!!!,\n";                       // 12
  csv += "g,g@ims,sip:g@example.org,,,sip:team@example.org;;\n";                    // 13
  const std::string path = WriteFile("bad.csv", csv);
  RunResult r = Ctl({"user", "import", path});
  EXPECT_EQ(r.code, 4);
  for (int line : {5, 6, 7, 8, 9, 10, 11, 12, 13}) {
    EXPECT_NE(r.err.find("line " + std::to_string(line) + ": "), std::string::npos) << line;
  }
  EXPECT_EQ(r.err.find("line 4:"), std::string::npos);
  EXPECT_NE(r.err.find("already on line 4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing imported: 9 bad row(s)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("zz"), std::string::npos);  // key text never echoed
  EXPECT_EQ(UserCount(), 0u);
  EXPECT_EQ(SecretObjects(), 3u);
}

TEST_F(ImportTest, DatabaseConflictsRollBackEverything) {
  CtlOk({"user", "add", "taken", "--impi", "taken@ims", "--identity", "sip:taken@example.org"});
  std::string csv = kHeader;
  csv += "a,a@ims,sip:a@example.org,btid-a," + Key(1) + ",sip:team@example.org\n";  // 2
  csv += "taken,t2@ims,sip:t2@example.org,,,\n";                                    // 3
  csv += "b,b@ims,sip:taken@example.org,,,\n";                                      // 4
  csv += "c,c@ims,sip:c@example.org,,,sip:nogroup@example.org\n";                   // 5
  csv += "d,d@ims,sip:d@example.org,btid-d," + Key(2) + ",\n";                       // 6
  RunResult r = Ctl({"user", "import", WriteFile("c.csv", csv)});
  EXPECT_EQ(r.code, 4) << r.err;
  for (int line : {3, 4, 5}) {
    EXPECT_NE(r.err.find("line " + std::to_string(line) + ": "), std::string::npos) << r.err;
  }
  EXPECT_EQ(r.err.find("line 2:"), std::string::npos);
  EXPECT_EQ(r.err.find("line 6:"), std::string::npos);
  EXPECT_EQ(UserCount(), 1u);  // only the user that existed before
  EXPECT_TRUE(json::parse(CtlOk({"--json", "group", "list"}))[0]["members"].empty());
  EXPECT_TRUE(
      json::parse(CtlOk({"--json", "audit", "export", "--action", "user.import"})).empty());
  EXPECT_EQ(SecretObjects(), 3u);  // the keys wrapped for lines 2 and 6 left no object
  EXPECT_EQ(Ctl({"audit", "verify"}).code, 0);
}

TEST_F(ImportTest, WrappedKeysMustUnwrapUnderAKekOfThisToken) {
  // A blob wrapped by this token (taken from the database after a normal import).
  CtlOk({"user", "add", "src", "--impi", "src@ims", "--identity", "sip:src@example.org"});
  CtlOk({"cred", "import", "src", "--id", "btid-src", "--key-file",
         WriteFile("k.psk", kTestKeyHex)});
  RunResult blob = RunProgram({"sh", "-c", "sqlite3 '" + db_ +
                                        "' \"SELECT hex(wrapped_key) FROM credentials\" | "
                                        "xxd -r -p | base64 -w0"});
  ASSERT_EQ(blob.code, 0);
  const std::string wrapped = blob.out;
  ASSERT_FALSE(wrapped.empty());
  std::string tampered = wrapped;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  std::string csv = kHeader;
  csv += "w1,w1@ims,sip:w1@example.org,btid-w1,wrapped:1:" + wrapped + ",\n";    // 2: good
  csv += "w2,w2@ims,sip:w2@example.org,btid-w2,wrapped:9:" + wrapped + ",\n";    // 3: no KEK v9
  csv += "w3,w3@ims,sip:w3@example.org,btid-w3,wrapped:1:" + tampered + ",\n";  // 4: corrupt
  RunResult r = Ctl({"user", "import", WriteFile("w.csv", csv)});
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("line 3: KEK version 9 is not in this token"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("line 4: wrapped key does not unwrap"), std::string::npos) << r.err;
  EXPECT_EQ(UserCount(), 1u);
  // The good row alone imports, keeping its KEK version.
  csv = std::string(kHeader) + "w1,w1@ims,sip:w1@example.org,btid-w1,wrapped:1:" + wrapped +
        ",\n";
  CtlOk({"user", "import", WriteFile("w1.csv", csv)});
  EXPECT_EQ(json::parse(CtlOk({"--json", "user", "show", "w1"}))["credentials"][0]["kek_version"],
            1);
}

TEST_F(ImportTest, FileChecksAndRefusals) {
  EXPECT_EQ(Ctl({"user", "import", token_->dir() + "/missing.csv"}).code, 1);
  EXPECT_EQ(Ctl({"user", "import", WriteFile("open.csv", Users(1), 0644)}).code, 1);
  EXPECT_EQ(Ctl({"user", "import", WriteFile("nohdr.csv", "a,b,sip:c@d,,,\n")}).code, 4);
  EXPECT_EQ(Ctl({"user", "import", WriteFile("onlyhdr.csv", kHeader)}).code, 2);
  pin_file_ = token_->WritePinFile("bad.pin", "wrong", 0600);
  EXPECT_EQ(Ctl({"user", "import", WriteFile("ok.csv", Users(3))}).code, 1);
  pin_file_ = token_->pin_file();
  EXPECT_EQ(UserCount(), 0u);
}

}  // namespace
}  // namespace kmsctl::testing
