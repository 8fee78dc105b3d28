// Metrics: a small registry rendered in the Prometheus text exposition format (version
// 0.0.4) for /metrics. Debian 12 has no prometheus-cpp package, so this is our own: labelled
// counters, histograms with fixed buckets, and gauges read from callbacks at scrape time
// (replay cache size, audit health, sessions in use...). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "src/base/secure_pool.h"

namespace kms::http {

class Metrics {
 public:
  // Inc: counter `name` with a label set like {"type","REQUEST_INIT_PSK"},{"result","granted"}.
  void Inc(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels,
           uint64_t by = 1);
  // Observe: a histogram sample in seconds (buckets 0.5 ms .. 5 s).
  void Observe(const std::string& name, double seconds);
  // AddGauge: a value read when /metrics is scraped.
  void AddGauge(const std::string& name, const std::string& help, std::function<double()> read);
  void SetHelp(const std::string& name, const std::string& help);
  // Render: the whole registry as Prometheus text.
  std::string Render() const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket (non-cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, uint64_t>> counters_;  // name -> labels -> value
  std::map<std::string, Histogram> histograms_;
  std::map<std::string, std::pair<std::string, std::function<double()>>> gauges_;
  std::map<std::string, std::string> help_;
};

// AddSecurePoolGauges: kms_secure_pool_arenas (arenas of locked-memory pool mapped) and
// kms_secure_pool_unlocked_arenas (of which mlock was refused, so their secrets may reach
// swap), both from `stats` read at each scrape only, never on the allocation path. kmsd
// passes internal::GetSecurePoolStats; tests pass a fake.
void AddSecurePoolGauges(Metrics& metrics, std::function<internal::SecurePoolStats()> stats);

}  // namespace kms::http
