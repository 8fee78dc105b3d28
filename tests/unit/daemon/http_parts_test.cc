// Unit tests of the front end's own parts (the listeners are exercised end to end in
// tests/e2e): rate limiter, the Prometheus text format and the secure-pool gauges.
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

// kmsd's secure-pool gauges read the pool's statistics at each scrape: what the pool counts
// (arenas mapped, arenas whose mlock was refused) is what /metrics shows, and it follows.
TEST(MetricsTest, SecurePoolGaugesFollowTheStatistics) {
  Metrics m;
  internal::SecurePoolStats stats;
  stats.arenas = 3;
  stats.locked_arenas = 3;
  int reads = 0;
  AddSecurePoolGauges(m, [&] {
    ++reads;
    return stats;
  });
  EXPECT_EQ(reads, 0);  // nothing read before a scrape
  std::string t = m.Render();
  EXPECT_NE(t.find("# TYPE kms_secure_pool_arenas gauge\n"), std::string::npos) << t;
  EXPECT_NE(t.find("# TYPE kms_secure_pool_unlocked_arenas gauge\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nkms_secure_pool_arenas 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nkms_secure_pool_unlocked_arenas 0\n"), std::string::npos) << t;
  // Two more arenas, whose mlock RLIMIT_MEMLOCK refused.
  stats.arenas = 5;
  stats.unlocked_arenas = 2;
  t = m.Render();
  EXPECT_NE(t.find("\nkms_secure_pool_arenas 5\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nkms_secure_pool_unlocked_arenas 2\n"), std::string::npos) << t;
  EXPECT_EQ(reads, 4);  // one read per gauge and scrape
}

}  // namespace
}  // namespace kms::http
