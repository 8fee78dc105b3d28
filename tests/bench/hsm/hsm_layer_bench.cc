// hsm_layer_bench: the cost of the layer over raw PKCS#11 in the same run, same token, same
// key (HMAC-SHA-256 sign, unwrap of a credential, random). Prints layer/raw throughput
// ratios; the layer should keep >= 90% of raw throughput. SoftHSM2's own timing varies by
// +-20% between runs on a shared machine: run with --benchmark_repetitions=5 (the ratio then
// uses medians). Uses a private SoftHSM2 token in
// a temporary directory (never the system token directory).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hsm/attr_template.h"
#include "hsm/key_manager.h"
#include "hsm/key_templates.h"
#include "hsm/token_key_vault.h"

namespace kms::hsm {
namespace {

struct Env {
  std::string dir;
  std::unique_ptr<P11Module> module;
  std::unique_ptr<Token> token;
  std::unique_ptr<TokenKeyVault> vault;
  ports::KeyRef tpk;
  CK_OBJECT_HANDLE tpk_handle = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE kek_handle = CK_INVALID_HANDLE;
  ports::WrappedCredential credential;
};

Env* g_env = nullptr;

bool Setup() {
  auto* env = new Env();
  char tmpl[] = "/tmp/kms-hsm-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return false;
  }
  env->dir = tmpl;
  std::filesystem::create_directory(env->dir + "/tokens");
  std::string conf = env->dir + "/softhsm2.conf";
  FILE* f = std::fopen(conf.c_str(), "w");
  std::fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
               env->dir.c_str());
  std::fclose(f);
  setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  std::string cmd = "softhsm2-util --init-token --free --label bench --so-pin 5678 --pin 1234 >/dev/null";
  if (std::system(cmd.c_str()) != 0) {
    return false;
  }
  std::string pin = env->dir + "/pin";
  f = std::fopen(pin.c_str(), "w");
  std::fputs("1234", f);
  std::fclose(f);
  std::filesystem::permissions(pin, std::filesystem::perms::owner_read);
  auto m = P11Module::Open(KMS_SOFTHSM2_MODULE, ModuleOptions{.no_delete = true});
  if (!m.ok()) {
    return false;
  }
  env->module = std::move(m).value();
  TokenConfig config;
  config.token_uri = "pkcs11:token=bench";
  config.pin.location = pin;
  config.pool_size = 4;
  config.credential_cache_size = 1;  // forces an unwrap per open in the unwrap benchmark
  auto t = Token::Open(*env->module, config);
  if (!t.ok()) {
    std::fprintf(stderr, "%s\n", t.status().ToString().c_str());
    return false;
  }
  env->token = std::move(t).value();
  KeyManager km(*env->token);
  if (!km.CreateTicketKey(1).ok() || !km.CreateKek(1).ok()) {
    return false;
  }
  env->vault = std::make_unique<TokenKeyVault>(*env->token);
  env->tpk = *env->vault->TicketKey(1);
  env->tpk_handle = env->token->LongTermKey(KeyKind::kTicket, 1)->handle;
  env->kek_handle = env->token->LongTermKey(KeyKind::kKek, 1)->handle;
  env->credential = *env->vault->GenerateCredential("bench-user", 32);
  g_env = env;
  return true;
}

const std::vector<uint8_t> kData(64, 0x5A);

void BM_Hmac_Raw(benchmark::State& state) {
  const CK_FUNCTION_LIST* fn = g_env->token->fn();
  // The same pool session the layer would use, leased once: the ceiling.
  Result<SessionLease> lease = g_env->token->Acquire();
  const CK_SESSION_HANDLE session = lease->handle();
  uint8_t out[32];
  CK_MECHANISM mech{CKM_SHA256_HMAC, nullptr, 0};
  for (auto _ : state) {
    CK_ULONG len = sizeof(out);
    if (fn->C_SignInit(session, &mech, g_env->tpk_handle) != CKR_OK ||
        fn->C_Sign(session, const_cast<uint8_t*>(kData.data()), 64, out, &len) !=
            CKR_OK) {
      state.SkipWithError("raw C_Sign failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Hmac_Layer(benchmark::State& state) {
  std::vector<uint8_t> out(32);
  for (auto _ : state) {
    if (!g_env->vault->Hmac(g_env->tpk, crypto::HmacAlg::kSha256, kData, out).ok()) {
      state.SkipWithError("layer Hmac failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Unwrap_Raw(benchmark::State& state) {
  const CK_FUNCTION_LIST* fn = g_env->token->fn();
  // The same pool session the layer would use, leased once: the ceiling.
  Result<SessionLease> lease = g_env->token->Acquire();
  const CK_SESSION_HANDLE session = lease->handle();
  CK_MECHANISM mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  std::vector<uint8_t>& blob = g_env->credential.blob;
  for (auto _ : state) {
    AttrTemplate t = CredentialTemplate(CredentialObject::kSessionInUse, "", 0, {});
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    if (fn->C_UnwrapKey(session, &mech, g_env->kek_handle, blob.data(),
                        checked_ulong_cast(blob.size()), t.data(), t.size(), &h) != CKR_OK) {
      state.SkipWithError("raw C_UnwrapKey failed");
      break;
    }
    CK_ULONG len = 0;
    CK_ATTRIBUTE a{CKA_VALUE_LEN, &len, sizeof(len)};
    fn->C_GetAttributeValue(session, h, &a, 1);
    fn->C_DestroyObject(session, h);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Unwrap_Layer(benchmark::State& state) {
  // Two credentials alternate through a cache of one: every Open unwraps (and the evicted
  // handle is destroyed), the same token work as the raw loop.
  ports::WrappedCredential a = g_env->credential;
  ports::WrappedCredential b = g_env->credential;
  b.credential_id = "bench-user-2";
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    if (!g_env->vault->OpenCredential(flip ? a : b).ok()) {
      state.SkipWithError("layer OpenCredential failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Random_Raw(benchmark::State& state) {
  const CK_FUNCTION_LIST* fn = g_env->token->fn();
  // The same pool session the layer would use, leased once: the ceiling.
  Result<SessionLease> lease = g_env->token->Acquire();
  const CK_SESSION_HANDLE session = lease->handle();
  uint8_t out[32];
  for (auto _ : state) {
    if (fn->C_GenerateRandom(session, out, sizeof(out)) != CKR_OK) {
      state.SkipWithError("raw C_GenerateRandom failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Random_Layer(benchmark::State& state) {
  std::vector<uint8_t> out(32);
  for (auto _ : state) {
    if (!g_env->vault->Random(out).ok()) {
      state.SkipWithError("layer Random failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Hmac_Raw)->MinTime(1.0);
BENCHMARK(BM_Hmac_Layer)->MinTime(1.0);
BENCHMARK(BM_Unwrap_Raw)->MinTime(1.0);
BENCHMARK(BM_Unwrap_Layer)->MinTime(1.0);
BENCHMARK(BM_Random_Raw)->MinTime(1.0);
BENCHMARK(BM_Random_Layer)->MinTime(1.0);

// Collects items/s per benchmark and prints layer/raw ratios after the run.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) {
        rates_[r.benchmark_name()] = it->second.value;
      }
    }
  }
  void PrintRatios() const {
    std::printf("\nlayer / raw throughput:\n");
    for (const char* op : {"Hmac", "Unwrap", "Random"}) {
      auto raw = Find(std::string("BM_") + op + "_Raw/min_time:1.000");
      auto layer = Find(std::string("BM_") + op + "_Layer/min_time:1.000");
      if (raw == rates_.end() || layer == rates_.end() || raw->second == 0) {
        std::printf("  %-7s n/a\n", op);
        continue;
      }
      std::printf("  %-7s raw %10.0f/s  layer %10.0f/s  ratio %.3f\n", op, raw->second,
                  layer->second, layer->second / raw->second);
    }
  }

 private:
  // The median of repetitions when run with --benchmark_repetitions, else the single run.
  std::map<std::string, double>::const_iterator Find(const std::string& name) const {
    auto it = rates_.find(name + "_median");
    return it != rates_.end() ? it : rates_.find(name);
  }

  std::map<std::string, double> rates_;
};

// Interleaved measurement: raw and layer alternate in batches so that machine noise (other
// processes on a shared 2-core host, SoftHSM2 file-store effects) hits both sides alike.
// Returns layer/raw throughput over `rounds` pairs of `batch` operations.
template <typename RawOp, typename LayerOp>
double PairedRatio(const char* name, int rounds, int batch, RawOp raw, LayerOp layer) {
  using Clock = std::chrono::steady_clock;
  Clock::duration raw_t{}, layer_t{};
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) {
      raw();
    }
    auto t1 = Clock::now();
    for (int i = 0; i < batch; ++i) {
      layer();
    }
    auto t2 = Clock::now();
    raw_t += t1 - t0;
    layer_t += t2 - t1;
  }
  double n = static_cast<double>(rounds) * batch;
  double raw_rate = n / std::chrono::duration<double>(raw_t).count();
  double layer_rate = n / std::chrono::duration<double>(layer_t).count();
  std::printf("  %-7s raw %10.0f/s  layer %10.0f/s  ratio %.3f (interleaved)\n", name, raw_rate,
              layer_rate, layer_rate / raw_rate);
  return layer_rate / raw_rate;
}

void RunPaired() {
  const CK_FUNCTION_LIST* fn = g_env->token->fn();
  std::printf("\nlayer / raw throughput, interleaved batches:\n");
  // Raw side: bare PKCS#11 calls on one session leased once (no pool, no lookups).
  Result<SessionLease> raw_lease = g_env->token->Acquire();
  const CK_SESSION_HANDLE s = raw_lease->handle();
  std::vector<uint8_t> out(32);
  {
    CK_MECHANISM mech{CKM_SHA256_HMAC, nullptr, 0};
    PairedRatio(
        "Hmac", 40, 500,
        [&] {
          CK_ULONG len = 32;
          fn->C_SignInit(s, &mech, g_env->tpk_handle);
          fn->C_Sign(s, const_cast<uint8_t*>(kData.data()), 64, out.data(), &len);
        },
        [&] { (void)g_env->vault->Hmac(g_env->tpk, crypto::HmacAlg::kSha256, kData, out); });
  }
  {
    CK_MECHANISM mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    std::vector<uint8_t>& blob = g_env->credential.blob;
    ports::WrappedCredential a = g_env->credential;
    ports::WrappedCredential b = g_env->credential;
    b.credential_id = "bench-user-2";
    bool flip = false;
    PairedRatio(
        "Unwrap", 20, 200,
        [&] {
          AttrTemplate t = CredentialTemplate(CredentialObject::kSessionInUse, "", 0, {});
          CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
          fn->C_UnwrapKey(s, &mech, g_env->kek_handle, blob.data(),
                          checked_ulong_cast(blob.size()), t.data(), t.size(), &h);
          CK_ULONG len = 0;
          CK_ATTRIBUTE attr{CKA_VALUE_LEN, &len, sizeof(len)};
          fn->C_GetAttributeValue(s, h, &attr, 1);
          fn->C_DestroyObject(s, h);
        },
        [&] {
          flip = !flip;
          (void)g_env->vault->OpenCredential(flip ? a : b);
        });
  }
  PairedRatio(
      "Random", 40, 5000,
      [&] {
        fn->C_GenerateRandom(s, out.data(), 32);
      },
      [&] { (void)g_env->vault->Random(out); });
}

}  // namespace
}  // namespace kms::hsm

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (!kms::hsm::Setup()) {
    std::fprintf(stderr, "hsm_layer_bench: SoftHSM2 setup failed\n");
    return 1;
  }
  kms::hsm::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  kms::hsm::RunPaired();
  kms::hsm::Env* env = kms::hsm::g_env;
  std::string dir = env->dir;
  env->vault.reset();
  env->token.reset();
  env->module.reset();
  delete env;
  std::filesystem::remove_all(dir);
  return 0;
}
