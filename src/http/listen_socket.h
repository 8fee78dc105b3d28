// ListenSocket: a TCP socket bound and listening before the listeners start, so kmsd can
// bind (possibly a privileged port) as root, drop to its configured user, and only then
// open the token, the database and start libmicrohttpd on the socket
// (MHD_OPTION_LISTEN_SOCKET). Everything that reads files or the token thus runs as the
// configured user from the first moment, the same at start-up as at a later reconnect.
#pragma once

#include <cstdint>
#include <string>

#include "src/base/result.h"

namespace kms::http {

class ListenSocket {
 public:
  // Bind: IPv4 literal and port (0: any free port); non-blocking, close-on-exec,
  // SO_REUSEADDR. kInvalidArgument for a bad address, kUnavailable when bind/listen fails.
  static Result<ListenSocket> Bind(const std::string& ipv4_address, uint16_t port);
  ListenSocket(ListenSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ListenSocket& operator=(ListenSocket&&) = delete;
  ListenSocket(const ListenSocket&) = delete;
  ~ListenSocket();

  int fd() const { return fd_; }
  // Release: hands the descriptor over (libmicrohttpd closes it when it stops).
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  explicit ListenSocket(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace kms::http
