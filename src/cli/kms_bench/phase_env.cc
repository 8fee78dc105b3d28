#include "src/cli/kms_bench/phase_env.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

#include "src/cli/kms_bench/http_get.h"

namespace kms::bench {
namespace {

// ValueAfter: the number that ends the exposition line starting with `prefix` (a metric
// name with its labels, then one space), e.g. `name_count 42`; T is uint64_t or double.
template <typename T>
std::optional<T> ValueAfter(std::string_view text, std::string_view prefix) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.substr(0, prefix.size()) != prefix) continue;
    std::string_view value = line.substr(prefix.size());
    T v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
      return std::nullopt;
    }
    return v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<HostCpuTicks> ParseProcStatCpu(std::string_view proc_stat) {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (proc(5));
  // guest time is already counted in user, so it is left out of the total.
  const std::string_view line = proc_stat.substr(0, proc_stat.find('\n'));  // first line only
  if (line.substr(0, 4) != "cpu ") return std::nullopt;
  std::istringstream in{std::string(line.substr(4))};
  uint64_t field[8] = {};
  for (uint64_t& f : field) {
    if (!(in >> f)) return std::nullopt;
  }
  HostCpuTicks t;
  for (uint64_t f : field) t.total += f;
  t.steal = field[7];
  return t;
}

HostCpuTicks ReadHostCpuTicks() {
  std::ifstream in("/proc/stat");
  std::string line;
  std::getline(in, line);
  return ParseProcStatCpu(line).value_or(HostCpuTicks{});
}

std::optional<AuditCommitCounts> ParseAuditCommits(std::string_view metrics_text) {
  auto total = ValueAfter<uint64_t>(metrics_text, "kms_audit_commit_seconds_count ");
  auto within = ValueAfter<uint64_t>(metrics_text, "kms_audit_commit_seconds_bucket{le=\"0.01\"} ");
  auto seconds = ValueAfter<double>(metrics_text, "kms_audit_commit_seconds_sum ");
  if (!total || !within || !seconds || *within > *total || !(*seconds >= 0)) return std::nullopt;
  return AuditCommitCounts{*total, *within, *seconds};
}

std::optional<AuditCommitCounts> ReadAuditCommits(uint16_t ops_port) {
  if (ops_port == 0) return std::nullopt;
  std::string body;
  if (HttpGet("http://127.0.0.1:" + std::to_string(ops_port) + "/metrics", &body) != 200) {
    return std::nullopt;
  }
  return ParseAuditCommits(body);
}

PhaseEnvSample SamplePhaseEnv(uint16_t ops_port) {
  return {ReadHostCpuTicks(), ReadAuditCommits(ops_port)};
}

PhaseEnv Between(const PhaseEnvSample& before, const PhaseEnvSample& after) {
  PhaseEnv e;
  if (after.cpu.total > before.cpu.total && after.cpu.steal >= before.cpu.steal) {
    e.host_steal_pct = 100.0 * static_cast<double>(after.cpu.steal - before.cpu.steal) /
                       static_cast<double>(after.cpu.total - before.cpu.total);
  }
  if (before.audit && after.audit && after.audit->total >= before.audit->total &&
      after.audit->within_10ms >= before.audit->within_10ms) {
    e.audit_known = true;
    e.audit_commits = after.audit->total - before.audit->total;
    const uint64_t within = after.audit->within_10ms - before.audit->within_10ms;
    e.audit_commits_over_10ms = e.audit_commits - std::min(e.audit_commits, within);
    if (e.audit_commits > 0 && after.audit->seconds >= before.audit->seconds) {
      e.audit_commit_mean_ms = 1000 * (after.audit->seconds - before.audit->seconds) /
                               static_cast<double>(e.audit_commits);
    }
  }
  return e;
}

}  // namespace kms::bench
