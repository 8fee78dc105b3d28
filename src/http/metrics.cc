#include "src/http/metrics.h"

#include <cstdio>

namespace kms::http {
namespace {

constexpr double kBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                               0.05,   0.1,   0.25,   0.5,   1.0,  5.0};
constexpr size_t kBucketCount = sizeof(kBuckets) / sizeof(kBuckets[0]);

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

void Metrics::Inc(const std::string& name,
                  const std::vector<std::pair<std::string, std::string>>& labels, uint64_t by) {
  std::string key;
  for (const auto& [k, v] : labels) {
    key += key.empty() ? "" : ",";
    key += k + "=\"" + Escape(v) + "\"";
  }
  std::lock_guard<std::mutex> lock(mu_);
  counters_[name][key] += by;
}

void Metrics::Observe(const std::string& name, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = histograms_[name];
  if (h.counts.empty()) {
    h.counts.assign(kBucketCount, 0);
  }
  for (size_t i = 0; i < kBucketCount; ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.counts[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::AddGauge(const std::string& name, const std::string& help,
                       std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_[name] = {help, std::move(read)};
}

void Metrics::SetHelp(const std::string& name, const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  help_[name] = help;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto header = [&](const std::string& name, const char* type, const std::string& fallback) {
    auto it = help_.find(name);
    out += "# HELP " + name + " " + (it != help_.end() ? it->second : fallback) + "\n";
    out += "# TYPE " + name + " " + type + "\n";
  };
  for (const auto& [name, series] : counters_) {
    header(name, "counter", name);
    for (const auto& [labels, value] : series) {
      out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(value) + "\n";
    }
  }
  for (const auto& [name, h] : histograms_) {
    header(name, "histogram", name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBucketCount; ++i) {
      cumulative += h.counts[i];
      out += name + "_bucket{le=\"" + Num(kBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += name + "_sum " + Num(h.sum) + "\n";
    out += name + "_count " + std::to_string(h.count) + "\n";
  }
  for (const auto& [name, g] : gauges_) {
    header(name, "gauge", g.first);
    out += name + " " + Num(g.second()) + "\n";
  }
  return out;
}

void AddSecurePoolGauges(Metrics& metrics, std::function<internal::SecurePoolStats()> stats) {
  // Two gauges, two reads per scrape: Stats() only takes each size class's lock for a moment,
  // and a scrape comes every few seconds at most.
  metrics.AddGauge("kms_secure_pool_arenas", "arenas of the locked secret pool mapped",
                   [stats] { return static_cast<double>(stats().arenas); });
  metrics.AddGauge("kms_secure_pool_unlocked_arenas",
                   "secret pool arenas whose mlock was refused (RLIMIT_MEMLOCK)",
                   [stats] { return static_cast<double>(stats().unlocked_arenas); });
}

}  // namespace kms::http
