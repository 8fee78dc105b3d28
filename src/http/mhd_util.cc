#include "src/http/mhd_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace kms::http {

bool QueueBytes(MHD_Connection* c, unsigned status, std::span<const uint8_t> body,
                const char* content_type, const Headers& extra) {
  MHD_Response* r = MHD_create_response_from_buffer(
      body.size(), const_cast<uint8_t*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) {
    return false;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  for (const auto& [k, v] : extra) {
    MHD_add_response_header(r, k.c_str(), v.c_str());
  }
  const MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok == MHD_YES;
}

bool QueueText(MHD_Connection* c, unsigned status, const std::string& text, const Headers& extra) {
  return QueueBytes(c, status,
                    std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()),
                                             text.size()),
                    "text/plain; charset=utf-8", extra);
}

std::string ClientAddress(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) {
    return "?";
  }
  char buf[INET6_ADDRSTRLEN] = {0};
  if (info->client_addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(info->client_addr);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
  } else if (info->client_addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(info->client_addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
  } else {
    return "?";
  }
  return buf;
}

uint16_t BoundPort(MHD_Daemon* d) {
  const MHD_DaemonInfo* info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  return info == nullptr ? 0 : info->port;
}

}  // namespace kms::http
