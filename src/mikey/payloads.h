// Typed model of every MIKEY / MIKEY-TICKET payload (spec mikey-ticket.md §4; RFC 3830 §6,
// RFC 6043 §6). Plain value types that own their bytes; nothing here is secret (KEMAC
// carries ciphertext; key data is decoded separately into SecretBytes, see key_data.h).
// Next Payload fields are not stored: the encoder derives them from payload order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "src/base/result.h"
#include "src/mikey/constants.h"

namespace kms::mikey {

using Bytes = std::vector<uint8_t>;

// SRTP-ID map entry (RFC 3830 §6.1.1).
struct SrtpIdEntry {
  uint8_t policy_no = 0;
  uint32_t ssrc = 0;
  uint32_t roc = 0;
  friend bool operator==(const SrtpIdEntry&, const SrtpIdEntry&) = default;
};

// SrtpSessionData: the SRTP interpretation of a GENERIC-ID block's Session Data
// (RFC 6043 §6.1.1): SSRC, then ROC and SEQ iff the S flag is set.
struct SrtpSessionData {
  uint32_t ssrc = 0;
  std::optional<uint32_t> roc;
  std::optional<uint16_t> seq;
};

// GENERIC-ID map block (RFC 6043 §6.1.1).
struct GenericIdBlock {
  uint8_t cs_id = 0;
  ProtType prot_type = ProtType::kSrtp;
  bool s_flag = false;
  std::vector<uint8_t> policy_nos;  // #P = size (at most 127)
  Bytes session_data;               // may be empty in an initial message
  Bytes spi;                        // SPI / SRTP MKI; may be empty in an initial message

  // ParseSrtpSessionData: Session Data as SRTP (4 bytes, or 10 with S=1); kDecodeError
  // (detail 13) if the length does not match the S flag.
  Result<SrtpSessionData> ParseSrtpSessionData() const;
  // SetSrtpSessionData: writes Session Data and the S flag (S=1 iff roc and seq are set).
  void SetSrtpSessionData(const SrtpSessionData& d);
  friend bool operator==(const GenericIdBlock&, const GenericIdBlock&) = default;
};

// HDR (RFC 3830 §6.1; RFC 6043 §6.1). The map vectors used depend on map_type: SRTP-ID uses
// srtp_map, GENERIC-ID uses generic_map, Empty uses neither. cs_count is the #CS byte; for
// SRTP-ID and GENERIC-ID the encoder requires it to equal the number of map entries.
struct Hdr {
  uint8_t version = kMikeyVersion;
  DataType data_type = DataType::kRequestInitPsk;
  bool v_flag = false;
  PrfFunc prf = PrfFunc::kMikey1;
  uint32_t csb_id = 0;
  uint8_t cs_count = 0;
  CsIdMapType map_type = CsIdMapType::kEmpty;
  std::vector<SrtpIdEntry> srtp_map;
  std::vector<GenericIdBlock> generic_map;
  friend bool operator==(const Hdr&, const Hdr&) = default;
};

// T (type 5; RFC 3830 §6.6). For 4-byte types the value is in the low 32 bits.
struct Timestamp {
  TsType ts_type = TsType::kNtpUtc;
  uint64_t value = 0;
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// TR (type 13; RFC 6043 §6.4).
struct TimestampR {
  TsRole role = TsRole::kTimeOfIssue;
  TsType ts_type = TsType::kNtpUtc32;
  uint64_t value = 0;
  friend bool operator==(const TimestampR&, const TimestampR&) = default;
};

// RAND (type 11; RFC 3830 §6.11). At most 255 bytes.
struct Rand {
  Bytes rand;
  friend bool operator==(const Rand&, const Rand&) = default;
};

// RANDR (type 15; RFC 6043 §6.8). At most 255 bytes.
struct RandR {
  RandRole role = RandRole::kInitiator;
  Bytes rand;
  friend bool operator==(const RandR&, const RandR&) = default;
};

// ID (type 6; RFC 3830 §6.7).
struct Id {
  IdType id_type = IdType::kUri;
  Bytes id_data;
  friend bool operator==(const Id&, const Id&) = default;
};

// CERT (type 7; RFC 3830 §6.7).
struct Cert {
  CertType cert_type = CertType::kX509v3;
  Bytes cert_data;
  friend bool operator==(const Cert&, const Cert&) = default;
};

// IDR (type 14; RFC 6043 §6.6).
struct Idr {
  IdRole role = IdRole::kInitiator;
  IdType id_type = IdType::kUri;
  Bytes id_data;
  friend bool operator==(const Idr&, const Idr&) = default;
};

// CHASH (type 8; RFC 3830 §6.8).
struct Chash {
  HashFunc hash_func = HashFunc::kSha256;
  Bytes hash;
  friend bool operator==(const Chash&, const Chash&) = default;
};

// PKE (type 2; RFC 3830 §6.3). c is 2 bits, data at most 0x3fff bytes.
struct Pke {
  uint8_t c = 0;
  Bytes data;
  friend bool operator==(const Pke&, const Pke&) = default;
};

// DH (type 3; RFC 3830 §6.4). kv_data is the raw KV data (SPI or interval, see key_data.h).
struct Dh {
  DhGroup group = DhGroup::kOakley5;
  Bytes value;
  uint8_t reserved = 0;  // high 4 bits of the KV byte, kept for exact re-encoding
  KvType kv_type = KvType::kNull;
  Bytes kv_data;
  friend bool operator==(const Dh&, const Dh&) = default;
};

// SIGN (type 4; RFC 3830 §6.5). No Next Payload; always last. At most 0x0fff bytes.
struct Sign {
  SignType s_type = SignType::kRsaPkcs1v15;
  Bytes signature;
  friend bool operator==(const Sign&, const Sign&) = default;
};

// V (type 9; RFC 3830 §6.9). mac.size() must equal MacLength(mac_alg).
struct Verification {
  MacAlg mac_alg = MacAlg::kHmacSha1_160;
  Bytes mac;
  friend bool operator==(const Verification&, const Verification&) = default;
};

// One SP policy parameter TLV (RFC 3830 §6.10).
struct SpParam {
  uint8_t type = 0;
  Bytes value;  // at most 255 bytes
  friend bool operator==(const SpParam&, const SpParam&) = default;
};

// SP (type 10; RFC 3830 §6.10). Parameters are kept as TLVs in wire order.
struct SecurityPolicy {
  uint8_t policy_no = 0;
  ProtType prot_type = ProtType::kSrtp;
  std::vector<SpParam> params;

  // FindParam: the first parameter of this type, or nullptr.
  const SpParam* FindParam(uint8_t type) const;
  // SrtpU8: an SRTP parameter whose value is one byte (most of §3.1's SRTP table);
  // nullopt if absent, kDecodeError (detail 10) if present with another length.
  Result<std::optional<uint8_t>> SrtpU8(SrtpParam p) const;
  // SrtpUint: an SRTP parameter read as a big-endian unsigned value of 1 to 4 bytes (e.g.
  // the 16-bit ROC transmission rate); nullopt if absent, detail 10 if 0 or > 4 bytes.
  Result<std::optional<uint32_t>> SrtpUint(SrtpParam p) const;
  // MakeSrtpDefault: SRTP AES_CM_128_HMAC_SHA1_80 as TLVs (spec §3.1): (0,1) (1,16) (2,1)
  // (3,20) (4,14) (5,0) (7,1) (8,1) (10,1) (11,10).
  static SecurityPolicy MakeSrtpDefault(uint8_t policy_no);
  // SetParam: replaces the first parameter of this type, or appends one.
  void SetParam(uint8_t type, Bytes value);
  void SetSrtpU8(SrtpParam p, uint8_t v) { SetParam(static_cast<uint8_t>(p), Bytes{v}); }
  friend bool operator==(const SecurityPolicy&, const SecurityPolicy&) = default;
};

// KEMAC (type 1; RFC 3830 §6.2; RFC 6043 §6.2). encr_data is the (encrypted, or with NULL
// encryption the plain) key data chain; decrypt with kms::crypto, decode with key_data.h.
struct Kemac {
  EncrAlg encr_alg = EncrAlg::kAesCm128;
  Bytes encr_data;
  MacAlg mac_alg = MacAlg::kNull;  // RFC 6043 §6.2: always NULL in MIKEY-TICKET
  Bytes mac;
  friend bool operator==(const Kemac&, const Kemac&) = default;
};

// ERR (type 12; RFC 3830 §6.12). reserved is kept for exact re-encoding (send 0).
struct ErrorPayload {
  ErrorNo error_no = ErrorNo::kUnspecified;
  uint16_t reserved = 0;
  friend bool operator==(const ErrorPayload&, const ErrorPayload&) = default;
};

// One Key ID entry of a Key ID General Extension (RFC 4563 §4).
struct KeyIdEntry {
  KeyIdType type = KeyIdType::kMbmsKeyDomainId;
  Bytes key_id;  // at most 255 bytes
  friend bool operator==(const KeyIdEntry&, const KeyIdEntry&) = default;
};

// General Extension (type 21; RFC 3830 §6.15).
struct GeneralExtension {
  GenExtType type = GenExtType::kVendorId;
  Bytes data;

  // MakeSdpIds: an "SDP IDs" extension (RFC 4567 §4.1.4), e.g. "mikey" or "mikey;x".
  static GeneralExtension MakeSdpIds(std::string_view ids);
  // SdpIds: the data as text; kInvalidArgument if this is not an SDP IDs extension.
  Result<std::string> SdpIds() const;
  // MakeKeyId / KeyIds: the Key ID extension (RFC 4563) built from / parsed into entries;
  // KeyIds fails with kDecodeError (detail 13) on a truncated entry list.
  static Result<GeneralExtension> MakeKeyId(const std::vector<KeyIdEntry>& ids);
  Result<std::vector<KeyIdEntry>> KeyIds() const;
  friend bool operator==(const GeneralExtension&, const GeneralExtension&) = default;
};

// A payload that may appear inside nested chains (TP Data) as well as at message level.
using InnerPayload =
    std::variant<Kemac, Pke, Dh, Timestamp, Id, Cert, Chash, Verification, SecurityPolicy, Rand,
                 ErrorPayload, TimestampR, Idr, RandR, GeneralExtension>;

// TP flags (RFC 6043 §6.10, spec §4.12.1).
struct TpFlags {
  bool d = false, e = false, f = false, g = false, h = false, i = false, j = false, k = false,
       l = false, m = false, n = false, o = false;
  friend bool operator==(const TpFlags&, const TpFlags&) = default;
};

// CheckTpFlagRules: the consistency rules of RFC 6043 §6.10 (¬D⇒L, G⇒F, ¬G⇒H, ¬H⇒G, I⇒E,
// K⇒D, M⇒F); kDecodeError with detail 15 naming the first violated rule.
Status CheckTpFlagRules(const TpFlags& f);

// Ticket Policy: the part shared by TP (type 16) and TICKET (type 17). RFC 6043 §6.10.
struct TicketPolicy {
  TicketType ticket_type = TicketType::kMikeyBaseTicket;
  uint8_t subtype = kBaseTicketSubtype;
  uint8_t version = kBaseTicketVersion;
  PrfFunc prf = PrfFunc::kMikey1;
  TpFlags flags;
  uint8_t reserved = 0;               // byte 7 b4..b0, kept for exact re-encoding
  std::vector<InnerPayload> tp_data;  // TP Data chain (spec §4.12.2), in wire order

  // FindIdr: the first TP Data IDR with this role (IDRkms, IDRi), or nullptr.
  const Idr* FindIdr(IdRole role) const;
  // Responders: every IDRr of the TP Data (spec §4.12.2: at least one).
  std::vector<const Idr*> Responders() const;
  // FindTr: the TR with this role (TRs, TRe, TRr), or nullptr.
  const TimestampR* FindTr(TsRole role) const;
  // FindKemac: the desired-keys KEMAC (desired policy only), or nullptr.
  const Kemac* FindKemac() const;
  friend bool operator==(const TicketPolicy&, const TicketPolicy&) = default;
};

// TP (type 16): the desired Ticket Policy.
struct Tp {
  TicketPolicy policy;
  friend bool operator==(const Tp&, const Tp&) = default;
};

// TICKET (type 17): policy, then opaque Ticket Data and Initiator Data bytes (decode them
// with ticket_data.h). Initiator Data is empty unless the I flag is set.
struct Ticket {
  TicketPolicy policy;
  Bytes ticket_data;
  Bytes initiator_data;
  friend bool operator==(const Ticket&, const Ticket&) = default;
};

// Any payload that follows the HDR of a message.
using Payload =
    std::variant<Kemac, Pke, Dh, Timestamp, Id, Cert, Chash, Verification, SecurityPolicy, Rand,
                 ErrorPayload, TimestampR, Idr, RandR, GeneralExtension, Sign, Tp, Ticket>;

// TypeOf: the payload type code of a payload.
PayloadType TypeOf(const Payload& p);
PayloadType TypeOf(const InnerPayload& p);

// PayloadTypeName: "KEMAC", "T", "IDR", ... as used in the vector files; "?" if unknown.
const char* PayloadTypeName(PayloadType t);

}  // namespace kms::mikey
