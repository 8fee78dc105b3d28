// SecureAllocator: the allocator behind SecretBytes (Botan secmem.h idea). Every block is
// handed out zeroed and scrubbed with OPENSSL_cleanse before it is freed or reused,
// including the old block when a vector grows, and is (best effort) locked against swapping
// and excluded from core dumps. Blocks up to SecurePool::kMaxBlockBytes come from a pool of
// arenas locked once (src/base/secure_pool.h); larger ones, and small ones once the pool's
// cap is reached, take the per-buffer path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace kms {

namespace internal {
// SecureAllocate: a zeroed block of `bytes` bytes from the process pool, or from
// SecureAllocatePerBuffer. Throws std::bad_alloc when out of memory. Thread-safe.
void* SecureAllocate(size_t bytes);
// SecureDeallocate: scrubs and releases a block from SecureAllocate; `bytes` must match.
// Any thread may free any block.
void SecureDeallocate(void* p, size_t bytes) noexcept;

// SecureAllocatePerBuffer: the path for blocks the pool does not serve. With
// KMS_SECURE_MLOCK, malloc'ed whole pages, each block mlock'ed and MADV_DONTDUMP'ed on its
// own (two system calls per allocation and two per free); without it, plain malloc.
// Throws std::bad_alloc. SecureDeallocatePerBuffer scrubs, calls the free hook and frees.
void* SecureAllocatePerBuffer(size_t bytes);
void SecureDeallocatePerBuffer(void* p, size_t bytes) noexcept;
}  // namespace internal

// Test hook: called after a block has been scrubbed and before it is freed, with the
// block still readable. Tests install it to prove zeroization without reading freed
// memory. Not thread-safe to change while allocations run; nullptr disables it.
using SecureFreeHook = void (*)(const uint8_t* block, size_t bytes);
void SetSecureFreeHookForTesting(SecureFreeHook hook);

template <typename T>
class SecureAllocator {
 public:
  using value_type = T;
  SecureAllocator() noexcept = default;
  template <typename U>
  SecureAllocator(const SecureAllocator<U>& /*other*/) noexcept {}  // NOLINT

  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) {
      throw std::bad_array_new_length();  // only std::vector sees this; sizes are bounded
    }
    return static_cast<T*>(internal::SecureAllocate(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { internal::SecureDeallocate(p, n * sizeof(T)); }

  friend bool operator==(const SecureAllocator&, const SecureAllocator&) { return true; }
};

// SecureBuffer: a byte vector whose every block is scrubbed on release.
using SecureBuffer = std::vector<uint8_t, SecureAllocator<uint8_t>>;

}  // namespace kms
