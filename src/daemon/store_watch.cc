#include "src/daemon/store_watch.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "src/daemon/log.h"

namespace kms::daemon {

Result<StoreWatch> StoreWatch::Open(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return FailedPreconditionError("cannot stat the database " + path + ": " +
                                   std::strerror(errno));
  }
  return StoreWatch(path, st.st_dev, st.st_ino);
}

std::optional<std::string> StoreWatch::Changed() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return std::string("deleted or moved away (ENOENT)");
    }
    // EACCES and the like: the path can no longer be checked, so it cannot be trusted.
    return std::string("stat: ") + std::strerror(err);
  }
  if (st.st_dev != dev_ || st.st_ino != ino_) {
    return "replaced: device " + std::to_string(dev_) + " inode " + std::to_string(ino_) +
           " -> device " + std::to_string(st.st_dev) + " inode " + std::to_string(st.st_ino);
  }
  return std::nullopt;
}

Result<int64_t> FailClosedAuditSink::Append(const ports::AuditRecord& record) {
  if (tripped_.load()) {
    return UnavailableError("audit store replaced: " + reason());
  }
  return inner_.Append(record);
}

void FailClosedAuditSink::AppendAsync(const ports::AuditRecord& record, Done done) {
  if (tripped_.load()) {
    done(UnavailableError("audit store replaced: " + reason()));
    return;
  }
  inner_.AppendAsync(record, std::move(done));
}

bool FailClosedAuditSink::Trip(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tripped_.load()) {
    return false;
  }
  reason_ = reason;
  tripped_ = true;
  return true;
}

std::string FailClosedAuditSink::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

void CheckAuditStore(const StoreWatch& watch, FailClosedAuditSink& sink) {
  if (sink.tripped()) {
    return;
  }
  if (std::optional<std::string> why = watch.Changed(); why && sink.Trip(*why)) {
    Log("error", "audit_store_replaced",
        {{"path", watch.path()},
         {"reason", *why},
         {"action", "refusing requests until restarted (docs/operations.md \"Audit trail\")"}});
  }
}

}  // namespace kms::daemon
