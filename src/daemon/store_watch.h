// StoreWatch and FailClosedAuditSink: kmsd notices when its audit database file is deleted,
// renamed away or replaced while it runs (evaluator checklist item 23), and from then on
// refuses every request that needs an audit row until the operator restarts it.
//
// Why: SQLite keeps writing through the file descriptors it opened at start-up. After
// `mv policy.db elsewhere`, `rm policy.db` or a file copied over the path, kmsd would go on
// committing audit rows into a file no operator or `kmsctl audit verify` looks at, while
// the trail at the configured path silently stops (or is someone else's). Comparing the
// path's device and inode with the ones seen at start-up catches each case; the check is
// one stat(2) per main-loop tick (1 s).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "src/base/result.h"
#include "src/core/ports/audit_sink.h"

namespace kms::daemon {

class StoreWatch {
 public:
  // Open: remembers the device and inode `path` names now. Call right after the database
  // connections are open. kFailedPrecondition when the path cannot be stat'ed.
  static Result<StoreWatch> Open(const std::string& path);
  // Changed: why the path no longer names the file opened at start-up ("deleted or moved
  // away (ENOENT)", "replaced: inode A -> B", "stat: <errno text>"), or nothing.
  std::optional<std::string> Changed() const;
  const std::string& path() const { return path_; }

 private:
  StoreWatch(std::string path, dev_t dev, ino_t ino)
      : path_(std::move(path)), dev_(dev), ino_(ino) {}
  std::string path_;
  dev_t dev_;
  ino_t ino_;
};

// FailClosedAuditSink: forwards to the real sink until Trip(); from then on every append
// fails with kUnavailable (the request gets HTTP 503, docs/api.md) and Healthy() is false
// (/readyz 503). There is no way back short of a restart: rows written after the swap are in
// a file outside the trail, so only the operator can decide which file is the trail.
class FailClosedAuditSink final : public ports::AuditSink {
 public:
  explicit FailClosedAuditSink(ports::AuditSink& inner) : inner_(inner) {}

  Result<int64_t> Append(const ports::AuditRecord& record) override;
  void AppendAsync(const ports::AuditRecord& record, Done done) override;
  void BeginDecision() override { inner_.BeginDecision(); }
  void EndDecision() override { inner_.EndDecision(); }
  bool Healthy() const override { return !tripped_.load() && inner_.Healthy(); }

  // Trip: fail closed from now on; the first reason is kept. Returns true on the first call.
  bool Trip(const std::string& reason);
  bool tripped() const { return tripped_.load(); }
  std::string reason() const;

 private:
  ports::AuditSink& inner_;
  std::atomic<bool> tripped_{false};
  mutable std::mutex mu_;
  std::string reason_;
};

// CheckAuditStore: one main-loop tick's check. On the first change it trips `sink` and logs
// `level=error event=audit_store_replaced path=... reason=...` (once per process).
void CheckAuditStore(const StoreWatch& watch, FailClosedAuditSink& sink);

}  // namespace kms::daemon
