// SDP key management attributes (RFC 4567 §3.1, §4.1.4; spec §8.2 item 7, §8.3):
//   key-mgmt-attribute = "key-mgmt" ":" [SP] prtcl-id SP keymgmt-data
// with keymgmt-data = base64 (RFC 4648, strict) of the binary MIKEY message.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"
#include "src/mikey/message.h"

namespace kms::client {

inline constexpr std::string_view kMikeyProtocolId = "mikey";

// KeyMgmtAttribute: "a=key-mgmt:mikey <base64>" (no line terminator).
std::string KeyMgmtAttribute(std::span<const uint8_t> mikey_message);

// KeyMgmt: one parsed attribute.
struct KeyMgmt {
  std::string protocol_id;    // e.g. "mikey"
  std::vector<uint8_t> data;  // decoded keymgmt-data
};

// ParseKeyMgmtAttribute: one attribute line, with or without the leading "a=" and a
// trailing CR/LF. Strict: kDecodeError for a missing/empty protocol id or data, any
// extra whitespace, characters outside the token / base64 alphabets, bad padding.
Result<KeyMgmt> ParseKeyMgmtAttribute(std::string_view line);

// SdpKeyMgmt: the key-mgmt attributes of a whole SDP body, per level, in SDP order.
struct SdpKeyMgmt {
  std::vector<KeyMgmt> session;             // before the first m= line
  std::vector<std::vector<KeyMgmt>> media;  // one entry per m= line
};

// ParseSdpKeyMgmt: scans every line (CRLF or LF); a malformed key-mgmt attribute or the
// same protocol id twice at one level is kDecodeError; other lines are ignored.
Result<SdpKeyMgmt> ParseSdpKeyMgmt(std::string_view sdp);

// MikeyForMedia: the MIKEY message that applies to media line `index` (media level
// overrides session level, RFC 4567 §3.1); kNotFound if none.
Result<std::vector<uint8_t>> MikeyForMedia(const SdpKeyMgmt& sdp, size_t index);

// OfferedIds: the ';'-joined protocol ids applying to media line `index` in SDP order
// (RFC 4567 §4.1.4), e.g. "mikey".
std::string OfferedIds(const SdpKeyMgmt& sdp, size_t index);

// CheckSdpIds: if `m` carries an SDP IDs General Extension (spec §11 A11), its text must
// equal `offered` (kPermissionDenied otherwise: bidding-down); absence is accepted.
Status CheckSdpIds(const mikey::Message& m, std::string_view offered);

// AudioOffer / AudioAnswer: a minimal SDP body with one RTP/SAVP audio m-line carrying a
// media-level key-mgmt attribute (used by kms-client call).
std::string AudioSdp(std::string_view origin_user, uint16_t rtp_port,
                     std::span<const uint8_t> mikey_message);

}  // namespace kms::client
