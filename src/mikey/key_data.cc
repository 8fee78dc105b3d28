#include "src/mikey/key_data.h"

#include <utility>

#include "src/base/byte_reader.h"
#include "src/base/byte_writer.h"
#include "src/mikey/wire_payloads.h"

namespace kms::mikey {
namespace {

using internal::Unparseable;

constexpr uint8_t kNextKeyData = static_cast<uint8_t>(PayloadType::kKeyData);

bool ReadPrefixed8(ByteReader& r, Bytes* out) {
  ByteReader sub;
  if (!r.Prefixed8(&sub)) {
    return false;
  }
  out->assign(sub.Rest().begin(), sub.Rest().end());
  return true;
}

}  // namespace

KeyData KeyData::Clone() const {
  KeyData k;
  k.type = type;
  k.kv_type = kv_type;
  k.key = key.Clone();
  if (salt) {
    k.salt = salt->Clone();
  }
  k.spi = spi;
  k.valid_from = valid_from;
  k.valid_to = valid_to;
  return k;
}

Result<std::vector<KeyData>> DecodeKeyDataChain(std::span<const uint8_t> plaintext,
                                                size_t max_keys) {
  ByteReader r(plaintext);
  std::vector<KeyData> keys;
  uint8_t next = kNextKeyData;
  while (next == kNextKeyData) {
    if (keys.size() >= max_keys) {
      return Unparseable("too many key data sub-payloads");
    }
    // RFC 3830 §6.13: next | Type(4) KV(4) | key len (16) | key | [salt len | salt] | KV.
    KeyData k;
    uint8_t tkv = 0;
    uint16_t len = 0;
    std::span<const uint8_t> key;
    if (!r.U8(&next) || !r.U8(&tkv) || !r.U16(&len) || !r.Bytes(len, &key)) {
      return Unparseable("key data sub-payload truncated");
    }
    k.type = static_cast<KeyDataType>(tkv >> 4);
    k.kv_type = static_cast<KvType>(tkv & 0x0f);
    if (tkv >> 4 > static_cast<uint8_t>(KeyDataType::kMpk)) {
      return Unparseable("key data type not supported");
    }
    k.key = SecretBytes::CopyFrom(key);
    if (KeyDataHasSalt(k.type)) {
      uint16_t salt_len = 0;
      std::span<const uint8_t> salt;
      if (!r.U16(&salt_len) || !r.Bytes(salt_len, &salt)) {
        return Unparseable("key data salt truncated");
      }
      k.salt = SecretBytes::CopyFrom(salt);
    }
    switch (k.kv_type) {
      case KvType::kNull:
        break;
      case KvType::kSpi:
        if (!ReadPrefixed8(r, &k.spi)) {
          return Unparseable("key data SPI truncated");
        }
        break;
      case KvType::kInterval:
        if (!ReadPrefixed8(r, &k.valid_from) || !ReadPrefixed8(r, &k.valid_to)) {
          return Unparseable("key data interval truncated");
        }
        break;
      default:
        return Unparseable("KV type not supported");
    }
    if (next != kNextKeyData && next != static_cast<uint8_t>(PayloadType::kLast)) {
      return Unparseable("key data chain links to a non key data payload");
    }
    keys.push_back(std::move(k));
  }
  if (!r.empty()) {
    return Unparseable("trailing bytes after the key data chain");
  }
  return keys;
}

Result<SecretBytes> EncodeKeyDataChain(const std::vector<KeyData>& keys) {
  if (keys.empty()) {
    return InvalidArgumentError("a KEMAC needs at least one key");
  }
  SecretByteWriter w(0xffff);  // it must fit the KEMAC's 16-bit encr data length
  for (size_t i = 0; i < keys.size(); ++i) {
    const KeyData& k = keys[i];
    if (static_cast<uint8_t>(k.type) > static_cast<uint8_t>(KeyDataType::kMpk) ||
        static_cast<uint8_t>(k.kv_type) > static_cast<uint8_t>(KvType::kInterval)) {
      return InvalidArgumentError("unknown key data type or KV type");
    }
    if (k.key.size() > 0xffff || KeyDataHasSalt(k.type) != k.salt.has_value() ||
        (k.salt && k.salt->size() > 0xffff)) {
      return InvalidArgumentError("key or salt does not fit / salt presence wrong for type");
    }
    const bool spi = k.kv_type == KvType::kSpi;
    const bool interval = k.kv_type == KvType::kInterval;
    if ((!spi && !k.spi.empty()) || (!interval && (!k.valid_from.empty() || !k.valid_to.empty())) ||
        k.spi.size() > 0xff || k.valid_from.size() > 0xff || k.valid_to.size() > 0xff) {
      return InvalidArgumentError("KV data does not match the KV type");
    }
    w.U8(i + 1 < keys.size() ? kNextKeyData : uint8_t{0});
    w.U8(static_cast<uint8_t>((static_cast<uint8_t>(k.type) << 4) |
                              static_cast<uint8_t>(k.kv_type)));
    w.U16(static_cast<uint16_t>(k.key.size()));
    w.Bytes(k.key.Reveal());
    if (k.salt) {
      w.U16(static_cast<uint16_t>(k.salt->size()));
      w.Bytes(k.salt->Reveal());
    }
    if (spi) {
      w.U8(static_cast<uint8_t>(k.spi.size()));
      w.Bytes(k.spi);
    } else if (interval) {
      w.U8(static_cast<uint8_t>(k.valid_from.size()));
      w.Bytes(k.valid_from);
      w.U8(static_cast<uint8_t>(k.valid_to.size()));
      w.Bytes(k.valid_to);
    }
  }
  KMS_ASSIGN_OR_RETURN(SecureBuffer buf, std::move(w).Finish());
  return SecretBytes(std::move(buf));
}

}  // namespace kms::mikey
