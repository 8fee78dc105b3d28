#include "src/cli/kms_bench/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <iomanip>
#include <iostream>

namespace kms::bench {
namespace {

std::string FirstValue(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t b = line.find_first_not_of(" \t", colon + 1);
        return b == std::string::npos ? "" : line.substr(b);
      }
    }
  }
  return "";
}

// LoadAverage1m: the first field of /proc/loadavg: how busy the shared machine was.
double LoadAverage1m() {
  std::ifstream in("/proc/loadavg");
  double v = 0;
  in >> v;
  return v;
}

}  // namespace

nlohmann::json MachineJson() {
  utsname u{};
  uname(&u);
  return {{"cpu", FirstValue("/proc/cpuinfo", "model name")},
          {"online_cpus", sysconf(_SC_NPROCESSORS_ONLN)},
          {"memory", FirstValue("/proc/meminfo", "MemTotal")},
          {"kernel", std::string(u.sysname) + " " + u.release},
          {"load_average_1m", LoadAverage1m()}};
}

double Rate(const DriveResult& r) {
  return r.seconds > 0 ? static_cast<double>(r.timed) / r.seconds : 0;
}

nlohmann::json PhaseJson(const DriveResult& r) {
  return {{"messages", r.timed},
          {"seconds", r.seconds},
          {"per_s", Rate(r)},
          {"latency", ToJson(Summarize(r.latency_us))},
          {"ok", r.ok},
          {"mikey_errors", r.mikey_errors},
          {"http_errors", r.http_errors},
          {"transport_errors", r.transport_errors},
          {"verify_failures", r.verify_failures},
          {"connections_opened", r.connects},
          {"kmsd_cpu_s", r.server_cpu_s},
          {"host_steal_pct", r.env.host_steal_pct},
          {"audit_commits", r.env.audit_known ? nlohmann::json(r.env.audit_commits) : nullptr},
          {"audit_commits_over_10ms",
           r.env.audit_known ? nlohmann::json(r.env.audit_commits_over_10ms) : nullptr},
          {"audit_commit_mean_ms",
           r.env.audit_known ? nlohmann::json(r.env.audit_commit_mean_ms) : nullptr}};
}

void PrintPhase(const std::string& label, const DriveResult& r) {
  const LatencySummary s = Summarize(r.latency_us);
  std::cout << std::fixed << std::setprecision(2) << "  " << label << ": " << r.timed << " in "
            << r.seconds << " s = " << std::setprecision(0) << Rate(r) << "/s; latency ms p50 "
            << std::setprecision(2) << s.p50_ms << " p90 " << s.p90_ms << " p99 " << s.p99_ms
            << " max " << s.max_ms << "; errors: mikey " << r.mikey_errors << " http "
            << r.http_errors << " transport " << r.transport_errors << " verify "
            << r.verify_failures << "; connections opened " << r.connects << "\n";
  // What the machine did meanwhile: a phase with steal or slow disk flushes is a slow host,
  // not a slow KMS (phase_env.h).
  std::cout << "    host steal " << std::setprecision(1) << r.env.host_steal_pct << "%";
  if (r.env.audit_known) {
    std::cout << "; audit commits " << r.env.audit_commits << ", over 10 ms "
              << r.env.audit_commits_over_10ms << ", mean " << std::setprecision(2)
              << r.env.audit_commit_mean_ms << " ms";
  }
  std::cout << "\n";
}

void PrintCeiling(const CeilingResult& c) {
  std::cout << std::fixed << std::setprecision(0) << "  ceiling: " << c.threads
            << " thread(s) replayed " << c.pairs << " pairs in " << std::setprecision(2)
            << c.seconds << " s = " << std::setprecision(0) << c.pairs_per_s << " pairs/s ("
            << c.hmac_per_s << " HMAC/s); token failures " << c.failures << "\n";
}

nlohmann::json OpenLoopJson(const OpenLoopLeg& leg) {
  return {{"rate_per_s", leg.rate_per_s},
          {"latency", ToJson(Summarize(leg.latency_us))},
          {"token_failures", leg.failures}};
}

void PrintOpenLoop(const std::string& label, const OpenLoopLeg& leg) {
  const LatencySummary s = Summarize(leg.latency_us);
  std::cout << std::fixed << std::setprecision(0) << "  token alone, " << label << " @ "
            << leg.rate_per_s << "/s (" << s.count << " legs): latency ms p50 "
            << std::setprecision(2) << s.p50_ms << " p90 " << s.p90_ms << " p99 " << s.p99_ms
            << " max " << s.max_ms << "; token failures " << leg.failures << "\n";
}

namespace {
bool TargetMet(const LatencySummary& s) { return s.count > 0 && s.p99_ms < kHalfLoadTargetP99Ms; }
}  // namespace

bool HalfLoadTargetMet(const DriveResult& r) { return TargetMet(Summarize(r.latency_us)); }

void PrintHalfLoadVerdict(const std::string& label, const DriveResult& r, const OpenLoopLeg& token) {
  const LatencySummary s = Summarize(r.latency_us);
  const bool met = TargetMet(s);
  std::cout << std::fixed << std::setprecision(0) << "  target p99 < " << kHalfLoadTargetP99Ms
            << " ms, " << label << ": " << (met ? "met" : "MISSED") << " (p99 "
            << std::setprecision(2) << s.p99_ms << " ms";
  if (!met) {
    std::cout << "; this phase: host steal " << std::setprecision(1) << r.env.host_steal_pct
              << "%";
    if (r.env.audit_known) {
      std::cout << ", audit commits over 10 ms " << r.env.audit_commits_over_10ms;
    }
    std::cout << ", token alone p99 " << std::setprecision(2) << Summarize(token.latency_us).p99_ms
              << " ms";
  }
  std::cout << ")\n";
}

void PrintTrace(const TokenTrace& t) {
  auto line = [](const char* what, const nlohmann::json& d) {
    std::cout << "  " << what << ": " << d["hmac"] << " HMAC (" << d["hmac_psk"]
              << " under the user PSK, " << d["hmac_tpk"] << " under the TPK; " << d["hmac_sha1"]
              << " SHA-1), " << d["random_calls"] << " C_GenerateRandom (" << d["random_bytes"]
              << " bytes), " << d["credential_lookups"] << " credential lookup(s)\n";
  };
  std::cout << "token calls recorded through the core (warm credential cache):\n";
  line("request", Describe(t.request));
  line("resolve", Describe(t.resolve));
  std::cout << "  cold pair: " << t.unwraps_cold << " C_UnwrapKey (credential cache misses)\n";
}

}  // namespace kms::bench
