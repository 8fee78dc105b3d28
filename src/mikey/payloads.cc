#include "src/mikey/payloads.h"

#include <string>
#include <utility>

#include "src/base/byte_reader.h"
#include "src/base/byte_writer.h"
#include "src/mikey/message.h"

namespace kms::mikey {
namespace {

Status Unparseable(std::string what) {
  return DecodeError(std::move(what), ErrorDetail(ErrorNo::kUnsupportedMessageType));
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;  // needed by clang 14

template <typename V>
PayloadType TypeOfImpl(const V& v) {
  return std::visit(Overloaded{
                        [](const Kemac&) { return PayloadType::kKemac; },
                        [](const Pke&) { return PayloadType::kPke; },
                        [](const Dh&) { return PayloadType::kDh; },
                        [](const Timestamp&) { return PayloadType::kT; },
                        [](const Id&) { return PayloadType::kId; },
                        [](const Cert&) { return PayloadType::kCert; },
                        [](const Chash&) { return PayloadType::kChash; },
                        [](const Verification&) { return PayloadType::kV; },
                        [](const SecurityPolicy&) { return PayloadType::kSp; },
                        [](const Rand&) { return PayloadType::kRand; },
                        [](const ErrorPayload&) { return PayloadType::kErr; },
                        [](const TimestampR&) { return PayloadType::kTr; },
                        [](const Idr&) { return PayloadType::kIdr; },
                        [](const RandR&) { return PayloadType::kRandr; },
                        [](const GeneralExtension&) { return PayloadType::kGeneralExtension; },
                        [](const Sign&) { return PayloadType::kSign; },
                        [](const Tp&) { return PayloadType::kTp; },
                        [](const Ticket&) { return PayloadType::kTicket; },
                    },
                    v);
}

}  // namespace

Result<SrtpSessionData> GenericIdBlock::ParseSrtpSessionData() const {
  // RFC 6043 §6.1.1: SSRC (4), then iff S: ROC (4) and SEQ (2).
  ByteReader r(session_data);
  SrtpSessionData d;
  if (!r.U32(&d.ssrc)) {
    return Unparseable("GENERIC-ID SRTP session data too short");
  }
  if (s_flag) {
    uint32_t roc = 0;
    uint16_t seq = 0;
    if (!r.U32(&roc) || !r.U16(&seq)) {
      return Unparseable("GENERIC-ID SRTP session data lacks ROC/SEQ");
    }
    d.roc = roc;
    d.seq = seq;
  }
  if (!r.empty()) {
    return Unparseable("GENERIC-ID SRTP session data too long");
  }
  return d;
}

void GenericIdBlock::SetSrtpSessionData(const SrtpSessionData& d) {
  ByteWriter w;
  w.U32(d.ssrc);
  s_flag = d.roc.has_value() && d.seq.has_value();
  if (s_flag) {
    w.U32(*d.roc);
    w.U16(*d.seq);
  }
  session_data = std::move(w).Finish().value();  // 10 bytes cannot overflow
}

const SpParam* SecurityPolicy::FindParam(uint8_t type) const {
  for (const SpParam& p : params) {
    if (p.type == type) {
      return &p;
    }
  }
  return nullptr;
}

Result<std::optional<uint8_t>> SecurityPolicy::SrtpU8(SrtpParam p) const {
  const SpParam* q = FindParam(static_cast<uint8_t>(p));
  if (q == nullptr) {
    return std::optional<uint8_t>();
  }
  if (q->value.size() != 1) {
    return DecodeError("SRTP policy parameter has unexpected length",
                       ErrorDetail(ErrorNo::kInvalidSpPar));
  }
  return std::optional<uint8_t>(q->value[0]);
}

Result<std::optional<uint32_t>> SecurityPolicy::SrtpUint(SrtpParam p) const {
  const SpParam* q = FindParam(static_cast<uint8_t>(p));
  if (q == nullptr) {
    return std::optional<uint32_t>();
  }
  if (q->value.empty() || q->value.size() > 4) {
    return DecodeError("SRTP policy parameter has unexpected length",
                       ErrorDetail(ErrorNo::kInvalidSpPar));
  }
  uint32_t v = 0;
  for (const uint8_t b : q->value) {
    v = (v << 8) | b;
  }
  return std::optional<uint32_t>(v);
}

SecurityPolicy SecurityPolicy::MakeSrtpDefault(uint8_t policy_no) {
  SecurityPolicy sp;
  sp.policy_no = policy_no;
  sp.prot_type = ProtType::kSrtp;
  const std::pair<SrtpParam, uint8_t> kDefaults[] = {
      {SrtpParam::kEncrAlg, 1},
      {SrtpParam::kSessionEncrKeyLength, 16},
      {SrtpParam::kAuthAlg, 1},
      {SrtpParam::kSessionAuthKeyLength, 20},
      {SrtpParam::kSessionSaltKeyLength, 14},
      {SrtpParam::kSrtpPrf, 0},
      {SrtpParam::kSrtpEncryption, 1},
      {SrtpParam::kSrtcpEncryption, 1},
      {SrtpParam::kSrtpAuthentication, 1},
      {SrtpParam::kAuthTagLength, 10},
  };
  for (const auto& [type, value] : kDefaults) {
    sp.SetSrtpU8(type, value);
  }
  return sp;
}

void SecurityPolicy::SetParam(uint8_t type, Bytes value) {
  for (SpParam& p : params) {
    if (p.type == type) {
      p.value = std::move(value);
      return;
    }
  }
  params.push_back(SpParam{type, std::move(value)});
}

GeneralExtension GeneralExtension::MakeSdpIds(std::string_view ids) {
  GeneralExtension g;
  g.type = GenExtType::kSdpIds;
  g.data.assign(ids.begin(), ids.end());
  return g;
}

Result<std::string> GeneralExtension::SdpIds() const {
  if (type != GenExtType::kSdpIds) {
    return InvalidArgumentError("not an SDP IDs General Extension");
  }
  return std::string(data.begin(), data.end());
}

Result<GeneralExtension> GeneralExtension::MakeKeyId(const std::vector<KeyIdEntry>& ids) {
  ByteWriter w(0xffff);
  for (const KeyIdEntry& e : ids) {
    if (e.key_id.size() > 0xff) {
      return InvalidArgumentError("Key ID longer than 255 bytes");
    }
    w.U8(static_cast<uint8_t>(e.type));
    w.U8(static_cast<uint8_t>(e.key_id.size()));
    w.Bytes(e.key_id);
  }
  KMS_ASSIGN_OR_RETURN(Bytes data, std::move(w).Finish());
  GeneralExtension g;
  g.type = GenExtType::kKeyId;
  g.data = std::move(data);
  return g;
}

Result<std::vector<KeyIdEntry>> GeneralExtension::KeyIds() const {
  if (type != GenExtType::kKeyId) {
    return InvalidArgumentError("not a Key ID General Extension");
  }
  // RFC 4563 §4: a sequence of {Key ID Type (1), Key ID Length (1), Key ID}.
  ByteReader r(data);
  std::vector<KeyIdEntry> out;
  while (!r.empty()) {
    uint8_t t = 0;
    ByteReader id;
    std::span<const uint8_t> bytes;
    if (!r.U8(&t) || !r.Prefixed8(&id) || !id.Bytes(id.remaining(), &bytes)) {
      return Unparseable("Key ID extension truncated");
    }
    out.push_back(KeyIdEntry{static_cast<KeyIdType>(t), Bytes(bytes.begin(), bytes.end())});
  }
  return out;
}

Status CheckTpFlagRules(const TpFlags& f) {
  // RFC 6043 §6.10: flag consistency rules, checked on receipt and on creation.
  const auto fail = [](const char* rule) {
    return DecodeError(std::string("TP flags violate ") + rule,
                       ErrorDetail(ErrorNo::kInvalidTpPar));
  };
  if (!f.d && !f.l) {
    return fail("not D => L");
  }
  if (f.g && !f.f) {
    return fail("G => F");
  }
  if (!f.g && !f.h) {
    return fail("not G => H");
  }
  if (!f.h && !f.g) {
    return fail("not H => G");
  }
  if (f.i && !f.e) {
    return fail("I => E");
  }
  if (f.k && !f.d) {
    return fail("K => D");
  }
  if (f.m && !f.f) {
    return fail("M => F");
  }
  return Status::Ok();
}

const Idr* TicketPolicy::FindIdr(IdRole role) const {
  for (const InnerPayload& p : tp_data) {
    if (const Idr* i = std::get_if<Idr>(&p); i != nullptr && i->role == role) {
      return i;
    }
  }
  return nullptr;
}

std::vector<const Idr*> TicketPolicy::Responders() const {
  std::vector<const Idr*> out;
  for (const InnerPayload& p : tp_data) {
    if (const Idr* i = std::get_if<Idr>(&p); i != nullptr && i->role == IdRole::kResponder) {
      out.push_back(i);
    }
  }
  return out;
}

const TimestampR* TicketPolicy::FindTr(TsRole role) const {
  for (const InnerPayload& p : tp_data) {
    if (const TimestampR* t = std::get_if<TimestampR>(&p); t != nullptr && t->role == role) {
      return t;
    }
  }
  return nullptr;
}

const Kemac* TicketPolicy::FindKemac() const {
  for (const InnerPayload& p : tp_data) {
    if (const Kemac* k = std::get_if<Kemac>(&p)) {
      return k;
    }
  }
  return nullptr;
}

PayloadType TypeOf(const Payload& p) { return TypeOfImpl(p); }
PayloadType TypeOf(const InnerPayload& p) { return TypeOfImpl(p); }

const char* PayloadTypeName(PayloadType t) {
  switch (t) {
    case PayloadType::kLast:
      return "LAST";
    case PayloadType::kKemac:
      return "KEMAC";
    case PayloadType::kPke:
      return "PKE";
    case PayloadType::kDh:
      return "DH";
    case PayloadType::kSign:
      return "SIGN";
    case PayloadType::kT:
      return "T";
    case PayloadType::kId:
      return "ID";
    case PayloadType::kCert:
      return "CERT";
    case PayloadType::kChash:
      return "CHASH";
    case PayloadType::kV:
      return "V";
    case PayloadType::kSp:
      return "SP";
    case PayloadType::kRand:
      return "RAND";
    case PayloadType::kErr:
      return "ERR";
    case PayloadType::kTr:
      return "TR";
    case PayloadType::kIdr:
      return "IDR";
    case PayloadType::kRandr:
      return "RANDR";
    case PayloadType::kTp:
      return "TP";
    case PayloadType::kTicket:
      return "TICKET";
    case PayloadType::kKeyData:
      return "KEYDATA";
    case PayloadType::kGeneralExtension:
      return "GENEXT";
    case PayloadType::kSakke:
      return "SAKKE";
  }
  return "?";
}

const Idr* Message::FindIdr(IdRole role) const {
  for (const Payload& p : payloads) {
    if (const Idr* i = std::get_if<Idr>(&p); i != nullptr && i->role == role) {
      return i;
    }
  }
  return nullptr;
}

const RandR* Message::FindRandR(RandRole role) const {
  for (const Payload& p : payloads) {
    if (const RandR* i = std::get_if<RandR>(&p); i != nullptr && i->role == role) {
      return i;
    }
  }
  return nullptr;
}

std::vector<const ErrorPayload*> Message::Errors() const {
  std::vector<const ErrorPayload*> out;
  for (const Payload& p : payloads) {
    if (const ErrorPayload* e = std::get_if<ErrorPayload>(&p)) {
      out.push_back(e);
    }
  }
  return out;
}

std::vector<const SecurityPolicy*> Message::Policies() const {
  std::vector<const SecurityPolicy*> out;
  for (const Payload& p : payloads) {
    if (const SecurityPolicy* s = std::get_if<SecurityPolicy>(&p)) {
      out.push_back(s);
    }
  }
  return out;
}

}  // namespace kms::mikey
