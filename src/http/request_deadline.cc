#include "src/http/request_deadline.h"

#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "src/http/boundary.h"

namespace kms::http {

RequestDeadlines::RequestDeadlines(std::chrono::milliseconds limit,
                                   std::function<void(size_t)> on_cut)
    : limit_(limit), on_cut_(std::move(on_cut)) {
  sweeper_ = std::thread([this] { Sweep(); });
}

RequestDeadlines::~RequestDeadlines() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  sweeper_.join();
  for (Clock* k : clocks_) {
    delete k;
  }
}

int64_t RequestDeadlines::NextDeadline() const {
  return (std::chrono::steady_clock::now() + limit_).time_since_epoch().count();
}

void RequestDeadlines::Notify(void* cls, MHD_Connection* c, void** socket_context,
                              MHD_ConnectionNotificationCode toe) {
  auto* self = static_cast<RequestDeadlines*>(cls);
  Guard(false, [&] {
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
      if (info == nullptr) {
        return false;
      }
      auto clock = std::make_unique<Clock>();
      clock->fd = info->connect_fd;
      clock->deadline.store(self->NextDeadline());
      std::lock_guard<std::mutex> lock(self->mu_);
      self->clocks_.insert(clock.get());
      *socket_context = clock.release();
      return true;
    }
    // Closed: libmicrohttpd notifies before it closes the socket, so while a clock is in
    // clocks_ its fd is still this connection's (never a reused number).
    auto* clock = static_cast<Clock*>(*socket_context);
    if (clock != nullptr) {
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->clocks_.erase(clock);
      }
      delete clock;
      *socket_context = nullptr;
    }
    return true;
  });
}

RequestDeadlines::Clock* RequestDeadlines::ClockOf(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info == nullptr ? nullptr : static_cast<Clock*>(info->socket_context);
}

void RequestDeadlines::Hold(MHD_Connection* c) {
  if (Clock* k = ClockOf(c); k != nullptr) {
    k->deadline.store(0);
  }
}

void RequestDeadlines::Rearm(MHD_Connection* c) const {
  if (Clock* k = ClockOf(c); k != nullptr) {
    k->deadline.store(NextDeadline());
  }
}

void RequestDeadlines::Sweep() {
  // A connection is closed at most a quarter of the limit (and at most 1 s) after its deadline.
  const auto period = std::clamp<std::chrono::milliseconds>(
      limit_ / 4, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<MHD_socket> expired;
  while (!cv_.wait_for(lock, period, [&] { return stop_; })) {
    const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    expired.clear();
    for (Clock* k : clocks_) {
      int64_t d = k->deadline.load();
      // The exchange loses to a concurrent Hold: a request handed to the core is not cut.
      if (d != 0 && now > d && k->deadline.compare_exchange_strong(d, 0)) {
        expired.push_back(k->fd);
      }
    }
    if (expired.empty()) {
      continue;
    }
    if (on_cut_) {
      on_cut_(expired.size());  // counted before the client can see its connection close
    }
    for (MHD_socket fd : expired) {
      shutdown(fd, SHUT_RDWR);  // still under mu_: no Closed notification has passed
    }
  }
}

}  // namespace kms::http
