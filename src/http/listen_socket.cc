#include "src/http/listen_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kms::http {

Result<ListenSocket> ListenSocket::Bind(const std::string& ipv4_address, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, ipv4_address.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgumentError("listen address is not an IPv4 literal: " + ipv4_address);
  }
  ListenSocket s(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd_ < 0) {
    return UnavailableError(std::string("socket: ") + std::strerror(errno));
  }
  const int on = 1;
  setsockopt(s.fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  const std::string where = ipv4_address + ":" + std::to_string(port);
  if (bind(s.fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return UnavailableError("cannot bind " + where + ": " + std::strerror(errno));
  }
  constexpr int kBacklog = 511;
  if (listen(s.fd_, kBacklog) != 0) {
    return UnavailableError("cannot listen on " + where + ": " + std::strerror(errno));
  }
  return s;
}

ListenSocket::~ListenSocket() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

}  // namespace kms::http
