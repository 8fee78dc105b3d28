#include "src/mikey/encoder.h"

#include <utility>

#include "src/base/byte_writer.h"
#include "src/mikey/wire_payloads.h"

namespace kms::mikey {
namespace {

constexpr size_t kMaxEncodedSize = 64 * 1024;

Status WriteHdr(ByteWriter& w, const Hdr& h, uint8_t next) {
  // RFC 3830 §6.1.
  if (static_cast<uint8_t>(h.prf) > kPrfMask) {
    return InvalidArgumentError("PRF func is 7 bits");
  }
  w.U8(h.version);
  w.U8(static_cast<uint8_t>(h.data_type));
  w.U8(next);
  w.U8(static_cast<uint8_t>((h.v_flag ? kHdrVFlag : 0) | static_cast<uint8_t>(h.prf)));
  w.U32(h.csb_id);
  w.U8(h.cs_count);
  w.U8(static_cast<uint8_t>(h.map_type));
  switch (h.map_type) {
    case CsIdMapType::kEmpty:
      if (!h.srtp_map.empty() || !h.generic_map.empty()) {
        return InvalidArgumentError("Empty CS ID map with map entries");
      }
      return Status::Ok();
    case CsIdMapType::kSrtpId:
      if (h.srtp_map.size() != h.cs_count || !h.generic_map.empty()) {
        return InvalidArgumentError("#CS does not match the SRTP-ID map");
      }
      for (const SrtpIdEntry& e : h.srtp_map) {
        w.U8(e.policy_no);
        w.U32(e.ssrc);
        w.U32(e.roc);
      }
      return Status::Ok();
    case CsIdMapType::kGenericId:
      if (h.generic_map.size() != h.cs_count || !h.srtp_map.empty()) {
        return InvalidArgumentError("#CS does not match the GENERIC-ID map");
      }
      for (const GenericIdBlock& b : h.generic_map) {
        if (b.policy_nos.size() > kGenericIdPolicyCountMask || b.session_data.size() > 0xffff ||
            b.spi.size() > 0xff) {
          return InvalidArgumentError("GENERIC-ID block field too long");
        }
        w.U8(b.cs_id);
        w.U8(static_cast<uint8_t>(b.prot_type));
        w.U8(static_cast<uint8_t>((b.s_flag ? kGenericIdSFlag : 0) | b.policy_nos.size()));
        w.Bytes(b.policy_nos);
        w.U16(static_cast<uint16_t>(b.session_data.size()));
        w.Bytes(b.session_data);
        w.U8(static_cast<uint8_t>(b.spi.size()));
        w.Bytes(b.spi);
      }
      return Status::Ok();
  }
  return InvalidArgumentError("unknown CS ID map type");
}

Status WriteTicket(ByteWriter& w, const Ticket& t, uint8_t next, PayloadSpan* span,
                   TicketLayout* tl) {
  // RFC 6043 §6.10.
  if (t.ticket_data.size() > 0xffff || t.initiator_data.size() > 0xffff) {
    return InvalidArgumentError("Ticket Data or Initiator Data too long");
  }
  w.U8(next);
  KMS_RETURN_IF_ERROR(internal::WriteTicketPolicy(w, t.policy, &tl->tp_data, &span->children));
  tl->ticket_data_length_field = w.size();
  w.U16(static_cast<uint16_t>(t.ticket_data.size()));
  tl->ticket_data = ByteRange{w.size(), t.ticket_data.size()};
  w.Bytes(t.ticket_data);
  tl->initiator_data_length_field = w.size();
  w.U16(static_cast<uint16_t>(t.initiator_data.size()));
  tl->initiator_data = ByteRange{w.size(), t.initiator_data.size()};
  w.Bytes(t.initiator_data);
  // Layout of the nested parts when they are well formed (best effort: the bytes are the
  // caller's; the decoder is the one that enforces their format).
  if (t.policy.ticket_type == TicketType::kMikeyBaseTicket) {
    BaseTicketLayout base;
    if (DecodeBaseTicketData(t.ticket_data, &base).ok()) {
      internal::Shift(base, tl->ticket_data.offset);
      tl->base_ticket = std::move(base);
    }
  }
  if (!t.initiator_data.empty()) {
    InitiatorDataLayout init;
    if (DecodeInitiatorData(t.initiator_data, &init).ok()) {
      internal::Shift(init, tl->initiator_data.offset);
      tl->initiator = init;
    }
  }
  return Status::Ok();
}

Status WritePayload(ByteWriter& w, const Payload& p, uint8_t next, PayloadSpan* span,
                    WireLayout* layout) {
  if (const Tp* tp = std::get_if<Tp>(&p)) {
    w.U8(next);
    ByteRange tp_data;
    return internal::WriteTicketPolicy(w, tp->policy, &tp_data, &span->children);
  }
  if (const Ticket* t = std::get_if<Ticket>(&p)) {
    TicketLayout tl;
    tl.payload.offset = w.size();
    KMS_RETURN_IF_ERROR(WriteTicket(w, *t, next, span, &tl));
    tl.payload.length = w.size() - tl.payload.offset;
    layout->ticket = std::move(tl);
    return Status::Ok();
  }
  if (const Sign* s = std::get_if<Sign>(&p)) {
    layout->signature = ByteRange{w.size() + 2, s->signature.size()};
    return internal::WriteSign(w, *s);
  }
  // Every remaining alternative is an InnerPayload alternative.
  InnerPayload inner = std::visit(
      [](const auto& x) -> InnerPayload {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, Tp> || std::is_same_v<X, Ticket> ||
                      std::is_same_v<X, Sign>) {
          KMS_CHECK(false);  // handled above
          return InnerPayload{};
        } else {
          return x;
        }
      },
      p);
  return internal::WriteInnerPayload(w, inner, next);
}

}  // namespace

Result<EncodedMessage> EncodeWithLayout(const Message& m) {
  ByteWriter w(kMaxEncodedSize);
  EncodedMessage out;
  WireLayout& layout = out.layout;
  const auto type_at = [&](size_t i) -> uint8_t {
    return i < m.payloads.size() ? static_cast<uint8_t>(TypeOf(m.payloads[i])) : uint8_t{0};
  };
  KMS_RETURN_IF_ERROR(WriteHdr(w, m.hdr, type_at(0)));
  layout.hdr = ByteRange{0, w.size()};
  for (size_t i = 0; i < m.payloads.size(); ++i) {
    const Payload& p = m.payloads[i];
    // RFC 3830 §6.5: SIGN has no Next Payload field, so nothing can follow it.
    if (std::holds_alternative<Sign>(p) && i + 1 != m.payloads.size()) {
      return InvalidArgumentError("SIGN must be the last payload");
    }
    PayloadSpan span{TypeOf(p), ByteRange{w.size(), 0}, {}};
    KMS_RETURN_IF_ERROR(WritePayload(w, p, type_at(i + 1), &span, &layout));
    span.range.length = w.size() - span.range.offset;
    if (span.type == PayloadType::kV) {
      layout.v_mac = ByteRange{span.range.offset + 2, span.range.length - 2};
    }
    layout.payloads.push_back(std::move(span));
  }
  KMS_ASSIGN_OR_RETURN(out.wire, std::move(w).Finish());
  layout.total_length = out.wire.size();
  return out;
}

Result<std::vector<uint8_t>> Encode(const Message& m) {
  KMS_ASSIGN_OR_RETURN(EncodedMessage e, EncodeWithLayout(m));
  return std::move(e.wire);
}

}  // namespace kms::mikey
