// MIKEY (RFC 3830) and MIKEY-TICKET (RFC 6043) code points, with their RFC names
// (spec mikey-ticket.md §3.1 and §12). Enums have a fixed underlying type, so a field of
// enum type may hold a value this file does not name; the decoder rejects such values only
// where it cannot size or interpret the payload (see decoder.h for the error numbers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace kms::mikey {

// RFC 3830 §6.1: the only version.
inline constexpr uint8_t kMikeyVersion = 0x01;

// HDR data type. RFC 3830 Table 6.1.a; RFC 4650; RFC 4738; RFC 6043 Table 6.1; RFC 6509.
enum class DataType : uint8_t {
  kPskInit = 0,
  kPskVerify = 1,
  kPkInit = 2,
  kPkVerify = 3,
  kDhInit = 4,
  kDhResp = 5,
  kError = 6,
  kDhhmacInit = 7,
  kDhhmacResp = 8,
  kRsaRInit = 9,
  kRsaRResp = 10,
  kRequestInitPsk = 11,
  kRequestInitPk = 12,
  kRequestResp = 13,
  kTransferInit = 14,
  kTransferResp = 15,
  kResolveInitPsk = 16,
  kResolveInitPk = 17,
  kResolveResp = 18,
  kSakke = 26,
};

// Next Payload / payload type. RFC 3830 Table 6.1.b; RFC 6043 Table 6.2.
enum class PayloadType : uint8_t {
  kLast = 0,
  kKemac = 1,
  kPke = 2,
  kDh = 3,
  kSign = 4,
  kT = 5,
  kId = 6,
  kCert = 7,
  kChash = 8,
  kV = 9,
  kSp = 10,
  kRand = 11,
  kErr = 12,
  kTr = 13,
  kIdr = 14,
  kRandr = 15,
  kTp = 16,
  kTicket = 17,
  kKeyData = 20,
  kGeneralExtension = 21,
  kSakke = 26,
};

// HDR / TP PRF func (7 bits). RFC 3830 §6.1; RFC 6043 Table 6.3.
enum class PrfFunc : uint8_t {
  kMikey1 = 0,         // HMAC-SHA-1 based
  kPrfHmacSha256 = 1,  // RFC 6043
};

// CS ID map type. RFC 3830 §6.1; RFC 4563 §5; RFC 6043 §6.1.1.
enum class CsIdMapType : uint8_t {
  kSrtpId = 0,
  kEmpty = 1,
  kGenericId = 2,
};

// KEMAC encryption algorithm. RFC 3830 Table 6.2.a; RFC 6043 Table 6.4.
enum class EncrAlg : uint8_t {
  kNull = 0,
  kAesCm128 = 1,
  kAesKw128 = 2,
  kAesCm256 = 3,
};

// KEMAC / V MAC algorithm. RFC 3830 Table 6.2.b; RFC 6043 Table 6.5.
enum class MacAlg : uint8_t {
  kNull = 0,
  kHmacSha1_160 = 1,
  kHmacSha256_256 = 2,
};

// MacLength: MAC length in bytes for a known algorithm, nullopt for an unknown one.
constexpr std::optional<size_t> MacLength(MacAlg alg) {
  switch (alg) {
    case MacAlg::kNull:
      return 0;
    case MacAlg::kHmacSha1_160:
      return 20;
    case MacAlg::kHmacSha256_256:
      return 32;
  }
  return std::nullopt;
}

// Timestamp type. RFC 3830 Table 6.6; RFC 6043 Table 6.8.
enum class TsType : uint8_t {
  kNtpUtc = 0,
  kNtp = 1,
  kCounter = 2,
  kNtpUtc32 = 3,
};

// TsValueLength: bytes of the TS value for a known type, nullopt for an unknown one.
constexpr std::optional<size_t> TsValueLength(TsType type) {
  switch (type) {
    case TsType::kNtpUtc:
    case TsType::kNtp:
      return 8;
    case TsType::kCounter:
    case TsType::kNtpUtc32:
      return 4;
  }
  return std::nullopt;
}

// ID type (ID and IDR). RFC 3830 Table 6.7.a; RFC 6043 Table 6.10.
enum class IdType : uint8_t {
  kNai = 0,
  kUri = 1,
  kByteString = 2,
};

// Certificate type (CERT). RFC 3830 Table 6.7.b.
enum class CertType : uint8_t {
  kX509v3 = 0,
  kX509v3Url = 1,
  kX509v3Sign = 2,
  kX509v3Encr = 3,
};

// CHASH hash function. RFC 3830 Table 6.8; RFC 6043 Table 6.12.
enum class HashFunc : uint8_t {
  kSha1 = 0,
  kMd5 = 1,
  kSha256 = 2,
};

// HashLength: digest length in bytes for a known hash function.
constexpr std::optional<size_t> HashLength(HashFunc f) {
  switch (f) {
    case HashFunc::kSha1:
      return 20;
    case HashFunc::kMd5:
      return 16;
    case HashFunc::kSha256:
      return 32;
  }
  return std::nullopt;
}

// DH group. RFC 3830 Table 6.4.
enum class DhGroup : uint8_t {
  kOakley5 = 0,
  kOakley1 = 1,
  kOakley2 = 2,
};

// DhValueLength: bytes of the DH value (the group's modulus size).
constexpr std::optional<size_t> DhValueLength(DhGroup g) {
  switch (g) {
    case DhGroup::kOakley5:
      return 192;
    case DhGroup::kOakley1:
      return 96;
    case DhGroup::kOakley2:
      return 128;
  }
  return std::nullopt;
}

// SIGN signature type (4 bits). RFC 3830 Table 6.5; RFC 6509.
enum class SignType : uint8_t {
  kRsaPkcs1v15 = 0,
  kRsaPss = 1,
  kEccsi = 2,
};

// SP / GENERIC-ID protocol type. RFC 3830 Table 6.10; RFC 4442.
enum class ProtType : uint8_t {
  kSrtp = 0,
  kTesla = 1,
};

// SRTP policy parameter types (SP Prot type 0). RFC 3830 §6.10.1; RFC 4771; RFC 7714.
enum class SrtpParam : uint8_t {
  kEncrAlg = 0,
  kSessionEncrKeyLength = 1,
  kAuthAlg = 2,
  kSessionAuthKeyLength = 3,
  kSessionSaltKeyLength = 4,
  kSrtpPrf = 5,
  kKeyDerivationRate = 6,
  kSrtpEncryption = 7,
  kSrtcpEncryption = 8,
  kFecOrder = 9,
  kSrtpAuthentication = 10,
  kAuthTagLength = 11,
  kSrtpPrefixLength = 12,
  kRocTransmissionRate = 13,
  kSrtpAuthAlg = 14,
  kSrtcpAuthAlg = 15,
  kSrtpAuthKeyLength = 16,
  kSrtcpAuthKeyLength = 17,
  kSrtpAuthTagLength = 18,
  kSrtcpAuthTagLength = 19,
  kAeadAuthTagLength = 20,
};

// Key data sub-payload Type (4 bits). RFC 3830 Table 6.13.a; RFC 6043 Table 6.7.
enum class KeyDataType : uint8_t {
  kTgk = 0,
  kTgkSalt = 1,
  kTek = 2,
  kTekSalt = 3,
  kGtgk = 4,
  kGtgkSalt = 5,
  kMpk = 6,
};

// KeyDataHasSalt: whether the sub-payload carries Salt len + Salt data (RFC 6043 §6.2.1).
constexpr bool KeyDataHasSalt(KeyDataType t) {
  return t == KeyDataType::kTgkSalt || t == KeyDataType::kTekSalt || t == KeyDataType::kGtgkSalt;
}

// Key validity type (4 bits). RFC 3830 Table 6.13.b.
enum class KvType : uint8_t {
  kNull = 0,
  kSpi = 1,
  kInterval = 2,
};

// TR TS Role. RFC 6043 Table 6.9.
enum class TsRole : uint8_t {
  kTimeOfIssue = 1,      // TRi
  kStartOfValidity = 2,  // TRs
  kEndOfValidity = 3,    // TRe
  kRekeyingInterval = 4  // TRr
};

// IDR ID Role. RFC 6043 Table 6.11; RFC 6509.
enum class IdRole : uint8_t {
  kInitiator = 1,     // IDRi
  kResponder = 2,     // IDRr
  kKms = 3,           // IDRkms
  kPreSharedKey = 4,  // IDRpsk
  kApplication = 5,   // IDRapp
  kInitiatorKms = 6,  // RFC 6509
  kResponderKms = 7,  // RFC 6509
};

// RANDR RAND Role. RFC 6043 Table 6.13.
enum class RandRole : uint8_t {
  kInitiator = 1,  // RANDRi
  kResponder = 2,  // RANDRr
  kKms = 3,        // RANDRkms
};

// ERR Error no. RFC 3830 Table 6.12; RFC 4738; RFC 6043 Table 6.14.
enum class ErrorNo : uint8_t {
  kAuthFailure = 0,
  kInvalidTs = 1,
  kInvalidPrf = 2,
  kInvalidMac = 3,
  kInvalidEa = 4,
  kInvalidHa = 5,
  kInvalidDh = 6,
  kInvalidId = 7,
  kInvalidCert = 8,
  kInvalidSp = 9,
  kInvalidSpPar = 10,
  kInvalidDt = 11,
  kUnspecified = 12,
  kUnsupportedMessageType = 13,
  kInvalidTicket = 14,
  kInvalidTpPar = 15,
};

// ErrorDetail: the byte stored in Status::detail() for an ErrorNo.
constexpr uint8_t ErrorDetail(ErrorNo e) { return static_cast<uint8_t>(e); }

// General Extension type. RFC 3830 Table 6.15; RFC 4442; RFC 4563; RFC 4738; RFC 5410.
enum class GenExtType : uint8_t {
  kVendorId = 0,
  kSdpIds = 1,
  kTeslaIKey = 2,
  kKeyId = 3,
  kCsbId = 4,
  kOmaBcast = 5,
};

// Key ID type inside a Key ID General Extension. RFC 4563 §4.
enum class KeyIdType : uint8_t {
  kMbmsKeyDomainId = 0,
  kMbmsServiceKeyId = 1,
  kMbmsTrafficKeyId = 2,
};

// Ticket Type (16 bits). RFC 6043 Table 6.15.
enum class TicketType : uint16_t {
  kMikeyBaseTicket = 1,
  k3gppBaseTicket = 2,
};

// RFC 6043 App. A: subtype and version of the MIKEY base ticket.
inline constexpr uint8_t kBaseTicketSubtype = 0x01;
inline constexpr uint8_t kBaseTicketVersion = 0x01;

// TP / TICKET flag bits (RFC 6043 §6.10). Byte 5: b7..b1 PRF func, b0 D. Byte 6: E..L.
// Byte 7: M, N, O, b4..b0 reserved.
inline constexpr uint8_t kTpFlagD = 0x01;  // byte 5
inline constexpr uint8_t kTpFlagE = 0x80;  // byte 6
inline constexpr uint8_t kTpFlagF = 0x40;
inline constexpr uint8_t kTpFlagG = 0x20;
inline constexpr uint8_t kTpFlagH = 0x10;
inline constexpr uint8_t kTpFlagI = 0x08;
inline constexpr uint8_t kTpFlagJ = 0x04;
inline constexpr uint8_t kTpFlagK = 0x02;
inline constexpr uint8_t kTpFlagL = 0x01;
inline constexpr uint8_t kTpFlagM = 0x80;  // byte 7
inline constexpr uint8_t kTpFlagN = 0x40;
inline constexpr uint8_t kTpFlagO = 0x20;
inline constexpr uint8_t kTpReservedMask = 0x1f;  // byte 7 reserved bits

// HDR byte 3: b7 = V flag, b6..b0 = PRF func.
inline constexpr uint8_t kHdrVFlag = 0x80;
inline constexpr uint8_t kPrfMask = 0x7f;
// GENERIC-ID block byte 2: b7 = S flag, b6..b0 = #P.
inline constexpr uint8_t kGenericIdSFlag = 0x80;
inline constexpr uint8_t kGenericIdPolicyCountMask = 0x7f;
// PKE bytes 1-2: b15..b14 = C, b13..b0 = data length.
inline constexpr uint16_t kPkeLengthMask = 0x3fff;
// SIGN bytes 0-1: b15..b12 = S type, b11..b0 = signature length.
inline constexpr uint16_t kSignLengthMask = 0x0fff;

// Label constants (RFC 3830 Tables 4.1.3/4.1.4; RFC 6043 Table 5.1, Table A.1).
inline constexpr uint32_t kLabelEncr = 0x150533E1;
inline constexpr uint32_t kLabelAuth = 0x2D22AC75;
inline constexpr uint32_t kLabelSalt = 0x29B88916;
inline constexpr uint32_t kLabelTek = 0x2AD01C64;
inline constexpr uint32_t kLabelTgkAuth = 0x1B5C7973;
inline constexpr uint32_t kLabelTgkEncr = 0x15798CEF;
inline constexpr uint32_t kLabelTgkSalt = 0x39A2C14B;
inline constexpr uint32_t kLabelForkMpkr = 0x2B288856;
inline constexpr uint32_t kLabelForkTgk = 0x1512B54A;
inline constexpr uint32_t kLabelMpki = 0x220E99A2;
inline constexpr uint32_t kLabelMpkr = 0x1F4D675B;

// Label type bytes (spec §5.2).
enum class LabelType : uint8_t {
  kForking = 0x00,
  kInitialMessage = 0x01,
  kResponseMessage = 0x02,
  kTgkToTek = 0x03,
  kInitiatorData = 0x04,
  kTicketProtection = 0x05,
  kMpk = 0x06,
};

}  // namespace kms::mikey
