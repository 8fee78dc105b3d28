// Evaluator checklist item 29 (fork hygiene): under kmsd's seccomp allow-list no new process
// can be made (kmsd has called C_Initialize by the time the filter is loaded, and a child
// must not use the parent's PKCS#11 state: PKCS#11 v2.20, "Applications and processes"),
// while threads still start.
// The filter is irreversible, so it is loaded in a forked child of the test process, which
// reports through its exit status.
#include "src/daemon/hardening.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/testing/sanitizer_build.h"

extern char** environ;

namespace kms::daemon {
namespace {

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
  if (kms::testing::kTsanBuild) {
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

// A process stopped and continued (SIGSTOP/SIGCONT: job control, gdb or gcore attaching, the
// memory scan of checklist item 12) resumes its interrupted timed waits through
// restart_syscall(2), a system call of its own. Refused, a relative sleep returned EPERM and
// a timed futex wait made glibc abort ("The futex facility returned an unexpected error
// code"): kmsd died after its first stop. The child sleeps in both while the parent stops and
// continues it.
enum StopStep : int {
  kResumed = 0,
  kStopFilterNotLoaded = 20,
  kSleepFailed = 21,
};

constexpr auto kChildWait = std::chrono::seconds(2);  // long: the parent may be slow to stop it

[[noreturn]] void StoppedChild(int ready_fd) {
  if (!EnableSeccomp().ok()) {
    _exit(kStopFilterNotLoaded);
  }
  std::thread waiter([] {  // a timed futex wait, as kmsd's workers and audit writer do
    std::mutex m;
    std::condition_variable cv;
    std::unique_lock<std::mutex> lock(m);
    cv.wait_for(lock, kChildWait, [] { return false; });
  });
  const char c = 'r';
  (void)!write(ready_fd, &c, 1);
  timespec t{std::chrono::duration_cast<std::chrono::seconds>(kChildWait).count(), 0};
  const int slept = clock_nanosleep(CLOCK_MONOTONIC, 0, &t, nullptr);  // relative
  waiter.join();
  _exit(slept == 0 ? kResumed : kSleepFailed);
}

// Kills and reaps the child if a failed assertion leaves it running or stopped.
struct ChildGuard {
  pid_t pid;
  ~ChildGuard() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

TEST(SeccompTest, AStoppedAndContinuedProcessResumesItsWaits) {
  if (kms::testing::kTsanBuild) {
    GTEST_SKIP() << "TSan's runtime forks and clones on its own behalf";
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    close(fds[0]);
    StoppedChild(fds[1]);
  }
  ChildGuard guard{child};
  close(fds[1]);
  char c = 0;
  const ssize_t got = read(fds[0], &c, 1);
  close(fds[0]);
  int status = 0;
  if (got != 1) {  // the child ended before its waits: report how
    ASSERT_EQ(waitpid(child, &status, 0), child);
    guard.pid = 0;
    FAIL() << "the child exited before waiting, status " << status << " (exit 20: no filter)";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both waits are under way
  ASSERT_EQ(kill(child, SIGSTOP), 0);
  ASSERT_EQ(waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status)) << "status " << status;
  ASSERT_EQ(kill(child, SIGCONT), 0);
  ASSERT_EQ(waitpid(child, &status, 0), child);
  guard.pid = 0;
  ASSERT_TRUE(WIFEXITED(status)) << "the filtered child died after SIGCONT: "
                                 << (WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?");
  EXPECT_EQ(WEXITSTATUS(status), kResumed)
      << "20 filter not loaded, 21 the interrupted sleep failed";
}

}  // namespace
}  // namespace kms::daemon
