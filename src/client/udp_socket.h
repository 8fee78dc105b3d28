// A minimal IPv4 loopback UDP socket for carrying SRTP between UEs in tests and in
// `kms-client call --media` (RFC 3550 transport; nothing MIKEY-specific).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "src/base/result.h"

namespace kms::client {

class UdpSocket {
 public:
  // BindLoopback: a socket bound to 127.0.0.1 on an ephemeral port.
  static Result<std::unique_ptr<UdpSocket>> BindLoopback();
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  uint16_t port() const { return port_; }
  // SendTo: one datagram to 127.0.0.1:port.
  Status SendTo(uint16_t port, std::span<const uint8_t> datagram);
  // Receive: the next datagram (at most 2048 bytes); kUnavailable after `timeout`.
  Result<std::vector<uint8_t>> Receive(std::chrono::milliseconds timeout);

 private:
  UdpSocket(int fd, uint16_t port) : fd_(fd), port_(port) {}
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace kms::client
