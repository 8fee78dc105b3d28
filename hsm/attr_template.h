// AttrTemplate: a CK_ATTRIBUTE array that owns every value it points at (style.md "PKCS#11
// RAII"): no pValue ever points at a temporary, lengths come from the stored value, and
// values are scrubbed on destruction (a template may carry CKA_VALUE of a key to import).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "hsm/pkcs11.h"
#include "src/base/check.h"

namespace kms::hsm {

// checked_ulong_cast: size_t -> CK_ULONG, aborting if it would not fit (it always fits on
// LP64, but the check keeps -Wconversion honest on every ABI).
CK_ULONG checked_ulong_cast(size_t n);

class AttrTemplate {
 public:
  AttrTemplate() = default;
  AttrTemplate(AttrTemplate&&) = default;
  AttrTemplate& operator=(AttrTemplate&&) = default;
  AttrTemplate(const AttrTemplate&) = delete;
  AttrTemplate& operator=(const AttrTemplate&) = delete;
  ~AttrTemplate();

  AttrTemplate& Bool(CK_ATTRIBUTE_TYPE type, bool value);
  AttrTemplate& Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  AttrTemplate& Bytes(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value);
  AttrTemplate& String(CK_ATTRIBUTE_TYPE type, std::string_view value);
  AttrTemplate& Mechanisms(CK_ATTRIBUTE_TYPE type, std::span<const CK_MECHANISM_TYPE> mechs);
  // Nested: an array attribute (CKA_UNWRAP_TEMPLATE) whose value is another template; the
  // nested template is owned too.
  AttrTemplate& Nested(CK_ATTRIBUTE_TYPE type, AttrTemplate nested);

  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG size() const { return checked_ulong_cast(attrs_.size()); }

 private:
  AttrTemplate& Add(CK_ATTRIBUTE_TYPE type, const void* value, size_t len);

  // Each value lives in its own heap block, so growing attrs_ never moves a pointee.
  std::vector<std::unique_ptr<std::vector<uint8_t>>> values_;
  std::vector<std::unique_ptr<AttrTemplate>> nested_;
  std::vector<CK_ATTRIBUTE> attrs_;
};

}  // namespace kms::hsm
