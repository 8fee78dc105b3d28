// SecureAllocator: the allocator behind SecretBytes (Botan secmem.h idea). Every block is
// scrubbed with OPENSSL_cleanse before it is freed, including the old block when a
// vector grows, and is (best effort) locked against swapping and excluded from core dumps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace kms {

namespace internal {
void* SecureAllocate(size_t bytes);
void SecureDeallocate(void* p, size_t bytes) noexcept;
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
