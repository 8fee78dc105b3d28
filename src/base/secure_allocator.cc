#include "src/base/secure_allocator.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "src/base/secure_pool.h"

// AddressSanitizer: GCC defines __SANITIZE_ADDRESS__, Clang answers __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define KMS_SECURE_ALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KMS_SECURE_ALLOC_ASAN 1
#endif
#endif

// The pool exists to make locking cheap, so it is used only when secrets are locked at all.
// Under ASan it is bypassed even then: blocks recycled inside our own arenas are invisible
// to ASan, which would miss use-after-free and overflows into a neighbouring secret; with
// plain malloc every SecretBytes keeps its own redzones and quarantine. (ASan's mlock
// interceptor also returns 0 without locking, so a pool would protect nothing there.) The
// asan, tsan and fuzz presets build with KMS_SECURE_MLOCK=OFF, so they get plain malloc
// either way; the pool itself is still unit-tested there through private SecurePool objects.
#if defined(KMS_SECURE_MLOCK) && !defined(KMS_SECURE_ALLOC_ASAN)
#define KMS_SECURE_ALLOC_POOL 1
#endif

namespace kms {
namespace {

std::atomic<SecureFreeHook> g_free_hook{nullptr};

#if defined(KMS_SECURE_MLOCK)
size_t PageBytes() {
  static const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// The per-buffer path gives each block whole pages of its own: mlock is not
// reference-counted, so munlock of a page shared with another locked block would unlock that
// block too, and MADV_DONTDUMP only applies to whole pages.
// Precondition: bytes <= SIZE_MAX - PageBytes() (SecureAllocatePerBuffer checks it, so a
// block it handed out always satisfies it when it is freed).
size_t PerBufferBytes(size_t bytes) {
  const size_t page = PageBytes();
  return bytes == 0 ? page : (bytes + page - 1) / page * page;
}
#endif

}  // namespace

void SetSecureFreeHookForTesting(SecureFreeHook hook) { g_free_hook.store(hook); }

namespace internal {

SecurePool* ProcessSecurePool() {
#if defined(KMS_SECURE_ALLOC_POOL)
  // Deliberately never deleted (and its arenas never unmapped): SecretBytes living in objects
  // with static storage duration may be destroyed after this function's statics would be,
  // and must still find their arena mapped. The OS reclaims it at exit.
  static SecurePool* const pool = new SecurePool(SecurePool::Options{});
  return pool;
#else
  return nullptr;
#endif
}

SecurePoolStats GetSecurePoolStats() {
  const SecurePool* pool = ProcessSecurePool();
  return pool == nullptr ? SecurePoolStats{} : pool->Stats();
}

size_t SecurePoolUnlockedArenas() {
  const SecurePool* pool = ProcessSecurePool();
  return pool == nullptr ? 0 : pool->unlocked_arenas();
}

void* SecureAllocatePerBuffer(size_t bytes) {
#if defined(KMS_SECURE_MLOCK)
  if (bytes > SIZE_MAX - PageBytes()) {
    throw std::bad_alloc();
  }
  const size_t len = PerBufferBytes(bytes);
  void* p = std::aligned_alloc(PageBytes(), len);
#else
  const size_t len = bytes == 0 ? 1 : bytes;  // exact size, so ASan sees any overflow
  void* p = std::malloc(len);
#endif
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  std::memset(p, 0, len);  // never hand out stale heap contents
#if defined(KMS_SECURE_MLOCK)
  // Best effort: a failing mlock (RLIMIT_MEMLOCK) leaves the block usable; the appliance
  // also runs with core dumps off.
  (void)mlock(p, len);
  (void)madvise(p, len, MADV_DONTDUMP);
#endif
  return p;
}

void SecureDeallocatePerBuffer(void* p, size_t bytes) noexcept {
  if (p == nullptr) {
    return;
  }
  // Only [p, p + bytes) was handed out; the rest of the pages was zeroed and never written.
  OPENSSL_cleanse(p, bytes);
  if (SecureFreeHook hook = g_free_hook.load(); hook != nullptr) {
    hook(static_cast<const uint8_t*>(p), bytes);
  }
#if defined(KMS_SECURE_MLOCK)
  const size_t len = PerBufferBytes(bytes);
  (void)munlock(p, len);
  // The pages go back to malloc for any data; clearing the flag also lets the kernel merge
  // the heap mapping back instead of leaving it split at every former secret.
  (void)madvise(p, len, MADV_DODUMP);
#endif
  std::free(p);
}

void* SecureAllocate(size_t bytes) {
  if (SecurePool* pool = ProcessSecurePool(); pool != nullptr) {
    if (void* p = pool->Allocate(bytes); p != nullptr) {
      return p;
    }
  }
  return SecureAllocatePerBuffer(bytes);
}

void SecureDeallocate(void* p, size_t bytes) noexcept {
  if (p == nullptr) {
    return;
  }
  if (SecurePool* pool = ProcessSecurePool();
      pool != nullptr && pool->Deallocate(p, bytes, g_free_hook.load())) {
    return;
  }
  SecureDeallocatePerBuffer(p, bytes);
}

}  // namespace internal
}  // namespace kms
