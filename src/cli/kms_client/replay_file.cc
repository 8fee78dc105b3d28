#include "src/cli/kms_client/replay_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "src/base/encoding.h"
#include "src/cli/kms_client/inputs.h"

namespace kms::cli {
namespace {

constexpr std::string_view kFormat = "kms-client replay cache v1";
// 4096 entries (ReplayCache's default bound) of at most ~170 bytes each fit well below this.
constexpr off_t kMaxFileBytes = 1 << 20;
// Expiry seconds beyond this would overflow UnixTime's nanoseconds: not a file we wrote.
constexpr int64_t kMaxExpirySeconds = int64_t{1} << 33;

std::string Errno() { return std::strerror(errno); }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int Release() { return std::exchange(fd, -1); }
};

// OpenPrivate: opens (creating with mode 0600) a file that must be a regular file owned by
// this user with no group/other bits, never through a symbolic link: the same rules as a
// PSK file (inputs.cc), plus ownership, since this file is also written.
Result<int> OpenPrivate(const std::string& path, int flags, const std::string& named) {
  Fd f{
      ::open(path.c_str(), flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600)};
  if (f.fd < 0 && errno == ELOOP) {
    return PermissionDeniedError(named + " is a symbolic link");
  }
  if (f.fd < 0) {
    return NotFoundError("cannot open or create " + named + ": " + Errno());
  }
  KMS_RETURN_IF_ERROR(CheckPrivateFile(f.fd, named, /*must_own=*/true).status());
  return f.Release();
}

Result<std::string> ReadFd(int fd, const std::string& named) {
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return NotFoundError("cannot read " + named + ": " + Errno());
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > static_cast<size_t>(kMaxFileBytes)) {
      return DecodeError(named + " is larger than " + std::to_string(kMaxFileBytes) +
                         " bytes: not a kms-client replay cache");
    }
  }
}

bool WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Status NotReplayCache(const std::string& why) {
  // Never repaired or emptied here: that would forget the TRANSFER_INITs it recorded.
  return DecodeError("not a kms-client replay cache (" + why +
                     "); removing it forgets the TRANSFER_INITs accepted within the clock "
                     "skew window");
}

}  // namespace

std::string ReplayCacheText(const client::ReplayCache& c, UnixTime now) {
  nlohmann::json entries = nlohmann::json::array();
  for (const client::ReplayEntry& e : c.Export(now)) {
    // Rounded up: the entry must not expire earlier than in memory.
    const int64_t expires =
        std::chrono::ceil<std::chrono::seconds>(e.expiry.time_since_epoch()).count();
    entries.push_back({{"mac", HexEncode(e.mac)}, {"expires", expires}});
  }
  return nlohmann::json{{"format", kFormat}, {"entries", entries}}.dump(1) + "\n";
}

Status ParseReplayCacheText(std::string_view text, UnixTime now, client::ReplayCache& out) {
  if (text.empty()) {
    return Status::Ok();  // just created by ReplayCacheFile::Open
  }
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return NotReplayCache("not a JSON object");
  const auto format = j.find("format");
  const auto list = j.find("entries");
  if (j.size() != 2 || format == j.end() || list == j.end() || !format->is_string() ||
      format->get<std::string>() != kFormat || !list->is_array()) {
    return NotReplayCache("expected exactly \"format\": \"" + std::string(kFormat) +
                          "\" and an \"entries\" array");
  }
  std::vector<client::ReplayEntry> entries;
  for (const nlohmann::json& e : *list) {
    const std::string at = "entry " + std::to_string(entries.size() + 1);
    if (!e.is_object() || e.size() != 2) return NotReplayCache(at + " is not {mac, expires}");
    const auto mac = e.find("mac");
    const auto expires = e.find("expires");
    if (mac == e.end() || expires == e.end() || !mac->is_string() ||
        !expires->is_number_integer()) {
      return NotReplayCache(at + " is not {mac, expires}");
    }
    auto bytes = HexDecode(mac->get<std::string>());
    const int64_t secs = expires->get<int64_t>();
    if (!bytes.ok()) return NotReplayCache(at + ": mac is not hex");
    if (secs <= 0 || secs > kMaxExpirySeconds) return NotReplayCache(at + ": bad expiry");
    entries.push_back({std::move(bytes).value(), UnixTime(std::chrono::seconds(secs))});
  }
  if (Status s = out.Import(entries, now); !s.ok()) return NotReplayCache(s.message());
  return Status::Ok();
}

Result<std::unique_ptr<ReplayCacheFile>> ReplayCacheFile::Open(const std::string& path,
                                                               UnixTime now) {
  const std::string named = "replay cache " + path;
  // The lock lives in its own file: Save replaces the cache file by rename, and a lock on
  // the replaced inode would no longer exclude anyone.
  KMS_ASSIGN_OR_RETURN(const int lock_fd, OpenPrivate(path + ".lock", O_RDWR, named + ".lock"));
  std::unique_ptr<ReplayCacheFile> f(new ReplayCacheFile(path, lock_fd));
  while (::flock(lock_fd, LOCK_EX) != 0) {
    if (errno != EINTR) return NotFoundError("cannot lock " + named + ".lock: " + Errno());
  }
  KMS_ASSIGN_OR_RETURN(const int fd, OpenPrivate(path, O_RDONLY, named));
  Fd data{fd};
  KMS_ASSIGN_OR_RETURN(const std::string text, ReadFd(data.fd, named));
  if (Status s = ParseReplayCacheText(text, now, f->cache_); !s.ok()) {
    return DecodeError(named + " is " + s.message());
  }
  return f;
}

ReplayCacheFile::~ReplayCacheFile() { ::close(lock_fd_); }  // releases the flock

Status ReplayCacheFile::Save(UnixTime now) {
  const std::string text = ReplayCacheText(cache_, now);
  // The temporary file sits in the same directory, so the rename is atomic (same file
  // system); mkostemp creates it with mode 0600 and O_EXCL.
  std::vector<char> tmp(path_.begin(), path_.end());
  const std::string_view suffix = ".XXXXXX";
  tmp.insert(tmp.end(), suffix.begin(), suffix.end());
  tmp.push_back('\0');
  Fd f{::mkostemp(tmp.data(), O_CLOEXEC)};
  if (f.fd < 0) {
    return NotFoundError("cannot create a temporary file next to replay cache " + path_ + ": " +
                         Errno());
  }
  const bool written = WriteAll(f.fd, text) && ::fsync(f.fd) == 0;
  const bool closed = ::close(f.Release()) == 0;
  if (!written || !closed || ::rename(tmp.data(), path_.c_str()) != 0) {
    const std::string why = Errno();
    ::unlink(tmp.data());
    return NotFoundError("cannot write replay cache " + path_ + ": " + why);
  }
  // The rename is durable only once the directory entry is on disk.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0 || ::fsync(d.fd) != 0) {
    return NotFoundError("cannot sync the directory of replay cache " + path_ + ": " + Errno());
  }
  return Status::Ok();
}

}  // namespace kms::cli
