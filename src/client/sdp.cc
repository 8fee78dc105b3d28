#include "src/client/sdp.h"

#include "src/base/encoding.h"

namespace kms::client {
namespace {

// RFC 4566 token characters (prtcl-id is a token).
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

std::string_view StripEol(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

}  // namespace

std::string KeyMgmtAttribute(std::span<const uint8_t> mikey_message) {
  return "a=key-mgmt:" + std::string(kMikeyProtocolId) + " " + Base64Encode(mikey_message);
}

Result<KeyMgmt> ParseKeyMgmtAttribute(std::string_view line) {
  line = StripEol(line);
  if (line.starts_with("a=")) {
    line.remove_prefix(2);
  }
  constexpr std::string_view kName = "key-mgmt:";
  if (!line.starts_with(kName)) {
    return DecodeError("not a key-mgmt attribute");
  }
  line.remove_prefix(kName.size());
  if (!line.empty() && line.front() == ' ') {
    line.remove_prefix(1);  // RFC 4567 §3.1: optional SP after the colon
  }
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos) {
    return DecodeError("key-mgmt attribute without keymgmt-data");
  }
  const std::string_view id = line.substr(0, sp);
  const std::string_view data = line.substr(sp + 1);
  if (id.empty()) {
    return DecodeError("key-mgmt attribute without protocol id");
  }
  for (char c : id) {
    if (!IsTokenChar(c)) {
      return DecodeError("invalid character in key-mgmt protocol id");
    }
  }
  if (data.empty()) {
    return DecodeError("empty keymgmt-data");
  }
  auto bytes = Base64Decode(data);
  if (!bytes.ok()) {
    return DecodeError("keymgmt-data is not valid base64");
  }
  return KeyMgmt{std::string(id), std::move(bytes).value()};
}

Result<SdpKeyMgmt> ParseSdpKeyMgmt(std::string_view sdp) {
  SdpKeyMgmt out;
  std::vector<KeyMgmt>* level = &out.session;
  size_t line_no = 0;
  while (!sdp.empty()) {
    const size_t nl = sdp.find('\n');
    std::string_view line =
        StripEol(sdp.substr(0, nl == std::string_view::npos ? sdp.size() : nl + 1));
    sdp.remove_prefix(nl == std::string_view::npos ? sdp.size() : nl + 1);
    ++line_no;
    if (line.starts_with("m=")) {
      out.media.emplace_back();
      level = &out.media.back();
      continue;
    }
    if (!line.starts_with("a=key-mgmt:")) {
      continue;
    }
    auto km = ParseKeyMgmtAttribute(line);
    if (!km.ok()) {
      return DecodeError("SDP line " + std::to_string(line_no) + ": " + km.status().message());
    }
    for (const KeyMgmt& k : *level) {
      if (k.protocol_id == km->protocol_id) {
        return DecodeError("SDP line " + std::to_string(line_no) +
                           ": key-mgmt protocol repeated at one level");
      }
    }
    level->push_back(std::move(km).value());
  }
  return out;
}

namespace {
const std::vector<KeyMgmt>& LevelFor(const SdpKeyMgmt& sdp, size_t index) {
  if (index < sdp.media.size() && !sdp.media[index].empty()) {
    return sdp.media[index];  // RFC 4567 §3.1: media level overrides session level
  }
  return sdp.session;
}
}  // namespace

Result<std::vector<uint8_t>> MikeyForMedia(const SdpKeyMgmt& sdp, size_t index) {
  for (const KeyMgmt& k : LevelFor(sdp, index)) {
    if (k.protocol_id == kMikeyProtocolId) {
      return k.data;
    }
  }
  return NotFoundError("no a=key-mgmt:mikey attribute for this media line");
}

std::string OfferedIds(const SdpKeyMgmt& sdp, size_t index) {
  std::string out;
  for (const KeyMgmt& k : LevelFor(sdp, index)) {
    if (!out.empty()) out += ';';
    out += k.protocol_id;
  }
  return out;
}

Status CheckSdpIds(const mikey::Message& m, std::string_view offered) {
  for (const mikey::Payload& p : m.payloads) {
    const auto* g = std::get_if<mikey::GeneralExtension>(&p);
    if (g == nullptr || g->type != mikey::GenExtType::kSdpIds) {
      continue;
    }
    auto ids = g->SdpIds();
    if (!ids.ok() || *ids != offered) {
      // RFC 4567 §4.1.4: the authenticated list must match what the SDP offered.
      return PermissionDeniedError("SDP IDs extension does not match the offered protocols");
    }
  }
  return Status::Ok();
}

std::string AudioSdp(std::string_view origin_user, uint16_t rtp_port,
                     std::span<const uint8_t> mikey_message) {
  std::string s;
  s += "v=0\r\n";
  s += "o=" + std::string(origin_user) + " 1 1 IN IP4 127.0.0.1\r\n";
  s += "s=-\r\n";
  s += "c=IN IP4 127.0.0.1\r\n";
  s += "t=0 0\r\n";
  s += "m=audio " + std::to_string(rtp_port) + " RTP/SAVP 0\r\n";
  s += KeyMgmtAttribute(mikey_message) + "\r\n";
  return s;
}

}  // namespace kms::client
