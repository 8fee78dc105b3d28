// UaServer: the Ua HTTPS front end (architecture.md §6; spec mikey-ticket.md §8.2 item 1).
// POST <path> with Content-Type application/mikey -> core::MessageHandler -> 200
// application/mikey. Transport problems get plain statuses (docs/api.md):
//   400 empty body / malformed framing, 404 other path, 405 other method (Allow: POST),
//   411 neither Content-Length nor chunked, 413 body over the limit, 415 wrong content type,
//   429 per-client rate limit, 503 handler unavailable / overloaded, 500 internal error.
// libmicrohttpd runs an epoll thread pool; TLS 1.2/1.3 only (kUaTlsPriorities).
//
// TLS reload (SIGHUP): ReloadTls() re-reads the certificate and key files, checks them, then
// quiesces the running MHD daemon and starts a new one on the same listening socket. New
// connections use the new certificate; the old daemon keeps serving its open connections and
// is stopped once it has no request in flight (ReapRetired) or at Stop().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/core/message_handler.h"
#include "src/http/listen_socket.h"
#include "src/http/log.h"
#include "src/http/metrics.h"
#include "src/http/rate_limiter.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace kms::http {

// GnuTLS priorities: TLS 1.3 and 1.2 only, ECDHE key exchange, AEAD ciphers only, server
// preference. Checked with gnutls_priority_init (GnuTLS 3.7.9) and by the e2e tests.
inline constexpr const char* kUaTlsPriorities =
    "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:"
    "+CHACHA20-POLY1305:+AES-128-GCM:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"
    "%SERVER_PRECEDENCE";

struct UaServerOptions {
  std::string path = "/kms";
  unsigned threads = 4;                    // MHD thread pool size
  std::string tls_cert_file;               // PEM chain, leaf first
  std::string tls_key_file;                // PEM private key (read as a secret)
  size_t body_limit = 64 * 1024;           // bytes
  unsigned connection_limit = 1024;        // MHD_OPTION_CONNECTION_LIMIT
  unsigned per_ip_connection_limit = 32;   // MHD_OPTION_PER_IP_CONNECTION_LIMIT
  unsigned connection_timeout_s = 15;      // idle timeout, MHD_OPTION_CONNECTION_TIMEOUT
  unsigned request_budget_ms = 10000;      // total time from headers to last body byte
  unsigned max_in_flight = 256;            // handler calls at once; more -> 503
  RateLimitOptions rate_limit;
};

class UaServer {
 public:
  // Start: starts serving on `socket` (already bound). `handler`, `metrics` and `log` must
  // outlive the server. Registers its metrics in `metrics` (fails if already registered).
  // Fails if the certificate or key cannot be read or do not match, or MHD cannot start.
  static Result<std::unique_ptr<UaServer>> Start(UaServerOptions options, ListenSocket socket,
                                                 core::MessageHandler* handler,
                                                 MetricsRegistry* metrics, const Logger* log);
  ~UaServer();
  UaServer(const UaServer&) = delete;
  UaServer& operator=(const UaServer&) = delete;

  uint16_t port() const { return socket_.port(); }

  // ReloadTls: see the file comment. On error the running daemon keeps its old certificate.
  Status ReloadTls();
  // ReapRetired: stops daemons left by ReloadTls that have no request in flight.
  void ReapRetired();
  // Drain: stops accepting connections, waits up to `bound` for in-flight requests to
  // finish, then stops. Returns true if nothing was in flight when it stopped.
  bool Drain(std::chrono::milliseconds bound);
  // Stop: stops at once (open connections are closed). Idempotent.
  void Stop();

  size_t in_flight() const { return in_flight_.load(); }
  // Ready: the front end's own state (serving, not draining); `why` says why not.
  bool Ready(std::string* why) const;

  // Internal: called by the libmicrohttpd trampolines in ua_server.cc.
  struct Generation;
  struct RequestState;
  int OnAccess(Generation* gen, MHD_Connection* connection, const char* url, const char* method,
               const char* upload_data, size_t* upload_data_size, void** con_cls);
  void OnCompleted(Generation* gen, void** con_cls, int termination_code);

 private:
  UaServer(UaServerOptions options, ListenSocket socket, core::MessageHandler* handler,
           const Logger* log);
  Status RegisterMetrics(MetricsRegistry* metrics);
  Result<std::unique_ptr<Generation>> StartGeneration(SecretBytes key_pem, std::string cert_pem);
  int Finish(RequestState* state, MHD_Connection* connection);
  int Respond(RequestState* state, MHD_Connection* connection, unsigned status,
              const std::vector<uint8_t>* body);
  std::string NextCorrelationId();

  UaServerOptions options_;
  ListenSocket socket_;
  core::MessageHandler* handler_;
  const Logger* log_;
  RateLimiter limiter_;

  CounterFamily* requests_total_ = nullptr;   // {type, result}
  CounterFamily* responses_total_ = nullptr;  // {code}
  HistogramFamily* latency_ = nullptr;        // {type}

  std::mutex gens_mu_;
  std::unique_ptr<Generation> current_;
  std::vector<std::unique_ptr<Generation>> retired_;
  std::atomic<size_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  uint32_t cid_prefix_ = 0;
  std::atomic<uint32_t> cid_counter_{0};
};

// ReadSecretFile / ReadTextFile: whole-file readers (regular files up to 1 MiB). The secret
// variant returns a NUL-terminated buffer in SecretBytes (size includes the NUL).
Result<SecretBytes> ReadSecretFile(const std::string& path);
Result<std::string> ReadTextFile(const std::string& path);

// CheckTlsKeyPair: parses the PEM certificate chain and key with GnuTLS and checks that they
// match (what MHD will do at start), so a bad reload never takes the listener down.
Status CheckTlsKeyPair(const std::string& cert_pem, const SecretBytes& key_pem);

}  // namespace kms::http
