#include "src/http/ops_server.h"

#include <microhttpd.h>

#include <cstring>
#include <optional>

#include "src/http/boundary.h"

namespace kms::http {
namespace {

MHD_Result OpsTrampoline(void* cls, MHD_Connection* connection, const char* url,
                         const char* method, const char* /*version*/,
                         const char* /*upload_data*/, size_t* upload_data_size,
                         void** con_cls) noexcept {
  // Bodies are never read here: a request with one is answered and the rest discarded.
  if (*con_cls == nullptr) {
    *con_cls = connection;  // marks "headers seen"; answer on the next call
    return MHD_YES;
  }
  *upload_data_size = 0;
  auto* server = static_cast<OpsServer*>(cls);
  std::optional<int> r = CallGuarded<std::optional<int>>(
      std::nullopt, [&] { return std::optional<int>(server->OnAccess(connection, url, method)); });
  if (r.has_value()) {
    return *r == MHD_YES ? MHD_YES : MHD_NO;
  }
  static const char kBody[] = "internal error\n";
  MHD_Response* resp = MHD_create_response_from_buffer(
      sizeof(kBody) - 1, const_cast<char*>(kBody), MHD_RESPMEM_PERSISTENT);
  if (resp == nullptr) {
    return MHD_NO;
  }
  MHD_Result q = MHD_queue_response(connection, 500, resp);
  MHD_destroy_response(resp);
  return q;
}

int Send(MHD_Connection* connection, unsigned status, const std::string& body,
         const char* content_type) {
  MHD_Response* r = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) {
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (status == 405) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  }
  int q = MHD_queue_response(connection, status, r);
  MHD_destroy_response(r);
  return q;
}

}  // namespace

Result<std::unique_ptr<OpsServer>> OpsServer::Start(ListenSocket socket, ReadyCheck ready,
                                                    const MetricsRegistry* metrics,
                                                    const Logger* log) {
  KMS_CHECK(metrics != nullptr && log != nullptr && ready);
  std::unique_ptr<OpsServer> s(new OpsServer(std::move(socket), std::move(ready), metrics, log));
  s->daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0, nullptr, nullptr, &OpsTrampoline,
      s.get(), MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(s->socket_.fd()),
      MHD_OPTION_CONNECTION_LIMIT, 32U, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16U,
      MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      static_cast<size_t>(16 * 1024), MHD_OPTION_END);
  if (s->daemon_ == nullptr) {
    return UnavailableError("MHD_start_daemon failed for the operations listener");
  }
  log->Log(LogLevel::kInfo, "ops_listening", {{"port", std::to_string(s->port())}});
  return s;
}

OpsServer::~OpsServer() {
  if (daemon_ != nullptr) {
    MHD_quiesce_daemon(daemon_);  // leave the socket to ~ListenSocket
    MHD_stop_daemon(daemon_);
  }
}

int OpsServer::OnAccess(MHD_Connection* connection, const char* url, const char* method) {
  bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
             std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  std::string path(url);
  if (path != "/healthz" && path != "/readyz" && path != "/metrics") {
    return Send(connection, 404, "not found\n", "text/plain; charset=utf-8");
  }
  if (!get) {
    return Send(connection, 405, "method not allowed\n", "text/plain; charset=utf-8");
  }
  if (path == "/healthz") {
    return Send(connection, 200, "ok\n", "text/plain; charset=utf-8");
  }
  if (path == "/readyz") {
    std::string why;
    if (ready_(&why)) {
      return Send(connection, 200, "ready\n", "text/plain; charset=utf-8");
    }
    log_->Log(LogLevel::kDebug, "not_ready", {{"reason", why}});
    return Send(connection, 503, "not ready: " + why + "\n", "text/plain; charset=utf-8");
  }
  return Send(connection, 200, metrics_->Render(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace kms::http
