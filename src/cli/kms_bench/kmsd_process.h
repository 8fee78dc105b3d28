// KmsdProcess: kmsd as a child process of kms-bench, configured like the appliance
// (appliance/lib/provision.sh writes the same TOML), listening on 127.0.0.1 port 0. The
// ports are read from its "event=started https_port=N ops_port=M" log line; readiness from
// the ops listener's /readyz; memory from /proc/<pid>/status.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "src/base/result.h"
#include "src/cli/kms_bench/workdir.h"

namespace kms::bench {

struct KmsdSettings {
  std::string binary;
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string kms_identity = "https://127.0.0.1/kms";
  unsigned threads = 2;    // [server] threads: libmicrohttpd threads (TLS and HTTP only)
  unsigned pool_size = 2;  // token operation sessions
  unsigned credential_cache = 1024;
  int audit_batch_ms = -1;  // -1: leave [audit] batch_interval_ms at kmsd's default
  unsigned workers = 0;     // 0: leave [server] workers at kmsd's default
};

// WriteKmsdConfig: the TOML for `w` (rate limit off, replay window 1 h so pre-generated
// messages stay inside it; everything else at kmsd's defaults).
Status WriteKmsdConfig(const WorkDir& w, const KmsdSettings& s);

class KmsdProcess {
 public:
  KmsdProcess() = default;
  ~KmsdProcess();
  KmsdProcess(const KmsdProcess&) = delete;
  KmsdProcess& operator=(const KmsdProcess&) = delete;

  // Start: spawns kmsd --config, stderr to the log file, then waits (up to `timeout`) for
  // the started line and for /readyz to answer 200. startup_ms() is spawn to that 200.
  Status Start(const WorkDir& w, const KmsdSettings& s, std::chrono::milliseconds timeout);
  // Stop: SIGTERM (kmsd drains and seals the audit tail), waits; SIGKILL after 20 s.
  Status Stop();

  pid_t pid() const { return pid_; }
  uint16_t https_port() const { return https_port_; }
  uint16_t ops_port() const { return ops_port_; }
  double startup_ms() const { return startup_ms_; }
  double started_line_ms() const { return started_line_ms_; }
  // The decision workers kmsd chose (its started line; 0 if the line did not say).
  unsigned decision_workers() const { return decision_workers_; }
  // StatusKiB: a field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); 0 if unreadable.
  uint64_t StatusKiB(const char* field) const;
  // CpuSeconds: user + system CPU time of kmsd so far (/proc/<pid>/stat, clock ticks).
  double CpuSeconds() const;

 private:
  pid_t pid_ = -1;
  uint16_t https_port_ = 0, ops_port_ = 0;
  double startup_ms_ = 0, started_line_ms_ = 0;
  unsigned decision_workers_ = 0;
};

}  // namespace kms::bench
