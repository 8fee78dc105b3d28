// Message = HDR + ordered payloads, plus the wire layout (byte offsets) that MAC coverage
// needs (spec mikey-ticket.md §5.5; style.md "MAC: over the received bytes").
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "src/mikey/payloads.h"

namespace kms::mikey {

// A byte range inside a wire buffer. All WireLayout offsets are absolute: from the first
// byte of the message (HDR version byte).
struct ByteRange {
  size_t offset = 0;
  size_t length = 0;
  size_t end() const { return offset + length; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// Where one payload sits on the wire (offset of its Next Payload byte, or of the S type
// byte for SIGN), with the payloads of its nested chain (TP Data) if any.
struct PayloadSpan {
  PayloadType type = PayloadType::kLast;
  ByteRange range;
  std::vector<PayloadSpan> children;
};

// Base ticket (Ticket Type 1) Ticket Data layout, RFC 6043 App. A.
struct BaseTicketLayout {
  ByteRange thdr;
  std::vector<PayloadSpan> payloads;  // T, RAND, KEMAC, [IDR], V after the THDR
  ByteRange v_mac;                    // the MAC bytes of the ticket's V payload
};

// Initiator Data layout (RFC 6043 §6.10; spec §4.12.3).
struct InitiatorDataLayout {
  ByteRange vi;      // whole Vi payload
  ByteRange vi_mac;  // Vi's MAC bytes
  ByteRange vr;      // whole Vr payload
  ByteRange vr_mac;  // Vr's MAC bytes
};

// TICKET payload layout (RFC 6043 §6.10).
struct TicketLayout {
  ByteRange payload;                    // whole TICKET payload, from its Next Payload byte
  ByteRange tp_data;                    // TP Data (from its First Payload byte)
  size_t ticket_data_length_field = 0;  // offset of the 2-byte Ticket Data length
  ByteRange ticket_data;
  size_t initiator_data_length_field = 0;  // offset of the 2-byte Initiator Data length
  ByteRange initiator_data;
  std::optional<BaseTicketLayout> base_ticket;   // Ticket Type 1
  std::optional<InitiatorDataLayout> initiator;  // iff Initiator Data is non-empty
};

// WireLayout: filled by Decode (offsets in the received bytes) and by EncodeWithLayout
// (offsets in the produced bytes). payloads[i] describes Message::payloads[i].
struct WireLayout {
  size_t total_length = 0;
  ByteRange hdr;
  std::vector<PayloadSpan> payloads;
  std::optional<ByteRange> v_mac;      // MAC bytes of the message's V payload
  std::optional<ByteRange> signature;  // signature bytes of the SIGN payload
  std::optional<TicketLayout> ticket;  // the message-level TICKET payload
};

// Message: one MIKEY message. Lifetime: owns all its bytes; the layout is only meaningful
// together with the exact wire buffer it was produced from / decoded from.
struct Message {
  Hdr hdr;
  std::vector<Payload> payloads;  // wire order, HDR excluded
  WireLayout layout;              // ignored by Encode

  // Find<P>: the first payload of C++ type P, or nullptr.
  template <typename P>
  const P* Find() const {
    for (const Payload& p : payloads) {
      if (const P* q = std::get_if<P>(&p)) {
        return q;
      }
    }
    return nullptr;
  }
  template <typename P>
  P* FindMutable() {
    for (Payload& p : payloads) {
      if (P* q = std::get_if<P>(&p)) {
        return q;
      }
    }
    return nullptr;
  }
  // Count<P>: number of payloads of type P.
  template <typename P>
  size_t Count() const {
    size_t n = 0;
    for (const Payload& p : payloads) {
      n += std::holds_alternative<P>(p) ? size_t{1} : size_t{0};
    }
    return n;
  }

  const Timestamp* FindT() const { return Find<Timestamp>(); }
  const Verification* FindV() const { return Find<Verification>(); }
  const Kemac* FindKemac() const { return Find<Kemac>(); }
  const Tp* FindTp() const { return Find<Tp>(); }
  const Ticket* FindTicket() const { return Find<Ticket>(); }
  const Sign* FindSign() const { return Find<Sign>(); }
  // FindIdr / FindRandR: the message-level IDR / RANDR with this role, or nullptr.
  const Idr* FindIdr(IdRole role) const;
  const RandR* FindRandR(RandRole role) const;
  // Errors: every ERR payload (Error messages carry one or more).
  std::vector<const ErrorPayload*> Errors() const;
  // Policies: every SP payload.
  std::vector<const SecurityPolicy*> Policies() const;
};

}  // namespace kms::mikey
