// Wire readers for single MIKEY payloads (spec mikey-ticket.md §3.2, §4). Every length
// field is checked against the enclosing reader, which is bounded by the enclosing payload.
#include <span>
#include <string>
#include <utility>

#include "src/mikey/wire_payloads.h"

namespace kms::mikey::internal {
namespace {

Bytes Copy(std::span<const uint8_t> s) { return Bytes(s.begin(), s.end()); }

bool ReadVec(ByteReader& r, size_t n, Bytes* out) {
  std::span<const uint8_t> s;
  if (!r.Bytes(n, &s)) {
    return false;
  }
  *out = Copy(s);
  return true;
}

// ReadValue: a big-endian TS value of 4 or 8 bytes.
bool ReadTsValue(ByteReader& r, size_t n, uint64_t* out) {
  if (n == 8) {
    return r.U64(out);
  }
  uint32_t v = 0;
  if (!r.U32(&v)) {
    return false;
  }
  *out = v;
  return true;
}

Status Truncated(const char* what) {
  return Unparseable(std::string(what) + " payload truncated or overruns its container");
}

Result<Kemac> ParseKemac(ByteReader& r, uint8_t* next) {
  // RFC 3830 §6.2: next | encr alg | encr data len (16) | encr data | mac alg | MAC.
  Kemac k;
  uint8_t alg = 0;
  uint16_t len = 0;
  if (!r.U8(next) || !r.U8(&alg) || !r.U16(&len) || !ReadVec(r, len, &k.encr_data)) {
    return Truncated("KEMAC");
  }
  k.encr_alg = static_cast<EncrAlg>(alg);
  if (alg > static_cast<uint8_t>(EncrAlg::kAesCm256)) {
    return DecodeFail("KEMAC encryption algorithm not supported", ErrorNo::kInvalidEa);
  }
  uint8_t mac_alg = 0;
  if (!r.U8(&mac_alg)) {
    return Truncated("KEMAC");
  }
  k.mac_alg = static_cast<MacAlg>(mac_alg);
  const auto mac_len = MacLength(k.mac_alg);
  if (!mac_len) {
    return DecodeFail("KEMAC MAC algorithm not supported", ErrorNo::kInvalidMac);
  }
  if (!ReadVec(r, *mac_len, &k.mac)) {
    return Truncated("KEMAC");
  }
  return k;
}

Result<Pke> ParsePke(ByteReader& r, uint8_t* next) {
  // RFC 3830 §6.3: next | C (2 bits) + data len (14 bits) | data.
  Pke p;
  uint16_t v = 0;
  if (!r.U8(next) || !r.U16(&v) || !ReadVec(r, v & kPkeLengthMask, &p.data)) {
    return Truncated("PKE");
  }
  p.c = static_cast<uint8_t>(v >> 14);
  return p;
}

Result<Dh> ParseDh(ByteReader& r, uint8_t* next) {
  // RFC 3830 §6.4: next | group | DH value (group size) | reserved(4) KV(4) | KV data.
  Dh d;
  uint8_t group = 0;
  if (!r.U8(next) || !r.U8(&group)) {
    return Truncated("DH");
  }
  d.group = static_cast<DhGroup>(group);
  const auto len = DhValueLength(d.group);
  if (!len) {
    return DecodeFail("DH group not supported", ErrorNo::kInvalidDh);
  }
  uint8_t kv = 0;
  if (!ReadVec(r, *len, &d.value) || !r.U8(&kv)) {
    return Truncated("DH");
  }
  d.reserved = static_cast<uint8_t>(kv >> 4);
  d.kv_type = static_cast<KvType>(kv & 0x0f);
  KMS_RETURN_IF_ERROR(ParseKvData(d.kv_type, r, &d.kv_data));
  return d;
}

Result<Timestamp> ParseT(ByteReader& r, uint8_t* next) {
  // RFC 3830 §6.6: next | TS type | TS value (8 or 4 bytes).
  Timestamp t;
  uint8_t type = 0;
  if (!r.U8(next) || !r.U8(&type)) {
    return Truncated("T");
  }
  t.ts_type = static_cast<TsType>(type);
  const auto len = TsValueLength(t.ts_type);
  if (!len) {
    return DecodeFail("timestamp type not supported", ErrorNo::kInvalidTs);
  }
  if (!ReadTsValue(r, *len, &t.value)) {
    return Truncated("T");
  }
  return t;
}

Result<TimestampR> ParseTr(ByteReader& r, uint8_t* next) {
  // RFC 6043 §6.4: next | TS role | TS type | TS value.
  TimestampR t;
  uint8_t role = 0;
  uint8_t type = 0;
  if (!r.U8(next) || !r.U8(&role) || !r.U8(&type)) {
    return Truncated("TR");
  }
  t.role = static_cast<TsRole>(role);
  t.ts_type = static_cast<TsType>(type);
  const auto len = TsValueLength(t.ts_type);
  if (!len) {
    return DecodeFail("timestamp type not supported", ErrorNo::kInvalidTs);
  }
  if (!ReadTsValue(r, *len, &t.value)) {
    return Truncated("TR");
  }
  return t;
}

Status CheckIdType(uint8_t t) {
  if (t > static_cast<uint8_t>(IdType::kByteString)) {
    return DecodeFail("ID type not supported", ErrorNo::kInvalidId);
  }
  return Status::Ok();
}

Result<Id> ParseId(ByteReader& r, uint8_t* next) {
  // RFC 3830 §6.7: next | ID type | ID len (16) | ID data.
  Id id;
  uint8_t type = 0;
  uint16_t len = 0;
  if (!r.U8(next) || !r.U8(&type) || !r.U16(&len) || !ReadVec(r, len, &id.id_data)) {
    return Truncated("ID");
  }
  KMS_RETURN_IF_ERROR(CheckIdType(type));
  id.id_type = static_cast<IdType>(type);
  return id;
}

Result<Cert> ParseCert(ByteReader& r, uint8_t* next) {
  Cert c;
  uint8_t type = 0;
  uint16_t len = 0;
  if (!r.U8(next) || !r.U8(&type) || !r.U16(&len) || !ReadVec(r, len, &c.cert_data)) {
    return Truncated("CERT");
  }
  if (type > static_cast<uint8_t>(CertType::kX509v3Encr)) {
    return DecodeFail("certificate type not supported", ErrorNo::kInvalidCert);
  }
  c.cert_type = static_cast<CertType>(type);
  return c;
}

Result<Idr> ParseIdr(ByteReader& r, uint8_t* next) {
  // RFC 6043 §6.6: next | ID role | ID type | ID len (16) | ID data.
  Idr id;
  uint8_t role = 0;
  uint8_t type = 0;
  uint16_t len = 0;
  if (!r.U8(next) || !r.U8(&role) || !r.U8(&type) || !r.U16(&len) ||
      !ReadVec(r, len, &id.id_data)) {
    return Truncated("IDR");
  }
  KMS_RETURN_IF_ERROR(CheckIdType(type));
  id.role = static_cast<IdRole>(role);
  id.id_type = static_cast<IdType>(type);
  return id;
}

Result<Chash> ParseChash(ByteReader& r, uint8_t* next) {
  Chash c;
  uint8_t f = 0;
  if (!r.U8(next) || !r.U8(&f)) {
    return Truncated("CHASH");
  }
  c.hash_func = static_cast<HashFunc>(f);
  const auto len = HashLength(c.hash_func);
  if (!len) {
    return DecodeFail("hash function not supported", ErrorNo::kInvalidHa);
  }
  if (!ReadVec(r, *len, &c.hash)) {
    return Truncated("CHASH");
  }
  return c;
}

Result<Verification> ParseV(ByteReader& r, uint8_t* next) {
  // RFC 3830 §6.9: next | auth alg | MAC (length from the alg).
  Verification v;
  uint8_t alg = 0;
  if (!r.U8(next) || !r.U8(&alg)) {
    return Truncated("V");
  }
  v.mac_alg = static_cast<MacAlg>(alg);
  const auto len = MacLength(v.mac_alg);
  if (!len) {
    return DecodeFail("MAC algorithm not supported", ErrorNo::kInvalidMac);
  }
  if (!ReadVec(r, *len, &v.mac)) {
    return Truncated("V");
  }
  return v;
}

Result<SecurityPolicy> ParseSp(ByteReader& r, uint8_t* next) {
  // RFC 3830 §6.10: next | policy no | prot type | param length (16) | TLVs.
  SecurityPolicy sp;
  uint8_t prot = 0;
  ByteReader params;
  if (!r.U8(next) || !r.U8(&sp.policy_no) || !r.U8(&prot) || !r.Prefixed16(&params)) {
    return Truncated("SP");
  }
  sp.prot_type = static_cast<ProtType>(prot);
  while (!params.empty()) {
    SpParam p;
    ByteReader value;
    if (!params.U8(&p.type) || !params.Prefixed8(&value) ||
        !ReadVec(value, value.remaining(), &p.value)) {
      return Unparseable("SP policy parameter overruns the policy length");
    }
    sp.params.push_back(std::move(p));
  }
  return sp;
}

Result<Rand> ParseRand(ByteReader& r, uint8_t* next) {
  Rand rand;
  uint8_t len = 0;
  if (!r.U8(next) || !r.U8(&len) || !ReadVec(r, len, &rand.rand)) {
    return Truncated("RAND");
  }
  return rand;
}

Result<RandR> ParseRandR(ByteReader& r, uint8_t* next) {
  // RFC 6043 §6.8: next | RAND role | RAND len | RAND.
  RandR rand;
  uint8_t role = 0;
  uint8_t len = 0;
  if (!r.U8(next) || !r.U8(&role) || !r.U8(&len) || !ReadVec(r, len, &rand.rand)) {
    return Truncated("RANDR");
  }
  rand.role = static_cast<RandRole>(role);
  return rand;
}

Result<ErrorPayload> ParseErr(ByteReader& r, uint8_t* next) {
  ErrorPayload e;
  uint8_t no = 0;
  if (!r.U8(next) || !r.U8(&no) || !r.U16(&e.reserved)) {
    return Truncated("ERR");
  }
  e.error_no = static_cast<ErrorNo>(no);
  return e;
}

Result<GeneralExtension> ParseGenExt(ByteReader& r, uint8_t* next) {
  GeneralExtension g;
  uint8_t type = 0;
  uint16_t len = 0;
  if (!r.U8(next) || !r.U8(&type) || !r.U16(&len) || !ReadVec(r, len, &g.data)) {
    return Truncated("General Extension");
  }
  g.type = static_cast<GenExtType>(type);
  return g;
}

template <typename T>
Result<InnerPayload> Widen(Result<T> r) {
  if (!r.ok()) {
    return r.status();
  }
  return InnerPayload(std::move(r).value());
}

}  // namespace

Status Unparseable(std::string what) {
  return DecodeError(std::move(what), ErrorDetail(ErrorNo::kUnsupportedMessageType));
}

Status DecodeFail(std::string what, ErrorNo e) {
  return DecodeError(std::move(what), ErrorDetail(e));
}

Status ParseBudget::Take() {
  if (++used > max_payloads) {
    return Unparseable("too many payloads");
  }
  return Status::Ok();
}

bool IsInnerType(uint8_t type) {
  switch (static_cast<PayloadType>(type)) {
    case PayloadType::kKemac:
    case PayloadType::kPke:
    case PayloadType::kDh:
    case PayloadType::kT:
    case PayloadType::kId:
    case PayloadType::kCert:
    case PayloadType::kChash:
    case PayloadType::kV:
    case PayloadType::kSp:
    case PayloadType::kRand:
    case PayloadType::kErr:
    case PayloadType::kTr:
    case PayloadType::kIdr:
    case PayloadType::kRandr:
    case PayloadType::kGeneralExtension:
      return true;
    default:
      return false;
  }
}

Result<InnerPayload> ParseInnerPayload(uint8_t type, ByteReader& r, uint8_t* next) {
  switch (static_cast<PayloadType>(type)) {
    case PayloadType::kKemac:
      return Widen(ParseKemac(r, next));
    case PayloadType::kPke:
      return Widen(ParsePke(r, next));
    case PayloadType::kDh:
      return Widen(ParseDh(r, next));
    case PayloadType::kT:
      return Widen(ParseT(r, next));
    case PayloadType::kId:
      return Widen(ParseId(r, next));
    case PayloadType::kCert:
      return Widen(ParseCert(r, next));
    case PayloadType::kChash:
      return Widen(ParseChash(r, next));
    case PayloadType::kV:
      return Widen(ParseV(r, next));
    case PayloadType::kSp:
      return Widen(ParseSp(r, next));
    case PayloadType::kRand:
      return Widen(ParseRand(r, next));
    case PayloadType::kErr:
      return Widen(ParseErr(r, next));
    case PayloadType::kTr:
      return Widen(ParseTr(r, next));
    case PayloadType::kIdr:
      return Widen(ParseIdr(r, next));
    case PayloadType::kRandr:
      return Widen(ParseRandR(r, next));
    case PayloadType::kGeneralExtension:
      return Widen(ParseGenExt(r, next));
    default:
      // RFC 3830 §6: a payload of unknown type cannot be sized (spec §3).
      return Unparseable("unknown or misplaced payload type " + std::to_string(type));
  }
}

Result<Sign> ParseSign(ByteReader& r, ByteRange* sig) {
  // RFC 3830 §6.5: S type (4 bits) + signature len (12 bits) | signature. No next field.
  Sign s;
  uint16_t v = 0;
  if (!r.U16(&v)) {
    return Truncated("SIGN");
  }
  s.s_type = static_cast<SignType>(v >> 12);
  sig->offset = r.offset();
  sig->length = v & kSignLengthMask;
  if (!ReadVec(r, sig->length, &s.signature)) {
    return Truncated("SIGN");
  }
  return s;
}

Status ParseKvData(KvType kv, ByteReader& r, Bytes* out) {
  // RFC 3830 §6.13: KV=1: SPI len (1) + SPI; KV=2: VF len + VF + VT len + VT; KV=0: none.
  const size_t start = r.offset();
  ByteReader tmp = r;
  ByteReader a;
  ByteReader b;
  switch (kv) {
    case KvType::kNull:
      return Status::Ok();
    case KvType::kSpi:
      if (!tmp.Prefixed8(&a)) {
        return Unparseable("KV data (SPI) truncated");
      }
      break;
    case KvType::kInterval:
      if (!tmp.Prefixed8(&a) || !tmp.Prefixed8(&b)) {
        return Unparseable("KV data (interval) truncated");
      }
      break;
    default:
      return Unparseable("KV type not supported");
  }
  std::span<const uint8_t> bytes;
  if (!r.Bytes(tmp.offset() - start, &bytes)) {
    return Unparseable("KV data truncated");
  }
  *out = Copy(bytes);
  return Status::Ok();
}

Status ParseChain(uint8_t first, ByteReader& r, ParseBudget& budget, std::vector<InnerPayload>* out,
                  std::vector<PayloadSpan>* spans) {
  uint8_t type = first;
  while (type != static_cast<uint8_t>(PayloadType::kLast)) {
    KMS_RETURN_IF_ERROR(budget.Take());
    if (!IsInnerType(type)) {
      return Unparseable("payload type " + std::to_string(type) + " not allowed in a chain");
    }
    const size_t start = r.offset();
    uint8_t next = 0;
    KMS_ASSIGN_OR_RETURN(InnerPayload p, ParseInnerPayload(type, r, &next));
    spans->push_back(PayloadSpan{static_cast<PayloadType>(type), RangeFrom(start, r), {}});
    out->push_back(std::move(p));
    type = next;
  }
  if (!r.empty()) {
    return Unparseable("trailing bytes after the last payload of a chain");
  }
  return Status::Ok();
}

}  // namespace kms::mikey::internal
