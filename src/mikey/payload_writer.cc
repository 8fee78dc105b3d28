// Wire writers for single MIKEY payloads (RFC 3830 §6; RFC 6043 §6). The inverse of
// payload_parser.cc: for every payload it accepts, Write(Parse(x)) == x.
#include <string>
#include <utility>

#include "src/mikey/wire_payloads.h"

namespace kms::mikey::internal {
namespace {

Status TooLong(const char* what) {
  return InvalidArgumentError(std::string(what) + " does not fit its length field");
}

void WriteTsValue(ByteWriter& w, size_t n, uint64_t v) {
  if (n == 8) {
    w.U64(v);
  } else {
    w.U32(static_cast<uint32_t>(v));
  }
}

Status CheckTsValue(TsType t, uint64_t v, size_t* n) {
  const auto len = TsValueLength(t);
  if (!len) {
    return InvalidArgumentError("unknown timestamp type");
  }
  if (*len == 4 && v > 0xffffffffu) {
    return InvalidArgumentError("timestamp value does not fit a 32-bit TS type");
  }
  *n = *len;
  return Status::Ok();
}

Status CheckMac(MacAlg alg, const Bytes& mac) {
  const auto len = MacLength(alg);
  if (!len || *len != mac.size()) {
    return InvalidArgumentError("MAC length does not match the MAC algorithm");
  }
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Kemac& k, uint8_t next) {
  if (k.encr_data.size() > 0xffff) {
    return TooLong("KEMAC encrypted data");
  }
  KMS_RETURN_IF_ERROR(CheckMac(k.mac_alg, k.mac));
  w.U8(next);
  w.U8(static_cast<uint8_t>(k.encr_alg));
  w.U16(static_cast<uint16_t>(k.encr_data.size()));
  w.Bytes(k.encr_data);
  w.U8(static_cast<uint8_t>(k.mac_alg));
  w.Bytes(k.mac);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Pke& p, uint8_t next) {
  if (p.data.size() > kPkeLengthMask) {
    return TooLong("PKE data");
  }
  if (p.c > 3) {
    return InvalidArgumentError("PKE C field is 2 bits");
  }
  w.U8(next);
  w.U16(static_cast<uint16_t>((static_cast<size_t>(p.c) << 14) | p.data.size()));
  w.Bytes(p.data);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Dh& d, uint8_t next) {
  const auto len = DhValueLength(d.group);
  if (!len || *len != d.value.size()) {
    return InvalidArgumentError("DH value length does not match the group");
  }
  if (d.reserved > 0x0f || static_cast<uint8_t>(d.kv_type) > 0x0f) {
    return InvalidArgumentError("DH reserved/KV field out of range");
  }
  // The KV data must itself be well formed so that the result re-parses.
  ByteReader kv(d.kv_data);
  Bytes check;
  KMS_RETURN_IF_ERROR(ParseKvData(d.kv_type, kv, &check));
  if (!kv.empty()) {
    return InvalidArgumentError("DH KV data has trailing bytes");
  }
  w.U8(next);
  w.U8(static_cast<uint8_t>(d.group));
  w.Bytes(d.value);
  w.U8(static_cast<uint8_t>((d.reserved << 4) | static_cast<uint8_t>(d.kv_type)));
  w.Bytes(d.kv_data);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Timestamp& t, uint8_t next) {
  size_t n = 0;
  KMS_RETURN_IF_ERROR(CheckTsValue(t.ts_type, t.value, &n));
  w.U8(next);
  w.U8(static_cast<uint8_t>(t.ts_type));
  WriteTsValue(w, n, t.value);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const TimestampR& t, uint8_t next) {
  size_t n = 0;
  KMS_RETURN_IF_ERROR(CheckTsValue(t.ts_type, t.value, &n));
  w.U8(next);
  w.U8(static_cast<uint8_t>(t.role));
  w.U8(static_cast<uint8_t>(t.ts_type));
  WriteTsValue(w, n, t.value);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Id& id, uint8_t next) {
  if (id.id_data.size() > 0xffff) {
    return TooLong("ID data");
  }
  w.U8(next);
  w.U8(static_cast<uint8_t>(id.id_type));
  w.U16(static_cast<uint16_t>(id.id_data.size()));
  w.Bytes(id.id_data);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Cert& c, uint8_t next) {
  if (c.cert_data.size() > 0xffff) {
    return TooLong("certificate");
  }
  w.U8(next);
  w.U8(static_cast<uint8_t>(c.cert_type));
  w.U16(static_cast<uint16_t>(c.cert_data.size()));
  w.Bytes(c.cert_data);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Idr& id, uint8_t next) {
  if (id.id_data.size() > 0xffff) {
    return TooLong("IDR data");
  }
  w.U8(next);
  w.U8(static_cast<uint8_t>(id.role));
  w.U8(static_cast<uint8_t>(id.id_type));
  w.U16(static_cast<uint16_t>(id.id_data.size()));
  w.Bytes(id.id_data);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Chash& c, uint8_t next) {
  const auto len = HashLength(c.hash_func);
  if (!len || *len != c.hash.size()) {
    return InvalidArgumentError("CHASH length does not match the hash function");
  }
  w.U8(next);
  w.U8(static_cast<uint8_t>(c.hash_func));
  w.Bytes(c.hash);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Verification& v, uint8_t next) {
  KMS_RETURN_IF_ERROR(CheckMac(v.mac_alg, v.mac));
  w.U8(next);
  w.U8(static_cast<uint8_t>(v.mac_alg));
  w.Bytes(v.mac);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const SecurityPolicy& sp, uint8_t next) {
  w.U8(next);
  w.U8(sp.policy_no);
  w.U8(static_cast<uint8_t>(sp.prot_type));
  const auto len = w.Reserve16();
  for (const SpParam& p : sp.params) {
    if (p.value.size() > 0xff) {
      return TooLong("SP parameter");
    }
    w.U8(p.type);
    w.U8(static_cast<uint8_t>(p.value.size()));
    w.Bytes(p.value);
  }
  w.Fill(len);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const Rand& r, uint8_t next) {
  if (r.rand.size() > 0xff) {
    return TooLong("RAND");
  }
  w.U8(next);
  w.U8(static_cast<uint8_t>(r.rand.size()));
  w.Bytes(r.rand);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const RandR& r, uint8_t next) {
  if (r.rand.size() > 0xff) {
    return TooLong("RANDR");
  }
  w.U8(next);
  w.U8(static_cast<uint8_t>(r.role));
  w.U8(static_cast<uint8_t>(r.rand.size()));
  w.Bytes(r.rand);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const ErrorPayload& e, uint8_t next) {
  w.U8(next);
  w.U8(static_cast<uint8_t>(e.error_no));
  w.U16(e.reserved);
  return Status::Ok();
}

Status WriteOne(ByteWriter& w, const GeneralExtension& g, uint8_t next) {
  if (g.data.size() > 0xffff) {
    return TooLong("General Extension data");
  }
  w.U8(next);
  w.U8(static_cast<uint8_t>(g.type));
  w.U16(static_cast<uint16_t>(g.data.size()));
  w.Bytes(g.data);
  return Status::Ok();
}

}  // namespace

Status WriteInnerPayload(ByteWriter& w, const InnerPayload& p, uint8_t next) {
  return std::visit([&](const auto& x) { return WriteOne(w, x, next); }, p);
}

Status WriteSign(ByteWriter& w, const Sign& s) {
  if (s.signature.size() > kSignLengthMask) {
    return TooLong("signature");
  }
  if (static_cast<uint8_t>(s.s_type) > 0x0f) {
    return InvalidArgumentError("S type is 4 bits");
  }
  w.U16(static_cast<uint16_t>((static_cast<unsigned>(s.s_type) << 12) | s.signature.size()));
  w.Bytes(s.signature);
  return Status::Ok();
}

Status WriteChain(ByteWriter& w, const std::vector<InnerPayload>& chain,
                  std::vector<PayloadSpan>* spans) {
  // Nested chains start with a First Payload byte (RFC 6043 §6.10).
  w.U8(chain.empty() ? uint8_t{0} : static_cast<uint8_t>(TypeOf(chain.front())));
  for (size_t i = 0; i < chain.size(); ++i) {
    const uint8_t next =
        i + 1 < chain.size() ? static_cast<uint8_t>(TypeOf(chain[i + 1])) : uint8_t{0};
    const size_t start = w.size();
    KMS_RETURN_IF_ERROR(WriteInnerPayload(w, chain[i], next));
    spans->push_back(PayloadSpan{TypeOf(chain[i]), ByteRange{start, w.size() - start}, {}});
  }
  return Status::Ok();
}

Status WriteTicketPolicy(ByteWriter& w, const TicketPolicy& tp, ByteRange* tp_data,
                         std::vector<PayloadSpan>* spans) {
  // RFC 6043 §6.10: the flag rules are enforced on creation too.
  if (Status s = CheckTpFlagRules(tp.flags); !s.ok()) {
    return InvalidArgumentError(s.message());
  }
  if (Status s = CheckTpDataRules(tp.tp_data); !s.ok()) {
    return InvalidArgumentError(s.message());
  }
  if (static_cast<uint8_t>(tp.prf) > kPrfMask || tp.reserved > kTpReservedMask) {
    return InvalidArgumentError("TP PRF or reserved bits out of range");
  }
  const TpFlags& f = tp.flags;
  w.U16(static_cast<uint16_t>(tp.ticket_type));
  w.U8(tp.subtype);
  w.U8(tp.version);
  w.U8(static_cast<uint8_t>((static_cast<uint8_t>(tp.prf) << 1) | (f.d ? kTpFlagD : 0)));
  w.U8(static_cast<uint8_t>((f.e ? kTpFlagE : 0) | (f.f ? kTpFlagF : 0) | (f.g ? kTpFlagG : 0) |
                            (f.h ? kTpFlagH : 0) | (f.i ? kTpFlagI : 0) | (f.j ? kTpFlagJ : 0) |
                            (f.k ? kTpFlagK : 0) | (f.l ? kTpFlagL : 0)));
  w.U8(static_cast<uint8_t>((f.m ? kTpFlagM : 0) | (f.n ? kTpFlagN : 0) | (f.o ? kTpFlagO : 0) |
                            tp.reserved));
  const auto len = w.Reserve16();
  tp_data->offset = w.size();
  KMS_RETURN_IF_ERROR(WriteChain(w, tp.tp_data, spans));
  tp_data->length = w.size() - tp_data->offset;
  w.Fill(len);
  return Status::Ok();
}

}  // namespace kms::mikey::internal
