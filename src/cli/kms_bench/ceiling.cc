#include "src/cli/kms_bench/ceiling.h"

#include <time.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "policy/sqlite_policy_store.h"
#include "src/base/clock.h"
#include "src/cli/kms_bench/messages.h"
#include "src/cli/kms_bench/provision.h"
#include "src/core/memory_replay_cache.h"
#include "src/core/ticket_service.h"
#include "src/core/vault_adapters.h"

namespace kms::bench {
namespace {

// RecordingVault: forwards everything to the real vault and notes the calls that reach
// the token. HMAC keys are classified against the active TPK's reference.
class RecordingVault final : public ports::KeyVault {
 public:
  explicit RecordingVault(ports::KeyVault& inner) : inner_(inner) {}
  void Start(ports::KeyRef tpk) {
    std::lock_guard<std::mutex> lock(mu_);
    tpk_ = tpk;
    calls_.clear();
  }
  std::vector<TokenCall> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(calls_);
  }

  Status Hmac(ports::KeyRef key, crypto::HmacAlg alg, std::span<const uint8_t> data,
              std::span<uint8_t> out) override {
    Note({TokenCall::Kind::kHmac, !(key == tpk_), alg, data.size()});
    return inner_.Hmac(key, alg, data, out);
  }
  Status Random(std::span<uint8_t> out) override {
    Note({TokenCall::Kind::kRandom, false, crypto::HmacAlg::kSha1, out.size()});
    return inner_.Random(out);
  }
  Result<size_t> KeySize(ports::KeyRef key) override { return inner_.KeySize(key); }
  Result<uint32_t> ActiveTicketKeyVersion() override { return inner_.ActiveTicketKeyVersion(); }
  Result<ports::KeyRef> TicketKey(uint32_t v) override { return inner_.TicketKey(v); }
  Result<uint32_t> ActiveAuditKeyVersion() override { return inner_.ActiveAuditKeyVersion(); }
  Result<ports::KeyRef> AuditKey(uint32_t v) override { return inner_.AuditKey(v); }
  Result<ports::KeyRef> OpenCredential(const ports::WrappedCredential& c) override {
    // A cache hit costs no token call; a miss one C_UnwrapKey (counted by the caller).
    Note({TokenCall::Kind::kOpenCredential, true, crypto::HmacAlg::kSha1, 0});
    return inner_.OpenCredential(c);
  }
  Result<ports::WrappedCredential> GenerateCredential(const std::string& id, size_t n) override {
    return inner_.GenerateCredential(id, n);
  }
  Result<ports::WrappedCredential> ImportCredential(const std::string& id,
                                                    const SecretBytes& raw) override {
    return inner_.ImportCredential(id, raw);
  }

 private:
  void Note(TokenCall c) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(c);
  }
  ports::KeyVault& inner_;
  std::mutex mu_;
  ports::KeyRef tpk_{};
  std::vector<TokenCall> calls_;
};

// NullAudit: the trace run must not add rows to the database kmsd will audit into; the
// audit writer makes no token call per row (its checkpoint HMAC is one per 1,000 rows).
class NullAudit final : public ports::AuditSink {
 public:
  Result<int64_t> Append(const ports::AuditRecord&) override { return int64_t{1}; }
  bool Healthy() const override { return true; }
};

// RunPair: one request and its resolve through the service; the calls of each leg.
Status RunPair(core::TicketService& svc, RecordingVault& rv, ports::KeyRef tpk,
               const std::vector<client::Credentials>& users, size_t first,
               const std::string& kms_identity, std::vector<TokenCall>* request,
               std::vector<TokenCall>* resolve) {
  const core::RequestContext ctx{"127.0.0.1", "kms-bench-trace"};
  KMS_ASSIGN_OR_RETURN(RequestBatch rb, BuildRequests(users, 1, first, kms_identity));
  rv.Start(tpk);
  KMS_ASSIGN_OR_RETURN(core::Reply req_reply, svc.Handle(rb.wires[0], ctx));
  *request = rv.Take();
  if (req_reply.is_error) {
    return FailedPreconditionError("trace: REQUEST_INIT was refused by the core");
  }
  KMS_ASSIGN_OR_RETURN(ResolveBatch sb, BuildResolves(users, rb, {req_reply.body}, kms_identity));
  if (sb.wires.empty()) {
    return FailedPreconditionError("trace: REQUEST_RESP did not verify at the UE");
  }
  rv.Start(tpk);
  KMS_ASSIGN_OR_RETURN(core::Reply res_reply, svc.Handle(sb.wires[0], ctx));
  *resolve = rv.Take();
  if (res_reply.is_error || CountBadResolveResponses(users, sb, {res_reply.body}) != 0) {
    return FailedPreconditionError("trace: RESOLVE_INIT was refused or did not verify");
  }
  return Status::Ok();
}

// Replay: the token calls of one leg, with the user's PSK and the TPK; the failed calls.
uint64_t Replay(ports::KeyVault& vault, const std::vector<TokenCall>& seq, ports::KeyRef psk,
                ports::KeyRef tpk, std::vector<uint8_t>& in, std::vector<uint8_t>& result) {
  uint64_t failed = 0;
  for (const TokenCall& c : seq) {
    Status s = Status::Ok();
    if (c.kind == TokenCall::Kind::kHmac) {
      in.assign(c.len, 0x5a);
      result.resize(crypto::HmacSize(c.alg));
      s = vault.Hmac(c.on_psk ? psk : tpk, c.alg, in, result);
    } else if (c.kind == TokenCall::Kind::kRandom) {
      result.resize(c.len);
      s = vault.Random(result);
    }
    failed += s.ok() ? 0U : 1U;
  }
  return failed;
}

// OpenLoop: one leg kind in open loop (see MeasureTokenOpenLoop).
OpenLoopLeg OpenLoop(ports::KeyVault& vault, const std::vector<TokenCall>& seq,
                     const std::vector<ports::KeyRef>& user_keys, ports::KeyRef tpk,
                     unsigned threads, size_t n, double rate, size_t user_offset) {
  OpenLoopLeg leg;
  leg.rate_per_s = rate;
  leg.latency_us.assign(n, 0);
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> failures{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      std::vector<uint8_t> in, result;
      for (size_t j = next.fetch_add(1); j < n; j = next.fetch_add(1)) {
        const auto due = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(static_cast<double>(j) / rate));
        std::this_thread::sleep_until(due);
        failures.fetch_add(Replay(vault, seq, user_keys[(j + user_offset) % user_keys.size()],
                                  tpk, in, result));
        leg.latency_us[j] =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - due)
                .count();
      }
    });
  }
  for (std::thread& th : pool) {
    th.join();
  }
  leg.failures = failures.load();
  return leg;
}

// ActiveTpk: the token reference of the active ticket protection key.
Result<ports::KeyRef> ActiveTpk(ports::KeyVault& vault) {
  KMS_ASSIGN_OR_RETURN(uint32_t version, vault.ActiveTicketKeyVersion());
  return vault.TicketKey(version);
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

nlohmann::json Describe(const std::vector<TokenCall>& calls) {
  uint64_t hmac_psk = 0, hmac_tpk = 0, random = 0, random_bytes = 0, opens = 0, sha1 = 0;
  for (const TokenCall& c : calls) {
    switch (c.kind) {
      case TokenCall::Kind::kHmac:
        (c.on_psk ? hmac_psk : hmac_tpk)++;
        sha1 += c.alg == crypto::HmacAlg::kSha1 ? 1 : 0;
        break;
      case TokenCall::Kind::kRandom:
        ++random;
        random_bytes += c.len;
        break;
      case TokenCall::Kind::kOpenCredential:
        ++opens;
        break;
    }
  }
  return {{"hmac", hmac_psk + hmac_tpk}, {"hmac_psk", hmac_psk},   {"hmac_tpk", hmac_tpk},
          {"hmac_sha1", sha1},           {"random_calls", random}, {"random_bytes", random_bytes},
          {"credential_lookups", opens}};
}

Result<TokenTrace> CaptureTrace(hsm::TokenStack& stack, const std::string& db_path,
                                const std::string& kms_identity,
                                const std::vector<client::Credentials>& users) {
  KMS_ASSIGN_OR_RETURN(std::unique_ptr<policy::SqlitePolicyStore> store,
                       policy::SqlitePolicyStore::Open(db_path));
  RecordingVault rv(*stack.vault);
  NullAudit audit;
  core::MemoryReplayCache replay({std::chrono::seconds(3600), 1024, 1});
  SystemClock clock;
  core::VaultRandom random(rv);
  core::KmsOptions opts;
  opts.kms_identity = kms_identity;
  core::TicketService svc(core::ServicePorts{rv, *store, audit, replay, clock, random}, opts);
  KMS_ASSIGN_OR_RETURN(ports::KeyRef tpk, ActiveTpk(*stack.vault));

  TokenTrace t;
  std::vector<TokenCall> req, res;
  const size_t cached_before = stack.vault->credentials().cached();
  KMS_RETURN_IF_ERROR(RunPair(svc, rv, tpk, users, 0, kms_identity, &req, &res));
  t.unwraps_cold = stack.vault->credentials().cached() - cached_before;
  // Warm pair: its users' PSKs are already unwrapped (kmsd's steady state with a credential
  // cache as large as the user base).
  KMS_RETURN_IF_ERROR(RunPair(svc, rv, tpk, users, 0, kms_identity, &t.request, &t.resolve));
  return t;
}

Result<std::vector<ports::KeyRef>> OpenUserKeys(hsm::TokenStack& stack, const std::string& db_path,
                                                size_t users) {
  KMS_ASSIGN_OR_RETURN(std::unique_ptr<policy::SqlitePolicyStore> store,
                       policy::SqlitePolicyStore::Open(db_path));
  std::vector<ports::KeyRef> refs;
  refs.reserve(users);
  for (size_t i = 0; i < users; ++i) {
    KMS_ASSIGN_OR_RETURN(ports::CredentialInfo c, store->FindCredential(UserPskId(i)));
    KMS_ASSIGN_OR_RETURN(ports::KeyRef r, stack.vault->OpenCredential(c.wrapped));
    refs.push_back(r);
  }
  return refs;
}

CeilingResult MeasureCeiling(ports::KeyVault& vault, const TokenTrace& trace,
                             const std::vector<ports::KeyRef>& user_keys, unsigned threads,
                             double seconds) {
  CeilingResult out;
  out.threads = threads;
  const Result<ports::KeyRef> tpk_ref = ActiveTpk(vault);
  if (!tpk_ref.ok() || user_keys.size() < 2) {
    out.failures = 1;
    return out;
  }
  size_t hmacs_per_pair = 0;
  for (const auto* seq : {&trace.request, &trace.resolve}) {
    for (const TokenCall& c : *seq) {
      hmacs_per_pair += c.kind == TokenCall::Kind::kHmac ? 1 : 0;
    }
  }
  std::atomic<uint64_t> next{0}, done{0}, failures{0};
  std::atomic<bool> stop{false};
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = ProcessCpuSeconds();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      std::vector<uint8_t> in, result;
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t p = next.fetch_add(1);
        const size_t a = p % user_keys.size();
        const size_t r = (p + 1) % user_keys.size();
        failures.fetch_add(Replay(vault, trace.request, user_keys[a], *tpk_ref, in, result) +
                           Replay(vault, trace.resolve, user_keys[r], *tpk_ref, in, result));
        done.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& th : pool) {
    th.join();
  }
  out.cpu_s = ProcessCpuSeconds() - cpu0;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.pairs = done.load();
  out.failures = failures.load();
  out.pairs_per_s = static_cast<double>(out.pairs) / out.seconds;
  out.hmac_per_s = out.pairs_per_s * static_cast<double>(hmacs_per_pair);
  return out;
}

std::pair<OpenLoopLeg, OpenLoopLeg> MeasureTokenOpenLoop(
    ports::KeyVault& vault, const TokenTrace& trace, const std::vector<ports::KeyRef>& user_keys,
    unsigned threads, size_t n, double request_rate, double resolve_rate) {
  const Result<ports::KeyRef> tpk_ref = ActiveTpk(vault);
  if (!tpk_ref.ok() || user_keys.size() < 2 || request_rate <= 0 || resolve_rate <= 0) {
    OpenLoopLeg failed;
    failed.failures = 1;
    return {failed, failed};
  }
  OpenLoopLeg req = OpenLoop(vault, trace.request, user_keys, *tpk_ref, threads, n, request_rate, 0);
  OpenLoopLeg res = OpenLoop(vault, trace.resolve, user_keys, *tpk_ref, threads, n, resolve_rate, 1);
  return {std::move(req), std::move(res)};
}

}  // namespace kms::bench
