// kmsctl cred import|generate (issue 9 items 2, 6 and 8): wrapped-blob import with a KEK
// version check, validity, and generation with export under a UE transport key; the key the
// UE side unwraps is the key the token holds (checked by HMAC in the token vs OpenSSL).
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hsm/token_key_vault.h"
#include "src/base/encoding.h"
#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

class CredTest : public KmsctlTest {
 protected:
  void SetUp() override {
    KmsctlTest::SetUp();
    InitWithAlice();
  }
  // StoredBlob: "wrapped:<v>:<base64>" of a stored credential, read from the database.
  std::string StoredBlob(const std::string& id) {
    RunResult r = RunProgram({"sh", "-c", "sqlite3 '" + db_ +
                                       "' \"SELECT hex(wrapped_key) FROM credentials WHERE "
                                       "credential_id = '" + id + "'\" | xxd -r -p | base64 -w0"});
    RunResult v = Sql("SELECT kek_version FROM credentials WHERE credential_id = '" + id + "'");
    EXPECT_EQ(r.code, 0);
    std::string ver = v.out.substr(0, v.out.find('\n'));
    return "wrapped:" + ver + ":" + r.out;
  }
  void MakeRsa(int bits) {
    ASSERT_EQ(RunProgram({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                   "rsa_keygen_bits:" + std::to_string(bits), "-out", token_->dir() + "/ue.key"})
                  .code, 0);
    ASSERT_EQ(RunProgram({"openssl", "pkey", "-in", token_->dir() + "/ue.key", "-pubout", "-out",
                   token_->dir() + "/ue.pub"}).code, 0);
  }
};

TEST_F(CredTest, GenerateExportsTheTokensKeyUnderTheTransportKey) {
  MakeRsa(2048);
  const std::string out = token_->dir() + "/export.json";
  RunResult r = Ctl({"cred", "generate", "alice", "--id", "btid-gen", "--export-wrapped", out,
                     "--transport-key", token_->dir() + "/ue.pub"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(out);
  json j = json::parse(in);
  EXPECT_EQ(j["credential_id"], "btid-gen");
  auto blob = kms::Base64Decode(j["wrapped_key"].get<std::string>());
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->size(), 256u);  // one RSA-2048 block
  // The UE side: RSA-OAEP decryption with its private key (OpenSSL, independent of us).
  const std::string enc = WriteFile("blob.bin", std::string(blob->begin(), blob->end()));
  RunResult dec = RunProgram({"sh", "-c", "openssl pkeyutl -decrypt -inkey '" + token_->dir() +
                                       "/ue.key' -pkeyopt rsa_padding_mode:oaep -pkeyopt "
                                       "rsa_oaep_md:sha1 -in '" + enc + "' | xxd -p -c 256"});
  ASSERT_EQ(dec.code, 0) << dec.err;
  auto key = kms::HexDecode(dec.out.substr(0, dec.out.find('\n')));
  ASSERT_TRUE(key.ok());
  ASSERT_EQ(key->size(), 32u);
  uint8_t mac[32];
  unsigned mac_len = 0;
  HMAC(EVP_sha256(), key->data(), 32, reinterpret_cast<const uint8_t*>("check"), 5, mac,
       &mac_len);
  EXPECT_EQ(TokenHmac("btid-gen"), std::vector<uint8_t>(mac, mac + 32));
  // The key's hex is in no output of kmsctl.
  const std::string hex = kms::HexEncode(*key);
  EXPECT_EQ(r.out.find(hex.substr(0, 16)), std::string::npos);
  std::stringstream all;
  all << std::ifstream(out).rdbuf();
  EXPECT_EQ(all.str().find(hex.substr(0, 16)), std::string::npos);
  EXPECT_EQ(json::parse(CtlOk({"--json", "user", "show", "alice"}))["credentials"].size(), 2u);
}

TEST_F(CredTest, GenerateRefusals) {
  MakeRsa(2048);
  const std::string pub = token_->dir() + "/ue.pub";
  const std::string out = token_->dir() + "/e.json";
  EXPECT_EQ(Ctl({"cred", "generate", "alice", "--id", "g1", "--export-wrapped", out}).code, 2);
  EXPECT_EQ(Ctl({"cred", "generate", "alice", "--id", "g1", "--bytes", "16"}).code, 2);
  EXPECT_EQ(Ctl({"cred", "generate", "alice", "--id", "g1", "--bytes", "33"}).code, 2);
  EXPECT_EQ(Ctl({"cred", "generate", "nobody", "--id", "g1", "--export-wrapped", out,
                 "--transport-key", pub}).code, 1);
  EXPECT_NE(access(out.c_str(), F_OK), 0);  // nothing exported for a refused credential
  EXPECT_EQ(Ctl({"cred", "generate", "alice", "--id", "btid-alice", "--export-wrapped", out,
                 "--transport-key", pub}).code, 1);  // duplicate id
  EXPECT_NE(access(out.c_str(), F_OK), 0);
  WriteFile("taken.json", "x");
  EXPECT_EQ(Ctl({"cred", "generate", "alice", "--id", "g2", "--export-wrapped",
                 token_->dir() + "/taken.json", "--transport-key", pub}).code, 1);
  ASSERT_EQ(RunProgram({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", token_->dir() + "/ec.key"}).code, 0);
  ASSERT_EQ(RunProgram({"openssl", "pkey", "-in", token_->dir() + "/ec.key", "-pubout", "-out",
                 token_->dir() + "/ec.pub"}).code, 0);
  EXPECT_EQ(Ctl({"cred", "generate", "alice", "--id", "g3", "--export-wrapped", out,
                 "--transport-key", token_->dir() + "/ec.pub"}).code, 2);
  EXPECT_EQ(Ctl({"cred", "generate", "alice", "--id", "g3", "--export-wrapped", out,
                 "--transport-key", WriteFile("junk.pem", "junk")}).code, 2);
  MakeRsa(1024);
  EXPECT_EQ(Ctl({"cred", "generate", "alice", "--id", "g4", "--export-wrapped", out,
                 "--transport-key", pub}).code, 2);  // too small
  EXPECT_EQ(json::parse(CtlOk({"--json", "user", "show", "alice"}))["credentials"].size(), 1u);
  // Without export: stored only.
  CtlOk({"cred", "generate", "alice", "--id", "g5", "--bytes", "64", "--not-after",
         "2100-01-01T00:00:00Z"});
  json u = json::parse(CtlOk({"--json", "user", "show", "alice"}));
  EXPECT_EQ(u["credentials"][1]["id"], "g5");
  EXPECT_EQ(u["credentials"][1]["not_after"], 4102444800);
  EXPECT_EQ(TokenHmac("g5").size(), 32u);
}

TEST_F(CredTest, ImportWrappedBlobChecksTheKekVersion) {
  const std::string good = StoredBlob("btid-alice");
  ASSERT_EQ(good.rfind("wrapped:1:", 0), 0u) << good;
  CtlOk({"cred", "import", "alice", "--id", "btid-copy", "--wrapped", good});
  EXPECT_EQ(TokenHmac("btid-copy"), TokenHmac("btid-alice"));
  std::string wrong_version = good;
  wrong_version[8] = '2';
  RunResult r = Ctl({"cred", "import", "alice", "--id", "c2", "--wrapped", wrong_version});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("KEK version 2 is not in this token"), std::string::npos) << r.err;
  CtlOk({"key", "rotate", "kek", "--no-rewrap"});  // now v2 exists, the blob is not under it
  r = Ctl({"cred", "import", "alice", "--id", "c2", "--wrapped", wrong_version});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("does not unwrap under KEK v2"), std::string::npos) << r.err;
  std::string tampered = good;
  tampered[15] = tampered[15] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Ctl({"cred", "import", "alice", "--id", "c3", "--wrapped", tampered}).code, 1);
  for (const char* bad : {"wrapped:x:AAAA", "wrapped:1:", "hex:00", "wrapped:0:AAAA"}) {
    EXPECT_EQ(Ctl({"cred", "import", "alice", "--id", "c4", "--wrapped", bad}).code, 2) << bad;
  }
  const std::string key = WriteFile("k.psk", kTestKeyHex);
  EXPECT_EQ(Ctl({"cred", "import", "alice", "--id", "c5", "--key-file", key, "--wrapped", good})
                .code, 2);
  EXPECT_EQ(Ctl({"cred", "import", "alice", "--id", "c5"}).code, 2);
  EXPECT_EQ(Ctl({"cred", "import", "alice", "--id", "c5", "--key-file", key, "--not-before",
                 "2030-01-01T00:00:00Z", "--not-after", "2029-01-01T00:00:00Z"}).code, 2);
  EXPECT_EQ(json::parse(CtlOk({"--json", "user", "show", "alice"}))["credentials"].size(), 2u);
}

}  // namespace
}  // namespace kmsctl::testing
