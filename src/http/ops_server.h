// OpsServer: the operations listener (architecture.md §6): plain HTTP, loopback by default,
// GET/HEAD only.
//   /healthz  200 "ok" while the process runs.
//   /readyz   200 "ready" or 503 "not ready: <reason>" from the readiness callback
//             (MessageHandler::Ready plus the Ua front end's own state).
//   /metrics  Prometheus text format 0.0.4 from the MetricsRegistry.
// One internal polling thread; small connection limits, since only local scrapers talk to it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "src/base/result.h"
#include "src/http/listen_socket.h"
#include "src/http/log.h"
#include "src/http/metrics.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace kms::http {

// ReadyCheck: returns true when ready; otherwise fills `why` (short, no secrets).
using ReadyCheck = std::function<bool(std::string* why)>;

class OpsServer {
 public:
  // Start: serves on `socket`; `metrics` and `log` must outlive the server; `ready` is
  // called from the server thread.
  static Result<std::unique_ptr<OpsServer>> Start(ListenSocket socket, ReadyCheck ready,
                                                  const MetricsRegistry* metrics,
                                                  const Logger* log);
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  uint16_t port() const { return socket_.port(); }

  // Internal: called by the libmicrohttpd trampoline.
  int OnAccess(MHD_Connection* connection, const char* url, const char* method);

 private:
  OpsServer(ListenSocket socket, ReadyCheck ready, const MetricsRegistry* metrics,
            const Logger* log)
      : socket_(std::move(socket)), ready_(std::move(ready)), metrics_(metrics), log_(log) {}

  ListenSocket socket_;
  ReadyCheck ready_;
  const MetricsRegistry* metrics_;
  const Logger* log_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace kms::http
