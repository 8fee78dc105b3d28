// HttpsTransport against a local TLS server (libmicrohttpd + GnuTLS) with a throw-away
// self-signed certificate: CA file trust, public-key pinning, status / Content-Type
// handling, size cap, refusal of plain http.
#include <gtest/gtest.h>
#include <microhttpd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "src/client/https_transport.h"

namespace kms::client {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Upload {
  std::string body;
};

MHD_Result Handle(void* /*cls*/, MHD_Connection* c, const char* url, const char* method,
                  const char* /*version*/, const char* data, size_t* size, void** con_cls) {
  if (*con_cls == nullptr) {
    *con_cls = new Upload();
    return MHD_YES;
  }
  auto* up = static_cast<Upload*>(*con_cls);
  if (*size != 0) {
    up->body.append(data, *size);
    *size = 0;
    return MHD_YES;
  }
  std::string path(url);
  unsigned status = MHD_HTTP_OK;
  std::string type = "application/mikey";
  std::string body = "echo:" + up->body;
  const char* ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
  if (std::string(method) != "POST" || ct == nullptr || std::string(ct) != "application/mikey") {
    status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
  } else if (path == "/text") {
    type = "text/plain";
  } else if (path == "/busy") {
    status = MHD_HTTP_SERVICE_UNAVAILABLE;
  } else if (path == "/big") {
    body.assign(70 * 1024, 'x');
  } else if (path == "/param") {
    type = "Application/MIKEY; version=1";
  }
  MHD_Response* r =
      MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(r, "Content-Type", type.c_str());
  const MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

void Completed(void* /*cls*/, MHD_Connection* /*c*/, void** con_cls,
               MHD_RequestTerminationCode /*code*/) {
  delete static_cast<Upload*>(*con_cls);
  *con_cls = nullptr;
}

class TransportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        new fs::path(fs::temp_directory_path() / ("kms-transport-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    const std::string d = dir_->string();
    const std::string gen =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
        " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
        " -keyout " +
        d + "/key.pem -out " + d +
        "/cert.pem >/dev/null 2>&1 &&"
        " openssl x509 -in " +
        d +
        "/cert.pem -pubkey -noout | openssl pkey -pubin -outform der"
        " | openssl dgst -sha256 -binary | openssl base64 -A > " +
        d + "/pin.txt";
    ASSERT_EQ(std::system(gen.c_str()), 0);
    key_ = new std::string(Slurp(*dir_ / "key.pem"));
    cert_ = new std::string(Slurp(*dir_ / "cert.pem"));
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, nullptr, nullptr,
                               &Handle, nullptr, MHD_OPTION_HTTPS_MEM_KEY, key_->c_str(),
                               MHD_OPTION_HTTPS_MEM_CERT, cert_->c_str(),
                               MHD_OPTION_NOTIFY_COMPLETED, &Completed, nullptr, MHD_OPTION_END);
    ASSERT_NE(daemon_, nullptr);
    port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
  }
  static void TearDownTestSuite() {
    if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
    fs::remove_all(*dir_);
    delete dir_;
    delete key_;
    delete cert_;
  }

  HttpsOptions Opts(const std::string& path) {
    HttpsOptions o;
    o.url = "https://localhost:" + std::to_string(port_) + path;
    o.ca_file = (*dir_ / "cert.pem").string();
    o.total_timeout = std::chrono::milliseconds(5000);
    return o;
  }
  Result<std::vector<uint8_t>> Post(const HttpsOptions& o, const std::string& body) {
    auto t = HttpsTransport::Create(o);
    if (!t.ok()) return t.status();
    return (*t)->Exchange(std::vector<uint8_t>(body.begin(), body.end()));
  }
  static std::string Text(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

  static fs::path* dir_;
  static std::string* key_;
  static std::string* cert_;
  static MHD_Daemon* daemon_;
  static uint16_t port_;
};

fs::path* TransportTest::dir_ = nullptr;
std::string* TransportTest::key_ = nullptr;
std::string* TransportTest::cert_ = nullptr;
MHD_Daemon* TransportTest::daemon_ = nullptr;
uint16_t TransportTest::port_ = 0;

TEST_F(TransportTest, PostsMikeyAndReturnsBody) {
  auto r = Post(Opts("/kms"), std::string("\x01\x0b\x05\x80", 4));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Text(*r), std::string("echo:\x01\x0b\x05\x80", 9));
  auto p = Post(Opts("/param"), "x");  // media type parameters and case are accepted
  EXPECT_TRUE(p.ok()) << p.status().ToString();
}

TEST_F(TransportTest, StatusAndContentTypeChecked) {
  auto busy = Post(Opts("/busy"), "x");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(busy.status().message().find("503"), std::string::npos);
  auto text = Post(Opts("/text"), "x");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kDecodeError);
  auto big = Post(Opts("/big"), "x");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kDecodeError);
}

TEST_F(TransportTest, CertificateAndPinVerified) {
  HttpsOptions no_ca = Opts("/kms");
  no_ca.ca_file = (*dir_ / "key.pem").string();  // not a CA for this server
  EXPECT_EQ(Post(no_ca, "x").status().code(), StatusCode::kUnavailable);
  HttpsOptions pinned = Opts("/kms");
  pinned.pinned_pubkey = "sha256//" + Slurp(*dir_ / "pin.txt");
  auto ok = Post(pinned, "x");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
  HttpsOptions wrong = Opts("/kms");
  wrong.pinned_pubkey = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  EXPECT_EQ(Post(wrong, "x").status().code(), StatusCode::kUnavailable);
  HttpsOptions wrong_host = Opts("/kms");
  wrong_host.url = "https://127.0.0.2:" + std::to_string(port_) + "/kms";  // not in the SAN
  EXPECT_FALSE(Post(wrong_host, "x").ok());
}

TEST_F(TransportTest, OptionsValidated) {
  HttpsOptions http = Opts("/kms");
  http.url = "http://localhost:" + std::to_string(port_) + "/kms";
  EXPECT_EQ(HttpsTransport::Create(http).status().code(), StatusCode::kInvalidArgument);
  HttpsOptions bad_pin = Opts("/kms");
  bad_pin.pinned_pubkey = "md5//abc";
  EXPECT_EQ(HttpsTransport::Create(bad_pin).status().code(), StatusCode::kInvalidArgument);
  HttpsOptions closed = Opts("/kms");
  closed.url = "https://127.0.0.1:1/kms";
  EXPECT_EQ(Post(closed, "x").status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kms::client
