// MetricsRegistry: a small Prometheus registry (text exposition format 0.0.4) because
// Debian 12 has no prometheus-cpp. Components register their metrics once at start-up and
// keep the returned pointer (valid as long as the registry); Render() is called by /metrics.
//
//   auto* requests = registry.AddCounter("kms_ua_requests_total", "Ua requests", {"type"});
//   (*requests)->Inc({"request_init_psk"});
//   registry.AddCallbackGauge("kms_audit_queue_depth", "Rows waiting", [&] { return q.size(); });
//
// Thread-safe. Label sets per family are capped (kMaxSeriesPerFamily); further label sets
// are dropped and counted in kms_metrics_dropped_series_total, so memory stays bounded.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"
#include "src/base/status.h"

namespace kms::http {

inline constexpr size_t kMaxSeriesPerFamily = 512;

using LabelValues = std::vector<std::string>;

class CounterFamily {
 public:
  // Inc: adds n to the series with these label values (one per label name, in order).
  void Inc(const LabelValues& labels, uint64_t n = 1);
  // Get: the current value (0 if the series does not exist).
  uint64_t Get(const LabelValues& labels) const;

 private:
  friend class MetricsRegistry;
  CounterFamily(std::vector<std::string> label_names, std::atomic<uint64_t>* dropped)
      : label_names_(std::move(label_names)), dropped_(dropped) {}
  void Render(const std::string& name, std::string* out) const;

  std::vector<std::string> label_names_;
  std::atomic<uint64_t>* dropped_;
  mutable std::mutex mu_;
  std::map<LabelValues, uint64_t> values_;
};

class GaugeFamily {
 public:
  void Set(const LabelValues& labels, double value);
  void Add(const LabelValues& labels, double delta);
  double Get(const LabelValues& labels) const;

 private:
  friend class MetricsRegistry;
  GaugeFamily(std::vector<std::string> label_names, std::atomic<uint64_t>* dropped)
      : label_names_(std::move(label_names)), dropped_(dropped) {}
  void Render(const std::string& name, std::string* out) const;

  std::vector<std::string> label_names_;
  std::atomic<uint64_t>* dropped_;
  mutable std::mutex mu_;
  std::map<LabelValues, double> values_;
};

class HistogramFamily {
 public:
  // Observe: records one value (e.g. seconds) in the series with these label values.
  void Observe(const LabelValues& labels, double value);
  // Count: number of observations in a series (for tests).
  uint64_t Count(const LabelValues& labels) const;

 private:
  friend class MetricsRegistry;
  struct Series {
    std::vector<uint64_t> buckets;  // non-cumulative; rendered cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  HistogramFamily(std::vector<std::string> label_names, std::vector<double> bounds,
                  std::atomic<uint64_t>* dropped)
      : label_names_(std::move(label_names)), bounds_(std::move(bounds)), dropped_(dropped) {}
  void Render(const std::string& name, std::string* out) const;

  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // strictly increasing upper bounds, +Inf implied
  std::atomic<uint64_t>* dropped_;
  mutable std::mutex mu_;
  std::map<LabelValues, Series> series_;
};

// Default latency buckets in seconds (1 ms .. 10 s).
std::vector<double> DefaultLatencyBuckets();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Add*: registers a metric family. Fails with kInvalidArgument for a name or label name
  // that is not a Prometheus identifier, a duplicate name, unsorted buckets, or a label
  // named "le" on a histogram. Returned pointers live as long as the registry.
  Result<CounterFamily*> AddCounter(std::string name, std::string help,
                                    std::vector<std::string> label_names = {});
  Result<GaugeFamily*> AddGauge(std::string name, std::string help,
                                std::vector<std::string> label_names = {});
  Result<HistogramFamily*> AddHistogram(std::string name, std::string help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds);
  // AddCallbackGauge: a gauge whose value is read by calling `read` at render time (queue
  // depth, cache size, sessions in use). `read` must be cheap, thread-safe and must not
  // call back into the registry.
  Status AddCallbackGauge(std::string name, std::string help, std::function<double()> read);

  // Render: all families in the text exposition format, in registration order.
  std::string Render() const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    std::string type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
    std::function<double()> callback;
  };
  Status CheckNew(const std::string& name, const std::vector<std::string>& labels) const;

  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  std::atomic<uint64_t> dropped_series_{0};
};

// IsValidMetricName: [a-zA-Z_:][a-zA-Z0-9_:]*. IsValidLabelName: [a-zA-Z_][a-zA-Z0-9_]*,
// not starting with "__".
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace kms::http
