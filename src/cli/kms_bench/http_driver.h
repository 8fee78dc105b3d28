// HttpDriver: sends pre-built MIKEY messages to kmsd over HTTPS keep-alive connections (a
// libcurl multi handle on one thread, holding exactly `connections` TLS connections open)
// and records each request's latency.
//
// Closed loop (rate 0): every connection sends its next message as soon as the previous
// answer arrived: the maximum throughput for that many connections.
// Open loop (rate > 0): message j is due at t0 + j/rate whatever happened before; latency
// is measured from the due time, so time spent waiting for a free connection counts
// (no coordinated omission).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/cli/kms_bench/messages.h"
#include "src/cli/kms_bench/phase_env.h"

namespace kms::bench {

struct DriveOptions {
  std::string url;      // https://127.0.0.1:<port>/kms
  std::string ca_file;  // the run's self-signed certificate (verified, like a real UE)
  unsigned connections = 4;
  double rate_per_s = 0;  // 0: closed loop
  // trace_file: if set, one line per timed message, "<slot> <due ms> <latency ms>" (a slot is
  // one of the `connections` exchanges that can be in flight at once),
  // after a first line "t0 <CLOCK_MONOTONIC seconds>", so stalls can be lined up with a
  // `perf record -k CLOCK_MONOTONIC` of kmsd (docs/performance.md).
  std::string trace_file;
};

struct DriveResult {
  double seconds = 0;              // timed part only
  uint64_t timed = 0;              // messages in the timed part
  std::vector<double> latency_us;  // timed messages
  uint64_t ok = 0;                 // 200 with a MIKEY response that is not an Error
  uint64_t mikey_errors = 0;       // 200 with a MIKEY Error message
  uint64_t http_errors = 0;        // another HTTP status
  uint64_t transport_errors = 0;   // connection, TLS or timeout failures
  uint64_t verify_failures = 0;    // 200 and not an Error, but the UE library rejects it
  uint64_t connects = 0;           // TCP connections opened (== connections if kept alive)
  std::vector<Wire> responses;     // responses[i] answers bodies[i] (empty on failure)
  double server_cpu_s = 0;         // kmsd's user+system CPU over the phase (set by the caller)
  PhaseEnv env;                    // steal and slow audit commits over the phase (caller)
  uint64_t errors() const {
    return mikey_errors + http_errors + transport_errors + verify_failures;
  }
};

// Drive: sends every body once. The first `connections` bodies are a warm-up (one per
// connection: TLS handshake and first request), answered and checked but not timed.
DriveResult Drive(const DriveOptions& options, const std::vector<Wire>& bodies);

}  // namespace kms::bench
