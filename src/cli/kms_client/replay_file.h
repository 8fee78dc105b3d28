// The responder's replay cache (client::ReplayCache) kept in a file, so that the one-shot
// `resolve` and `respond` commands, each its own process, share it across runs (spec §7.4,
// §9.1: an authenticated TRANSFER_INIT is accepted once within the clock-skew window).
// The file holds only each entry's TRANSFER_INIT V MAC (sent in clear) and its expiry;
// never key bytes. It is treated like a credential file: a regular file owned by the user
// with no group/other permission bits.
#pragma once

#include <memory>
#include <string>

#include "src/base/ntp_time.h"
#include "src/base/result.h"
#include "src/client/replay_cache.h"

namespace kms::cli {

// ReplayCacheFile: an open replay cache file, with an exclusive flock on `<path>.lock` held
// for the object's lifetime so that concurrent kms-client runs read, update and write it
// one at a time (no lost entries).
class ReplayCacheFile {
 public:
  // Open: takes the lock (blocks while another run holds it), opens `path`, creating an
  // empty file with mode 0600 if there is none, and loads its entries; those expired at
  // `now` are dropped. Errors: kPermissionDenied when the file or its lock file is not a
  // regular file owned by the user with no group/other permission bits, or is a symbolic
  // link; kNotFound when it cannot be created, locked or read; kDecodeError when its
  // content is not a replay cache written by Save (named in the message, never quoted).
  static Result<std::unique_ptr<ReplayCacheFile>> Open(const std::string& path, UnixTime now);
  ~ReplayCacheFile();
  ReplayCacheFile(const ReplayCacheFile&) = delete;
  ReplayCacheFile& operator=(const ReplayCacheFile&) = delete;

  client::ReplayCache& cache() { return cache_; }

  // Save: writes the entries live at `now` to a new file (mode 0600) in the same directory,
  // fsyncs it, renames it over the path and fsyncs the directory: a crash leaves either the
  // old or the new content, never a torn file. kNotFound on any I/O failure.
  Status Save(UnixTime now);

 private:
  ReplayCacheFile(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::string path_;
  int lock_fd_;
  client::ReplayCache cache_;
};

// ReplayCacheText / ParseReplayCacheText: the file format, JSON:
// {"format": "kms-client replay cache v1", "entries": [{"mac": "<hex>", "expires": <Unix
// seconds>}...]}. Parse errors are kDecodeError.
std::string ReplayCacheText(const client::ReplayCache& c, UnixTime now);
Status ParseReplayCacheText(std::string_view text, UnixTime now, client::ReplayCache& out);

}  // namespace kms::cli
