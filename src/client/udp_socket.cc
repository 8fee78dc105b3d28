#include "src/client/udp_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kms::client {
namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a;
  std::memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

Result<std::unique_ptr<UdpSocket>> UdpSocket::BindLoopback() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return UnavailableError(std::string("socket: ") + std::strerror(errno));
  }
  sockaddr_in a = Loopback(0);
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const int e = errno;
    ::close(fd);
    return UnavailableError(std::string("bind: ") + std::strerror(e));
  }
  return std::unique_ptr<UdpSocket>(new UdpSocket(fd, ntohs(a.sin_port)));
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Status UdpSocket::SendTo(uint16_t port, std::span<const uint8_t> datagram) {
  const sockaddr_in a = Loopback(port);
  const ssize_t n = ::sendto(fd_, datagram.data(), datagram.size(), 0,
                             reinterpret_cast<const sockaddr*>(&a), sizeof(a));
  if (n < 0 || static_cast<size_t>(n) != datagram.size()) {
    return UnavailableError(std::string("sendto: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> UdpSocket::Receive(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) {
    return UnavailableError("no datagram before the timeout");
  }
  std::vector<uint8_t> buf(2048);
  const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
  if (n < 0) {
    return UnavailableError(std::string("recv: ") + std::strerror(errno));
  }
  buf.resize(static_cast<size_t>(n));
  return buf;
}

}  // namespace kms::client
