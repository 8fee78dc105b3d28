#include "src/base/ntp_time.h"

#include <algorithm>

namespace kms {
namespace {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr int64_t kTwo32 = int64_t{1} << 32;
// Unix seconds of the first and one past the last representable NTP second (RFC 4330 §3).
constexpr int64_t kMinUnix = 0x80000000LL - kNtpUnixOffsetSeconds;          // 1968-01-20
constexpr int64_t kEndUnix = 0x80000000LL + kTwo32 - kNtpUnixOffsetSeconds;  // 2104-02-26

// SplitUnix: whole seconds (floor) and the remaining nanoseconds in [0, 1e9).
void SplitUnix(UnixTime t, int64_t* secs, int64_t* nanos) {
  const int64_t ns = t.time_since_epoch().count();
  int64_t s = ns / 1'000'000'000;
  int64_t r = ns % 1'000'000'000;
  if (r < 0) {
    r += 1'000'000'000;
    s -= 1;
  }
  *secs = s;
  *nanos = r;
}

Result<uint32_t> NtpSeconds(int64_t unix_secs) {
  if (unix_secs < kMinUnix || unix_secs >= kEndUnix) {
    return InvalidArgumentError("time outside the NTP 1968-2104 range");
  }
  // Era 0 and era 1 both reduce modulo 2^32.
  return static_cast<uint32_t>((unix_secs + kNtpUnixOffsetSeconds) % kTwo32);
}

int64_t UnixSeconds(uint32_t ntp_seconds) {
  int64_t s = ntp_seconds;
  if ((ntp_seconds & 0x80000000u) == 0) {
    s += kTwo32;  // era 1 (after 2036-02-07)
  }
  return s - kNtpUnixOffsetSeconds;
}

}  // namespace

Result<uint64_t> ToNtp64(UnixTime t) {
  int64_t secs = 0;
  int64_t nanos = 0;
  SplitUnix(t, &secs, &nanos);
  KMS_ASSIGN_OR_RETURN(const uint32_t ntp_s, NtpSeconds(secs));
  const uint64_t frac = (static_cast<uint64_t>(nanos) << 32) / 1'000'000'000;  // < 2^62
  return (uint64_t{ntp_s} << 32) | frac;
}

Result<uint32_t> ToNtp32(UnixTime t) {
  int64_t secs = 0;
  int64_t nanos = 0;
  SplitUnix(t, &secs, &nanos);
  return NtpSeconds(secs);
}

UnixTime FromNtp64(uint64_t ntp) {
  const int64_t secs = UnixSeconds(static_cast<uint32_t>(ntp >> 32));
  // The fraction rounded up to a whole nanosecond (2^32 fractions do not map one to one onto
  // 10^9 nanoseconds, so ToNtp64 gives back x only within a few units). Capped below one
  // second so that the last instant of an era stays inside it (and inside ToNtp64's range).
  const uint64_t frac = ntp & 0xffffffffu;
  // frac < 2^32 and 1e9 < 2^30, so the product fits in 64 bits.
  const auto nanos = std::min<int64_t>(
      static_cast<int64_t>((frac * 1'000'000'000 + (uint64_t{1} << 32) - 1) >> 32), 999'999'999);
  return UnixTime(seconds(secs) + nanoseconds(nanos));
}

UnixTime FromNtp32(uint32_t ntp_seconds) { return UnixTime(seconds(UnixSeconds(ntp_seconds))); }

}  // namespace kms
