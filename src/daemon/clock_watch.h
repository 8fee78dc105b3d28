// ClockWatch: notices when the kernel stops considering its clock synchronised (NTP loss)
// and when it is synchronised again, and records each transition in the log and the audit
// trail (evaluator checklist item 19).
//
// Why it matters: the T payload window (RFC 6043 §5.1, ±replay_window_s) and the replay
// cache are only as good as the clock; a clock that drifts or steps without NTP lets old
// messages in or refuses good ones. kmsd does not correct the clock, it makes the loss
// visible: a log line, an audit row (actor "kmsd") and the kms_clock_synchronized gauge.
//
// The state comes from adjtimex(2) with modes 0 (read only): "unsynchronised" when it
// returns TIME_ERROR or STA_UNSYNC is set, which is what chronyd, ntpd and
// systemd-timesyncd maintain (the kernel sets STA_UNSYNC itself once maxerror grows past
// 16 s without an update).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "src/base/clock.h"
#include "src/core/ports/audit_sink.h"

namespace kms::daemon {

struct ClockReading {
  bool ok = false;            // false: adjtimex itself failed (error holds why)
  bool synchronized = false;  // kernel: not TIME_ERROR and STA_UNSYNC clear
  std::string detail;         // "state=... status=0x... maxerror_us=... esterror_us=..."
  std::string error;
};

// ReadKernelClock: one adjtimex(2) call, modes 0 (changes nothing).
ClockReading ReadKernelClock();

class ClockWatch {
 public:
  using Reader = std::function<ClockReading()>;
  ClockWatch(Reader reader, ports::AuditSink& audit, const Clock& clock)
      : reader_(std::move(reader)), audit_(audit), clock_(clock) {}

  // Poll: one reading (a main-loop tick). The first one is logged (event=clock_sync); every
  // change after that, and a first reading that is unsynchronised, is logged as a warning
  // (lost) or info (regained) and audited as clock.unsynchronized / clock.synchronized.
  // An adjtimex failure is logged once and the state becomes unknown.
  void Poll();
  // For /metrics: 1 synchronised, 0 not, -1 unknown (not read yet or adjtimex failed).
  double gauge() const { return state_.load(); }

 private:
  void Audit(bool synchronized, const std::string& detail);

  Reader reader_;
  ports::AuditSink& audit_;
  const Clock& clock_;
  std::optional<bool> last_;
  bool error_logged_ = false;
  std::atomic<double> state_{-1};
};

}  // namespace kms::daemon
