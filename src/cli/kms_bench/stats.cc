#include "src/cli/kms_bench/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kms::bench {
namespace {

// NearestRank: the smallest sample with at least p% of the samples at or below it.
double NearestRank(const std::vector<double>& sorted, double p) {
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * n));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace

LatencySummary Summarize(std::vector<double> samples_us) {
  LatencySummary s;
  if (samples_us.empty()) {
    return s;
  }
  std::sort(samples_us.begin(), samples_us.end());
  s.count = samples_us.size();
  s.p50_ms = NearestRank(samples_us, 50) / 1000.0;
  s.p90_ms = NearestRank(samples_us, 90) / 1000.0;
  s.p99_ms = NearestRank(samples_us, 99) / 1000.0;
  s.max_ms = samples_us.back() / 1000.0;
  s.mean_ms = std::accumulate(samples_us.begin(), samples_us.end(), 0.0) /
              static_cast<double>(samples_us.size()) / 1000.0;
  return s;
}

nlohmann::json ToJson(const LatencySummary& s) {
  return {{"count", s.count},   {"p50_ms", s.p50_ms}, {"p90_ms", s.p90_ms},
          {"p99_ms", s.p99_ms}, {"max_ms", s.max_ms}, {"mean_ms", s.mean_ms}};
}

}  // namespace kms::bench
