#include "src/cli/kms_client/inputs.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <span>
#include <string_view>

#include "src/base/encoding.h"
#include "src/client/sdp.h"

namespace kms::cli {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool AllHex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

constexpr size_t kMaxInput = 1 << 20;
// A key file holds a few dozen hex digits: 4 KiB leaves room for any key and whitespace.
constexpr off_t kMaxKeyFile = 4096;
// 128 bits: the shortest inkey the PRF is used with (spec §5.1, RFC 3830 §4.1.2).
constexpr size_t kMinKeyBytes = 16;

}  // namespace

Result<std::vector<uint8_t>> ReadAll(const std::string& path) {
  std::vector<uint8_t> out;
  if (path.empty() || path == "-") {
    std::istreambuf_iterator<char> it(std::cin), end;
    for (; it != end && out.size() <= kMaxInput; ++it) out.push_back(static_cast<uint8_t>(*it));
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return NotFoundError("cannot open " + path);
    }
    std::istreambuf_iterator<char> it(in), end;
    for (; it != end && out.size() <= kMaxInput; ++it) out.push_back(static_cast<uint8_t>(*it));
  }
  if (out.size() > kMaxInput) {
    return DecodeError("input larger than 1 MiB");
  }
  return out;
}

Result<std::vector<uint8_t>> ParseMikeyInput(const std::vector<uint8_t>& raw) {
  if (raw.empty()) {
    return DecodeError("empty input");
  }
  if (raw[0] == kms::mikey::kMikeyVersion) {
    return raw;  // binary MIKEY message
  }
  const std::string_view text =
      Trim(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  if (text.empty()) {
    return DecodeError("empty input");
  }
  if (text.find("key-mgmt:") != std::string_view::npos) {
    if (text.starts_with("a=key-mgmt:") || text.starts_with("key-mgmt:")) {
      if (text.find('\n') == std::string_view::npos) {
        auto km = client::ParseKeyMgmtAttribute(text);
        if (!km.ok()) return DecodeError("bad key-mgmt line: " + km.status().message());
        if (km->protocol_id != client::kMikeyProtocolId) {
          return DecodeError("key-mgmt protocol is not mikey");
        }
        return std::move(km->data);
      }
    }
    auto sdp = client::ParseSdpKeyMgmt(text);
    if (!sdp.ok()) return DecodeError("bad SDP: " + sdp.status().message());
    auto m = client::MikeyForMedia(*sdp, 0);
    if (!m.ok()) return DecodeError("SDP has no a=key-mgmt:mikey attribute");
    return std::move(m).value();
  }
  if (AllHex(text)) {
    auto h = HexDecode(text);
    if (!h.ok()) return DecodeError("odd-length hex input");
    return std::move(h).value();
  }
  auto b = Base64Decode(text);
  if (!b.ok()) {
    return DecodeError("input is neither a MIKEY message, hex, base64 nor an a=key-mgmt line");
  }
  return std::move(b).value();
}

Result<std::string> ReadLine(const std::string& path) {
  KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, ReadAll(path));
  std::string_view s(reinterpret_cast<const char*>(raw.data()), raw.size());
  s = s.substr(0, s.find('\n'));
  s = Trim(s);
  if (s.empty()) {
    return InvalidArgumentError(path + " is empty");
  }
  return std::string(s);
}

Result<client::Credentials> LoadCredentials(const std::string& identity_file,
                                            const std::string& btid_file,
                                            const std::string& psk_file) {
  client::Credentials c;
  KMS_ASSIGN_OR_RETURN(c.identity, ReadLine(identity_file));
  KMS_ASSIGN_OR_RETURN(c.psk_id, ReadLine(btid_file));
  KMS_ASSIGN_OR_RETURN(c.psk, LoadKeyFile(psk_file, "PSK"));
  return c;
}

Result<struct stat> CheckPrivateFile(int fd, const std::string& named, bool must_own) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return NotFoundError(named + " is not a readable regular file");
  }
  if ((st.st_mode & 077) != 0) {
    return PermissionDeniedError(named + " must be readable only by its owner (chmod 600)");
  }
  // A file someone else owns could be replaced or read by that user between our runs.
  if (must_own && st.st_uid != ::geteuid()) {
    return PermissionDeniedError(named + " is owned by uid " + std::to_string(st.st_uid) +
                                 ", not by this user (uid " + std::to_string(::geteuid()) + ")");
  }
  return st;
}

Result<SecretBytes> LoadKeyFile(const std::string& path, const std::string& what) {
  const std::string named = what + " file " + path;
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below). fstat on
  // the open descriptor: the checked file is the one read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return NotFoundError(named + " is not a readable regular file");
  }
  const struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  KMS_ASSIGN_OR_RETURN(const struct stat st, CheckPrivateFile(fd, named));
  if (st.st_size > kMaxKeyFile) {
    return InvalidArgumentError(named + " is larger than " + std::to_string(kMaxKeyFile) +
                                " bytes: not a key file");
  }
  // The hex goes straight from the descriptor into one scrubbed buffer sized up front: no
  // iostream buffer and no growing vector leaves a copy of the key in freed memory. One byte
  // more than the file: the text ends in a NUL (OPENSSL_hexstr2buf_ex reads a C string), and
  // a file that grew since fstat fills it and is refused.
  SecretBytes text(static_cast<size_t>(st.st_size) + 1);
  const std::span<uint8_t> buf = text.RevealMutable();
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return NotFoundError(named + " cannot be read: " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == buf.size()) {
    return InvalidArgumentError(named + " changed while it was read");
  }
  size_t begin = 0, end = got;
  while (begin < end && std::isspace(buf[begin])) ++begin;
  while (end > begin && std::isspace(buf[end - 1])) --end;
  buf[end] = 0;
  SecretBytes key((end - begin) / 2);
  size_t len = 0;
  // len == size: a NUL byte inside the text would end the conversion early.
  if (OPENSSL_hexstr2buf_ex(key.RevealMutable().data(), key.size(), &len,
                            reinterpret_cast<const char*>(buf.data() + begin), '\0') != 1 ||
      len != key.size()) {
    ERR_clear_error();  // OpenSSL's queue names the bad digit; the message here does not
    return InvalidArgumentError(named + " is not a key as hex digits");
  }
  if (key.size() < kMinKeyBytes) {
    return InvalidArgumentError(named + " holds " + std::to_string(key.size()) +
                                " bytes; a key needs at least " + std::to_string(kMinKeyBytes));
  }
  return key;
}

}  // namespace kms::cli
