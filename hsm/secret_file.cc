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
  if (st.st_uid != ::geteuid()) {
    return PermissionDeniedError("secret file " + path +
                                 " is not owned by the service user; refused");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
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
