#include "hsm/attr_template.h"

#include <openssl/crypto.h>

#include <cstring>
#include <limits>

namespace kms::hsm {

CK_ULONG checked_ulong_cast(size_t n) {
  KMS_CHECK(n <= std::numeric_limits<CK_ULONG>::max());
  return static_cast<CK_ULONG>(n);
}

AttrTemplate::~AttrTemplate() {
  for (auto& v : values_) {
    if (v != nullptr && !v->empty()) {
      OPENSSL_cleanse(v->data(), v->size());
    }
  }
}

AttrTemplate& AttrTemplate::Add(CK_ATTRIBUTE_TYPE type, const void* value, size_t len) {
  auto block = std::make_unique<std::vector<uint8_t>>(len);
  if (len > 0) {
    std::memcpy(block->data(), value, len);
  }
  CK_ATTRIBUTE a{};
  a.type = type;
  a.pValue = len > 0 ? block->data() : nullptr;
  a.ulValueLen = checked_ulong_cast(len);
  values_.push_back(std::move(block));
  attrs_.push_back(a);
  return *this;
}

AttrTemplate& AttrTemplate::Bool(CK_ATTRIBUTE_TYPE type, bool value) {
  CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
  return Add(type, &b, sizeof(b));
}

AttrTemplate& AttrTemplate::Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
  return Add(type, &value, sizeof(value));
}

AttrTemplate& AttrTemplate::Bytes(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value) {
  return Add(type, value.data(), value.size());
}

AttrTemplate& AttrTemplate::String(CK_ATTRIBUTE_TYPE type, std::string_view value) {
  return Add(type, value.data(), value.size());
}

AttrTemplate& AttrTemplate::Mechanisms(CK_ATTRIBUTE_TYPE type,
                                       std::span<const CK_MECHANISM_TYPE> mechs) {
  return Add(type, mechs.data(), mechs.size_bytes());
}

AttrTemplate& AttrTemplate::Nested(CK_ATTRIBUTE_TYPE type, AttrTemplate nested) {
  auto owned = std::make_unique<AttrTemplate>(std::move(nested));
  CK_ATTRIBUTE a{};
  a.type = type;
  a.pValue = owned->data();
  // PKCS#11 v2.40 §4.1.3: an attribute array's length is in bytes.
  a.ulValueLen = checked_ulong_cast(owned->attrs_.size() * sizeof(CK_ATTRIBUTE));
  nested_.push_back(std::move(owned));
  attrs_.push_back(a);
  return *this;
}

}  // namespace kms::hsm
