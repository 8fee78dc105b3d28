// PhaseEnv: what happened around kmsd while one timed phase ran, so a slow phase can be told
// apart from a slow KMS (docs/performance-2.80ghz.md, "Where the half-load stalls come from"):
// - the hypervisor's steal time over the whole machine (/proc/stat), and
// - kmsd's own audit group commits that took longer than 10 ms (the p99 target), read from
//   the kms_audit_commit_seconds histogram on kmsd's /metrics before and after the phase.
// A commit over 10 ms is a disk flush that held every reply waiting for it (by design, a
// reply leaves only after its audit row is durable).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kms::bench {

// HostCpuTicks: the machine-wide "cpu" line of /proc/stat: all ticks and steal ticks.
struct HostCpuTicks {
  uint64_t total = 0;
  uint64_t steal = 0;
};
std::optional<HostCpuTicks> ParseProcStatCpu(std::string_view proc_stat);
HostCpuTicks ReadHostCpuTicks();  // zeros if /proc/stat is unreadable

// AuditCommitCounts: cumulative counts of kmsd's kms_audit_commit_seconds histogram.
struct AuditCommitCounts {
  uint64_t total = 0;        // kms_audit_commit_seconds_count
  uint64_t within_10ms = 0;  // the le="0.01" bucket
  double seconds = 0;        // kms_audit_commit_seconds_sum
};
// ParseAuditCommits: the three figures from a Prometheus text exposition; nullopt when any
// line is missing or malformed.
std::optional<AuditCommitCounts> ParseAuditCommits(std::string_view metrics_text);
// ReadAuditCommits: GET http://127.0.0.1:<ops_port>/metrics (1 s timeout); nullopt on failure.
std::optional<AuditCommitCounts> ReadAuditCommits(uint16_t ops_port);

struct PhaseEnvSample {
  HostCpuTicks cpu;
  std::optional<AuditCommitCounts> audit;
};
PhaseEnvSample SamplePhaseEnv(uint16_t ops_port);

// PhaseEnv: the difference between two samples.
struct PhaseEnv {
  double host_steal_pct = 0;          // steal ticks / all ticks, whole machine, in percent
  bool audit_known = false;           // both /metrics reads succeeded
  uint64_t audit_commits = 0;         // group commits during the phase
  uint64_t audit_commits_over_10ms = 0;
  double audit_commit_mean_ms = 0;    // mean group commit, BEGIN to durable COMMIT
};
PhaseEnv Between(const PhaseEnvSample& before, const PhaseEnvSample& after);

}  // namespace kms::bench
