#include "src/base/secure_allocator.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace kms {
namespace {

std::atomic<SecureFreeHook> g_free_hook{nullptr};

#if defined(KMS_SECURE_MLOCK)
// MADV_DONTDUMP works on whole pages: mark the pages lying entirely inside the block.
// Small blocks share pages with other data; for them the process-wide settings
// (PR_SET_DUMPABLE 0, RLIMIT_CORE 0) are what keeps them out of core files.
void AdviseDontDump(void* p, size_t bytes) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = (begin + page - 1) & ~(page - 1);
  const uintptr_t end = (begin + bytes) & ~(page - 1);
  if (end > first) {
    (void)madvise(reinterpret_cast<void*>(first), end - first, MADV_DONTDUMP);
  }
}
#endif

}  // namespace

void SetSecureFreeHookForTesting(SecureFreeHook hook) { g_free_hook.store(hook); }

namespace internal {

void* SecureAllocate(size_t bytes) {
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  std::memset(p, 0, bytes == 0 ? 1 : bytes);  // never hand out stale heap contents
#if defined(KMS_SECURE_MLOCK)
  // Best effort: a failing mlock (RLIMIT_MEMLOCK) or madvise (unaligned range) leaves the
  // block usable; the appliance also runs with mlockall and core dumps off.
  (void)mlock(p, bytes);
  AdviseDontDump(p, bytes);
#endif
  return p;
}

void SecureDeallocate(void* p, size_t bytes) noexcept {
  if (p == nullptr) {
    return;
  }
  OPENSSL_cleanse(p, bytes);
  if (SecureFreeHook hook = g_free_hook.load(); hook != nullptr) {
    hook(static_cast<const uint8_t*>(p), bytes);
  }
#if defined(KMS_SECURE_MLOCK)
  (void)munlock(p, bytes);
#endif
  std::free(p);
}

}  // namespace internal
}  // namespace kms
