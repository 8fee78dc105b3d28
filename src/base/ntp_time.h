// NTP timestamp conversions for MIKEY T and TR payloads (RFC 3830 §6.6, RFC 6043 §6.3).
// NTP-UTC is 64 bits (32-bit seconds since 1900-01-01 + 32-bit fraction); NTP-UTC-32 is
// the seconds part alone. Both wrap in 2036: the RFC 4330 §3 rule maps a seconds value
// with the top bit set to era 0 (1968-2036) and one with the top bit clear to era 1
// (2036-2104), so every representable instant lies in [1968-01-20 03:14:08, 2104-02-26).
#pragma once

#include <chrono>
#include <cstdint>

#include "src/base/result.h"

namespace kms {

// UnixTime: an instant, nanoseconds since the Unix epoch (UTC, no leap seconds).
using UnixTime = std::chrono::sys_time<std::chrono::nanoseconds>;

// Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch).
inline constexpr int64_t kNtpUnixOffsetSeconds = 2208988800;

// ToNtp64 / ToNtp32: fail with kInvalidArgument outside the 1968-2104 range. The fraction
// is rounded down to the nearest 2^-32 s; NTP-UTC-32 drops the fraction.
Result<uint64_t> ToNtp64(UnixTime t);
Result<uint32_t> ToNtp32(UnixTime t);

// FromNtp64 / FromNtp32: every bit pattern is a valid instant under the era rule.
UnixTime FromNtp64(uint64_t ntp);
UnixTime FromNtp32(uint32_t ntp_seconds);

// Ntp32To64: NTP-UTC-32 widened for the AES-CM IV: T32 || 00000000 (spec §4.2).
constexpr uint64_t Ntp32To64(uint32_t ntp_seconds) { return uint64_t{ntp_seconds} << 32; }

}  // namespace kms
