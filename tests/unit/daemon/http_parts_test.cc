// Unit tests of the front end's own parts (the listeners are exercised end to end in
// tests/e2e): rate limiter and the Prometheus text format.
#include <gtest/gtest.h>

#include "src/http/metrics.h"
#include "src/http/rate_limiter.h"

namespace kms::http {
namespace {

using Clock = std::chrono::steady_clock;

TEST(RateLimiterTest, BurstThenRefill) {
  RateLimiter rl(/*per_second=*/2, /*burst=*/3, /*max_clients=*/10);
  const Clock::time_point t0{};
  EXPECT_TRUE(rl.Allow("a", t0));
  EXPECT_TRUE(rl.Allow("a", t0));
  EXPECT_TRUE(rl.Allow("a", t0));
  EXPECT_FALSE(rl.Allow("a", t0));
  EXPECT_TRUE(rl.Allow("b", t0));  // per client
  EXPECT_FALSE(rl.Allow("a", t0 + std::chrono::milliseconds(400)));
  EXPECT_TRUE(rl.Allow("a", t0 + std::chrono::milliseconds(600)));
}

TEST(RateLimiterTest, BoundedMemoryAndZeroDisables) {
  RateLimiter rl(1, 1, 2);
  const Clock::time_point t0{};
  EXPECT_TRUE(rl.Allow("a", t0));
  EXPECT_TRUE(rl.Allow("b", t0));
  EXPECT_TRUE(rl.Allow("c", t0));  // table full: evicts, never refuses a new client
  RateLimiter off(0, 1, 2);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(off.Allow("a", t0));
  }
}

TEST(MetricsTest, PrometheusTextFormat) {
  Metrics m;
  m.SetHelp("kms_requests_total", "requests");
  m.Inc("kms_requests_total", {{"type", "11"}, {"result", "granted"}});
  m.Inc("kms_requests_total", {{"type", "11"}, {"result", "granted"}}, 2);
  m.Inc("kms_requests_total", {{"type", "16"}, {"result", "re\"fused"}});
  m.Observe("kms_request_duration_seconds", 0.003);
  m.Observe("kms_request_duration_seconds", 2.0);
  m.AddGauge("kms_replay_cache_entries", "entries", [] { return 42.0; });
  const std::string t = m.Render();
  EXPECT_NE(t.find("# TYPE kms_requests_total counter\n"), std::string::npos);
  EXPECT_NE(t.find("kms_requests_total{type=\"11\",result=\"granted\"} 3\n"), std::string::npos);
  EXPECT_NE(t.find("result=\"re\\\"fused\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("kms_request_duration_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("kms_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("kms_request_duration_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(t.find("kms_replay_cache_entries 42\n"), std::string::npos);
}

}  // namespace
}  // namespace kms::http
