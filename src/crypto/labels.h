// PRF labels of MIKEY-TICKET (spec §5.2; RFC 6043 §5.1.1–5.1.3, §6.10, App. A.2) and of
// plain RFC 3830 (§4.1.3–4.1.4). General shape:
//   constant(4) || cs_id-or-0xFF(1) || csb_id-or-0xFFFFFFFF(4) || type(1) || inputs
// RAND lengths are 1 byte; the ID Data length in the forking label is 2 bytes. Only the
// RAND length and value enter a label, never a whole RAND/RANDR payload.
// Builders with length-prefixed inputs fail with kInvalidArgument when an input does not fit
// its length field (255 bytes for RANDs, 65535 for ID Data).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "src/base/result.h"

namespace kms::crypto {

// Label constants (spec §5.2 / §12).
// RFC 3830 Table 4.1.4: keys from PSK, envelope key, MPK(i/r), TPK (and the Vr key).
inline constexpr uint32_t kLabelEncr = 0x150533E1;
inline constexpr uint32_t kLabelAuth = 0x2D22AC75;
inline constexpr uint32_t kLabelSalt = 0x29B88916;
// RFC 3830 Table 4.1.3: keys from a TGK / TGK' / GTGK.
inline constexpr uint32_t kLabelTek = 0x2AD01C64;
inline constexpr uint32_t kLabelTgkAuth = 0x1B5C7973;
inline constexpr uint32_t kLabelTgkEncr = 0x15798CEF;
inline constexpr uint32_t kLabelTgkSalt = 0x39A2C14B;
// RFC 6043 Table 5.1: forking.
inline constexpr uint32_t kLabelForkMpkr = 0x2B288856;
inline constexpr uint32_t kLabelForkTgk = 0x1512B54A;
// RFC 6043 Table A.1: MPKi / MPKr from the base-ticket MPK.
inline constexpr uint32_t kLabelMpki = 0x220E99A2;
inline constexpr uint32_t kLabelMpkr = 0x1F4D675B;

// Label type bytes separating the MIKEY-TICKET derivations.
inline constexpr uint8_t kLabelTypeFork = 0x00;             // RFC 6043 §5.1.1
inline constexpr uint8_t kLabelTypeInitialMessage = 0x01;   // RFC 6043 §5.1.2
inline constexpr uint8_t kLabelTypeResponseMessage = 0x02;  // RFC 6043 §5.1.2
inline constexpr uint8_t kLabelTypeTgk = 0x03;              // RFC 6043 §5.1.3
inline constexpr uint8_t kLabelTypeInitiatorData = 0x04;    // RFC 6043 §6.10 (Vr key)
inline constexpr uint8_t kLabelTypeTpk = 0x05;              // RFC 6043 App. A.2.1
inline constexpr uint8_t kLabelTypeMpk = 0x06;              // RFC 6043 App. A.2.2

// "Not bound to a crypto session / CSB" fillers.
inline constexpr uint8_t kLabelNoCsId = 0xFF;
inline constexpr uint32_t kLabelNoCsbId = 0xFFFFFFFF;

// Which message of an exchange the 0x01/0x02 label protects (RFC 6043 §5.1.2).
enum class MessageRole : uint8_t {
  kInitial = kLabelTypeInitialMessage,    // REQUEST_INIT, TRANSFER_INIT, RESOLVE_INIT
  kResponse = kLabelTypeResponseMessage,  // REQUEST_RESP, TRANSFER_RESP, RESOLVE_RESP
};

// MessageKeyLabel: C || 0xFF || CSB_ID || 0x01/0x02 || len(RANDRi) || RANDRi ||
// len(RANDRr) || RANDRr. An absent RAND is an empty span (length byte 0); which RANDs to
// pass per exchange is the caller's (RFC 6043 §5.1.2, spec §5.2 table).
Result<std::vector<uint8_t>> MessageKeyLabel(uint32_t constant, uint32_t csb_id, MessageRole role,
                                             std::span<const uint8_t> rand_ri,
                                             std::span<const uint8_t> rand_rr);

// TgkDerivedLabel: C || CS_ID || 0xFFFFFFFF || 0x03 || len(RANDRi) || RANDRi ||
// len(RANDRr) || RANDRr (RFC 6043 §5.1.3). The caller passes RANDRi iff H=1 and RANDRr iff
// G=1; both empty is kInvalidArgument (at least one is always present).
Result<std::vector<uint8_t>> TgkDerivedLabel(uint32_t constant, uint8_t cs_id,
                                             std::span<const uint8_t> rand_ri,
                                             std::span<const uint8_t> rand_rr);

// ForkLabel: C || 0xFF || 0xFFFFFFFF || 0x00 || len16(ID Data) || ID Data ||
// len8(RANDRkms) || RANDRkms (RFC 6043 §5.1.1). C is kLabelForkMpkr or kLabelForkTgk.
// Empty id_data or rand_kms is kInvalidArgument.
Result<std::vector<uint8_t>> ForkLabel(uint32_t constant, std::span<const uint8_t> id_data,
                                       std::span<const uint8_t> rand_kms);

// VrKeyLabel: kLabelAuth || 0xFF || 0xFFFFFFFF || 0x04 (RFC 6043 §6.10).
std::vector<uint8_t> VrKeyLabel();

// TicketKeyLabel: C || 0xFF || 0xFFFFFFFF || 0x05 || len(RAND) || RAND (RFC 6043 App.
// A.2.1; keys from the TPK). Empty rand is kInvalidArgument.
Result<std::vector<uint8_t>> TicketKeyLabel(uint32_t constant, std::span<const uint8_t> rand);

// MpkLabel: C || 0xFF || 0xFFFFFFFF || 0x06 || len(RAND) || RAND (RFC 6043 App. A.2.2;
// C is kLabelMpki or kLabelMpkr). Empty rand is kInvalidArgument.
Result<std::vector<uint8_t>> MpkLabel(uint32_t constant, std::span<const uint8_t> rand);

// Plain RFC 3830 labels (not used by MIKEY-TICKET messages; no length or type bytes).
// Rfc3830TransportKeyLabel: C || 0xFF || CSB_ID || RAND (RFC 3830 §4.1.4).
std::vector<uint8_t> Rfc3830TransportKeyLabel(uint32_t constant, uint32_t csb_id,
                                              std::span<const uint8_t> rand);
// Rfc3830TekLabel: C || CS_ID || CSB_ID || RAND (RFC 3830 §4.1.3).
std::vector<uint8_t> Rfc3830TekLabel(uint32_t constant, uint8_t cs_id, uint32_t csb_id,
                                     std::span<const uint8_t> rand);

}  // namespace kms::crypto
