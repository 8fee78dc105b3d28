#include "src/cli/kms_client/inputs.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
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

Result<SecretBytes> LoadKeyFile(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return NotFoundError(what + " file " + path + " is not a readable regular file");
  }
  if ((st.st_mode & 077) != 0) {
    return PermissionDeniedError(what + " file " + path +
                                 " must be readable only by its owner (chmod 600)");
  }
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> raw, ReadAll(path));
  std::string_view s =
      Trim(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  auto key = HexDecode(s);
  OPENSSL_cleanse(raw.data(), raw.size());
  if (!key.ok() || key->size() < 16) {
    return InvalidArgumentError(what + " file must hold at least 16 bytes as hex");
  }
  SecretBytes out = SecretBytes::CopyFrom(*key);
  OPENSSL_cleanse(key->data(), key->size());
  return out;
}

}  // namespace kms::cli
