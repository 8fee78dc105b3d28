#include "src/base/ntp_time.h"

#include <gtest/gtest.h>

namespace kms {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

UnixTime Unix(int64_t s, int64_t ns = 0) { return UnixTime(seconds(s) + nanoseconds(ns)); }

TEST(NtpTimeTest, SharedVectorTimestamp) {
  // The shared vectors' T payload: 1700000000 Unix + 0.5 s = e8fe6f80 80000000.
  auto t = ToNtp64(Unix(1700000000, 500'000'000));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 0xe8fe6f8080000000ULL);
  EXPECT_EQ(FromNtp64(0xe8fe6f8080000000ULL), Unix(1700000000, 500'000'000));
  // TRe = +3600 s as NTP-UTC-32.
  auto t32 = ToNtp32(Unix(1700003600, 999'999'999));
  ASSERT_TRUE(t32.ok());
  EXPECT_EQ(*t32, 0xe8fe7d90u);
  EXPECT_EQ(Ntp32To64(0xe8fe7d90u), 0xe8fe7d9000000000ULL);
}

TEST(NtpTimeTest, EpochsAndEraBoundary) {
  EXPECT_EQ(*ToNtp32(Unix(0)), 2208988800u);
  // 2036-02-07 06:28:16 UTC is NTP second 2^32: era 1 starts at 0.
  const int64_t era1 = (int64_t{1} << 32) - kNtpUnixOffsetSeconds;
  EXPECT_EQ(*ToNtp32(Unix(era1)), 0u);
  EXPECT_EQ(*ToNtp32(Unix(era1 - 1)), 0xffffffffu);
  EXPECT_EQ(FromNtp32(0), Unix(era1));
  EXPECT_EQ(FromNtp32(0xffffffffu), Unix(era1 - 1));
  // 1968-01-20 03:14:08 is the first representable second (0x80000000, era 0)...
  const int64_t first = 0x80000000LL - kNtpUnixOffsetSeconds;
  EXPECT_EQ(*ToNtp32(Unix(first)), 0x80000000u);
  EXPECT_EQ(FromNtp32(0x80000000u), Unix(first));
  // ...and 0x7fffffff is the last one (era 1, 2104-02-26).
  EXPECT_EQ(FromNtp32(0x7fffffffu), Unix(era1 + 0x7fffffffLL));
}

// Every NTP-64 bit pattern maps to an instant inside the range ToNtp64 accepts: the last
// fraction of the last second of era 0 must not round up into the next second.
TEST(NtpTimeTest, LastFractionOfAnEraStaysInRange) {
  const UnixTime last = FromNtp64(0x7fffffffffffffffULL);
  EXPECT_TRUE(ToNtp64(last).ok());
  EXPECT_EQ(FromNtp64(0x7fffffff00000000ULL) + std::chrono::nanoseconds(999'999'999), last);
}

TEST(NtpTimeTest, OutOfRangeIsRefused) {
  const int64_t first = 0x80000000LL - kNtpUnixOffsetSeconds;
  EXPECT_EQ(ToNtp32(Unix(first - 1)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ToNtp64(Unix(first, -1)).ok());
  const int64_t end = 0x80000000LL + (int64_t{1} << 32) - kNtpUnixOffsetSeconds;
  EXPECT_FALSE(ToNtp32(Unix(end)).ok());
  EXPECT_TRUE(ToNtp32(Unix(end - 1)).ok());
}

TEST(NtpTimeTest, UnixNanosecondsRoundTripExactly) {
  // NTP fractions (2^-32 s) are finer than nanoseconds, so Unix -> NTP -> Unix is exact
  // and NTP -> Unix -> NTP is within one nanosecond (at most 4 fraction units), in the
  // same second.
  for (int64_t ns : {0LL, 1LL, 499'999'999LL, 500'000'000LL, 999'999'999LL, 123'456'789LL}) {
    const UnixTime t = Unix(1700000000, ns);
    auto ntp = ToNtp64(t);
    ASSERT_TRUE(ntp.ok());
    EXPECT_EQ(FromNtp64(*ntp), t) << ns;
  }
  for (uint64_t frac : {0ULL, 1ULL, 0x80000000ULL, 0xffffffffULL, 0x12345678ULL}) {
    const uint64_t ntp = (0xe8fe6f80ULL << 32) | frac;
    auto back = ToNtp64(FromNtp64(ntp));
    ASSERT_TRUE(back.ok());
    const uint64_t distance = *back > ntp ? *back - ntp : ntp - *back;
    EXPECT_LE(distance, 4u) << std::hex << frac;
    EXPECT_EQ(*back >> 32, ntp >> 32) << std::hex << frac;  // never into the next second
  }
  // Negative Unix times (before 1970) still split into floor seconds.
  auto t = ToNtp64(Unix(-1, 500'000'000));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t >> 32, 2208988799u);
  EXPECT_EQ(*t & 0xffffffffu, 0x80000000u);
}

}  // namespace
}  // namespace kms
