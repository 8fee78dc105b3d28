#include "src/mikey/decoder.h"

#include <set>
#include <string>
#include <utility>

#include "src/base/byte_reader.h"
#include "src/mikey/wire_payloads.h"

namespace kms::mikey {
namespace internal {

Status CheckTpDataRules(const std::vector<InnerPayload>& tp_data) {
  // RFC 6043 §6.10: [IDRkms], [IDRi], [TRs], [TRe], [TRr], [KEMAC], {IDRapp}, (IDRr).
  std::set<uint8_t> idr_roles;
  std::set<uint8_t> tr_roles;
  size_t kemacs = 0;
  size_t responders = 0;
  for (const InnerPayload& p : tp_data) {
    if (const Idr* i = std::get_if<Idr>(&p)) {
      if (i->role == IdRole::kResponder) {
        ++responders;
      } else if (i->role != IdRole::kApplication &&
                 !idr_roles.insert(static_cast<uint8_t>(i->role)).second) {
        return DecodeFail("TP Data repeats an IDR role", ErrorNo::kInvalidTpPar);
      }
    } else if (const TimestampR* t = std::get_if<TimestampR>(&p)) {
      if (!tr_roles.insert(static_cast<uint8_t>(t->role)).second) {
        return DecodeFail("TP Data repeats a TR role", ErrorNo::kInvalidTpPar);
      }
    } else if (std::holds_alternative<Kemac>(p)) {
      if (++kemacs > 1) {
        return DecodeFail("TP Data has more than one KEMAC", ErrorNo::kInvalidTpPar);
      }
    }
  }
  if (responders == 0) {
    return DecodeFail("TP Data names no responder (IDRr)", ErrorNo::kInvalidTpPar);
  }
  return Status::Ok();
}

Status ParseTicketPolicy(ByteReader& r, ParseBudget& budget, TicketPolicy* out, ByteRange* tp_data,
                         std::vector<PayloadSpan>* spans) {
  // RFC 6043 §6.10: Ticket Type (16) | Subtype | Version | PRF(7) D | E..L | M N O rsv |
  // TP Data length (16) | TP Data.
  uint16_t type = 0;
  uint8_t b5 = 0;
  uint8_t b6 = 0;
  uint8_t b7 = 0;
  ByteReader data;
  if (!r.U16(&type) || !r.U8(&out->subtype) || !r.U8(&out->version) || !r.U8(&b5) || !r.U8(&b6) ||
      !r.U8(&b7) || !r.Prefixed16(&data)) {
    return Unparseable("ticket policy truncated or overruns its payload");
  }
  out->ticket_type = static_cast<TicketType>(type);
  // Spec §11 A16: only the MIKEY base ticket (Type 1, subtype 1, version 1) is supported.
  if (out->ticket_type != TicketType::kMikeyBaseTicket || out->subtype != kBaseTicketSubtype ||
      out->version != kBaseTicketVersion) {
    return DecodeFail("ticket type not supported", ErrorNo::kInvalidTicket);
  }
  out->prf = static_cast<PrfFunc>(b5 >> 1);
  if (out->prf != PrfFunc::kMikey1 && out->prf != PrfFunc::kPrfHmacSha256) {
    return DecodeFail("ticket policy PRF not supported", ErrorNo::kInvalidPrf);
  }
  TpFlags& f = out->flags;
  f.d = (b5 & kTpFlagD) != 0;
  f.e = (b6 & kTpFlagE) != 0;
  f.f = (b6 & kTpFlagF) != 0;
  f.g = (b6 & kTpFlagG) != 0;
  f.h = (b6 & kTpFlagH) != 0;
  f.i = (b6 & kTpFlagI) != 0;
  f.j = (b6 & kTpFlagJ) != 0;
  f.k = (b6 & kTpFlagK) != 0;
  f.l = (b6 & kTpFlagL) != 0;
  f.m = (b7 & kTpFlagM) != 0;
  f.n = (b7 & kTpFlagN) != 0;
  f.o = (b7 & kTpFlagO) != 0;
  out->reserved = b7 & kTpReservedMask;
  // RFC 6043 §6.10: reject flag combinations that violate the consistency rules.
  KMS_RETURN_IF_ERROR(CheckTpFlagRules(f));
  tp_data->offset = data.offset();
  tp_data->length = data.remaining();
  uint8_t first = 0;
  if (!data.U8(&first)) {
    return Unparseable("TP Data lacks its First Payload byte");
  }
  KMS_RETURN_IF_ERROR(ParseChain(first, data, budget, &out->tp_data, spans));
  return CheckTpDataRules(out->tp_data);
}

}  // namespace internal

namespace {

using internal::DecodeFail;
using internal::ParseBudget;
using internal::Unparseable;

bool IsKnownDataType(uint8_t t) { return t <= static_cast<uint8_t>(DataType::kResolveResp); }

bool IsTicketDataType(DataType t) {
  return t == DataType::kError || (static_cast<uint8_t>(t) >= 11 && static_cast<uint8_t>(t) <= 18);
}

Status ParseHdr(ByteReader& r, Hdr* h, uint8_t* next) {
  // RFC 3830 §6.1: version | data type | next | V + PRF | CSB ID | #CS | map type | info.
  uint8_t dt = 0;
  uint8_t b3 = 0;
  uint8_t map = 0;
  if (!r.U8(&h->version) || !r.U8(&dt) || !r.U8(next) || !r.U8(&b3) || !r.U32(&h->csb_id) ||
      !r.U8(&h->cs_count) || !r.U8(&map)) {
    return Unparseable("HDR truncated");
  }
  if (h->version != kMikeyVersion) {
    return Unparseable("unsupported MIKEY version");
  }
  if (!IsKnownDataType(dt)) {
    return DecodeFail("data type not supported", ErrorNo::kInvalidDt);
  }
  h->data_type = static_cast<DataType>(dt);
  h->v_flag = (b3 & kHdrVFlag) != 0;
  h->prf = static_cast<PrfFunc>(b3 & kPrfMask);
  if (h->prf != PrfFunc::kMikey1 && h->prf != PrfFunc::kPrfHmacSha256) {
    return DecodeFail("PRF not supported", ErrorNo::kInvalidPrf);
  }
  h->map_type = static_cast<CsIdMapType>(map);
  switch (h->map_type) {
    case CsIdMapType::kEmpty:
      return Status::Ok();  // RFC 4563 §5: no map info
    case CsIdMapType::kSrtpId:
      // RFC 3830 §6.1.1: #CS x (Policy_no | SSRC | ROC).
      for (size_t i = 0; i < h->cs_count; ++i) {
        SrtpIdEntry e;
        if (!r.U8(&e.policy_no) || !r.U32(&e.ssrc) || !r.U32(&e.roc)) {
          return Unparseable("SRTP-ID map info overruns the message");
        }
        h->srtp_map.push_back(e);
      }
      return Status::Ok();
    case CsIdMapType::kGenericId:
      // RFC 6043 §6.1.1: #CS GENERIC-ID blocks.
      for (size_t i = 0; i < h->cs_count; ++i) {
        GenericIdBlock b;
        uint8_t prot = 0;
        uint8_t sp = 0;
        std::span<const uint8_t> pol;
        ByteReader sd;
        ByteReader spi;
        std::span<const uint8_t> sd_bytes;
        std::span<const uint8_t> spi_bytes;
        if (!r.U8(&b.cs_id) || !r.U8(&prot) || !r.U8(&sp) ||
            !r.Bytes(sp & kGenericIdPolicyCountMask, &pol) || !r.Prefixed16(&sd) ||
            !sd.Bytes(sd.remaining(), &sd_bytes) || !r.Prefixed8(&spi) ||
            !spi.Bytes(spi.remaining(), &spi_bytes)) {
          return Unparseable("GENERIC-ID map info overruns the message");
        }
        b.prot_type = static_cast<ProtType>(prot);
        b.s_flag = (sp & kGenericIdSFlag) != 0;
        b.policy_nos.assign(pol.begin(), pol.end());
        b.session_data.assign(sd_bytes.begin(), sd_bytes.end());
        b.spi.assign(spi_bytes.begin(), spi_bytes.end());
        h->generic_map.push_back(std::move(b));
      }
      return Status::Ok();
  }
  return Unparseable("CS ID map type not supported");
}

Result<Ticket> ParseTicket(ByteReader& r, ParseBudget& budget, uint8_t* next, PayloadSpan* span,
                           TicketLayout* layout) {
  // RFC 6043 §6.10: policy | Ticket Data len (16) | Ticket Data | Init Data len | Init Data.
  Ticket t;
  if (!r.U8(next)) {
    return Unparseable("TICKET truncated");
  }
  KMS_RETURN_IF_ERROR(
      internal::ParseTicketPolicy(r, budget, &t.policy, &layout->tp_data, &span->children));
  ByteReader td;
  ByteReader id;
  layout->ticket_data_length_field = r.offset();
  if (!r.Prefixed16(&td)) {
    return Unparseable("TICKET Ticket Data overruns the message");
  }
  layout->ticket_data = ByteRange{td.offset(), td.remaining()};
  layout->initiator_data_length_field = r.offset();
  if (!r.Prefixed16(&id)) {
    return Unparseable("TICKET Initiator Data overruns the message");
  }
  layout->initiator_data = ByteRange{id.offset(), id.remaining()};
  t.ticket_data.assign(td.Rest().begin(), td.Rest().end());
  t.initiator_data.assign(id.Rest().begin(), id.Rest().end());
  // Type 1 (checked in ParseTicketPolicy): the base ticket format is known (App. A).
  BaseTicketData base;
  BaseTicketLayout base_layout;
  KMS_RETURN_IF_ERROR(internal::ParseBaseTicket(td, &base, &base_layout));
  layout->base_ticket = std::move(base_layout);
  if (!t.initiator_data.empty()) {
    // RFC 6043 §6.10: Initiator Data only with key forking (I flag).
    if (!t.policy.flags.i) {
      return Unparseable("Initiator Data present without the I flag");
    }
    InitiatorData init;
    InitiatorDataLayout init_layout;
    KMS_RETURN_IF_ERROR(internal::ParseInitiatorData(id, &init, &init_layout));
    layout->initiator = init_layout;
  }
  return t;
}

// CheckMessageRules: RFC 6043 §4.2 message catalogue (spec §2) for data types 6, 11-18,
// and the payload-level rules of RFC 3830 for all.
Status CheckMessageRules(const Message& m) {
  const size_t n = m.payloads.size();
  // Singletons (spec §9.3): at most one of each per message.
  if (m.Count<Timestamp>() > 1 || m.Count<Verification>() > 1 || m.Count<Tp>() > 1 ||
      m.Count<Ticket>() > 1 || m.Count<Kemac>() > 1 || m.Count<Pke>() > 1) {
    return Unparseable("singleton payload repeated");
  }
  // RFC 3830 §6.9: V (and SIGN, by its format) is the last payload.
  for (size_t i = 0; i + 1 < n; ++i) {
    if (std::holds_alternative<Verification>(m.payloads[i])) {
      return Unparseable("V is not the last payload");
    }
  }
  // RFC 4563 §5: an Empty map has no SP payloads.
  if (m.hdr.map_type == CsIdMapType::kEmpty && m.Count<SecurityPolicy>() > 0) {
    return Unparseable("SP payload with an Empty CS ID map");
  }
  const DataType dt = m.hdr.data_type;
  if (!IsTicketDataType(dt)) {
    return Status::Ok();  // RFC 3830 family: payload walk only
  }
  std::set<uint8_t> idr_roles;
  std::set<uint8_t> rand_roles;
  for (const Payload& p : m.payloads) {
    if (const Idr* i = std::get_if<Idr>(&p);
        i != nullptr && !idr_roles.insert(static_cast<uint8_t>(i->role)).second) {
      return Unparseable("IDR role repeated");
    }
    if (const RandR* rr = std::get_if<RandR>(&p);
        rr != nullptr && !rand_roles.insert(static_cast<uint8_t>(rr->role)).second) {
      return Unparseable("RANDR role repeated");
    }
  }
  const bool t = m.FindT() != nullptr;
  const bool v = m.FindV() != nullptr;
  const bool sign = m.FindSign() != nullptr;
  const bool pke = m.Find<Pke>() != nullptr;
  const bool randri = m.FindRandR(RandRole::kInitiator) != nullptr;
  const bool randrr = m.FindRandR(RandRole::kResponder) != nullptr;
  bool ok = t;
  switch (dt) {
    case DataType::kError:
      ok = t && !m.Errors().empty();
      break;
    case DataType::kRequestInitPsk:
      ok = t && randri && m.FindTp() && v;
      break;
    case DataType::kRequestInitPk:
      ok = t && randri && m.FindTp() && pke && sign;
      break;
    case DataType::kRequestResp:
      ok = t && m.FindTicket() && m.FindKemac() && v;
      break;
    case DataType::kTransferInit:
    case DataType::kTransferResp:
      ok = t && v;
      break;
    case DataType::kResolveInitPsk:
      ok = t && randrr && m.FindTicket() && v;
      break;
    case DataType::kResolveInitPk:
      ok = t && randrr && m.FindTicket() && pke && sign;
      break;
    case DataType::kResolveResp:
      ok = t && m.FindKemac() && v;
      break;
    default:
      break;
  }
  if (!ok) {
    return Unparseable("mandatory payload missing for the data type");
  }
  // RFC 6043 §4.2.1.1 / §4.2.3.1: Request and Resolve initial messages use #CS=0, Empty map.
  if (dt == DataType::kRequestInitPsk || dt == DataType::kRequestInitPk ||
      dt == DataType::kResolveInitPsk || dt == DataType::kResolveInitPk) {
    if (m.hdr.cs_count != 0 || m.hdr.map_type != CsIdMapType::kEmpty) {
      return Unparseable("Request/Resolve initial message needs #CS=0 and the Empty map");
    }
  }
  // RFC 6043 §4.2.2.1: TRANSFER_INIT SHALL NOT use the SRTP-ID map.
  if (dt == DataType::kTransferInit && m.hdr.map_type == CsIdMapType::kSrtpId) {
    return Unparseable("TRANSFER_INIT with SRTP-ID map");
  }
  if (const Ticket* tk = m.FindTicket()) {
    // RFC 6043 §4.2.1.5: REQUEST_RESP carries no Initiator Data; §4.2.2.1: TRANSFER_INIT
    // (and RESOLVE_INIT, which forwards it) carries it iff the I flag is set.
    if (dt == DataType::kRequestResp && !tk->initiator_data.empty()) {
      return Unparseable("REQUEST_RESP ticket with Initiator Data");
    }
    if ((dt == DataType::kTransferInit || dt == DataType::kResolveInitPsk ||
         dt == DataType::kResolveInitPk) &&
        tk->policy.flags.i && tk->initiator_data.empty()) {
      return Unparseable("forking ticket without Initiator Data");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Hdr> DecodeHdr(std::span<const uint8_t> wire) {
  ByteReader r(wire);
  Hdr hdr;
  uint8_t next = 0;
  KMS_RETURN_IF_ERROR(ParseHdr(r, &hdr, &next));
  return hdr;
}

Result<Message> Decode(std::span<const uint8_t> wire, const DecodeLimits& limits) {
  if (wire.size() > limits.max_message_size) {
    return Unparseable("message exceeds the size limit");
  }
  ByteReader r(wire);
  Message m;
  uint8_t type = 0;
  KMS_RETURN_IF_ERROR(ParseHdr(r, &m.hdr, &type));
  m.layout.hdr = ByteRange{0, r.offset()};
  ParseBudget budget{limits.max_payloads, 0};
  while (type != static_cast<uint8_t>(PayloadType::kLast)) {
    KMS_RETURN_IF_ERROR(budget.Take());
    const size_t start = r.offset();
    PayloadSpan span{static_cast<PayloadType>(type), {}, {}};
    uint8_t next = 0;
    switch (static_cast<PayloadType>(type)) {
      case PayloadType::kSign: {
        ByteRange sig;
        KMS_ASSIGN_OR_RETURN(Sign s, internal::ParseSign(r, &sig));
        if (m.layout.signature) {
          return Unparseable("SIGN repeated");
        }
        m.layout.signature = sig;
        m.payloads.emplace_back(std::move(s));
        break;  // RFC 3830 §6.5: SIGN has no Next Payload and ends the message
      }
      case PayloadType::kTp: {
        Tp tp;
        ByteRange tp_data;
        if (!r.U8(&next)) {
          return Unparseable("TP truncated");
        }
        KMS_RETURN_IF_ERROR(
            internal::ParseTicketPolicy(r, budget, &tp.policy, &tp_data, &span.children));
        m.payloads.emplace_back(std::move(tp));
        break;
      }
      case PayloadType::kTicket: {
        TicketLayout tl;
        KMS_ASSIGN_OR_RETURN(Ticket t, ParseTicket(r, budget, &next, &span, &tl));
        tl.payload = internal::RangeFrom(start, r);
        m.layout.ticket = std::move(tl);
        m.payloads.emplace_back(std::move(t));
        break;
      }
      default: {
        KMS_ASSIGN_OR_RETURN(InnerPayload p, internal::ParseInnerPayload(type, r, &next));
        m.payloads.push_back(
            std::visit([](auto&& x) -> Payload { return std::move(x); }, std::move(p)));
        break;
      }
    }
    span.range = internal::RangeFrom(start, r);
    if (span.type == PayloadType::kV) {
      m.layout.v_mac = ByteRange{span.range.offset + 2, span.range.length - 2};
    }
    m.layout.payloads.push_back(std::move(span));
    type = next;
  }
  if (!r.empty()) {
    return Unparseable("trailing bytes after the last payload");
  }
  m.layout.total_length = wire.size();
  KMS_RETURN_IF_ERROR(CheckMessageRules(m));
  return m;
}

}  // namespace kms::mikey
