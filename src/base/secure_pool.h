// SecurePool: the locked memory that small SecretBytes/SecureBuffer blocks are carved from
// (the idea of Botan's mlock_allocator, our own code). Arenas are mmap'ed, mlock'ed and
// marked MADV_DONTDUMP once when created, so allocating and freeing a secret costs no system
// call; per-buffer mlock/munlock cost ~20% of kmsd's CPU (docs/performance.md) and munlock
// of one block unlocked whole pages still holding other live secrets.
//
// Layout: an arena is split into fixed-size chunks; a chunk is handed to one size class
// (16, 32, ..., 4096 bytes) and carved into blocks of that size. Each class has its own
// mutex and free list. Chunks never move between classes, and arenas are never returned to
// the OS while the process runs; total arena memory is capped, after which Allocate()
// declines and the caller uses its per-buffer path.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "src/base/secure_allocator.h"

namespace kms::internal {

struct SecurePoolStats {
  size_t arenas = 0;         // arenas mapped
  size_t locked_arenas = 0;  // of which mlock succeeded (RLIMIT_MEMLOCK may refuse)
  // Of which mlock was tried and refused (Options::lock and not locked): their secrets may
  // be swapped out. kmsd exports it (kms_secure_pool_unlocked_arenas) and warns once.
  size_t unlocked_arenas = 0;
  int first_lock_errno = 0;  // errno of the first refusal (ENOMEM, EPERM...); 0 if none
  size_t arena_bytes = 0;    // total bytes mapped for arenas (never shrinks)
  size_t bytes_in_use = 0;   // live blocks, counted at their size-class size
  // Requests the pool declined (caller used the per-buffer path): larger than the largest
  // class, or no room left under the cap or mmap failed (also counted in cap_fallbacks).
  size_t fallback_allocations = 0;
  size_t cap_fallbacks = 0;
};

class SecurePool {
 public:
  static constexpr size_t kMinBlockBytes = 16;
  static constexpr size_t kMaxBlockBytes = 4096;
  static constexpr size_t kNumClasses = 9;  // 16 << 0 .. 16 << 8
  static constexpr size_t kChunkBytes = 16 * 1024;
  static constexpr size_t kMaxArenas = 256;

  struct Options {
    size_t arena_bytes = 256 * 1024;            // rounded up to a multiple of kChunkBytes
    size_t max_total_bytes = 16 * 1024 * 1024;  // cap on all arenas together
    bool lock = true;                           // mlock + MADV_DONTDUMP each arena
  };

  explicit SecurePool(const Options& options);
  // ~SecurePool: scrubs and unmaps every arena. Only pools made by tests are destroyed;
  // every block must have been returned first.
  ~SecurePool();
  SecurePool(const SecurePool&) = delete;
  SecurePool& operator=(const SecurePool&) = delete;

  // Allocate: a zeroed block of at least `bytes` bytes, aligned to min(class size, 4096)
  // and at least 16, or nullptr if bytes > kMaxBlockBytes or the cap leaves no room (the
  // caller then allocates elsewhere). Never throws. Thread-safe.
  void* Allocate(size_t bytes) noexcept;

  // Deallocate: if `p` lies in one of this pool's arenas, scrubs its whole block with
  // OPENSSL_cleanse, calls `hook` (if not null) with (p, bytes) while the block is still
  // readable, puts the block on its class's free list and returns true. `bytes` must be the
  // value given to Allocate. Returns false, touching nothing, if `p` is not from this pool.
  // Any thread may free a block allocated by another.
  bool Deallocate(void* p, size_t bytes, SecureFreeHook hook) noexcept;

  // Owns: whether `p` points into one of this pool's arenas.
  bool Owns(const void* p) const noexcept;

  // Stats: every counter; takes each size class's lock briefly (for /metrics and tests,
  // never on the allocation path).
  SecurePoolStats Stats() const;
  // unlocked_arenas: Stats().unlocked_arenas as one atomic load, cheap enough to poll.
  size_t unlocked_arenas() const noexcept {
    return unlocked_arenas_.load(std::memory_order_relaxed);
  }

 private:
  // One cache line per class so threads working on different classes do not contend.
  struct alignas(64) SizeClass {
    mutable std::mutex mu;
    uint8_t* free_list = nullptr;  // scrubbed blocks; the link word is their only non-zero
    uint8_t* carve = nullptr;      // next never-used block in this class's newest chunk
    uint8_t* carve_end = nullptr;
    size_t live_blocks = 0;
  };

  static size_t ClassIndex(size_t bytes) noexcept;
  // ArenaIndex: the arena holding `p`, or max_arenas_ if none does.
  size_t ArenaIndex(const void* p) const noexcept;
  // NewChunk: kChunkBytes from the newest arena for class `class_index`, mapping a new
  // arena if needed; nullptr once the cap is reached or mmap fails.
  uint8_t* NewChunk(size_t class_index) noexcept;

  const size_t arena_bytes_;
  const size_t chunks_per_arena_;
  const size_t max_arenas_;
  const bool lock_;
  // The size class each chunk was given (arena index * chunks_per_arena_ + chunk), so that
  // a block freed with a size of another class aborts instead of corrupting a free list.
  // Written before any block of the chunk exists; read only for blocks of the chunk.
  std::unique_ptr<std::atomic<uint8_t>[]> chunk_class_;

  std::array<SizeClass, kNumClasses> classes_;

  std::mutex arena_mu_;  // guards arena growth and next_chunk_/arena_end_
  uint8_t* next_chunk_ = nullptr;
  uint8_t* arena_end_ = nullptr;
  // Arena base addresses: entries [0, arena_count_) are set before arena_count_ is
  // published (release), so Owns() can scan them without taking arena_mu_.
  std::array<std::atomic<uintptr_t>, kMaxArenas> arena_base_{};
  std::atomic<size_t> arena_count_{0};
  std::atomic<size_t> locked_arenas_{0};
  std::atomic<size_t> unlocked_arenas_{0};
  std::atomic<int> first_lock_errno_{0};
  std::atomic<size_t> fallbacks_{0};
  std::atomic<size_t> cap_fallbacks_{0};
};

// ProcessSecurePool: the pool behind SecureAllocate, or nullptr when it is bypassed (built
// without KMS_SECURE_MLOCK, or under AddressSanitizer; see secure_allocator.cc). Created on
// first use and never destroyed.
SecurePool* ProcessSecurePool();

// GetSecurePoolStats: ProcessSecurePool()'s counters, all zero when it is bypassed; for
// tests and metrics.
SecurePoolStats GetSecurePoolStats();

// SecurePoolUnlockedArenas: ProcessSecurePool()->unlocked_arenas(), 0 when it is bypassed.
size_t SecurePoolUnlockedArenas();

}  // namespace kms::internal
