#include "src/base/secure_pool.h"

#include <openssl/crypto.h>
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "src/base/check.h"

namespace kms::internal {
namespace {

static_assert(SecurePool::kMinBlockBytes << (SecurePool::kNumClasses - 1) ==
              SecurePool::kMaxBlockBytes);
static_assert(SecurePool::kChunkBytes % SecurePool::kMaxBlockBytes == 0);
static_assert(SecurePool::kNumClasses <= 255);  // chunk_class_ stores a class in a byte
// A free block holds the free-list link in its first bytes.
static_assert(SecurePool::kMinBlockBytes >= sizeof(uint8_t*));

size_t RoundedArenaBytes(size_t requested) {
  const size_t chunks =
      std::max<size_t>(1, (requested + SecurePool::kChunkBytes - 1) / SecurePool::kChunkBytes);
  return chunks * SecurePool::kChunkBytes;
}

}  // namespace

SecurePool::SecurePool(const Options& options)
    : arena_bytes_(RoundedArenaBytes(options.arena_bytes)),
      chunks_per_arena_(arena_bytes_ / kChunkBytes),
      max_arenas_(std::min(kMaxArenas, options.max_total_bytes / arena_bytes_)),
      lock_(options.lock),
      chunk_class_(std::make_unique<std::atomic<uint8_t>[]>(max_arenas_ * chunks_per_arena_)) {}

SecurePool::~SecurePool() {
  const size_t n = arena_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    void* base = reinterpret_cast<void*>(arena_base_[i].load(std::memory_order_relaxed));
    // Freed blocks are already scrubbed; this also covers blocks a test never returned.
    OPENSSL_cleanse(base, arena_bytes_);
    (void)munmap(base, arena_bytes_);  // also drops the mlock
  }
}

size_t SecurePool::ClassIndex(size_t bytes) noexcept {
  if (bytes <= kMinBlockBytes) {
    return 0;
  }
  // Smallest power of two >= bytes, as a shift above kMinBlockBytes (16 = 2^4).
  return static_cast<size_t>(std::bit_width(bytes - 1)) - 4;
}

size_t SecurePool::ArenaIndex(const void* p) const noexcept {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  const size_t n = arena_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    // Unsigned wrap-around makes addresses below the base fail the test too.
    if (addr - arena_base_[i].load(std::memory_order_relaxed) < arena_bytes_) {
      return i;
    }
  }
  return max_arenas_;
}

bool SecurePool::Owns(const void* p) const noexcept { return ArenaIndex(p) < max_arenas_; }

uint8_t* SecurePool::NewChunk(size_t class_index) noexcept {
  std::lock_guard<std::mutex> lock(arena_mu_);
  if (next_chunk_ == arena_end_) {
    const size_t n = arena_count_.load(std::memory_order_relaxed);
    if (n >= max_arenas_) {
      return nullptr;
    }
    void* mem =
        mmap(nullptr, arena_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
      return nullptr;
    }
    if (lock_) {
      // Best effort, once per arena. Under RLIMIT_MEMLOCK mlock fails with ENOMEM/EPERM; the
      // arena is used anyway (the old per-buffer path ignored the failure the same way), and
      // locked_arenas < arenas tells tests and metrics. mlock also faults every page in, so
      // carving blocks later takes no page faults.
      if (mlock(mem, arena_bytes_) == 0) {
        locked_arenas_.fetch_add(1, std::memory_order_relaxed);
      } else {
        // Counted, never logged here: this runs under the class and arena locks of an
        // allocation, and base has no logger. kmsd reads the count and says it once.
        int expected = 0;
        (void)first_lock_errno_.compare_exchange_strong(expected, errno, std::memory_order_relaxed);
        unlocked_arenas_.fetch_add(1, std::memory_order_relaxed);
      }
      // The arena is page-aligned and a whole number of pages, so this covers every block
      // (the per-buffer path could only mark pages lying wholly inside a block).
      (void)madvise(mem, arena_bytes_, MADV_DONTDUMP);
    }
    arena_base_[n].store(reinterpret_cast<uintptr_t>(mem), std::memory_order_relaxed);
    arena_count_.store(n + 1, std::memory_order_release);  // publishes arena_base_[n]
    next_chunk_ = static_cast<uint8_t*>(mem);
    arena_end_ = next_chunk_ + arena_bytes_;
  }
  uint8_t* chunk = next_chunk_;
  next_chunk_ += kChunkBytes;
  const size_t arena = arena_count_.load(std::memory_order_relaxed) - 1;
  const uintptr_t base = arena_base_[arena].load(std::memory_order_relaxed);
  const size_t slot =
      arena * chunks_per_arena_ + (reinterpret_cast<uintptr_t>(chunk) - base) / kChunkBytes;
  chunk_class_[slot].store(static_cast<uint8_t>(class_index), std::memory_order_relaxed);
  return chunk;
}

void* SecurePool::Allocate(size_t bytes) noexcept {
  if (bytes > kMaxBlockBytes) {
    fallbacks_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  const size_t ci = ClassIndex(bytes);
  const size_t block_bytes = kMinBlockBytes << ci;
  SizeClass& c = classes_[ci];
  uint8_t* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.free_list != nullptr) {
      p = c.free_list;
      std::memcpy(&c.free_list, p, sizeof(c.free_list));  // memcpy: no aliasing questions
    } else {
      if (c.carve == c.carve_end) {
        uint8_t* chunk = NewChunk(ci);
        if (chunk == nullptr) {
          fallbacks_.fetch_add(1, std::memory_order_relaxed);
          cap_fallbacks_.fetch_add(1, std::memory_order_relaxed);
          return nullptr;
        }
        c.carve = chunk;
        c.carve_end = chunk + kChunkBytes;
      }
      p = c.carve;
      c.carve += block_bytes;
    }
    ++c.live_blocks;
  }
  // A never-used block is zero (fresh anonymous pages); a freed one was scrubbed whole and
  // then got the link word. Zeroing the requested bytes (and the link) outside the lock makes
  // "returned zeroed" hold without relying on that invariant.
  std::memset(p, 0, std::max(bytes, sizeof(c.free_list)));
  return p;
}

bool SecurePool::Deallocate(void* p, size_t bytes, SecureFreeHook hook) noexcept {
  const size_t arena = ArenaIndex(p);
  if (arena >= max_arenas_) {
    return false;
  }
  // A pool block freed with another size would go to the wrong free list and later be handed
  // out overlapping live data: abort instead (a caller bug, never input-driven).
  KMS_CHECK(bytes <= kMaxBlockBytes);
  const size_t ci = ClassIndex(bytes);
  const size_t block_bytes = kMinBlockBytes << ci;
  const uintptr_t offset =
      reinterpret_cast<uintptr_t>(p) - arena_base_[arena].load(std::memory_order_relaxed);
  KMS_CHECK(chunk_class_[arena * chunks_per_arena_ + offset / kChunkBytes].load(
                std::memory_order_relaxed) == ci);
  KMS_CHECK(offset % block_bytes == 0);

  // Scrub the whole block, not only `bytes`: nothing may survive into the next user. Scrub and
  // hook run before the block is linked, so no other thread can have it yet.
  OPENSSL_cleanse(p, block_bytes);
  if (hook != nullptr) {
    hook(static_cast<const uint8_t*>(p), bytes);
  }
  SizeClass& c = classes_[ci];
  std::lock_guard<std::mutex> lock(c.mu);
  std::memcpy(p, &c.free_list, sizeof(c.free_list));
  c.free_list = static_cast<uint8_t*>(p);
  --c.live_blocks;
  return true;
}

SecurePoolStats SecurePool::Stats() const {
  SecurePoolStats s;
  s.arenas = arena_count_.load(std::memory_order_acquire);
  s.locked_arenas = locked_arenas_.load(std::memory_order_relaxed);
  s.unlocked_arenas = unlocked_arenas_.load(std::memory_order_relaxed);
  s.first_lock_errno = first_lock_errno_.load(std::memory_order_relaxed);
  s.arena_bytes = s.arenas * arena_bytes_;
  for (size_t i = 0; i < kNumClasses; ++i) {
    const SizeClass& c = classes_[i];
    std::lock_guard<std::mutex> lock(c.mu);
    s.bytes_in_use += c.live_blocks * (kMinBlockBytes << i);
  }
  s.fallback_allocations = fallbacks_.load(std::memory_order_relaxed);
  s.cap_fallbacks = cap_fallbacks_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace kms::internal
