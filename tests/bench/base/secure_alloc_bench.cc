// secure_alloc_bench: cost of a secret buffer's allocate + free, for 32-byte and 256-byte
// blocks on 1 and 4 threads, through four paths measured in the same run:
//   Vector      plain std::vector<uint8_t> (no locking, no scrubbing): the floor
//   AsShipped   the per-buffer path as shipped before the pool: malloc, mlock of the byte
//               range, OPENSSL_cleanse, munlock, free (copied here, only to measure it)
//   PerBuffer   today's fallback (SecureAllocatePerBuffer): whole pages, mlock +
//               MADV_DONTDUMP, and munlock + MADV_DODUMP on free
//   Pool        SecureBuffer, i.e. the locked pool (needs a KMS_SECURE_MLOCK build)
// Each iteration allocates 16 blocks, then frees them (a message holds several secrets at
// once); items/s counts blocks over wall time, summed over threads. Figures go to
// docs/performance.md ("Secure allocator pool").
#include <benchmark/benchmark.h>
#include <openssl/crypto.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "src/base/secure_allocator.h"
#include "src/base/secure_pool.h"

namespace {

constexpr int kBatch = 16;

// The per-buffer path as shipped before the pool: lock the byte range only.
void* AsShippedAllocate(size_t bytes) {
  void* p = std::malloc(bytes);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  std::memset(p, 0, bytes);
  (void)mlock(p, bytes);
  return p;
}

void AsShippedDeallocate(void* p, size_t bytes) noexcept {
  OPENSSL_cleanse(p, bytes);
  (void)munlock(p, bytes);
  std::free(p);
}

using AllocateFn = void* (*)(size_t);
using DeallocateFn = void (*)(void*, size_t) noexcept;

// A std::vector allocator over one allocate/free pair.
template <typename T, AllocateFn kAllocate, DeallocateFn kDeallocate>
struct FnAllocator {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = FnAllocator<U, kAllocate, kDeallocate>;
  };
  FnAllocator() noexcept = default;
  template <typename U>
  FnAllocator(const FnAllocator<U, kAllocate, kDeallocate>& /*other*/) noexcept {}  // NOLINT
  T* allocate(size_t n) { return static_cast<T*>(kAllocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { kDeallocate(p, n * sizeof(T)); }
  friend bool operator==(const FnAllocator&, const FnAllocator&) { return true; }
};

using AsShippedVector =
    std::vector<uint8_t, FnAllocator<uint8_t, &AsShippedAllocate, &AsShippedDeallocate>>;
using PerBufferVector =
    std::vector<uint8_t, FnAllocator<uint8_t, &kms::internal::SecureAllocatePerBuffer,
                                     &kms::internal::SecureDeallocatePerBuffer>>;

template <typename Vec>
void BM_AllocFree(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  std::vector<Vec> batch;
  batch.reserve(kBatch);
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      batch.emplace_back(bytes);
      benchmark::DoNotOptimize(batch.back().data());
    }
    batch.clear();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
}

void BM_Pool(benchmark::State& state) {
  if (kms::internal::ProcessSecurePool() == nullptr) {
    state.SkipWithError("pool bypassed: build with KMS_SECURE_MLOCK=ON and without ASan");
    return;
  }
  BM_AllocFree<kms::SecureBuffer>(state);
  if (state.thread_index() == 0) {
    const auto s = kms::internal::GetSecurePoolStats();
    state.counters["arenas"] = static_cast<double>(s.arenas);
    state.counters["locked"] = static_cast<double>(s.locked_arenas);
  }
}

void Sizes(benchmark::internal::Benchmark* b) {
  b->Arg(32)->Arg(256)->Threads(1)->Threads(4)->UseRealTime();
}

BENCHMARK_TEMPLATE(BM_AllocFree, std::vector<uint8_t>)->Name("Vector")->Apply(Sizes);
BENCHMARK_TEMPLATE(BM_AllocFree, AsShippedVector)->Name("AsShipped")->Apply(Sizes);
BENCHMARK_TEMPLATE(BM_AllocFree, PerBufferVector)->Name("PerBuffer")->Apply(Sizes);
BENCHMARK(BM_Pool)->Name("Pool")->Apply(Sizes);

}  // namespace

BENCHMARK_MAIN();
