#include "src/base/clock.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace kms {
namespace {

TEST(ClockTest, FakeClockIsSettableAndAdvances) {
  FakeClock clock(UnixTime(std::chrono::seconds(1700000000)));
  const Clock& c = clock;
  EXPECT_EQ(c.Now(), UnixTime(std::chrono::seconds(1700000000)));
  clock.Advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(c.Now(), UnixTime(std::chrono::milliseconds(1700000001500)));
  clock.Set(UnixTime(std::chrono::seconds(5)));
  EXPECT_EQ(c.Now(), UnixTime(std::chrono::seconds(5)));
}

TEST(ClockTest, FakeClockConcurrentAdvancesAreNotLost) {
  FakeClock clock(UnixTime{});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        clock.Advance(std::chrono::nanoseconds(1));
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(clock.Now().time_since_epoch().count(), 4000);
}

TEST(ClockTest, SystemClockIsInTheNtpRange) {
  SystemClock clock;
  const UnixTime now = clock.Now();
  EXPECT_GT(now, UnixTime(std::chrono::seconds(1700000000)));
  EXPECT_TRUE(ToNtp64(now).ok());
}

}  // namespace
}  // namespace kms
