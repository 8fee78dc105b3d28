#include "hsm/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace kms::hsm {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool SameInode(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// InCredentialsDirectory: the opened file (file_st) is the entry `path` names in the
// directory $CREDENTIALS_DIRECTORY names. Both directories are compared by device and inode
// (so "/run/credentials/kmsd.service-evil" or a path through a symlinked parent are judged by
// what they are, not how they are spelled), and the entry is looked up again in that
// directory without following links and compared with the opened file, so a rename between
// open() and this check cannot make another file pass.
bool InCredentialsDirectory(const std::string& path, const struct stat& file_st) {
  const char* env = std::getenv("CREDENTIALS_DIRECTORY");
  if (env == nullptr || *env == '\0') {
    return false;
  }
  Fd dir(::open(env, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat dir_st {};
  if (dir.get() < 0 || ::fstat(dir.get(), &dir_st) != 0) {
    return false;
  }
  const size_t slash = path.rfind('/');
  const std::string parent =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  struct stat parent_st {};
  if (name.empty() || ::stat(parent.c_str(), &parent_st) != 0 || !SameInode(parent_st, dir_st)) {
    return false;
  }
  struct stat entry_st {};
  return ::fstatat(dir.get(), name.c_str(), &entry_st, AT_SYMLINK_NOFOLLOW) == 0 &&
         SameInode(entry_st, file_st);
}

// SystemdCredentialMode: the owner and mode rule of the exception in secret_file.h. With a
// POSIX.1e ACL the group bits of st_mode are the ACL mask, the most any named user or group
// entry grants (acl(7)): group read is what systemd's ACL for the service user needs, group
// write or any permission for others is never accepted.
bool SystemdCredentialMode(const struct stat& st) {
  const bool root_owned = st.st_uid == 0;
  if (!root_owned && st.st_uid != ::geteuid()) {
    return false;
  }
  if ((st.st_mode & S_IRWXO) != 0 || (st.st_mode & (S_IWGRP | S_IXGRP)) != 0) {
    return false;
  }
  return root_owned || (st.st_mode & S_IWUSR) == 0;
}

}  // namespace

Result<SecretBytes> ReadSecretFile(const std::string& path, size_t max_bytes,
                                   bool trim_newline) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (fd.get() < 0) {
    int err = errno;
    if (err == ENOENT) {
      return NotFoundError("secret file " + path + " does not exist");
    }
    if (err == ELOOP) {
      return PermissionDeniedError("secret file " + path + " is a symbolic link");
    }
    return PermissionDeniedError("secret file " + path + " cannot be opened");
  }
  // Checks on the opened file (fstat), so the file checked is the file read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return InternalError("secret file " + path + ": fstat failed");
  }
  if (!S_ISREG(st.st_mode)) {
    return PermissionDeniedError("secret file " + path + " is not a regular file");
  }
  const bool owner_ok = st.st_uid == ::geteuid();
  const bool mode_ok = (st.st_mode & (S_IRWXG | S_IRWXO)) == 0;
  // Only a file failing the owner-only rule looks at the systemd credential exception
  // (secret_file.h); its refusals keep the owner-only rule's messages.
  if ((!owner_ok || !mode_ok) && !(SystemdCredentialMode(st) && InCredentialsDirectory(path, st))) {
    if (!owner_ok) {
      return PermissionDeniedError("secret file " + path +
                                   " is not owned by the service user; refused");
    }
    return PermissionDeniedError("secret file " + path +
                                 " is accessible by group or others; refused (chmod 0400)");
  }
  if (st.st_size <= 0 || static_cast<uint64_t>(st.st_size) > max_bytes) {
    return InvalidArgumentError("secret file " + path + " is empty or too large");
  }
  SecretBytes buf(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.RevealMutable().data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return InternalError("secret file " + path + ": short read");
    }
    got += static_cast<size_t>(n);
  }
  if (trim_newline) {
    std::span<const uint8_t> b = buf.Reveal();
    size_t n = b.size();
    if (n > 0 && b[n - 1] == '\n') {
      --n;
      if (n > 0 && b[n - 1] == '\r') {
        --n;
      }
    }
    buf.Truncate(n);
  }
  if (buf.empty()) {
    return InvalidArgumentError("secret file " + path + " is empty");
  }
  return buf;
}

Result<SecretBytes> ReadSystemdCredential(const std::string& name, size_t max_bytes,
                                          bool trim_newline) {
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (dir == nullptr || *dir == '\0') {
    return FailedPreconditionError("CREDENTIALS_DIRECTORY is not set (systemd LoadCredential=)");
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return InvalidArgumentError("credential name must be a plain file name");
  }
  return ReadSecretFile(std::string(dir) + "/" + name, max_bytes, trim_newline);
}

Result<SecretBytes> PinSource::Read() const {
  if (kind == Kind::kSystemdCredential) {
    return ReadSystemdCredential(location, kMaxPinBytes, /*trim_newline=*/true);
  }
  return ReadSecretFile(location, kMaxPinBytes, /*trim_newline=*/true);
}

}  // namespace kms::hsm
