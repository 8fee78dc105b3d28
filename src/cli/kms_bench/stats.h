// Latency summaries for kms-bench: percentiles by the nearest-rank method over every
// recorded sample (no histogram buckets, so p99 of a short run is exact, not interpolated).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace kms::bench {

struct LatencySummary {
  uint64_t count = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
};

// Summarize: sorts a copy of `samples_us` (microseconds) and picks the nearest ranks.
LatencySummary Summarize(std::vector<double> samples_us);

nlohmann::json ToJson(const LatencySummary& s);

// Range: min and max of repeated measurements, for "figures vary between runs" reporting.
struct Range {
  double min = 0, max = 0;
  void Add(double v, bool first) {
    if (first || v < min) min = v;
    if (first || v > max) max = v;
  }
};

}  // namespace kms::bench
