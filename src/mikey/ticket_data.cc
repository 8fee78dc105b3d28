#include "src/mikey/ticket_data.h"

#include <utility>

#include "src/base/byte_reader.h"
#include "src/base/byte_writer.h"
#include "src/mikey/wire_payloads.h"

namespace kms::mikey {
namespace internal {
namespace {

// ReadExpected: one payload of exactly `type` at r (a fixed position in the chain).
template <typename P>
Status ReadExpected(PayloadType type, uint8_t* type_io, ByteReader& r, P* out,
                    std::vector<PayloadSpan>* spans) {
  if (*type_io != static_cast<uint8_t>(type)) {
    return Unparseable(std::string("base ticket: expected ") + PayloadTypeName(type));
  }
  const size_t start = r.offset();
  uint8_t next = 0;
  KMS_ASSIGN_OR_RETURN(InnerPayload p, ParseInnerPayload(*type_io, r, &next));
  *out = std::get<P>(std::move(p));
  spans->push_back(PayloadSpan{type, RangeFrom(start, r), {}});
  *type_io = next;
  return Status::Ok();
}

}  // namespace

// WriteLeading: GCC 12 at -O3 reports a false -Wstringop-overflow when it inlines
// vector::insert into a ByteWriter it can prove empty; writing the first bytes out of line
// keeps -Werror release builds clean.
[[gnu::noinline]] void WriteLeading(ByteWriter& w, std::span<const uint8_t> bytes) {
  w.Bytes(bytes);
}

Status ParseBaseTicket(ByteReader r, BaseTicketData* out, BaseTicketLayout* layout) {
  // RFC 6043 App. A.1/A.3: THDR = next | THDR Data length (16) | THDR Data; no type code.
  const size_t thdr_start = r.offset();
  uint8_t type = 0;
  ByteReader thdr;
  std::span<const uint8_t> thdr_data;
  if (!r.U8(&type) || !r.Prefixed16(&thdr) || !thdr.Bytes(thdr.remaining(), &thdr_data)) {
    return Unparseable("base ticket THDR truncated");
  }
  out->thdr.data.assign(thdr_data.begin(), thdr_data.end());
  layout->thdr = RangeFrom(thdr_start, r);
  // Fixed order: T, RAND, KEMAC, [IDRpsk], V.
  KMS_RETURN_IF_ERROR(ReadExpected(PayloadType::kT, &type, r, &out->t, &layout->payloads));
  KMS_RETURN_IF_ERROR(ReadExpected(PayloadType::kRand, &type, r, &out->rand, &layout->payloads));
  KMS_RETURN_IF_ERROR(ReadExpected(PayloadType::kKemac, &type, r, &out->kemac, &layout->payloads));
  if (type == static_cast<uint8_t>(PayloadType::kIdr)) {
    Idr idr;
    KMS_RETURN_IF_ERROR(ReadExpected(PayloadType::kIdr, &type, r, &idr, &layout->payloads));
    if (idr.role != IdRole::kPreSharedKey) {
      return Unparseable("base ticket: IDR must be IDRpsk");
    }
    out->idr_psk = std::move(idr);
  }
  KMS_RETURN_IF_ERROR(ReadExpected(PayloadType::kV, &type, r, &out->v, &layout->payloads));
  if (type != static_cast<uint8_t>(PayloadType::kLast) || !r.empty()) {
    return Unparseable("base ticket: bytes or payloads after V");
  }
  const ByteRange& v = layout->payloads.back().range;
  layout->v_mac = ByteRange{v.offset + 2, v.length - 2};
  return Status::Ok();
}

Status ParseInitiatorData(ByteReader r, InitiatorData* out, InitiatorDataLayout* layout) {
  // Spec §4.12.3 / §11 A5: parsed by position; Vi's Next Payload may be 0 or 9.
  uint8_t first = 0;
  if (!r.U8(&first) || first != static_cast<uint8_t>(PayloadType::kV)) {
    return Unparseable("Initiator Data must start with First Payload = V");
  }
  uint8_t next = 0;
  size_t start = r.offset();
  KMS_ASSIGN_OR_RETURN(InnerPayload vi, ParseInnerPayload(first, r, &next));
  layout->vi = RangeFrom(start, r);
  if (next != 0 && next != static_cast<uint8_t>(PayloadType::kV)) {
    return Unparseable("Initiator Data: Vi Next Payload must be 0 or 9");
  }
  out->vi_next = next;
  start = r.offset();
  uint8_t vr_next = 0;
  KMS_ASSIGN_OR_RETURN(InnerPayload vr,
                       ParseInnerPayload(static_cast<uint8_t>(PayloadType::kV), r, &vr_next));
  layout->vr = RangeFrom(start, r);
  if (vr_next != 0 || !r.empty()) {
    return Unparseable("Initiator Data: bytes or payloads after Vr");
  }
  out->vi = std::get<Verification>(std::move(vi));
  out->vr = std::get<Verification>(std::move(vr));
  if (out->vi.mac_alg != out->vr.mac_alg) {
    return Unparseable("Initiator Data: Vi and Vr MAC algorithms differ");
  }
  layout->vi_mac = ByteRange{layout->vi.offset + 2, layout->vi.length - 2};
  layout->vr_mac = ByteRange{layout->vr.offset + 2, layout->vr.length - 2};
  return Status::Ok();
}

void Shift(std::vector<PayloadSpan>& spans, size_t by) {
  for (PayloadSpan& s : spans) {
    s.range.offset += by;
    Shift(s.children, by);
  }
}

void Shift(BaseTicketLayout& l, size_t by) {
  l.thdr.offset += by;
  Shift(l.payloads, by);
  l.v_mac.offset += by;
}

void Shift(InitiatorDataLayout& l, size_t by) {
  l.vi.offset += by;
  l.vi_mac.offset += by;
  l.vr.offset += by;
  l.vr_mac.offset += by;
}

}  // namespace internal

Result<BaseTicketData> DecodeBaseTicketData(std::span<const uint8_t> ticket_data,
                                            BaseTicketLayout* out_layout) {
  BaseTicketData td;
  BaseTicketLayout layout;
  KMS_RETURN_IF_ERROR(internal::ParseBaseTicket(ByteReader(ticket_data), &td, &layout));
  if (out_layout != nullptr) {
    *out_layout = std::move(layout);
  }
  return td;
}

Result<Bytes> EncodeBaseTicketData(const BaseTicketData& td, BaseTicketLayout* out_layout) {
  if (td.thdr.data.size() > 0xffff) {
    return InvalidArgumentError("THDR data too long");
  }
  if (td.idr_psk && td.idr_psk->role != IdRole::kPreSharedKey) {
    return InvalidArgumentError("base ticket IDR must be IDRpsk");
  }
  ByteWriter w(0xffff);
  BaseTicketLayout layout;
  const size_t thdr_len = td.thdr.data.size();
  const uint8_t thdr_head[3] = {static_cast<uint8_t>(PayloadType::kT),
                                static_cast<uint8_t>(thdr_len >> 8),
                                static_cast<uint8_t>(thdr_len)};
  internal::WriteLeading(w, thdr_head);
  w.Bytes(td.thdr.data);
  layout.thdr = ByteRange{0, w.size()};
  std::vector<InnerPayload> chain{td.t, td.rand, td.kemac};
  if (td.idr_psk) {
    chain.emplace_back(*td.idr_psk);
  }
  chain.emplace_back(td.v);
  for (size_t i = 0; i < chain.size(); ++i) {
    const uint8_t next =
        i + 1 < chain.size() ? static_cast<uint8_t>(TypeOf(chain[i + 1])) : uint8_t{0};
    const size_t start = w.size();
    KMS_RETURN_IF_ERROR(internal::WriteInnerPayload(w, chain[i], next));
    layout.payloads.push_back(
        PayloadSpan{TypeOf(chain[i]), ByteRange{start, w.size() - start}, {}});
  }
  const ByteRange& v = layout.payloads.back().range;
  layout.v_mac = ByteRange{v.offset + 2, v.length - 2};
  KMS_ASSIGN_OR_RETURN(Bytes out, std::move(w).Finish());
  if (out_layout != nullptr) {
    *out_layout = std::move(layout);
  }
  return out;
}

Result<InitiatorData> DecodeInitiatorData(std::span<const uint8_t> initiator_data,
                                          InitiatorDataLayout* out_layout) {
  InitiatorData id;
  InitiatorDataLayout layout;
  KMS_RETURN_IF_ERROR(internal::ParseInitiatorData(ByteReader(initiator_data), &id, &layout));
  if (out_layout != nullptr) {
    *out_layout = layout;
  }
  return id;
}

Result<Bytes> EncodeInitiatorData(const InitiatorData& id, InitiatorDataLayout* out_layout) {
  if (id.vi_next != 0 && id.vi_next != static_cast<uint8_t>(PayloadType::kV)) {
    return InvalidArgumentError("Vi Next Payload must be 0 or 9");
  }
  if (id.vi.mac_alg != id.vr.mac_alg) {
    return InvalidArgumentError("Vi and Vr must use the same MAC algorithm");
  }
  ByteWriter w(0xffff);
  InitiatorDataLayout layout;
  const uint8_t first[1] = {static_cast<uint8_t>(PayloadType::kV)};
  internal::WriteLeading(w, first);
  layout.vi.offset = w.size();
  KMS_RETURN_IF_ERROR(internal::WriteInnerPayload(w, id.vi, id.vi_next));
  layout.vi.length = w.size() - layout.vi.offset;
  layout.vr.offset = w.size();
  KMS_RETURN_IF_ERROR(internal::WriteInnerPayload(w, id.vr, 0));
  layout.vr.length = w.size() - layout.vr.offset;
  layout.vi_mac = ByteRange{layout.vi.offset + 2, layout.vi.length - 2};
  layout.vr_mac = ByteRange{layout.vr.offset + 2, layout.vr.length - 2};
  KMS_ASSIGN_OR_RETURN(Bytes out, std::move(w).Finish());
  if (out_layout != nullptr) {
    *out_layout = layout;
  }
  return out;
}

}  // namespace kms::mikey
