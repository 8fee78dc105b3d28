#include "hsm/pkcs11_uri.h"

#include <cstring>

#include "src/base/encoding.h"

namespace kms::hsm {
namespace {

// RFC 7512 §2.3 pk11-pchar: unreserved / pct-encoded / ":" / "[" / "]" / "@" / "!" / "$" /
// "'" / "(" / ")" / "*" / "+" / "," / "=" / "&". Anything else must be percent-encoded.
bool IsPathChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::strchr("-._~:[]@!$'()*+,=&%", c) != nullptr && c != '\0';
}

// The token field of CK_TOKEN_INFO is blank padded, not NUL terminated.
std::string_view Field(const unsigned char* p, size_t n) {
  std::string_view s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) {
    s.remove_suffix(1);
  }
  return s;
}

bool FieldMatches(const std::optional<std::string>& want, const unsigned char* p, size_t n) {
  return !want.has_value() || Field(p, n) == *want;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) {
      return InvalidArgumentError("PKCS#11 URI: truncated percent escape");
    }
    const int hi = HexDigitValue(in[i + 1]);
    const int lo = HexDigitValue(in[i + 2]);
    if (hi < 0 || lo < 0) {
      return InvalidArgumentError("PKCS#11 URI: malformed percent escape");
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
    i += 2;
  }
  return out;
}

Result<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri) {
  constexpr std::string_view kScheme = "pkcs11:";
  // RFC 7512 §2.3: the scheme name is case-insensitive.
  if (uri.size() < kScheme.size()) {
    return InvalidArgumentError("PKCS#11 URI: missing \"pkcs11:\" scheme");
  }
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = uri[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != kScheme[i]) {
      return InvalidArgumentError("PKCS#11 URI: missing \"pkcs11:\" scheme");
    }
  }
  std::string_view rest = uri.substr(kScheme.size());
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    if (q + 1 < rest.size()) {
      return InvalidArgumentError(
          "PKCS#11 URI: query attributes are not accepted (PIN and module come from the "
          "configuration)");
    }
    rest = rest.substr(0, q);
  }
  Pkcs11Uri out;
  if (rest.empty()) {
    return out;  // "pkcs11:" matches any token; Token::Connect then requires exactly one
  }
  while (true) {
    size_t semi = rest.find(';');
    std::string_view attr = rest.substr(0, semi);
    size_t eq = attr.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return InvalidArgumentError("PKCS#11 URI: attribute without name=value");
    }
    std::string_view name = attr.substr(0, eq);
    std::string_view raw = attr.substr(eq + 1);
    for (char c : raw) {
      if (!IsPathChar(c)) {
        return InvalidArgumentError("PKCS#11 URI: character must be percent-encoded");
      }
    }
    KMS_ASSIGN_OR_RETURN(std::string value, PercentDecode(raw));
    std::optional<std::string>* slot = nullptr;
    if (name == "token") {
      slot = &out.token;
    } else if (name == "manufacturer") {
      slot = &out.manufacturer;
    } else if (name == "serial") {
      slot = &out.serial;
    } else if (name == "model") {
      slot = &out.model;
    } else if (name == "object") {
      slot = &out.object;
    } else if (name == "id") {
      slot = &out.id;
    } else if (name == "type") {
      // RFC 7512 §2.3 pk11-type values.
      if (value != "public" && value != "private" && value != "cert" && value != "secret-key" &&
          value != "data") {
        return InvalidArgumentError("PKCS#11 URI: unknown type \"" + value + "\"");
      }
      slot = &out.type;
    } else if (name == "library-manufacturer" || name == "library-description" ||
               name == "library-version" || name == "slot-manufacturer" ||
               name == "slot-description" || name == "slot-id") {
      // RFC 7512 §2.3 attributes that do not select a token: accepted, unused here.
    } else if (name.size() > 2 && name.substr(0, 2) == "x-") {
      // RFC 7512 §2.3: vendor-specific attributes start with "x-".
    } else {
      return InvalidArgumentError("PKCS#11 URI: unknown attribute \"" + std::string(name) +
                                  "\"");
    }
    if (slot != nullptr) {
      // RFC 7512 §2.3: an attribute must not appear more than once.
      if (slot->has_value()) {
        return InvalidArgumentError("PKCS#11 URI: duplicate attribute \"" +
                                    std::string(name) + "\"");
      }
      *slot = std::move(value);
    }
    if (semi == std::string_view::npos) {
      break;
    }
    rest = rest.substr(semi + 1);
  }
  return out;
}

bool Pkcs11Uri::Matches(const CK_TOKEN_INFO& info) const {
  return FieldMatches(token, info.label, sizeof(info.label)) &&
         FieldMatches(manufacturer, info.manufacturerID, sizeof(info.manufacturerID)) &&
         FieldMatches(serial, info.serialNumber, sizeof(info.serialNumber)) &&
         FieldMatches(model, info.model, sizeof(info.model));
}

}  // namespace kms::hsm
