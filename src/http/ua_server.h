// UaServer: the Ua interface of the KMS (spec §8.2 item 1; architecture.md §6): HTTPS POST of
// a binary MIKEY message, Content-Type application/mikey, answered with 200 and a MIKEY
// response or MIKEY Error; plain HTTP statuses only for transport problems. Thin by design:
// it parses HTTP (libmicrohttpd does), applies limits, and hands the body to the core.
//
//   400 empty body            404 other path           405 other method (Allow: POST)
//   411 no Content-Length     413 body over the limit  415 wrong Content-Type
//   429 client over its rate  500 internal error (core failed, or the hand-over threw)
//   503 service unavailable (token/audit down), overloaded, or shutting down
// A request not whole within request_timeout_s gets no status: its connection is closed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "src/base/result.h"
#include "src/core/message_handler.h"
#include "src/http/metrics.h"
#include "src/http/rate_limiter.h"
#include "src/http/request_deadline.h"
#include "src/http/tls_identity.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace kms::http {

struct ResumeGate;  // ua_server.cc

struct UaServerOptions {
  std::string listen_address = "0.0.0.0";  // IPv4 literal
  uint16_t port = 8443;                     // 0: any free port (see UaServer::port)
  std::string path = "/kms";
  unsigned threads = 4;                     // libmicrohttpd thread pool (epoll)
  size_t body_limit = 64 * 1024;
  unsigned connection_limit = 512;
  unsigned per_ip_connection_limit = 64;
  unsigned idle_timeout_s = 10;             // per connection, between bytes
  // Whole request, TLS handshake and headers included, counted from the connection's
  // accept or the previous request's end: slow senders are cut off (request_deadline.h).
  unsigned request_timeout_s = 15;
  double rate_per_s = 100;                  // per client address; 0 = unlimited
  double rate_burst = 200;
  size_t max_in_flight = 256;               // requests being processed at once
  int listen_fd = -1;  // bound and listening already (ListenSocket::Release); -1: bind here
};

// kTlsPriorities: TLS 1.2 and 1.3 only, GnuTLS's secure suites, server preference. Under
// TLS 1.2 only ECDHE key exchange (forward secrecy) with an AEAD cipher (evaluator checklist
// item 26): GnuTLS's SECURE128 alone let a PEM RSA certificate negotiate static-RSA suites
// (AES128-GCM-SHA256 and the like), seen in tests/e2e/call_e2e.sh. TLS 1.3 protects records
// with AEAD only (RFC 8446 §5.2); the KX keywords do not apply to it.
inline constexpr const char* kTlsPriorities =
    "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-SHA1:"
    "-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AES-256-CCM:+AES-128-CCM:"
    "%SERVER_PRECEDENCE";

class UaServer {
 public:
  // Start: binds and starts serving with `tls` as the certificate and key. kInvalidArgument
  // for bad options, kUnavailable when the port cannot be bound. One per process (the TLS
  // identity slot is process-wide, see tls_identity.h).
  static Result<std::unique_ptr<UaServer>> Start(const UaServerOptions& options,
                                                 std::shared_ptr<TlsIdentity> tls,
                                                 core::MessageHandler& handler, Metrics& metrics);
  // ReloadTls: new handshakes use `tls` from now on; established connections keep theirs.
  // The listening socket stays open (SIGHUP, issue 7 item 3).
  static void ReloadTls(std::shared_ptr<TlsIdentity> tls);
  ~UaServer();
  UaServer(const UaServer&) = delete;
  UaServer& operator=(const UaServer&) = delete;

  uint16_t port() const { return port_; }
  size_t in_flight() const { return in_flight_.load(); }
  // Drain: stops accepting new connections and answers further requests on open ones with
  // 503, waits until no request is being processed (at most max_wait, including replies
  // waiting for their audit row), then stops the daemon. Replies already being written are
  // completed; a request still waiting for its answer at max_wait is answered 503 and its
  // late answer dropped. Afterwards no libmicrohttpd thread runs and nothing calls into
  // this object, so it may be destroyed.
  void Drain(std::chrono::milliseconds max_wait);

  // Internal: called from libmicrohttpd's callbacks.
  struct Impl;

 private:
  UaServer(const UaServerOptions& options, core::MessageHandler& handler, Metrics& metrics);
  // OnAccess: libmicrohttpd's access handler; returns false to close the connection.
  bool OnAccess(MHD_Connection* c, const char* url, const char* method, const char* upload,
                size_t* upload_size, void** con_cls);
  // Answer: queues the HTTP response for the core's outcome; ends the request's in-flight time.
  bool Answer(MHD_Connection* c, std::chrono::steady_clock::time_point start,
              Result<core::Reply> reply);
  // StopDaemon: closes the callback gate, answers every still suspended request with 503,
  // and stops libmicrohttpd.
  void StopDaemon();

  UaServerOptions options_;
  core::MessageHandler& handler_;
  Metrics& metrics_;
  RateLimiter limiter_;
  std::atomic<size_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_id_{1};
  std::shared_ptr<ResumeGate> gate_;
  std::unique_ptr<RequestDeadlines> deadlines_;  // outlives daemon_ (stopped first)
  MHD_Daemon* daemon_ = nullptr;
  int quiesced_fd_ = -1;  // the listening socket after Drain's quiesce (MHD_socket on POSIX)
  uint16_t port_ = 0;
};

}  // namespace kms::http
