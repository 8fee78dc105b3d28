// ListenSocket (src/http/listen_socket.h): binds before the listeners start; refuses bad
// addresses and ports already taken with a clear status.
#include "src/http/listen_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace kms::http {
namespace {

uint16_t PortOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

TEST(ListenSocketTest, BindsAFreePortNonBlockingAndCloseOnExec) {
  Result<ListenSocket> s = ListenSocket::Bind("127.0.0.1", 0);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GT(PortOf(s->fd()), 0);
  EXPECT_NE(fcntl(s->fd(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(fcntl(s->fd(), F_GETFD) & FD_CLOEXEC, 0);
  int listening = 0;
  socklen_t len = sizeof listening;
  getsockopt(s->fd(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
  EXPECT_EQ(listening, 1);
}

TEST(ListenSocketTest, RefusesBadAddressesAndTakenPorts) {
  EXPECT_EQ(ListenSocket::Bind("localhost", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ListenSocket::Bind("::1", 0).status().code(), StatusCode::kInvalidArgument);
  Result<ListenSocket> first = ListenSocket::Bind("127.0.0.1", 0);
  ASSERT_TRUE(first.ok());
  Result<ListenSocket> second = ListenSocket::Bind("127.0.0.1", PortOf(first->fd()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("cannot bind 127.0.0.1:"), std::string::npos);
}

TEST(ListenSocketTest, ReleaseHandsTheDescriptorOver) {
  Result<ListenSocket> s = ListenSocket::Bind("127.0.0.1", 0);
  ASSERT_TRUE(s.ok());
  const int fd = s->Release();
  EXPECT_EQ(s->fd(), -1);
  EXPECT_NE(fcntl(fd, F_GETFD), -1);  // still open: the destructor did not close it
  close(fd);
}

}  // namespace
}  // namespace kms::http
