#include "src/base/usable_cpus.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <thread>

namespace kms {
namespace {

// The count follows the calling thread's affinity mask, not the machine: a daemon confined
// by a cpuset or taskset sizes its pools to what it may use.
TEST(UsableCpusTest, FollowsTheAffinityMask) {
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
  EXPECT_EQ(UsableCpus(), static_cast<unsigned>(CPU_COUNT(&all)));

  size_t first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  unsigned confined = 0;
  std::thread t([&] {  // a thread of its own, so the test's own mask stays as it was
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0) confined = UsableCpus();
  });
  t.join();
  EXPECT_EQ(confined, 1u);
}

}  // namespace
}  // namespace kms
