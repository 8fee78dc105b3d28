// kms-client, run as a process: decode in every input form, one-line reasons and exit
// codes for bad input, unsafe credentials and an unreachable KMS.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "src/base/encoding.h"
#include "tests/unit/client/client_test_util.h"

#ifndef KMS_CLIENT_BIN
#error "KMS_CLIENT_BIN must name the kms-client binary"
#endif

namespace kms::client {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kms-client-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content, mode_t mode = 0600) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), mode);
    return p.string();
  }
  static std::string Slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  RunResult Run(const std::string& args) {
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    const std::string cmd = std::string(KMS_CLIENT_BIN) + " " + args + " >" + out.string() + " 2>" +
                            err.string() + " </dev/null";
    const int st = std::system(cmd.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }
  std::string Creds(const std::string& name, mode_t psk_mode) {
    const fs::path d = dir_ / name;
    fs::create_directories(d);
    std::ofstream(d / "identity") << "sip:alice@example.org\n";
    std::ofstream(d / "btid") << "YWxpY2UtcmFuZA==@bsf.example.org\n";
    std::ofstream(d / "psk") << HexEncode(testing::Vec(2, "PSK_A")) << "\n";
    ::chmod((d / "psk").c_str(), psk_mode);
    return d.string();
  }
  static size_t Lines(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += c == '\n' ? 1 : 0;
    return n;
  }
  fs::path dir_;
};

TEST_F(CliTest, DecodesEveryInputForm) {
  const auto ti = testing::Vec(6, "TRANSFER_INIT");
  std::string bin(ti.begin(), ti.end());
  const std::vector<std::string> inputs = {
      Write("ti.bin", bin), Write("ti.hex", HexEncode(ti) + "\n"),
      Write("ti.b64", Base64Encode(ti) + "\n"),
      Write("ti.sdp", "a=key-mgmt:mikey " + Base64Encode(ti) + "\r\n"),
      Write("offer.sdp", "v=0\r\ns=-\r\nm=audio 4000 RTP/SAVP 0\r\na=key-mgmt:mikey " +
                             Base64Encode(ti) + "\r\n")};
  std::string first;
  for (const std::string& in : inputs) {
    const RunResult r = Run("decode --compact " + in);
    ASSERT_EQ(r.exit_code, 0) << in << ": " << r.err;
    if (first.empty()) first = r.out;
    EXPECT_EQ(r.out, first) << in;
  }
  const auto j = nlohmann::json::parse(first);
  EXPECT_EQ(j["HDR"]["data_type"], "TRANSFER_INIT");
  EXPECT_EQ(j["HDR"]["next_payload"], "T");
  EXPECT_EQ(j["HDR"]["csb_id"], "0x5a5a0001");
  EXPECT_EQ(j["HDR"]["cs_id_map_type"], "GENERIC-ID");
  EXPECT_EQ(j["payloads"][1]["rand"], "6767672a766e3bb77c013ca7f451a45a");
  EXPECT_EQ(j["payloads"][2]["id_data"], "sip:alice@example.org");
  EXPECT_EQ(j["payloads"][5]["payload"], "TICKET");
  EXPECT_EQ(j["payloads"][5]["base_ticket"]["KEMAC"]["encr_data_length"], 50);
  EXPECT_FALSE(j["payloads"][5]["base_ticket"]["KEMAC"].contains("key_data"));
  EXPECT_EQ(j["payloads"][5]["initiator_data"]["Vi"], "e98d32e929e4056aa26edb94255b5e2c1d809a0e");
  EXPECT_EQ(j["payloads"].back()["next_payload"], "Last payload");
}

TEST_F(CliTest, ShowKeysOnlyForPlaintextKeyData) {
  const auto req = testing::Vec(3, "REQUEST_INIT_PSK");
  const std::string f = Write("req.hex", HexEncode(req));
  const auto plain = nlohmann::json::parse(Run("decode --compact " + f).out);
  const auto& kemac = plain["payloads"][4]["tp_data"][1];
  EXPECT_EQ(kemac["payload"], "KEMAC");
  EXPECT_EQ(kemac["key_data"][0]["key_length"], 16);
  EXPECT_FALSE(kemac["key_data"][0].contains("key"));
  const auto shown = nlohmann::json::parse(Run("decode --compact --show-keys " + f).out);
  EXPECT_EQ(shown["payloads"][4]["tp_data"][1]["key_data"][0]["key"], std::string(32, '0'));
  // Encrypted KEMACs stay lengths only, even with --show-keys.
  const auto resp =
      nlohmann::json::parse(Run("decode --compact --show-keys " +
                                Write("resp.hex", HexEncode(testing::Vec(5, "REQUEST_RESP"))))
                                .out);
  EXPECT_EQ(resp["payloads"][3]["encr_data_length"], 75);
  EXPECT_FALSE(resp["payloads"][3].contains("key_data"));
}

TEST_F(CliTest, BadInputExitsTwoWithOneLineReason) {
  auto ti = testing::Vec(6, "TRANSFER_INIT");
  ti.resize(100);  // truncated
  const std::vector<std::string> bad = {
      Write("empty", ""),
      Write("junk", "this is not a message\n"),
      Write("oddhex", "010e0"),
      Write("trunc.hex", HexEncode(ti)),
      Write("badsdp", "a=key-mgmt:mikey AQ4F*\r\n"),
      Write("other", "a=key-mgmt:other " + Base64Encode(testing::Vec(6, "TRANSFER_INIT")) + "\n"),
      (dir_ / "missing").string()};
  for (const std::string& in : bad) {
    const RunResult r = Run("decode " + in);
    EXPECT_EQ(r.exit_code, 2) << in;
    EXPECT_EQ(Lines(r.err), 1u) << in << ": " << r.err;
    EXPECT_TRUE(r.err.starts_with("kms-client: decode: ")) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
  EXPECT_NE(Run("decode " + Write("t2.hex", HexEncode(ti))).err.find("MIKEY error 13"),
            std::string::npos);
}

TEST_F(CliTest, HelpDocumentsExitCodes) {
  const RunResult r = Run("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
  EXPECT_EQ(Run("").exit_code, 1);  // a subcommand is required
  EXPECT_EQ(Run("decode --no-such-flag").exit_code, 1);
}

TEST_F(CliTest, UnsafePskFileRefusedBeforeNetwork) {
  const RunResult r = Run("request --cred-dir " + Creds("a", 0644) +
                          " --kms-url https://127.0.0.1:1/kms --responder sip:bob@example.org"
                          " --out " +
                          (dir_ / "t.json").string());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos);
  EXPECT_EQ(Lines(r.err), 1u);
}

TEST_F(CliTest, UnreachableKmsExitsFour) {
  const std::string a = Creds("a", 0600);
  const RunResult r = Run("request --cred-dir " + a +
                          " --kms-url https://127.0.0.1:1/kms --responder sip:bob@example.org"
                          " --timeout-ms 2000 --out " +
                          (dir_ / "t.json").string());
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(Lines(r.err), 1u);
  EXPECT_FALSE(fs::exists(dir_ / "t.json"));
  const RunResult c = Run("call --a-cred-dir " + a + " --b-cred-dir " + a +
                          " --kms-url https://127.0.0.1:1/kms --timeout-ms 2000 --json");
  EXPECT_EQ(c.exit_code, 4) << c.err;
  EXPECT_EQ(nlohmann::json::parse(c.out)["ok"], false);
  // Plain http is refused as a usage error.
  EXPECT_EQ(Run("request --cred-dir " + a + " --kms-url http://127.0.0.1:1/ --responder x --out " +
                (dir_ / "t.json").string())
                .exit_code,
            1);
}

TEST_F(CliTest, CallScenarioOptionsCheckedBeforeNetwork) {
  const std::string a = Creds("a", 0600);
  const std::string base =
      "call --a-cred-dir " + a + " --kms-url https://127.0.0.1:1/kms --timeout-ms 2000 ";
  // Options that only make sense together are usage errors (exit 1).
  EXPECT_EQ(Run(base + "--b-cred-dir " + a + " --reuse-after 3").exit_code, 1);
  EXPECT_EQ(Run(base + "--b-cred-dir " + a + " --reuse-expired").exit_code, 1);
  EXPECT_EQ(Run(base + "--member " + a).exit_code, 1);
  EXPECT_EQ(Run(base + "--group sip:g@example.org").exit_code, 1);
  EXPECT_EQ(Run(base + "--group sip:g@example.org --member " + a + " --fork 2").exit_code, 1);
  EXPECT_EQ(Run(base + "--b-cred-dir " + a + " --csb-tamper").exit_code, 1);
  EXPECT_EQ(Run(base + "--b-cred-dir " + a + " --mode3-key-id x").exit_code, 1);
  // Mode 3 reads A's mode-3 key like a PSK: missing or readable by others, it is refused
  // (exit 3) before anything is sent (an attempt would exit 4: nothing listens on port 1).
  const RunResult missing = Run(base + "--b-cred-dir " + a + " --mode3 --json");
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  EXPECT_NE(missing.err.find("mode-3 key"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(missing.out)["ok"], false);
  const std::string key = Write("mode3.key", std::string(64, 'a') + "\n", 0644);
  const RunResult unsafe =
      Run(base + "--b-cred-dir " + a + " --mode3 --mode3-key-id k --mode3-key-file " + key);
  EXPECT_EQ(unsafe.exit_code, 3) << unsafe.err;
  EXPECT_NE(unsafe.err.find("chmod 600"), std::string::npos);
  EXPECT_EQ(Lines(unsafe.err), 1u);
}

}  // namespace
}  // namespace kms::client
