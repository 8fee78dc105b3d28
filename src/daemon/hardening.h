// Process hardening for kmsd (issue 7 §4; evaluator checklist item 13).
#pragma once

#include <string>

#include "src/base/status.h"

namespace kms::daemon {

// DisableCoreDumps: PR_SET_DUMPABLE 0 and RLIMIT_CORE 0 (keys never reach a core file).
Status DisableCoreDumps();
// LockMemory: mlockall(MCL_CURRENT | MCL_FUTURE) so no page is swapped out.
Status LockMemory();
// DropPrivileges: when running as root, switch to `user` (setgroups, setgid, setuid) and
// check that root cannot be regained. A no-op for non-root or an empty user.
Status DropPrivileges(const std::string& user);
// EnableSeccomp: a syscall allow-list (libseccomp); anything else fails with EPERM and is
// logged by the kernel audit. Called after start-up, once every file and socket is open.
Status EnableSeccomp();

}  // namespace kms::daemon
