#include "src/http/ops_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cstring>

#include "src/http/boundary.h"
#include "src/http/mhd_util.h"

namespace kms::http {

struct OpsServer::Impl {
  static MHD_Result Access(void* cls, MHD_Connection* c, const char* url, const char* method,
                           const char*, const char*, size_t* upload_size, void** con_cls) {
    return Guard(MHD_NO, [&] {
      auto* self = static_cast<OpsServer*>(cls);
      if (*con_cls == nullptr) {  // headers seen; wait for the (empty) body
        *con_cls = self;
        return MHD_YES;
      }
      if (*upload_size != 0) {
        *upload_size = 0;  // operations endpoints take no body
        return MHD_YES;
      }
      if (std::strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
        return QueueText(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n", {{"Allow", "GET"}})
                   ? MHD_YES : MHD_NO;
      }
      bool ok = false;
      if (std::strcmp(url, "/healthz") == 0) {
        ok = QueueText(c, MHD_HTTP_OK, "ok\n");
      } else if (std::strcmp(url, "/readyz") == 0) {
        std::string why;
        if (self->draining_) {
          ok = QueueText(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: draining\n");
        } else if (self->ready_(&why)) {
          ok = QueueText(c, MHD_HTTP_OK, "ready\n");
        } else {
          ok = QueueText(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: " + why + "\n");
        }
      } else if (std::strcmp(url, "/metrics") == 0) {
        const std::string text = self->metrics_.Render();
        ok = QueueBytes(c, MHD_HTTP_OK,
                        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()),
                                                 text.size()),
                        "text/plain; version=0.0.4; charset=utf-8");
      } else {
        ok = QueueText(c, MHD_HTTP_NOT_FOUND, "not found\n");
      }
      return ok ? MHD_YES : MHD_NO;
    });
  }
};

Result<std::unique_ptr<OpsServer>> OpsServer::Start(const OpsServerOptions& options,
                                                    ReadyCheck ready, Metrics& metrics) {
  std::unique_ptr<OpsServer> s(new OpsServer(std::move(ready), metrics));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.listen_address.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgumentError("ops listen address is not an IPv4 literal: " +
                                options.listen_address);
  }
  s->daemon_ = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, options.port, nullptr, nullptr,
                                &Impl::Access, s.get(), MHD_OPTION_SOCK_ADDR,
                                reinterpret_cast<const sockaddr*>(&addr),
                                MHD_OPTION_CONNECTION_LIMIT, 16U, MHD_OPTION_CONNECTION_TIMEOUT,
                                5U,
                                options.listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_END,
                                options.listen_fd, MHD_OPTION_END);
  if (s->daemon_ == nullptr) {
    return UnavailableError("cannot start the operations listener on " + options.listen_address +
                            ":" + std::to_string(options.port));
  }
  s->port_ = BoundPort(s->daemon_);
  return s;
}

OpsServer::~OpsServer() {
  if (daemon_ != nullptr) {
    MHD_stop_daemon(daemon_);
  }
}

}  // namespace kms::http
