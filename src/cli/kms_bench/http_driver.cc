#include "src/cli/kms_bench/http_driver.h"

#include <curl/curl.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

namespace kms::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

size_t Collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<Wire*>(user);
  out->insert(out->end(), reinterpret_cast<uint8_t*>(data),
              reinterpret_cast<uint8_t*>(data) + size * n);
  return size * n;
}

// Connection: one easy handle; libcurl keeps its connection open between performs.
class Connection {
 public:
  Connection(const DriveOptions& o) : h_(curl_easy_init()) {
    headers_ = curl_slist_append(nullptr, "Content-Type: application/mikey");
    headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(h_, CURLOPT_URL, o.url.c_str());
    curl_easy_setopt(h_, CURLOPT_CAINFO, o.ca_file.c_str());
    curl_easy_setopt(h_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(h_, CURLOPT_POST, 1L);
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, Collect);
  }
  ~Connection() {
    curl_easy_cleanup(h_);
    curl_slist_free_all(headers_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Post: one exchange; the outcome is counted into `r` (under `mu`).
  void Post(const Wire& body, Wire* response, DriveResult& r, std::mutex& mu) {
    response->clear();
    curl_easy_setopt(h_, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(h_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    const CURLcode rc = curl_easy_perform(h_);
    long status = 0;
    long connects = 0;
    curl_easy_getinfo(h_, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h_, CURLINFO_NUM_CONNECTS, &connects);
    std::lock_guard<std::mutex> lock(mu);
    r.connects += static_cast<uint64_t>(connects);
    if (rc != CURLE_OK) {
      ++r.transport_errors;
      response->clear();
    } else if (status != 200) {
      ++r.http_errors;
      response->clear();
    } else if (IsMikeyError(*response)) {
      ++r.mikey_errors;
    } else {
      ++r.ok;
    }
  }

 private:
  CURL* h_;
  curl_slist* headers_ = nullptr;
};

}  // namespace

DriveResult Drive(const DriveOptions& o, const std::vector<Wire>& bodies) {
  DriveResult r;
  r.responses.resize(bodies.size());
  const size_t warm = std::min<size_t>(o.connections, bodies.size());
  std::atomic<size_t> next{warm};
  std::mutex mu;
  std::vector<std::vector<double>> lat(o.connections);
  const bool tracing = !o.trace_file.empty();
  std::vector<std::vector<double>> due_ms(o.connections);  // start of each timed message
  SteadyClock::time_point t0;
  // All connections are open and warm before the clock starts; the main thread starts it.
  std::barrier sync(static_cast<std::ptrdiff_t>(o.connections) + 1);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < o.connections; ++t) {
    threads.emplace_back([&, t] {
      Connection c(o);
      if (t < warm) {
        c.Post(bodies[t], &r.responses[t], r, mu);
      }
      sync.arrive_and_wait();  // warm-up done
      sync.arrive_and_wait();  // t0 set
      for (;;) {
        const size_t i = next.fetch_add(1);
        if (i >= bodies.size()) {
          break;
        }
        SteadyClock::time_point start = SteadyClock::now();
        if (o.rate_per_s > 0) {
          const auto due =
              t0 + std::chrono::duration_cast<SteadyClock::duration>(
                       std::chrono::duration<double>(static_cast<double>(i - warm) / o.rate_per_s));
          std::this_thread::sleep_until(due);
          start = due;
        }
        c.Post(bodies[i], &r.responses[i], r, mu);
        lat[t].push_back(
            std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count());
        if (tracing) {
          due_ms[t].push_back(std::chrono::duration<double, std::milli>(start - t0).count());
        }
      }
    });
  }
  sync.arrive_and_wait();
  t0 = SteadyClock::now();
  sync.arrive_and_wait();
  for (std::thread& th : threads) {
    th.join();
  }
  r.seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  r.timed = bodies.size() - warm;
  if (tracing) {
    std::ofstream f(o.trace_file);
    f << "t0 " << std::fixed << std::chrono::duration<double>(t0.time_since_epoch()).count()
      << "\n";
    for (unsigned t = 0; t < o.connections; ++t) {
      for (size_t k = 0; k < lat[t].size(); ++k) {
        f << t << ' ' << due_ms[t][k] << ' ' << lat[t][k] / 1000.0 << '\n';
      }
    }
  }
  for (auto& v : lat) {
    r.latency_us.insert(r.latency_us.end(), v.begin(), v.end());
  }
  return r;
}

}  // namespace kms::bench
