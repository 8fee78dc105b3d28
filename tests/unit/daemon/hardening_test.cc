// Evaluator checklist item 29 (fork hygiene): under kmsd's seccomp allow-list no new process
// can be made (kmsd has called C_Initialize by the time the filter is loaded, and a child
// must not use the parent's PKCS#11 state: PKCS#11 v2.20, "Applications and processes"),
// while threads still start.
// The filter is irreversible, so it is loaded in a forked child of the test process, which
// reports through its exit status.
#include "src/daemon/hardening.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

extern char** environ;

namespace kms::daemon {
namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
#else
constexpr bool kTsan = false;
#endif

// Exit codes of the filtered child: which step failed.
enum Step : int {
  kOk = 0,
  kFilterNotLoaded = 10,
  kForkNotRefused = 11,
  kForkWrongErrno = 12,
  kThreadDidNotRun = 13,
  kSpawnNotRefused = 14,
};

[[noreturn]] void FilteredChild() {
  if (!EnableSeccomp().ok()) {
    _exit(kFilterNotLoaded);
  }
  const pid_t p = fork();
  if (p == 0) {
    _exit(0);  // the grandchild exists: the filter let a process through
  }
  if (p != -1) {
    waitpid(p, nullptr, 0);
    _exit(kForkNotRefused);
  }
  if (errno != EPERM) {
    _exit(kForkWrongErrno);
  }
  // posix_spawn: clone3 (refused with ENOSYS), then clone(CLONE_VM | CLONE_VFORK): EPERM.
  pid_t spawned = -1;
  char arg0[] = "true";
  char* argv[] = {arg0, nullptr};
  if (posix_spawn(&spawned, "/bin/true", nullptr, nullptr, argv, environ) == 0) {
    waitpid(spawned, nullptr, 0);
    _exit(kSpawnNotRefused);
  }
  // A thread started after the filter (pthread_create: clone3 gets ENOSYS, clone with
  // CLONE_THREAD is allowed).
  std::atomic<bool> ran{false};
  std::thread t([&ran] { ran = true; });
  t.join();
  if (!ran.load()) {
    _exit(kThreadDidNotRun);
  }
  _exit(kOk);
}

TEST(SeccompTest, NoProcessCanBeMadeUnderTheFilterButThreadsStart) {
  if (kTsan) {
    GTEST_SKIP() << "TSan's runtime forks and clones on its own behalf";
  }
  const pid_t child = fork();
  ASSERT_NE(child, -1) << "fork before the filter must work";
  if (child == 0) {
    FilteredChild();
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the filtered child was killed, status " << status;
  EXPECT_EQ(WEXITSTATUS(status), kOk)
      << "10 filter not loaded, 11 fork() made a process, 12 fork() failed without EPERM, "
         "13 a thread did not run, 14 posix_spawn() made a process";
}

}  // namespace
}  // namespace kms::daemon
