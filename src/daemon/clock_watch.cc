#include "src/daemon/clock_watch.h"

#include <sys/timex.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "src/daemon/log.h"

namespace kms::daemon {

namespace {

const char* StateName(int state) {
  switch (state) {
    case TIME_OK:
      return "TIME_OK";
    case TIME_INS:
      return "TIME_INS";
    case TIME_DEL:
      return "TIME_DEL";
    case TIME_OOP:
      return "TIME_OOP";
    case TIME_WAIT:
      return "TIME_WAIT";
    case TIME_ERROR:
      return "TIME_ERROR";
    default:
      return "unknown";
  }
}

}  // namespace

ClockReading ReadKernelClock() {
  ClockReading r;
  timex tx{};
  tx.modes = 0;  // read only: kmsd never adjusts the clock
  const int state = adjtimex(&tx);
  if (state < 0) {
    r.error = std::string("adjtimex: ") + std::strerror(errno);
    return r;
  }
  r.ok = true;
  r.synchronized = state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
  char buf[160];
  std::snprintf(buf, sizeof buf, "state=%s status=0x%x maxerror_us=%ld esterror_us=%ld",
                StateName(state), static_cast<unsigned>(tx.status), static_cast<long>(tx.maxerror),
                static_cast<long>(tx.esterror));
  r.detail = buf;
  return r;
}

void ClockWatch::Poll() {
  const ClockReading r = reader_();
  if (!r.ok) {
    state_ = -1;
    if (!error_logged_) {
      error_logged_ = true;
      Log("error", "clock_sync_unknown", {{"reason", r.error}});
    }
    return;
  }
  error_logged_ = false;
  state_ = r.synchronized ? 1.0 : 0.0;
  const std::string sync = r.synchronized ? "true" : "false";
  if (!last_) {
    Log(r.synchronized ? "info" : "warning", "clock_sync",
        {{"synchronized", sync}, {"kernel", r.detail}});
    if (!r.synchronized) {
      Audit(false, r.detail);  // an unsynchronised start is an NTP loss too
    }
  } else if (*last_ != r.synchronized) {
    Log(r.synchronized ? "info" : "warning",
        r.synchronized ? "clock_synchronized" : "clock_unsynchronized", {{"kernel", r.detail}});
    Audit(r.synchronized, r.detail);
  }
  last_ = r.synchronized;
}

void ClockWatch::Audit(bool synchronized, const std::string& detail) {
  ports::AuditRecord rec;
  rec.time = clock_.Now();
  rec.actor = "kmsd";
  rec.action = synchronized ? "clock.synchronized" : "clock.unsynchronized";
  rec.outcome = ports::AuditOutcome::kOk;
  rec.rule = "clock.kernel_sync";
  rec.detail = detail;
  // Append waits at most the audit writer's max_wait; a failure is logged, and the next
  // transition is audited as usual (the state itself is on /metrics).
  if (Result<int64_t> row = audit_.Append(rec); !row.ok()) {
    Log("error", "clock_audit_failed",
        {{"action", rec.action}, {"reason", row.status().message()}});
  }
}

}  // namespace kms::daemon
