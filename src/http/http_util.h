// Small HTTP helpers for the Ua and operations listeners; pure functions, unit-tested.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kms::http {

// RFC 3830 §10.1 registers application/mikey (binary; optional "version" parameter).
inline constexpr const char* kMikeyContentType = "application/mikey";

// IsMikeyContentType: true for "application/mikey" in any letter case, optionally followed
// by whitespace and ";parameters" (RFC 9110 §8.3.1). Null or anything else: false.
bool IsMikeyContentType(const char* value);

// ParseContentLength: 1*DIGIT, at most 19 digits (RFC 9110 §8.6); anything else: nullopt.
std::optional<uint64_t> ParseContentLength(std::string_view value);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// StatusText: reason phrase for the statuses we send ("Payload Too Large", ...).
const char* StatusText(unsigned status);

// SockaddrToString: numeric address of an AF_INET/AF_INET6 peer; "unknown" otherwise.
std::string SockaddrToString(const sockaddr* addr);

// SanitizeLabel: a metrics label value from handler text: [a-z0-9_]{1,32}, else "other",
// so label cardinality stays bounded whatever the handler returns.
std::string SanitizeLabel(std::string_view value);

}  // namespace kms::http
