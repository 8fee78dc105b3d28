// MIKEY base ticket (Ticket Type 1) Ticket Data and the Initiator Data of a TICKET payload.
// RFC 6043 §6.10 and App. A; spec mikey-ticket.md §4.12.3, §4.15, §6, §11 A5.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "src/base/result.h"
#include "src/mikey/message.h"
#include "src/mikey/payloads.h"

namespace kms::mikey {

// THDR (RFC 6043 App. A.3): implementation data, e.g. a KMS-internal key version.
struct Thdr {
  Bytes data;  // at most 0xffff bytes
  friend bool operator==(const Thdr&, const Thdr&) = default;
};

// Base ticket Ticket Data = THDR, T, RAND, KEMAC, [IDRpsk], V (RFC 6043 App. A.1).
// The KEMAC holds E(TPK-derived encr_key, MPK || {TEK|TGK|GTGK}) with NULL MAC.
struct BaseTicketData {
  Thdr thdr;
  Timestamp t;
  Rand rand;
  Kemac kemac;
  std::optional<Idr> idr_psk;  // role must be kPreSharedKey (identifies the TPK)
  Verification v;              // MAC over the TICKET, see TicketMacInput (mac_coverage.h)
  friend bool operator==(const BaseTicketData&, const BaseTicketData&) = default;
};

// DecodeBaseTicketData: parses the Ticket Data field of a Type 1 TICKET strictly in the
// order above, with no trailing bytes. Offsets in *out_layout (optional) are relative to
// the start of `ticket_data`. Errors: kDecodeError, detail 13 (or 1/3/4/7 for unsupported
// TS type / MAC alg / encr alg / ID type). The result owns its bytes.
Result<BaseTicketData> DecodeBaseTicketData(std::span<const uint8_t> ticket_data,
                                            BaseTicketLayout* out_layout = nullptr);

// EncodeBaseTicketData: the Ticket Data bytes (Next Payload fields from the fixed order);
// offsets in *out_layout (optional) are relative to the returned buffer. Fails with
// kInvalidArgument if a field does not fit (e.g. MAC length not matching the MAC alg).
Result<Bytes> EncodeBaseTicketData(const BaseTicketData& td,
                                   BaseTicketLayout* out_layout = nullptr);

// Initiator Data = First Payload (9), Vi, Vr (RFC 6043 §6.10). Vi is a copy of the
// TRANSFER_INIT V payload; Vr is a MAC by the MPKr-derived key (VrMacInput).
struct InitiatorData {
  Verification vi;
  Verification vr;  // same MAC alg as vi
  // vi_next: Vi's Next Payload field. We send 9 (V); decoders accept 0 or 9 (§11 A5).
  uint8_t vi_next = static_cast<uint8_t>(PayloadType::kV);
  friend bool operator==(const InitiatorData&, const InitiatorData&) = default;
};

// DecodeInitiatorData: parses a non-empty Initiator Data field by position (spec §4.12.3):
// first payload byte 9, Vi (2 + MAC length), Vr (2 + MAC length, next 0, same alg as
// Vi); nothing may follow. Offsets are relative to `initiator_data`. Errors: kDecodeError
// detail 13 (3 for an unknown MAC alg).
Result<InitiatorData> DecodeInitiatorData(std::span<const uint8_t> initiator_data,
                                          InitiatorDataLayout* out_layout = nullptr);

// EncodeInitiatorData: the Initiator Data bytes; kInvalidArgument on a MAC length / alg
// mismatch or a vi_next other than 0 or 9.
Result<Bytes> EncodeInitiatorData(const InitiatorData& id,
                                  InitiatorDataLayout* out_layout = nullptr);

}  // namespace kms::mikey
