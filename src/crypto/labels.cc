#include "src/crypto/labels.h"

#include <string>

#include "src/base/byte_writer.h"

namespace kms::crypto {
namespace {

void Head(ByteWriter& w, uint32_t constant, uint8_t cs_id, uint32_t csb_id) {
  w.U32(constant);
  w.U8(cs_id);
  w.U32(csb_id);
}

// Rand8: len(1) || bytes; false if it does not fit the 1-byte length.
bool Rand8(ByteWriter& w, std::span<const uint8_t> rand) {
  if (rand.size() > 0xFF) {
    return false;
  }
  w.U8(static_cast<uint8_t>(rand.size()));
  w.Bytes(rand);
  return true;
}

Result<std::vector<uint8_t>> Done(ByteWriter&& w) {
  auto r = std::move(w).Finish();
  if (!r.ok()) {
    return InvalidArgumentError("label overflow");
  }
  return r;
}

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

Status TooLong(const char* what) {
  return InvalidArgumentError(std::string(what) + " too long for its label length field");
}

}  // namespace

Result<std::vector<uint8_t>> MessageKeyLabel(uint32_t constant, uint32_t csb_id, MessageRole role,
                                             std::span<const uint8_t> rand_ri,
                                             std::span<const uint8_t> rand_rr) {
  // RFC 6043 §5.1.2: C || 0xFF || CSB ID || 0x01/0x02 || RANDRi || RANDRr (1-byte lengths).
  ByteWriter w;
  Head(w, constant, kLabelNoCsId, csb_id);
  w.U8(static_cast<uint8_t>(role));
  if (!Rand8(w, rand_ri) || !Rand8(w, rand_rr)) {
    return TooLong("RANDR");
  }
  return Done(std::move(w));
}

Result<std::vector<uint8_t>> TgkDerivedLabel(uint32_t constant, uint8_t cs_id,
                                             std::span<const uint8_t> rand_ri,
                                             std::span<const uint8_t> rand_rr) {
  // RFC 6043 §5.1.3: RANDRi iff H, RANDRr iff G; the flags guarantee at least one.
  if (rand_ri.empty() && rand_rr.empty()) {
    return InvalidArgumentError("TGK label needs RANDRi or RANDRr");
  }
  ByteWriter w;
  Head(w, constant, cs_id, kLabelNoCsbId);
  w.U8(kLabelTypeTgk);
  if (!Rand8(w, rand_ri) || !Rand8(w, rand_rr)) {
    return TooLong("RANDR");
  }
  return Done(std::move(w));
}

Result<std::vector<uint8_t>> ForkLabel(uint32_t constant, std::span<const uint8_t> id_data,
                                       std::span<const uint8_t> rand_kms) {
  if (id_data.empty() || rand_kms.empty()) {
    return InvalidArgumentError("fork label needs ID Data and RANDRkms");
  }
  if (id_data.size() > 0xFFFF) {
    return TooLong("ID Data");
  }
  // RFC 6043 §5.1.1: the ID Data length is 16 bits, the RANDRkms length 8 bits.
  ByteWriter w;
  Head(w, constant, kLabelNoCsId, kLabelNoCsbId);
  w.U8(kLabelTypeFork);
  w.U16(static_cast<uint16_t>(id_data.size()));
  w.Bytes(id_data);
  if (!Rand8(w, rand_kms)) {
    return TooLong("RANDRkms");
  }
  return Done(std::move(w));
}

std::vector<uint8_t> VrKeyLabel() {
  // RFC 6043 §6.10: the Vr key uses the auth_key constant and type 0x04, no other input.
  std::vector<uint8_t> out;
  PutU32(out, kLabelAuth);
  out.push_back(kLabelNoCsId);
  PutU32(out, kLabelNoCsbId);
  out.push_back(kLabelTypeInitiatorData);
  return out;
}

namespace {

Result<std::vector<uint8_t>> RandLabel(uint32_t constant, uint8_t type,
                                       std::span<const uint8_t> rand) {
  if (rand.empty()) {
    return InvalidArgumentError("label needs a RAND");
  }
  ByteWriter w;
  Head(w, constant, kLabelNoCsId, kLabelNoCsbId);
  w.U8(type);
  if (!Rand8(w, rand)) {
    return TooLong("RAND");
  }
  return Done(std::move(w));
}

}  // namespace

Result<std::vector<uint8_t>> TicketKeyLabel(uint32_t constant, std::span<const uint8_t> rand) {
  return RandLabel(constant, kLabelTypeTpk, rand);  // RFC 6043 App. A.2.1
}

Result<std::vector<uint8_t>> MpkLabel(uint32_t constant, std::span<const uint8_t> rand) {
  return RandLabel(constant, kLabelTypeMpk, rand);  // RFC 6043 App. A.2.2
}

std::vector<uint8_t> Rfc3830TransportKeyLabel(uint32_t constant, uint32_t csb_id,
                                              std::span<const uint8_t> rand) {
  // RFC 3830 §4.1.4: C || 0xFF || CSB ID || RAND, no length bytes.
  std::vector<uint8_t> out;
  out.reserve(9 + rand.size());
  PutU32(out, constant);
  out.push_back(kLabelNoCsId);
  PutU32(out, csb_id);
  out.insert(out.end(), rand.begin(), rand.end());
  return out;
}

std::vector<uint8_t> Rfc3830TekLabel(uint32_t constant, uint8_t cs_id, uint32_t csb_id,
                                     std::span<const uint8_t> rand) {
  std::vector<uint8_t> out = Rfc3830TransportKeyLabel(constant, csb_id, rand);
  out[4] = cs_id;  // RFC 3830 §4.1.3: the CS ID replaces the 0xFF of the transport label
  return out;
}

}  // namespace kms::crypto
