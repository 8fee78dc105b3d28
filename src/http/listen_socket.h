// ListenSocket: a bound, listening TCP socket created before privileges are dropped and
// handed to libmicrohttpd (MHD_OPTION_LISTEN_SOCKET). Owning it here lets the Ua server
// restart its MHD daemon on the same socket (TLS reload) and lets kmsd bind :443 as root.
#pragma once

#include <cstdint>
#include <string>

#include "src/base/result.h"

namespace kms::http {

class ListenSocket {
 public:
  // Bind: `address` is a numeric IPv4 or IPv6 address ("127.0.0.1", "::"); port 0 picks a
  // free port (see port()). SO_REUSEADDR, close-on-exec, non-blocking, backlog 128.
  static Result<ListenSocket> Bind(const std::string& address, uint16_t port);

  ListenSocket(ListenSocket&& other) noexcept;
  ListenSocket& operator=(ListenSocket&& other) noexcept;
  ListenSocket(const ListenSocket&) = delete;
  ListenSocket& operator=(const ListenSocket&) = delete;
  ~ListenSocket();

  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

 private:
  ListenSocket(int fd, uint16_t port) : fd_(fd), port_(port) {}
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace kms::http
