// OpsServer: the operations listener (architecture.md §6), plain HTTP on loopback by
// default: /healthz (the process answers), /readyz (the core can serve: token session,
// database, audit writer), /metrics (Prometheus text).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/base/result.h"
#include "src/http/metrics.h"

struct MHD_Daemon;

namespace kms::http {

struct OpsServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 9090;
  int listen_fd = -1;  // bound and listening already (ListenSocket::Release); -1: bind here
};

class OpsServer {
 public:
  // ReadyCheck: true when ready; otherwise fills the reason.
  using ReadyCheck = std::function<bool(std::string* why)>;
  static Result<std::unique_ptr<OpsServer>> Start(const OpsServerOptions& options, ReadyCheck ready,
                                                  Metrics& metrics);
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;
  uint16_t port() const { return port_; }
  // SetDraining: /readyz answers 503 "draining" from now on (SIGTERM).
  void SetDraining() { draining_ = true; }

  struct Impl;

 private:
  OpsServer(ReadyCheck ready, Metrics& metrics) : ready_(std::move(ready)), metrics_(metrics) {}
  ReadyCheck ready_;
  Metrics& metrics_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
  std::atomic<bool> draining_{false};
};

}  // namespace kms::http
