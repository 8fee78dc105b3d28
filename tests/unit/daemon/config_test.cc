#include "src/daemon/config.h"

#include <gtest/gtest.h>

namespace kms::daemon {
namespace {

constexpr const char* kMinimal = R"(
[server]
tls_cert = "/etc/kms/tls.crt"
tls_key = "/etc/kms/tls.key"

[token]
pin_file = "/etc/kms/pin"
)";

TEST(ConfigTest, MinimalConfigGetsTheDocumentedDefaults) {
  auto c = ParseConfig(kMinimal, "kmsd.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.port, 8443);
  EXPECT_EQ(c->server.path, "/kms");
  EXPECT_EQ(c->server.body_limit, 64u * 1024u);
  EXPECT_EQ(c->ops.listen_address, "127.0.0.1");
  EXPECT_EQ(c->kms.replay_window.count(), 300);
  EXPECT_EQ(c->token.credential_storage, "wrapped");
  EXPECT_TRUE(c->process.seccomp);  // the allow-list is on unless turned off
  EXPECT_FALSE(c->process.require_integrity_digest);
  EXPECT_EQ(c->decision_workers, 0u);
  // 0: one decision worker per token session, but no more than the usable CPUs.
  EXPECT_EQ(c->token.pool_size, 8u);
  EXPECT_EQ(c->workers(64), 8u);
  EXPECT_EQ(c->workers(2), 2u);
  EXPECT_EQ(c->workers(1), 1u);
  EXPECT_EQ(c->workers(0), 1u);  // never zero workers
}

TEST(ConfigTest, EveryKeyIsRead) {
  auto c = ParseConfig(R"(
[kms]
identity = "https://kms.example.org"
replay_window_s = 120
default_validity_s = 600
max_message_size = 4096
[server]
listen = "127.0.0.1"
port = 0
path = "/ua"
threads = 3
workers = 6
tls_cert = "c"
tls_key = "k"
body_limit = 2048
connection_limit = 10
per_ip_connection_limit = 5
idle_timeout_s = 3
request_timeout_s = 4
rate_per_s = 2.5
rate_burst = 5
max_in_flight = 7
[ops]
listen = "127.0.0.2"
port = 9999
[token]
module = "/m.so"
uri = "pkcs11:token=x"
pin_credential = "pin"
pool_size = 4
credential_storage = "token-objects"
credential_cache = 9
[database]
path = "/tmp/p.db"
cache_entries = 0
[audit]
batch_interval_ms = 1
max_wait_ms = 50
queue_limit = 100
checkpoint_rows = 10
checkpoint_interval_s = 5
[keys]
tpk_max_tickets = 1000
[process]
user = "kms"
mlockall = true
seccomp = false
require_integrity_digest = true
)",
                       "full.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kms.kms_identity, "https://kms.example.org");
  EXPECT_EQ(c->kms.decode_limits.max_message_size, 4096u);
  EXPECT_EQ(c->server.path, "/ua");
  EXPECT_DOUBLE_EQ(c->server.rate_per_s, 2.5);
  EXPECT_EQ(c->server.max_in_flight, 7u);
  EXPECT_EQ(c->server.threads, 3u);
  EXPECT_EQ(c->workers(1), 6u);  // set explicitly: tied to neither pool_size (4) nor the CPUs
  EXPECT_EQ(c->ops.port, 9999);
  EXPECT_EQ(c->token.pin_credential, "pin");
  EXPECT_EQ(c->database, "/tmp/p.db");
  EXPECT_EQ(c->database_cache_entries, 0u);
  EXPECT_EQ(c->audit.checkpoint_rows, 10u);
  EXPECT_EQ(c->keys.tpk_max_tickets, 1000u);
  EXPECT_TRUE(c->process.mlockall);
  EXPECT_FALSE(c->process.seccomp);  // the operator may turn the allow-list off
  EXPECT_TRUE(c->process.require_integrity_digest);
  EXPECT_EQ(c->tls.cert_file, "c");
  EXPECT_EQ(c->tls.key, "k");
  EXPECT_FALSE(c->tls.key_in_token());
  EXPECT_EQ(c->process.user, "kms");
}

TEST(ConfigTest, TlsKeyMayBeAPkcs11Uri) {
  auto c = ParseConfig(R"([server]
tls_cert = "/etc/kms/tls.crt"
tls_key = "pkcs11:token=kms;object=kmsd-tls;type=private"
[token]
pin_file = "/etc/kms/pin"
)",
                       "k.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->tls.key_in_token());
  EXPECT_EQ(c->tls.key, "pkcs11:token=kms;object=kmsd-tls;type=private");
}

void ExpectError(const std::string& text, const std::string& fragment) {
  auto c = ParseConfig(text, "k.toml");
  ASSERT_FALSE(c.ok()) << text;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(fragment), std::string::npos) << c.status().message();
}

TEST(ConfigTest, UnknownKeysSectionsWrongTypesAndRangesNameTheLine) {
  const std::string base = kMinimal;
  ExpectError(base + "[server2]\nx = 1\n", "k.toml:8: unknown section or key 'server2'");
  ExpectError("[server]\ntls_cert = \"c\"\ntls_key = \"k\"\nbogus = 1\n", "k.toml:4: unknown key 'bogus' in [server]");
  ExpectError(base + "[ops]\nport = \"80\"\n", "k.toml:9: [ops] 'port' must be an integer");
  ExpectError(base + "[ops]\nport = 70000\n", "'port' must be between 0 and 65535");
  ExpectError(base + "[process]\nseccomp = 1\n", "'seccomp' must be true or false");
  ExpectError(base + "[kms]\nreplay_window_s = 0\n", "'replay_window_s' must be between");
  ExpectError("[server]\ntls_cert = \"c\"\n[token]\npin_file = \"p\"\n", "tls_cert and tls_key are required");
  ExpectError("[server]\ntls_cert = \"c\"\ntls_key = \"k\"\n", "exactly one of pin_file or pin_credential");
  ExpectError(base + "[database]\npath = 3\n", "'path' must be a string");
  ExpectError(base + "[database]\ncache_entries = -1\n", "'cache_entries' must be between");
  ExpectError("[server]\ntls_cert = \"c\"\ntls_key = \"k\"\nworkers = 1025\n",
              "'workers' must be between 0 and 1024");
  ExpectError(base + "server = 3\n", "k.toml:8: unknown key 'server' in [token]");
  ExpectError("[server\n", "k.toml:1:");
  ExpectError(base + "[token]\n", "k.toml");  // a table defined twice is a TOML error
}

// TOML floats include nan and inf: neither is a rate (a NaN compared false with both bounds
// and switched the per-client limit off).
TEST(ConfigTest, RatesMustBeFiniteNumbers) {
  const std::string server = "[server]\ntls_cert = \"c\"\ntls_key = \"k\"\n";
  const std::string token = "[token]\npin_file = \"p\"\n";
  for (const char* bad : {"nan", "+nan", "-nan", "inf", "-inf"}) {
    ExpectError(server + "rate_per_s = " + bad + "\n" + token,
                "k.toml:4: [server] 'rate_per_s' must be a number between");
    ExpectError(server + "rate_burst = " + bad + "\n" + token,
                "k.toml:4: [server] 'rate_burst' must be a number between");
  }
  auto ok = ParseConfig(server + "rate_per_s = 0.5\n" + token, "k.toml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->server.rate_per_s, 0.5);
}

// The listeners bind an IPv4 literal and look no name up: --check-config must refuse what
// start-up would (it passed "localhost", then kmsd exited 1 at bind time instead of 2).
TEST(ConfigTest, ListenAddressesMustBeIpv4Literals) {
  const std::string server = "[server]\ntls_cert = \"c\"\ntls_key = \"k\"\n";
  const std::string token = "[token]\npin_file = \"p\"\n";
  for (const char* bad : {"localhost", "", "::1", "127.0.0.256", "127.0.0.1:8443", " 127.0.0.1"}) {
    ExpectError(server + "listen = \"" + bad + "\"\n" + token,
                "k.toml:4: [server] 'listen' must be an IPv4 address literal");
    ExpectError(server + token + "[ops]\nlisten = \"" + bad + "\"\n",
                "k.toml:7: [ops] 'listen' must be an IPv4 address literal");
  }
  ExpectError(server + "listen = 127\n" + token, "'listen' must be a string");
  auto ok = ParseConfig(
      server + "listen = \"10.0.0.7\"\n" + token + "[ops]\nlisten = \"0.0.0.0\"\n", "k.toml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->server.listen_address, "10.0.0.7");
  EXPECT_EQ(ok->ops.listen_address, "0.0.0.0");
}

TEST(ConfigTest, MissingFileIsAClearError) {
  auto c = LoadConfig("/nonexistent/kmsd.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace kms::daemon
