// mikey_codec_bench: Decode and Encode of the six messages of the mode-1 vector file
// (tests/vectors/mikey-ticket-mode1-fork.txt). Figures go to docs/performance.md.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "src/mikey/decoder.h"
#include "src/mikey/encoder.h"
#include "tests/testing/vector_file.h"

namespace {

struct Named {
  int section;
  const char* name;
};

constexpr Named kMessages[] = {
    {3, "REQUEST_INIT_PSK"}, {5, "REQUEST_RESP"}, {6, "TRANSFER_INIT"},
    {7, "RESOLVE_INIT_PSK"}, {8, "RESOLVE_RESP"}, {9, "TRANSFER_RESP"},
};

std::vector<uint8_t> Load(const Named& n) {
  auto vf = kms::testing::VectorFile::Load(kms::testing::VectorPath("mikey-ticket-mode1-fork.txt"));
  if (!vf.ok()) {
    return {};
  }
  auto b = vf->Bytes(n.section, n.name);
  return b.ok() ? *b : std::vector<uint8_t>();
}

void BM_Decode(benchmark::State& state, Named n) {
  const auto wire = Load(n);
  if (wire.empty() || !kms::mikey::Decode(wire).ok()) {
    state.SkipWithError("vector missing or not decodable");
    return;
  }
  for (auto _ : state) {
    auto m = kms::mikey::Decode(wire);
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(wire.size()));
}

void BM_Encode(benchmark::State& state, Named n) {
  const auto wire = Load(n);
  auto m = kms::mikey::Decode(wire);
  if (!m.ok()) {
    state.SkipWithError("vector missing or not decodable");
    return;
  }
  for (auto _ : state) {
    auto e = kms::mikey::Encode(*m);
    benchmark::DoNotOptimize(e);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(wire.size()));
}

int Register() {
  for (const Named& n : kMessages) {
    benchmark::RegisterBenchmark((std::string("Decode/") + n.name).c_str(), BM_Decode, n);
    benchmark::RegisterBenchmark((std::string("Encode/") + n.name).c_str(), BM_Encode, n);
  }
  return 0;
}

const int kRegistered = Register();

}  // namespace

BENCHMARK_MAIN();
