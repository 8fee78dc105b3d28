#include "src/base/secure_pool.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "src/base/secret_bytes.h"

// ASan, TSan and MSan intercept mlock/munlock and return 0 without locking anything
// (compiler-rt), so smaps can show the lock only in builds without them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KMS_TEST_MLOCK_INTERCEPTED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define KMS_TEST_MLOCK_INTERCEPTED 1
#endif
#endif

namespace kms::internal {
namespace {

constexpr size_t kKiB = 1024;
#if defined(KMS_TEST_MLOCK_INTERCEPTED)
constexpr bool kMlockIsReal = false;
#else
constexpr bool kMlockIsReal = true;
#endif

// One /proc/self/smaps entry: the kernel's view of whether a mapping is locked ("Locked:",
// VmFlags "lo") and excluded from core dumps (VmFlags "dd").
struct Mapping {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  size_t size_kb = 0;
  size_t locked_kb = 0;
  std::vector<std::string> flags;
  bool Has(const std::string& flag) const {
    return std::find(flags.begin(), flags.end(), flag) != flags.end();
  }
};

bool FindMapping(const void* p, Mapping* out) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    unsigned long long b = 0;
    unsigned long long e = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &b, &e) == 2 && line.find(':') > line.find(' ')) {
      if (inside) {
        return true;  // the next mapping starts: ours is complete
      }
      inside = addr >= b && addr < e;
      if (inside) {
        *out = Mapping{};
        out->begin = b;
        out->end = e;
      }
      continue;
    }
    if (!inside) {
      continue;
    }
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "Size: %llu kB", &kb) == 1) {
      out->size_kb = kb;
    } else if (std::sscanf(line.c_str(), "Locked: %llu kB", &kb) == 1) {
      out->locked_kb = kb;
    } else if (line.rfind("VmFlags:", 0) == 0) {
      std::istringstream words(line.substr(8));
      for (std::string w; words >> w;) {
        out->flags.push_back(w);
      }
    }
  }
  return inside;
}

bool AllZero(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return std::all_of(b, b + n, [](uint8_t v) { return v == 0; });
}

size_t ClassBytes(size_t bytes) { return std::max<size_t>(16, std::bit_ceil(bytes)); }

// Sizes covering every class, at and just above its lower edge.
std::vector<size_t> EveryClassSizes() {
  std::vector<size_t> sizes = {1, 8};
  for (size_t c = SecurePool::kMinBlockBytes; c <= SecurePool::kMaxBlockBytes; c *= 2) {
    sizes.push_back(c);
    if (c < SecurePool::kMaxBlockBytes) {
      sizes.push_back(c + 1);
    }
  }
  return sizes;
}

TEST(SecurePoolTest, EveryClassComesFromALockedDontDumpArena) {
  SecurePool pool(SecurePool::Options{});
  std::vector<std::pair<void*, size_t>> live;
  for (size_t n : EveryClassSizes()) {
    void* p = pool.Allocate(n);
    ASSERT_NE(p, nullptr) << n;
    EXPECT_TRUE(pool.Owns(p)) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % std::min<size_t>(ClassBytes(n), 4096), 0u) << n;
    live.emplace_back(p, n);
  }
  const SecurePoolStats s = pool.Stats();
  ASSERT_GE(s.arenas, 1u);
  // 256 KiB per arena fits well under the usual 8 MiB RLIMIT_MEMLOCK.
  EXPECT_EQ(s.locked_arenas, s.arenas);
  EXPECT_EQ(s.unlocked_arenas, 0u);
  EXPECT_EQ(s.first_lock_errno, 0);
  for (auto [p, n] : live) {
    Mapping m;
    ASSERT_TRUE(FindMapping(p, &m)) << n;
    EXPECT_TRUE(m.Has("dd")) << n;
    if (kMlockIsReal) {
      EXPECT_TRUE(m.Has("lo")) << n;
      EXPECT_EQ(m.locked_kb, m.size_kb) << n;
    }
    EXPECT_TRUE(pool.Deallocate(p, n, nullptr));
  }
}

// What a child with RLIMIT_MEMLOCK room for one arena saw (sent back through a pipe).
struct RefusedLockResult {
  bool setup_ok = false;  // the limit was lowered and CAP_IPC_LOCK dropped
  bool blocks_usable = false;
  SecurePoolStats stats;
};

// DropIpcLock: clears CAP_IPC_LOCK from this process's effective and permitted sets, so that
// RLIMIT_MEMLOCK applies even to root (mlock(2): the capability bypasses the limit).
bool DropIpcLock() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> data{};
  if (syscall(SYS_capget, &header, data.data()) != 0) {
    return false;
  }
  const uint32_t mask = CAP_TO_MASK(CAP_IPC_LOCK);
  data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~mask;
  data[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted &= ~mask;
  return syscall(SYS_capset, &header, data.data()) == 0;
}

// RunWithOneArenaOfMemlock: in a forked child (mlocks are not inherited across fork, and the
// lowered limit and dropped capability stay there), maps two 64 KiB arenas under a limit
// that holds one.
RefusedLockResult RunWithOneArenaOfMemlock() {
  constexpr size_t kArena = 64 * kKiB;
  RefusedLockResult result;
  int fds[2];
  if (pipe(fds) != 0) {
    return result;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    RefusedLockResult r;
    rlimit limit{};
    r.setup_ok = getrlimit(RLIMIT_MEMLOCK, &limit) == 0 && DropIpcLock();
    limit.rlim_cur = kArena + kArena / 2;  // the soft limit: lowering it needs no privilege
    r.setup_ok = r.setup_ok && setrlimit(RLIMIT_MEMLOCK, &limit) == 0;
    SecurePool pool(SecurePool::Options{.arena_bytes = kArena, .max_total_bytes = 4 * kArena});
    // 4 KiB blocks: 16 fill the first arena, the 17th maps the second.
    std::vector<void*> blocks;
    r.blocks_usable = true;
    for (int i = 0; i < 17; ++i) {
      void* p = pool.Allocate(SecurePool::kMaxBlockBytes);
      r.blocks_usable = r.blocks_usable && p != nullptr;
      if (p != nullptr) {
        std::memset(p, 0x5a, SecurePool::kMaxBlockBytes);  // the unlocked arena still works
        blocks.push_back(p);
      }
    }
    r.stats = pool.Stats();
    for (void* p : blocks) {
      (void)pool.Deallocate(p, SecurePool::kMaxBlockBytes, nullptr);
    }
    const ssize_t n = write(fds[1], &r, sizeof(r));
    _exit(n == static_cast<ssize_t>(sizeof(r)) ? 0 : 1);
  }
  close(fds[1]);
  if (pid > 0) {
    RefusedLockResult got;
    if (read(fds[0], &got, sizeof(got)) == static_cast<ssize_t>(sizeof(got))) {
      result = got;
    }
    int status = 0;
    (void)waitpid(pid, &status, 0);
  }
  close(fds[0]);
  return result;
}

TEST(SecurePoolTest, RefusedMlockIsCountedAndTheArenaStillServes) {
  if (!kMlockIsReal) {
    GTEST_SKIP() << "the sanitizer's mlock interceptor never refuses";
  }
  const RefusedLockResult r = RunWithOneArenaOfMemlock();
  ASSERT_TRUE(r.setup_ok) << "could not lower RLIMIT_MEMLOCK or drop CAP_IPC_LOCK in the child";
  EXPECT_TRUE(r.blocks_usable);
  EXPECT_EQ(r.stats.arenas, 2u);
  EXPECT_EQ(r.stats.locked_arenas, 1u);
  EXPECT_EQ(r.stats.unlocked_arenas, 1u);
  EXPECT_EQ(r.stats.first_lock_errno, ENOMEM) << std::strerror(r.stats.first_lock_errno);
}

TEST(SecurePoolTest, UnlockedPoolIsVisiblyUnlocked) {
  // Control for the test above: the smaps check does tell locked from unlocked arenas.
  SecurePool pool(SecurePool::Options{.lock = false});
  void* p = pool.Allocate(32);
  ASSERT_NE(p, nullptr);
  Mapping m;
  ASSERT_TRUE(FindMapping(p, &m));
  EXPECT_FALSE(m.Has("lo"));
  EXPECT_FALSE(m.Has("dd"));
  EXPECT_EQ(m.locked_kb, 0u);
  EXPECT_EQ(pool.Stats().locked_arenas, 0u);
  EXPECT_EQ(pool.Stats().unlocked_arenas, 0u);  // never tried: not a refusal
  EXPECT_TRUE(pool.Deallocate(p, 32, nullptr));
}

TEST(SecurePoolTest, ProcessPoolLocksSecretBytes) {
  if (ProcessSecurePool() == nullptr) {
    GTEST_SKIP() << "pool bypassed (built without KMS_SECURE_MLOCK, or under ASan)";
  }
  SecretBytes key(32);
  EXPECT_TRUE(ProcessSecurePool()->Owns(key.Reveal().data()));
  Mapping m;
  ASSERT_TRUE(FindMapping(key.Reveal().data(), &m));
  EXPECT_TRUE(m.Has("lo") || !kMlockIsReal);
  EXPECT_TRUE(m.Has("dd"));
  EXPECT_GE(GetSecurePoolStats().bytes_in_use, 32u);
}

TEST(SecurePoolTest, ReusedBlockIsZeroedAfterPreviousUserWrotePattern) {
  SecurePool pool(SecurePool::Options{});
  for (size_t n : EveryClassSizes()) {
    void* first = pool.Allocate(n);
    ASSERT_NE(first, nullptr);
    std::memset(first, 0xA5, n);
    ASSERT_TRUE(pool.Deallocate(first, n, nullptr));
    void* again = pool.Allocate(n);
    ASSERT_EQ(again, first) << n << ": free lists are LIFO, so the test reuses the block";
    // The whole class block, beyond the n bytes asked for: no byte of the last user (nor the
    // free-list link) survives.
    EXPECT_TRUE(AllZero(again, ClassBytes(n))) << n;
    ASSERT_TRUE(pool.Deallocate(again, n, nullptr));
  }
}

struct HookRecord {
  const uint8_t* block = nullptr;
  size_t bytes = 0;
  bool zero = false;
  int calls = 0;
};
HookRecord g_hook;

void RecordHook(const uint8_t* block, size_t bytes) {
  g_hook.block = block;
  g_hook.bytes = bytes;
  g_hook.zero = AllZero(block, bytes);
  ++g_hook.calls;
}

TEST(SecurePoolTest, FreeHookSeesTheScrubbedBlock) {
  SecurePool pool(SecurePool::Options{});
  for (size_t n : {size_t{20}, size_t{300}, size_t{4096}}) {
    g_hook = HookRecord{};
    auto* p = static_cast<uint8_t*>(pool.Allocate(n));
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x5A, n);
    ASSERT_TRUE(pool.Deallocate(p, n, &RecordHook));
    EXPECT_EQ(g_hook.calls, 1);
    EXPECT_EQ(g_hook.block, p);
    EXPECT_EQ(g_hook.bytes, n);
    EXPECT_TRUE(g_hook.zero) << n;
  }
  // Not from this pool: untouched, no hook call.
  uint8_t outside[32] = {1};
  g_hook = HookRecord{};
  EXPECT_FALSE(pool.Deallocate(outside, sizeof(outside), &RecordHook));
  EXPECT_EQ(g_hook.calls, 0);
  EXPECT_EQ(outside[0], 1);
}

TEST(SecurePoolTest, FreeWithTheWrongSizeAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  SecurePool pool(SecurePool::Options{});
  void* p = pool.Allocate(32);
  ASSERT_NE(p, nullptr);
  EXPECT_DEATH((void)pool.Deallocate(p, 64, nullptr), "KMS_CHECK failed");
  EXPECT_DEATH((void)pool.Deallocate(p, 5000, nullptr), "KMS_CHECK failed");
  EXPECT_TRUE(pool.Deallocate(p, 32, nullptr));
}

// Mostly small blocks, like the secrets kmsd holds, with the occasional large one.
size_t RandomSize(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, 9);
  const int k = pick(rng);
  const size_t hi = k < 6 ? 64 : (k < 9 ? 512 : SecurePool::kMaxBlockBytes);
  return std::uniform_int_distribution<size_t>(1, hi)(rng);
}

struct Live {
  uint8_t* p;
  size_t bytes;
  uint8_t pattern;
};

bool PatternIntact(const Live& b) {
  return std::all_of(b.p, b.p + b.bytes, [&](uint8_t v) { return v == b.pattern; });
}

TEST(SecurePoolTest, RandomisedLiveBlocksNeverOverlap) {
  SecurePool pool(SecurePool::Options{.arena_bytes = 64 * kKiB});
  std::mt19937 rng(20240611);
  std::vector<Live> live;
  std::map<uintptr_t, uintptr_t> ranges;  // begin -> end of each live class block
  for (int op = 0; op < 20000; ++op) {
    const bool alloc = live.empty() || (live.size() < 600 && rng() % 3 != 0);
    if (alloc) {
      const size_t n = RandomSize(rng);
      auto* p = static_cast<uint8_t*>(pool.Allocate(n));
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(AllZero(p, n));
      const auto b = reinterpret_cast<uintptr_t>(p);
      const uintptr_t e = b + ClassBytes(n);
      auto next = ranges.lower_bound(b);
      ASSERT_TRUE(next == ranges.end() || next->first >= e) << "overlaps the next block";
      ASSERT_TRUE(next == ranges.begin() || std::prev(next)->second <= b) << "overlaps previous";
      ranges.emplace(b, e);
      const auto pattern = static_cast<uint8_t>(1 + op % 255);
      std::memset(p, pattern, n);
      live.push_back({p, n, pattern});
    } else {
      const size_t i = rng() % live.size();
      ASSERT_TRUE(PatternIntact(live[i])) << "block overwritten while live";
      ranges.erase(reinterpret_cast<uintptr_t>(live[i].p));
      ASSERT_TRUE(pool.Deallocate(live[i].p, live[i].bytes, nullptr));
      live[i] = live.back();
      live.pop_back();
    }
  }
  size_t in_use = 0;
  for (const Live& b : live) {
    EXPECT_TRUE(PatternIntact(b));
    in_use += ClassBytes(b.bytes);
  }
  EXPECT_EQ(pool.Stats().bytes_in_use, in_use);
  for (const Live& b : live) {
    EXPECT_TRUE(pool.Deallocate(b.p, b.bytes, nullptr));
  }
  EXPECT_EQ(pool.Stats().bytes_in_use, 0u);
  EXPECT_EQ(pool.Stats().fallback_allocations, 0u);
}

TEST(SecurePoolTest, EightThreadsWithCrossThreadFreesKeepPatterns) {
  // Small arenas, so threads also race on arena growth.
  SecurePool pool(SecurePool::Options{.arena_bytes = 16 * kKiB});
  constexpr int kThreads = 8;
  constexpr int kBlocksPerThread = 4000;
  std::mutex mu;
  std::deque<Live> handed_over;  // blocks allocated by one thread, freed by another
  std::atomic<int> failures{0};
  std::atomic<int> cross_frees{0};

  auto worker = [&](int id) {
    std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 1u);
    std::vector<Live> own;
    for (int i = 0; i < kBlocksPerThread; ++i) {
      const size_t n = RandomSize(rng);
      auto* p = static_cast<uint8_t*>(pool.Allocate(n));
      if (p == nullptr || !AllZero(p, n)) {
        failures.fetch_add(1);
        continue;
      }
      const auto pattern = static_cast<uint8_t>(1 + (id * 31 + i) % 255);
      std::memset(p, pattern, n);
      own.push_back({p, n, pattern});
      if (own.size() >= 8) {  // hand half over, free someone else's
        std::lock_guard<std::mutex> lock(mu);
        for (int k = 0; k < 4; ++k) {
          handed_over.push_back(own.back());
          own.pop_back();
        }
      }
      Live theirs{};
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!handed_over.empty()) {
          theirs = handed_over.front();
          handed_over.pop_front();
        }
      }
      if (theirs.p != nullptr) {
        if (!PatternIntact(theirs) || !pool.Deallocate(theirs.p, theirs.bytes, nullptr)) {
          failures.fetch_add(1);
        }
        cross_frees.fetch_add(1);
      }
    }
    for (const Live& b : own) {
      if (!PatternIntact(b) || !pool.Deallocate(b.p, b.bytes, nullptr)) {
        failures.fetch_add(1);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(worker, t);
  }
  for (auto& t : threads) {
    t.join();
  }
  for (const Live& b : handed_over) {
    EXPECT_TRUE(PatternIntact(b));
    EXPECT_TRUE(pool.Deallocate(b.p, b.bytes, nullptr));
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(cross_frees.load(), kThreads * kBlocksPerThread / 4);
  EXPECT_EQ(pool.Stats().bytes_in_use, 0u);
  EXPECT_GT(pool.Stats().arenas, 1u);
}

TEST(SecurePoolTest, CapReachedFallsBackAndIsCounted) {
  // Two 16 KiB arenas: two chunks, each four 4096-byte blocks.
  SecurePool pool(SecurePool::Options{.arena_bytes = 16 * kKiB, .max_total_bytes = 32 * kKiB});
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) {
    blocks.push_back(pool.Allocate(4096));
    ASSERT_NE(blocks.back(), nullptr) << i;
  }
  EXPECT_EQ(pool.Allocate(4096), nullptr);
  EXPECT_EQ(pool.Allocate(16), nullptr);  // no chunk left for a new class either
  SecurePoolStats s = pool.Stats();
  EXPECT_EQ(s.arenas, 2u);
  EXPECT_EQ(s.arena_bytes, 32 * kKiB);
  EXPECT_EQ(s.cap_fallbacks, 2u);
  EXPECT_EQ(s.fallback_allocations, 2u);
  EXPECT_EQ(s.bytes_in_use, 8 * 4096u);

  // A freed block is served again under the cap.
  ASSERT_TRUE(pool.Deallocate(blocks.back(), 4096, nullptr));
  blocks.back() = pool.Allocate(3000);
  EXPECT_NE(blocks.back(), nullptr);
  EXPECT_EQ(pool.Stats().cap_fallbacks, 2u);
  for (void* p : blocks) {
    EXPECT_TRUE(pool.Deallocate(p, 4096, nullptr));
  }

  // A cap below one arena: the pool serves nothing and maps nothing.
  SecurePool none(SecurePool::Options{.arena_bytes = 64 * kKiB, .max_total_bytes = 32 * kKiB});
  EXPECT_EQ(none.Allocate(32), nullptr);
  EXPECT_EQ(none.Stats().arenas, 0u);
  EXPECT_EQ(none.Stats().cap_fallbacks, 1u);
}

TEST(SecurePoolTest, LargeBlocksTakeTheFallbackPathAndWork) {
  SecurePool pool(SecurePool::Options{});
  EXPECT_EQ(pool.Allocate(SecurePool::kMaxBlockBytes + 1), nullptr);
  EXPECT_EQ(pool.Stats().fallback_allocations, 1u);
  EXPECT_EQ(pool.Stats().cap_fallbacks, 0u);
  EXPECT_EQ(pool.Stats().arenas, 0u);

  // Through the process allocator: served by the per-buffer path, zeroed, writable, scrubbed.
  constexpr size_t kLarge = 3 * 4096 + 100;
  const size_t fallbacks_before = GetSecurePoolStats().fallback_allocations;
  auto* p = static_cast<uint8_t*>(SecureAllocate(kLarge));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(AllZero(p, kLarge));
  std::memset(p, 0x77, kLarge);
  if (ProcessSecurePool() != nullptr) {
    EXPECT_FALSE(ProcessSecurePool()->Owns(p));
    EXPECT_EQ(GetSecurePoolStats().fallback_allocations, fallbacks_before + 1);
    // Whole pages of its own, locked and not dumped.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
    Mapping m;
    ASSERT_TRUE(FindMapping(p, &m));
    EXPECT_TRUE(m.Has("lo") || !kMlockIsReal);
    EXPECT_TRUE(m.Has("dd"));
  }
  g_hook = HookRecord{};
  SetSecureFreeHookForTesting(&RecordHook);
  SecureDeallocate(p, kLarge);
  SetSecureFreeHookForTesting(nullptr);
  EXPECT_EQ(g_hook.calls, 1);
  EXPECT_EQ(g_hook.bytes, kLarge);
  EXPECT_TRUE(g_hook.zero);
}

TEST(SecurePoolTest, FallbackUnlockDoesNotUnlockANeighbour) {
  // The old per-buffer path locked byte ranges: freeing one small block munlock'ed its whole
  // page, unlocking another live secret on that page. Per-buffer blocks now own their pages.
  if (ProcessSecurePool() == nullptr) {
    GTEST_SKIP() << "locking not compiled in: the per-buffer path is plain malloc";
  }
  void* a = SecureAllocatePerBuffer(32);
  void* b = SecureAllocatePerBuffer(32);
  EXPECT_NE(reinterpret_cast<uintptr_t>(a) / 4096, reinterpret_cast<uintptr_t>(b) / 4096);
  SecureDeallocatePerBuffer(a, 32);
  Mapping m;
  ASSERT_TRUE(FindMapping(b, &m));
  EXPECT_TRUE(m.Has("lo") || !kMlockIsReal);
  EXPECT_TRUE(m.Has("dd"));
  SecureDeallocatePerBuffer(b, 32);
}

TEST(SecurePoolTest, PerBufferSizeThatWouldWrapIsRefused) {
  // Rounding up to whole pages must not wrap around SIZE_MAX into a tiny block.
  if (ProcessSecurePool() == nullptr) {
    GTEST_SKIP() << "locking not compiled in: the per-buffer path is plain malloc";
  }
  EXPECT_THROW(SecureAllocatePerBuffer(SIZE_MAX - 1), std::bad_alloc);
  EXPECT_THROW(SecureAllocatePerBuffer(SIZE_MAX - 4095), std::bad_alloc);
}

}  // namespace
}  // namespace kms::internal
