#include "src/cli/kms_bench/http_driver.h"

#include <curl/curl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

namespace kms::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

size_t Collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<Wire*>(user);
  out->insert(out->end(), reinterpret_cast<uint8_t*>(data),
              reinterpret_cast<uint8_t*>(data) + size * n);
  return size * n;
}

// Slot: one easy handle, i.e. one exchange in flight. The multi handle's connection cache
// holds exactly `connections` TLS connections; a slot whose exchange ended hands its
// connection back, and the next exchange takes a free one.
struct Slot {
  CURL* h = nullptr;
  unsigned id = 0;
  size_t body = 0;                // index of the body in flight
  SteadyClock::time_point start;  // when its latency starts (due time in open loop)
};

// Loop: one thread drives every connection through a libcurl multi handle. One thread
// rather than one per connection: the answers of one audit group commit arrive together,
// and a thread per connection woke one load-generator thread per answer on the two cores
// kmsd runs on (docs/performance.md, kms-bench method, item 6).
class Loop {
 public:
  Loop(const DriveOptions& o, const std::vector<Wire>& bodies, DriveResult& r)
      : bodies_(bodies),
        r_(r),
        m_(curl_multi_init()),
        timer_(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
        headers_(curl_slist_append(curl_slist_append(nullptr, "Content-Type: application/mikey"),
                                   "Expect:")) {  // Expect: none, no 100-continue round trip
    const long n = static_cast<long>(o.connections);
    curl_multi_setopt(m_, CURLMOPT_MAX_TOTAL_CONNECTIONS, n);  // more exchanges queue
    curl_multi_setopt(m_, CURLMOPT_MAXCONNECTS, n);            // none is closed as surplus
    curl_multi_setopt(m_, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
    slots_.resize(o.connections);
    for (unsigned i = 0; i < o.connections; ++i) {
      Slot& s = slots_[i];
      s.id = i;
      s.h = curl_easy_init();
      curl_easy_setopt(s.h, CURLOPT_URL, o.url.c_str());
      curl_easy_setopt(s.h, CURLOPT_CAINFO, o.ca_file.c_str());
      curl_easy_setopt(s.h, CURLOPT_HTTPHEADER, headers_);
      curl_easy_setopt(s.h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
      curl_easy_setopt(s.h, CURLOPT_POST, 1L);
      curl_easy_setopt(s.h, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(s.h, CURLOPT_TCP_NODELAY, 1L);
      curl_easy_setopt(s.h, CURLOPT_TIMEOUT_MS, 15000L);
      curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, Collect);
      curl_easy_setopt(s.h, CURLOPT_PRIVATE, &s);
      free_.push_back(&s);
    }
  }
  ~Loop() {
    for (Slot& s : slots_) {
      curl_multi_remove_handle(m_, s.h);  // harmless for a slot that is not added
      curl_easy_cleanup(s.h);
    }
    curl_multi_cleanup(m_);
    curl_slist_free_all(headers_);
    if (timer_ >= 0) {
      close(timer_);
    }
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  Loop(Loop&&) = delete;
  Loop& operator=(Loop&&) = delete;

  // Run: sends bodies [first, last). rate 0: each free slot takes the next body at once
  // (closed loop); rate > 0: body i is due at t0 + (i - first) / rate and waits for a free
  // slot from then on (its latency counts from the due time). on_done(slot, latency_us) is
  // called for every answered or failed exchange (the slot still names its body).
  template <typename OnDone>
  void Run(size_t first, size_t last, double rate, SteadyClock::time_point t0, OnDone on_done) {
    size_t next = first;
    size_t running = 0;
    auto due = [&](size_t i) {
      return t0 + std::chrono::duration_cast<SteadyClock::duration>(
                      std::chrono::duration<double>(static_cast<double>(i - first) / rate));
    };
    while (next < last || running > 0) {
      const SteadyClock::time_point now = SteadyClock::now();
      while (!free_.empty() && next < last && (rate <= 0 || due(next) <= now)) {
        Start(*free_.back(), next, rate > 0 ? due(next) : now);
        free_.pop_back();
        ++next;
        ++running;
      }
      int still = 0;
      curl_multi_perform(m_, &still);
      bool finished = false;
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(m_, &queued)) {
        if (msg->msg != CURLMSG_DONE) {
          continue;
        }
        Slot* s = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &s);
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-union-access): libcurl's CURLMsg
        Count(*s, msg->data.result);
        curl_multi_remove_handle(m_, s->h);
        const auto took = SteadyClock::now() - s->start;
        on_done(*s, std::chrono::duration<double, std::micro>(took).count());
        free_.push_back(s);
        --running;
        finished = true;
      }
      if (finished) {
        continue;  // hand the freed slots their next bodies before waiting
      }
      // Wait for a socket, for libcurl's own timeout, or (open loop with a free slot) for the
      // next due time, to the microsecond: curl_multi_poll's millisecond timeout alone would
      // send every message up to 1 ms late.
      const bool wait_due = rate > 0 && !free_.empty() && next < last;
      int timeout_ms = 100;
      if (timer_ >= 0) {
        ArmTimer(wait_due ? due(next) : SteadyClock::time_point{});
      } else if (wait_due) {  // no timerfd (descriptor limit): milliseconds, rounded down
        timeout_ms = static_cast<int>(std::clamp<int64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(due(next) - now).count(), 0,
            100));
      }
      curl_waitfd extra{timer_, CURL_WAIT_POLLIN, 0};
      curl_multi_poll(m_, &extra, timer_ >= 0 ? 1 : 0, timeout_ms, nullptr);
      if (extra.revents != 0) {
        uint64_t expirations = 0;
        (void)!read(timer_, &expirations, sizeof expirations);
      }
    }
  }

 private:
  void Start(Slot& s, size_t i, SteadyClock::time_point start) {
    Wire* response = &r_.responses[i];
    response->clear();
    s.body = i;
    s.start = start;
    curl_easy_setopt(s.h, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(s.h, CURLOPT_POSTFIELDS, bodies_[i].data());
    curl_easy_setopt(s.h, CURLOPT_POSTFIELDSIZE, static_cast<long>(bodies_[i].size()));
    curl_multi_add_handle(m_, s.h);
  }

  // Count: the outcome of the exchange that just ended on `s`.
  void Count(const Slot& s, CURLcode rc) {
    Wire* response = &r_.responses[s.body];
    long status = 0;
    long connects = 0;
    curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(s.h, CURLINFO_NUM_CONNECTS, &connects);
    r_.connects += static_cast<uint64_t>(connects);
    if (rc != CURLE_OK) {
      ++r_.transport_errors;
      response->clear();
    } else if (status != 200) {
      ++r_.http_errors;
      response->clear();
    } else if (IsMikeyError(*response)) {
      ++r_.mikey_errors;
    } else {
      ++r_.ok;
    }
  }

  // ArmTimer: the timerfd fires at `at` (steady_clock is CLOCK_MONOTONIC); a default `at`
  // disarms it.
  void ArmTimer(SteadyClock::time_point at) {
    if (at == armed_) {
      return;  // already so (a closed loop never arms it: no system call per wait)
    }
    armed_ = at;
    itimerspec spec{};
    if (at != SteadyClock::time_point{}) {
      const auto ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
      // 0 would disarm: a time already past is the earliest representable instead.
      spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      spec.it_value.tv_nsec = std::max<long>(1, static_cast<long>(ns % 1'000'000'000));
    }
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  const std::vector<Wire>& bodies_;
  DriveResult& r_;
  CURLM* m_;
  int timer_;
  SteadyClock::time_point armed_{};  // what the timer was last set to (default: disarmed)
  curl_slist* headers_;
  std::vector<Slot> slots_;
  std::vector<Slot*> free_;
};

}  // namespace

DriveResult Drive(const DriveOptions& o, const std::vector<Wire>& bodies) {
  DriveResult r;
  r.responses.resize(bodies.size());
  const size_t warm = std::min<size_t>(o.connections, bodies.size());
  Loop loop(o, bodies, r);
  // Warm-up: one exchange per connection at once, so each opens its own TLS connection.
  loop.Run(0, warm, 0, SteadyClock::now(), [](const Slot&, double) {});
  const bool tracing = !o.trace_file.empty();
  std::vector<double> due_ms;  // trace: start of each timed message, by completion order
  std::vector<unsigned> slot;
  r.latency_us.reserve(bodies.size() - warm);
  const SteadyClock::time_point t0 = SteadyClock::now();
  loop.Run(warm, bodies.size(), o.rate_per_s, t0, [&](const Slot& s, double us) {
    r.latency_us.push_back(us);
    if (tracing) {
      due_ms.push_back(std::chrono::duration<double, std::milli>(s.start - t0).count());
      slot.push_back(s.id);
    }
  });
  r.seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  r.timed = bodies.size() - warm;
  if (tracing) {
    std::ofstream f(o.trace_file);
    f << "t0 " << std::fixed << std::chrono::duration<double>(t0.time_since_epoch()).count()
      << "\n";
    for (size_t k = 0; k < due_ms.size(); ++k) {
      f << slot[k] << ' ' << due_ms[k] << ' ' << r.latency_us[k] / 1000.0 << '\n';
    }
  }
  return r;
}

}  // namespace kms::bench
