// Internal to kms::mikey: per-payload wire readers and writers shared by the message codec
// (decoder.cc, encoder.cc) and the Ticket Data / Initiator Data codec (ticket_data.cc).
// Not part of the public API; include decoder.h / encoder.h / ticket_data.h instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/base/byte_reader.h"
#include "src/base/byte_writer.h"
#include "src/base/result.h"
#include "src/mikey/message.h"
#include "src/mikey/payloads.h"
#include "src/mikey/ticket_data.h"

namespace kms::mikey::internal {

// Decode-error helpers carrying the MIKEY error number to send back (RFC 3830 §6.12).
Status Unparseable(std::string what);  // 13
Status DecodeFail(std::string what, ErrorNo e);

// ParseBudget: counts payloads across all nested chains of one decode (DecodeLimits).
struct ParseBudget {
  size_t max_payloads = 64;
  size_t used = 0;
  Status Take();
};

// IsInnerType: a type that ParseInnerPayload can read.
bool IsInnerType(uint8_t type);

// ParseInnerPayload: reads one payload of `type` at the reader's position (its Next
// Payload byte) and stores its Next Payload field in *next.
Result<InnerPayload> ParseInnerPayload(uint8_t type, ByteReader& r, uint8_t* next);

// ParseSign: reads a SIGN payload (no Next Payload field); *sig gets the signature range.
Result<Sign> ParseSign(ByteReader& r, ByteRange* sig);

// ParseChain: reads a chain of inner payloads starting with `first` until Next Payload 0;
// the reader must then be empty. Spans get absolute offsets.
Status ParseChain(uint8_t first, ByteReader& r, ParseBudget& budget, std::vector<InnerPayload>* out,
                  std::vector<PayloadSpan>* spans);

// ParseTicketPolicy: reads the fields common to TP and TICKET after the Next Payload byte
// up to and including TP Data, and checks ticket type (14), PRF (2), flags (15) and the
// TP Data rules of RFC 6043 §6.10.
Status ParseTicketPolicy(ByteReader& r, ParseBudget& budget, TicketPolicy* out, ByteRange* tp_data,
                         std::vector<PayloadSpan>* spans);

// ParseKvData: validates KV data of `kv` at r and returns its raw bytes.
Status ParseKvData(KvType kv, ByteReader& r, Bytes* out);

// RangeFrom: the bytes read since `start` as an absolute range.
inline ByteRange RangeFrom(size_t start, const ByteReader& r) {
  return ByteRange{start, r.offset() - start};
}

// WriteInnerPayload: appends `p` with Next Payload `next`; kInvalidArgument if a field
// does not fit its wire width or contradicts a length table (MAC, TS, hash, DH).
Status WriteInnerPayload(ByteWriter& w, const InnerPayload& p, uint8_t next);
Status WriteSign(ByteWriter& w, const Sign& s);
// WriteChain: First Payload byte + chain (TP Data); spans get w-relative offsets.
Status WriteChain(ByteWriter& w, const std::vector<InnerPayload>& chain,
                  std::vector<PayloadSpan>* spans);
// WriteTicketPolicy: the common TP/TICKET fields after the Next Payload byte.
Status WriteTicketPolicy(ByteWriter& w, const TicketPolicy& tp, ByteRange* tp_data,
                         std::vector<PayloadSpan>* spans);

}  // namespace kms::mikey::internal

namespace kms::mikey::internal {

// CheckTpDataRules: RFC 6043 §6.10 TP Data: at most one IDRkms, IDRi, KEMAC and TR per
// role; at least one IDRr. kDecodeError detail 15.
Status CheckTpDataRules(const std::vector<InnerPayload>& tp_data);

// ParseBaseTicket / ParseInitiatorData: as the public Decode* functions in ticket_data.h,
// over a reader whose offsets are absolute; the reader must be consumed entirely.
Status ParseBaseTicket(ByteReader r, BaseTicketData* out, BaseTicketLayout* layout);
Status ParseInitiatorData(ByteReader r, InitiatorData* out, InitiatorDataLayout* layout);

// WriteLeading: the first bytes of a fresh writer, out of line (see ticket_data.cc).
void WriteLeading(ByteWriter& w, std::span<const uint8_t> bytes);

// Shift: adds `by` to every offset (turns buffer-relative into message-absolute offsets).
void Shift(std::vector<PayloadSpan>& spans, size_t by);
void Shift(BaseTicketLayout& l, size_t by);
void Shift(InitiatorDataLayout& l, size_t by);

}  // namespace kms::mikey::internal
