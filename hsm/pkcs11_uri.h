// Pkcs11Uri: a PKCS#11 URI (RFC 7512) from the configuration. The token selector keeps the
// attributes that identify a token; an object URI (the TLS key of kmsd, issue 7) also keeps
// object, id and type. Other attributes are validated and ignored.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "hsm/pkcs11.h"
#include "src/base/result.h"

namespace kms::hsm {

struct Pkcs11Uri {
  // Percent-decoded values; std::nullopt means "attribute absent, matches anything".
  std::optional<std::string> token;         // CK_TOKEN_INFO.label
  std::optional<std::string> manufacturer;  // CK_TOKEN_INFO.manufacturerID
  std::optional<std::string> serial;        // CK_TOKEN_INFO.serialNumber
  std::optional<std::string> model;         // CK_TOKEN_INFO.model
  std::optional<std::string> object;        // CKA_LABEL of one object
  std::optional<std::string> id;            // CKA_ID, raw bytes after percent-decoding
  std::optional<std::string> type;          // "private", "public", "cert", "secret-key", "data"

  // Matches: every present attribute equals the token's blank-padded field (trailing
  // spaces stripped), compared byte for byte (RFC 7512 §2.5).
  bool Matches(const CK_TOKEN_INFO& info) const;
};

// ParsePkcs11Uri: "pkcs11:" followed by ';'-separated path attributes, an optional '?'
// query. RFC 7512 §2.3: pk11-path attributes are name=value with percent-encoding for
// reserved characters; each attribute appears at most once; unknown vendor attributes
// ("x-...") are allowed and ignored; other unknown attributes are rejected. Query
// attributes (pin-source, pin-value, module-path, ...) are rejected: the PIN and module
// come from the configuration, never from a URI. Errors are kInvalidArgument.
Result<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri);

// PercentDecode: RFC 3986 §2.1 "%HH" decoding; a malformed escape is an error.
Result<std::string> PercentDecode(std::string_view in);

}  // namespace kms::hsm
