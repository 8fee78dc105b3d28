// kms-client, run as a process: decode in every input form, one-line reasons and exit
// codes for bad input, unsafe credentials, an unreachable KMS and a KMS (a local TLS server)
// that answers with an HTTP error, a wrong Content-Type, an oversized body or a MIKEY Error.
#include <gtest/gtest.h>
#include <microhttpd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "src/base/encoding.h"
#include "src/mikey/encoder.h"
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

// resolve keeps the device's replay cache in a file (default <cred-dir>/replay-cache,
// spec §7.4, §9.1), checked before anything else: unsafe -> 3, undecodable -> 2; with a
// usable one resolve goes on (to the early checks, which refuse the vector's old T -> 5).
TEST_F(CliTest, ReplayCacheFileCheckedBeforeNetwork) {
  const std::string b = Creds("b", 0600);
  const std::string cache = (dir_ / "b" / "replay-cache").string();
  const std::string resolve = "resolve --cred-dir " + b + " --offer " +
                              Write("ti.hex", HexEncode(testing::Vec(6, "TRANSFER_INIT"))) +
                              " --kms-url https://127.0.0.1:1/kms --timeout-ms 2000 --out " +
                              (dir_ / "r.json").string();
  Write("b/replay-cache", "", 0644);
  RunResult r = Run(resolve);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("replay cache " + cache), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err), 1u);

  Write("b/replay-cache", "{\"format\": \"kms-client replay cache v1\", \"entries\": [{", 0600);
  r = Run(resolve);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is not a kms-client replay cache"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err), 1u);
  // --replay-cache names another file; the corrupt default is then not read.
  const std::string other = (dir_ / "other-cache").string();
  r = Run(resolve + " --replay-cache " + other);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("timestamp outside the allowed skew"), std::string::npos) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat(other.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(dir_ / "r.json"));

  // Without --cred-dir there is no default place: a usage error.
  const std::string files =
      " --identity-file " + b + "/identity --btid-file " + b + "/btid --psk-file " + b + "/psk";
  r = Run("resolve" + files + " --offer x --kms-url https://127.0.0.1:1/kms --out y");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--replay-cache"), std::string::npos) << r.err;
  EXPECT_EQ(Run("respond" + files + " --state " + Write("s.json", "{}")).exit_code, 1);
}

// A stand-in KMS over HTTPS (libmicrohttpd + GnuTLS, throw-away certificate for 127.0.0.1):
// the URL path picks the answer. docs/api.md: HTTP statuses mean transport problems only.
class CliKmsTest : public CliTest {
 protected:
  static void SetUpTestSuite() {
    tls_ =
        new fs::path(fs::temp_directory_path() / ("kms-client-kms-" + std::to_string(::getpid())));
    fs::create_directories(*tls_);
    const std::string cmd = "cd " + tls_->string() +
                            " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
                            " -nodes -days 1 -subj /CN=kms -addext subjectAltName=IP:127.0.0.1"
                            " -keyout key.pem -out cert.pem >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    key_ = new std::string(Slurp(*tls_ / "key.pem"));
    cert_ = new std::string(Slurp(*tls_ / "cert.pem"));
    mikey::Message e;  // what a KMS sends when MIKEY processing fails (RFC 3830 §6.12)
    e.hdr.data_type = mikey::DataType::kError;
    e.payloads.push_back(mikey::Timestamp{mikey::TsType::kNtpUtc, 1});
    e.payloads.push_back(mikey::ErrorPayload{mikey::ErrorNo::kAuthFailure, 0});
    auto wire = mikey::Encode(e);
    ASSERT_TRUE(wire.ok());
    mikey_error_ = new std::string(wire->begin(), wire->end());
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, nullptr, nullptr,
                               &Answer, nullptr, MHD_OPTION_HTTPS_MEM_KEY, key_->c_str(),
                               MHD_OPTION_HTTPS_MEM_CERT, cert_->c_str(), MHD_OPTION_END);
    ASSERT_NE(daemon_, nullptr);
    port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
  }
  static void TearDownTestSuite() {
    if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
    fs::remove_all(*tls_);
    delete tls_;
    delete key_;
    delete cert_;
    delete mikey_error_;
  }
  // Answer: /busy 503 with Retry-After, /limited 429, /text 200 text/plain, /big 200 with a
  // body over the 64 KiB cap, /error 200 with a MIKEY Error message.
  static MHD_Result Answer(void* /*cls*/, MHD_Connection* c, const char* url,
                           const char* /*method*/, const char* /*version*/, const char* /*data*/,
                           size_t* size, void** con_cls) {
    static int started;
    if (*con_cls == nullptr) {
      *con_cls = &started;
      return MHD_YES;
    }
    if (*size != 0) {
      *size = 0;  // the request body is not needed
      return MHD_YES;
    }
    const std::string path(url);
    unsigned status = MHD_HTTP_OK;
    std::string type = "application/mikey", body = *mikey_error_;
    if (path == "/busy" || path == "/limited") {
      status = path == "/busy" ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_TOO_MANY_REQUESTS;
      type = "text/plain";
      body = "try later\n";
    } else if (path == "/text") {
      type = "text/plain";
    } else if (path == "/big") {
      body.assign(70 * 1024, '\x01');
    }
    MHD_Response* r =
        MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type.c_str());
    if (status != MHD_HTTP_OK) MHD_add_response_header(r, "Retry-After", "1");
    const MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
  }
  std::string Kms(const std::string& path) const {
    return " --kms-url https://127.0.0.1:" + std::to_string(port_) + path + " --ca-file " +
           (*tls_ / "cert.pem").string() + " --timeout-ms 5000";
  }
  RunResult Request(const std::string& path) {
    return Run("request --cred-dir " + Creds("a", 0600) + Kms(path) +
               " --responder sip:bob@example.org --out " + (dir_ / "t.json").string());
  }

  static fs::path* tls_;
  static std::string *key_, *cert_, *mikey_error_;
  static MHD_Daemon* daemon_;
  static uint16_t port_;
};

fs::path* CliKmsTest::tls_ = nullptr;
std::string* CliKmsTest::key_ = nullptr;
std::string* CliKmsTest::cert_ = nullptr;
std::string* CliKmsTest::mikey_error_ = nullptr;
MHD_Daemon* CliKmsTest::daemon_ = nullptr;
uint16_t CliKmsTest::port_ = 0;

// Exit 4 is the retryable one: the transport answered kFailedPrecondition (exit 5, "refused")
// for an HTTP status and kDecodeError (exit 2, "bad input") for a wrong Content-Type or an
// oversized body before the CLI reported every failure of the exchange as a transport failure.
TEST_F(CliKmsTest, HttpLevelFailuresExitFour) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/busy", "HTTP status 503"},
      {"/limited", "HTTP status 429"},
      {"/text", "not application/mikey"},
      {"/big", "size limit"}};
  for (const auto& [path, reason] : cases) {
    const RunResult r = Request(path);
    EXPECT_EQ(r.exit_code, 4) << path << ": " << r.err;
    EXPECT_NE(r.err.find(reason), std::string::npos) << path << ": " << r.err;
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "t.json"));
  }
  const std::string a = Creds("a", 0600);
  const RunResult c =
      Run("call --a-cred-dir " + a + " --b-cred-dir " + a + Kms("/busy") + " --json");
  EXPECT_EQ(c.exit_code, 4) << c.err;
  EXPECT_EQ(nlohmann::json::parse(c.out)["ok"], false);
}

// A MIKEY Error in a 200 reply is the KMS refusing: exit 5, never 4.
TEST_F(CliKmsTest, MikeyErrorExitsFive) {
  const RunResult r = Request("/error");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("MIKEY Error 0"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "t.json"));
}

}  // namespace
}  // namespace kms::client
