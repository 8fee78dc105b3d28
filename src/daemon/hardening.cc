#include "src/daemon/hardening.h"

#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kms::daemon {

Status DisableCoreDumps() {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return InternalError(std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno));
  }
  const rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    return InternalError(std::string("setrlimit(RLIMIT_CORE): ") + std::strerror(errno));
  }
  return Status::Ok();
}

Status LockMemory() {
  // With MCL_FUTURE every later mmap/brk is locked too, and without CAP_IPC_LOCK (gone once
  // root is dropped, never there under User=) each fails with EAGAIN past RLIMIT_MEMLOCK
  // (mlock(2)): the first allocation past the default 8 MiB would abort the daemon mid-run.
  // So the whole address space must be allowed to stay locked.
  rlimit memlock{};
  if (getrlimit(RLIMIT_MEMLOCK, &memlock) != 0) {
    return InternalError(std::string("getrlimit(RLIMIT_MEMLOCK): ") + std::strerror(errno));
  }
  if (memlock.rlim_cur != RLIM_INFINITY) {
    return FailedPreconditionError(
        "[process] mlockall = true needs an unlimited locked-memory limit, but RLIMIT_MEMLOCK is " +
        std::to_string(memlock.rlim_cur) +
        " bytes: set LimitMEMLOCK=infinity in the systemd unit (or ulimit -l unlimited), or "
        "mlockall = false");
  }
  if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    return ResourceExhaustedError(std::string("mlockall: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Status DropPrivileges(const std::string& user) {
  if (geteuid() != 0 || user.empty()) {
    return Status::Ok();
  }
  const passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) {
    return InvalidArgumentError("unknown user '" + user + "'");
  }
  if (setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
    return InternalError(std::string("cannot drop privileges: ") + std::strerror(errno));
  }
  if (setuid(0) == 0) {
    return InternalError("root could be regained after dropping privileges");
  }
  return Status::Ok();
}

namespace {

// AddArgRule: one rule on the system call's first argument. Spelled out rather than
// SCMP_A0(), whose C compound literal clang refuses in C++.
Status AddArgRule(scmp_filter_ctx ctx, uint32_t action, int syscall, scmp_compare op,
                  scmp_datum_t a, scmp_datum_t b) {
  scmp_arg_cmp first_arg{};
  first_arg.arg = 0;
  first_arg.op = op;
  first_arg.datum_a = a;
  first_arg.datum_b = b;
  if (seccomp_rule_add(ctx, action, syscall, 1, first_arg) != 0) {
    return InternalError("seccomp_rule_add failed");
  }
  return Status::Ok();
}

}  // namespace

Status EnableSeccomp() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == nullptr) {
    return InternalError("seccomp_init failed");
  }
  // What a running kmsd needs: network I/O and epoll (libmicrohttpd, GnuTLS), file I/O on
  // already-open and new files (SQLite WAL, SoftHSM2 token files), memory, threads, time,
  // signals. No exec, no ptrace, no module loading, no new namespaces.
  // Kept packed by hand: clang-format would put it in two columns.
  // clang-format off
  static const int kAllowed[] = {
      SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
      SCMP_SYS(pwrite64), SCMP_SYS(close), SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(fstat),
      SCMP_SYS(newfstatat), SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(lseek),
      SCMP_SYS(fcntl), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(ftruncate),
      SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
      SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(getdents64),
      SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(flock), SCMP_SYS(getcwd), SCMP_SYS(readlink),
      SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(mremap), SCMP_SYS(madvise),
      SCMP_SYS(brk), SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(futex),
      SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(exit),
      // How the kernel resumes a timed wait (futex, clock_nanosleep, poll) interrupted by a
      // stop and continue: refused, glibc aborted on the futex's EPERM (hardening_test).
      SCMP_SYS(restart_syscall),
      SCMP_SYS(exit_group), SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(tgkill),
      SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(nanosleep),
      SCMP_SYS(clock_nanosleep), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
      SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
      SCMP_SYS(rt_sigtimedwait), SCMP_SYS(sigaltstack), SCMP_SYS(getrandom),
      SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
      SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(eventfd2),
      SCMP_SYS(pipe2), SCMP_SYS(socket), SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept),
      SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(shutdown), SCMP_SYS(sendto),
      SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(setsockopt),
      SCMP_SYS(getsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(ioctl),
      SCMP_SYS(uname), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
      SCMP_SYS(prlimit64), SCMP_SYS(sysinfo), SCMP_SYS(membarrier),
  };
  // clang-format on
  // Not allowed, seen refused in the seccomp e2e runs (strace -f -Z) and harmless: SQLite,
  // run as root, fchown()s a new journal to the database's owner and ignores a failure.
  for (int sc : kAllowed) {
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 0) != 0) {
      seccomp_release(ctx);
      return InternalError("seccomp_rule_add failed");
    }
  }
  // No new process after C_Initialize (evaluator checklist item 29; PKCS#11 v2.20,
  // "Applications and processes": a child inherits the token sessions' state but must not
  // use it). Threads are new tasks too, so clone is allowed only with CLONE_THREAD in its
  // flags (x86_64 and aarch64 pass them as the first argument); glibc's fork() is
  // clone(SIGCHLD | ...) without it and gets EPERM, as do the fork and vfork system calls. clone3
  // takes its flags in a struct that seccomp cannot read, so it is refused with ENOSYS, on which
  // glibc (2.34 and later) creates the thread with clone instead (pthread_create, posix_spawn's
  // first try). The namespace flags in the mask keep "no new namespaces" true for threads as well.
  constexpr scmp_datum_t kCloneMask = CLONE_THREAD | CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID |
                                      CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
  if (Status s = AddArgRule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), SCMP_CMP_MASKED_EQ, kCloneMask,
                            CLONE_THREAD);
      !s.ok()) {
    seccomp_release(ctx);
    return s;
  }
  // fork and vfork need no rule: they are not allowed, so they get the default EPERM (and
  // libseccomp refuses a rule whose action is the default one).
  if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0) {
    seccomp_release(ctx);
    return InternalError("seccomp_rule_add failed");
  }
  // The clock's NTP state (src/daemon/clock_watch.h): glibc's adjtimex() is
  // clock_adjtime(CLOCK_REALTIME, ...), read with modes 0. seccomp cannot look into the timex
  // struct, so the call is allowed for that clock; setting the clock through it needs
  // CAP_SYS_TIME, which kmsd does not have once it runs as its [process] user.
  if (Status s =
          AddArgRule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clock_adjtime), SCMP_CMP_EQ, CLOCK_REALTIME, 0);
      !s.ok()) {
    seccomp_release(ctx);
    return s;
  }
  // prctl only to name a thread (pthread_setname_np, for threads a library starts later);
  // in particular not PR_SET_DUMPABLE, which would undo DisableCoreDumps. kmsd itself
  // makes no prctl call after start-up.
  for (int option : {PR_SET_NAME, PR_GET_NAME}) {
    if (Status s = AddArgRule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), SCMP_CMP_EQ,
                              static_cast<scmp_datum_t>(option), 0);
        !s.ok()) {
      seccomp_release(ctx);
      return s;
    }
  }
  // Without TSYNC the filter binds only the calling thread (seccomp(2)), and kmsd loads it
  // after its listener, decision and audit threads exist: those would run unfiltered. With
  // it the kernel applies the filter to every thread or fails the load as a whole.
  if (const int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
    seccomp_release(ctx);
    return InternalError(std::string("seccomp: cannot filter all threads (TSYNC): ") +
                         std::strerror(-rc));
  }
  const int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    return InternalError(std::string("seccomp_load (all threads) failed: ") + std::strerror(-rc));
  }
  return Status::Ok();
}

}  // namespace kms::daemon
