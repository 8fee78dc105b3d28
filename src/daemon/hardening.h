// Process hardening for kmsd (issue 7 §4; evaluator checklist item 13).
#pragma once

#include <string>

#include "src/base/status.h"

namespace kms::daemon {

// DisableCoreDumps: PR_SET_DUMPABLE 0 and RLIMIT_CORE 0 (keys never reach a core file).
Status DisableCoreDumps();
// LockMemory: mlockall(MCL_CURRENT | MCL_FUTURE) so no page is swapped out. Refused
// (kFailedPrecondition) unless RLIMIT_MEMLOCK is unlimited: every later allocation is locked
// too and would fail past the limit. Called after DropPrivileges, with the final identity.
Status LockMemory();
// DropPrivileges: when running as root, switch to `user` (setgroups, setgid, setuid) and
// check that root cannot be regained. A no-op for non-root or an empty user.
Status DropPrivileges(const std::string& user);
// EnableSeccomp: a syscall allow-list (libseccomp) for every thread of the process: the
// filter is synchronised to the threads already running (listeners, decision workers, audit
// writer; SECCOMP_FILTER_FLAG_TSYNC), and threads started later inherit it. Anything else
// fails with EPERM; the kernel does not log it (SCMP_FLTATR_CTL_LOG is off). No new process:
// clone only with CLONE_THREAD (fork() and posix_spawn() fail with EPERM, clone3 with ENOSYS
// so that glibc starts threads with clone; evaluator checklist item 29). An error, and no
// filter at all, if any thread cannot be synchronised. Called after start-up, once every file
// and socket is open.
Status EnableSeccomp();

}  // namespace kms::daemon
