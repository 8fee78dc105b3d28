// Unit tests of kms-bench's phase environment readers (src/cli/kms_bench/phase_env.h): the
// /proc/stat "cpu" line and the audit commit histogram of kmsd's /metrics, good and bad.
#include "src/cli/kms_bench/phase_env.h"

#include <gtest/gtest.h>

namespace kms::bench {
namespace {

TEST(ParseProcStatCpu, SumsTheFirstEightFieldsAndTakesStealFromTheEighth) {
  auto t = ParseProcStatCpu("cpu  100 2 30 400 5 6 7 8 90 10\ncpu0 1 2 3 4 5 6 7 8 9 10\n");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->total, 100u + 2 + 30 + 400 + 5 + 6 + 7 + 8);  // guest (90, 10) is in user
  EXPECT_EQ(t->steal, 8u);
}

TEST(ParseProcStatCpu, RefusesOtherLinesAndShortOnes) {
  EXPECT_FALSE(ParseProcStatCpu("").has_value());
  EXPECT_FALSE(ParseProcStatCpu("cpu0 1 2 3 4 5 6 7 8\n").has_value());
  EXPECT_FALSE(ParseProcStatCpu("cpu  1 2 3 4 5 6 7\n").has_value());  // no steal field
  EXPECT_FALSE(ParseProcStatCpu("cpu  1 2 x 4 5 6 7 8\n").has_value());
  // A short first line must not borrow fields from the line after it.
  EXPECT_FALSE(ParseProcStatCpu("cpu  1 2 3 4 5 6 7\n8 9 10 11\n").has_value());
}

TEST(ReadHostCpuTicks, ReadsThisMachine) {
  const HostCpuTicks t = ReadHostCpuTicks();
  EXPECT_GT(t.total, 0u);
  EXPECT_LE(t.steal, t.total);
}

constexpr const char* kMetrics =
    "# HELP kms_audit_commit_seconds duration of one audit group commit, fsync included\n"
    "kms_audit_commit_seconds_bucket{le=\"0.005\"} 90\n"
    "kms_audit_commit_seconds_bucket{le=\"0.01\"} 97\n"
    "kms_audit_commit_seconds_bucket{le=\"0.025\"} 99\n"
    "kms_audit_commit_seconds_bucket{le=\"+Inf\"} 100\n"
    "kms_audit_commit_seconds_sum 0.25\n"
    "kms_audit_commit_seconds_count 100\n";

TEST(ParseAuditCommits, ReadsTheCountAndThe10msBucket) {
  auto c = ParseAuditCommits(kMetrics);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->total, 100u);
  EXPECT_EQ(c->within_10ms, 97u);
  EXPECT_DOUBLE_EQ(c->seconds, 0.25);
}

TEST(ParseAuditCommits, RefusesMissingOrMalformedLines) {
  EXPECT_FALSE(ParseAuditCommits("").has_value());
  EXPECT_FALSE(ParseAuditCommits("kms_audit_commit_seconds_count 100\n").has_value());
  EXPECT_FALSE(ParseAuditCommits("kms_audit_commit_seconds_bucket{le=\"0.01\"} 9\n"
                                 "kms_audit_commit_seconds_count 1e2\n")
                   .has_value());
  EXPECT_FALSE(ParseAuditCommits("kms_audit_commit_seconds_bucket{le=\"0.01\"} 9\n"
                                 "kms_audit_commit_seconds_count \n")
                   .has_value());
  // A bucket larger than the count is not a histogram kmsd can have written.
  EXPECT_FALSE(ParseAuditCommits("kms_audit_commit_seconds_bucket{le=\"0.01\"} 9\n"
                                 "kms_audit_commit_seconds_sum 0.1\n"
                                 "kms_audit_commit_seconds_count 8\n")
                   .has_value());
  // No sum, or a sum that is not a number.
  EXPECT_FALSE(ParseAuditCommits("kms_audit_commit_seconds_bucket{le=\"0.01\"} 9\n"
                                 "kms_audit_commit_seconds_count 10\n")
                   .has_value());
  EXPECT_FALSE(ParseAuditCommits("kms_audit_commit_seconds_bucket{le=\"0.01\"} 9\n"
                                 "kms_audit_commit_seconds_sum abc\n"
                                 "kms_audit_commit_seconds_count 10\n")
                   .has_value());
}

TEST(ReadAuditCommits, NothingWithoutAnOpsPort) {
  EXPECT_FALSE(ReadAuditCommits(0).has_value());
}

TEST(Between, StealShareAndCommitsOverTenMilliseconds) {
  PhaseEnvSample a{{1000, 10}, AuditCommitCounts{100, 97, 0.25}};
  PhaseEnvSample b{{1400, 30}, AuditCommitCounts{350, 340, 0.75}};
  const PhaseEnv e = Between(a, b);
  EXPECT_DOUBLE_EQ(e.host_steal_pct, 5.0);  // 20 of 400 ticks
  ASSERT_TRUE(e.audit_known);
  EXPECT_EQ(e.audit_commits, 250u);
  EXPECT_EQ(e.audit_commits_over_10ms, 7u);  // 250 commits, 243 within 10 ms
  EXPECT_DOUBLE_EQ(e.audit_commit_mean_ms, 2.0);  // 0.5 s over 250 commits
}

TEST(Between, UnknownWhenAMetricsReadFailedOrCountersWentBack) {
  PhaseEnvSample a{{1000, 10}, std::nullopt};
  PhaseEnvSample b{{1000, 10}, AuditCommitCounts{5, 5, 0.1}};
  PhaseEnv e = Between(a, b);
  EXPECT_FALSE(e.audit_known);
  EXPECT_DOUBLE_EQ(e.host_steal_pct, 0.0);  // no ticks passed
  a.audit = AuditCommitCounts{6, 6, 0.1};        // kmsd restarted: counters fell
  e = Between(a, b);
  EXPECT_FALSE(e.audit_known);
}

}  // namespace
}  // namespace kms::bench
