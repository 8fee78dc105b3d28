#include "src/daemon/integrity.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "src/base/encoding.h"
#include "src/crypto/digest.h"

namespace kms::daemon {
namespace {

constexpr size_t kDigestHexLen = 64;
constexpr size_t kMaxDigestFile = 4096;  // one line; anything longer is not a digest file

Status Fail(const std::string& what) { return InternalError("integrity: " + what); }

// ReadExpectedDigest: the first 64 hex digits of digest_path, which must start the file
// and be followed by nothing, white space or a file name (sha256sum output).
Result<crypto::Sha256Digest> ReadExpectedDigest(const std::string& digest_path) {
  std::ifstream in(digest_path, std::ios::binary);
  if (!in) {
    return NotFoundError(digest_path);
  }
  std::string text(kMaxDigestFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxDigestFile) {
    return Fail(digest_path + " is too long for a digest file");
  }
  if (text.size() < kDigestHexLen || (text.size() > kDigestHexLen && text[kDigestHexLen] != ' ' &&
                                      text[kDigestHexLen] != '\t' && text[kDigestHexLen] != '\n')) {
    return Fail(digest_path + " does not start with a SHA-256 in hex");
  }
  Result<std::vector<uint8_t>> bytes = HexDecode(std::string_view(text).substr(0, kDigestHexLen));
  if (!bytes.ok()) {
    return Fail(digest_path + " does not start with a SHA-256 in hex");
  }
  crypto::Sha256Digest d{};
  std::copy(bytes->begin(), bytes->end(), d.begin());
  return d;
}

Result<crypto::Sha256Digest> HashFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Fail("cannot open " + path + ": " + std::strerror(errno));
  }
  KMS_ASSIGN_OR_RETURN(crypto::Sha256Stream sha, crypto::Sha256Stream::Create());
  std::array<uint8_t, 64 * 1024> buf{};
  Status st;
  for (;;) {
    const ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      st = Fail("cannot read " + path + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) {
      break;
    }
    st = sha.Update(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
    if (!st.ok()) {
      break;
    }
  }
  close(fd);
  KMS_RETURN_IF_ERROR(st);
  return sha.Finish();
}

}  // namespace

IntegrityResult VerifyFileDigest(const std::string& path, const std::string& digest_path,
                                 const IntegrityOptions& options) {
  Result<crypto::Sha256Digest> expected = ReadExpectedDigest(digest_path);
  if (!expected.ok()) {
    if (expected.status().code() != StatusCode::kNotFound) {
      return {expected.status(), false};
    }
    if (options.required) {
      return {
          Fail("digest file " + digest_path + " is missing and require_integrity_digest is set"),
          false};
    }
    return {Status::Ok(), false};
  }
  if (options.corrupt_for_test) {
    (*expected)[0] ^= 0x01;
  }
  Result<crypto::Sha256Digest> actual = HashFile(path);
  if (!actual.ok()) {
    return {actual.status(), true};
  }
  if (*actual != *expected) {
    // Both digests are public (not secrets); the actual one lets the operator compare it
    // with the package's published digest.
    return {Fail(path + " has SHA-256 " + HexEncode(*actual) + ", " + digest_path + " says " +
                 HexEncode(*expected)),
            true};
  }
  return {Status::Ok(), true};
}

Result<std::string> OwnDigestPath() {
  std::array<char, 4096> link{};
  const ssize_t n = readlink(kOwnExecutable, link.data(), link.size() - 1);
  if (n <= 0) {
    return Fail(std::string("readlink /proc/self/exe: ") + std::strerror(errno));
  }
  std::string exe(link.data(), static_cast<size_t>(n));
  // A binary replaced or removed while kmsd runs shows as "<path> (deleted)"; the digest
  // file is still looked up next to the original path.
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.size() > kDeleted.size() && exe.ends_with(kDeleted)) {
    exe.resize(exe.size() - kDeleted.size());
  }
  return exe + ".sha256";
}

}  // namespace kms::daemon
