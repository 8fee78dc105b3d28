// kms-bench (issue 10): end-to-end throughput and latency of kmsd against the ceiling set by
// its own token calls, measured in the same run on the same token.
//
//   load mode (default): provision --users into a fresh token and database, record the
//     token calls of one request and one resolve through the core, start kmsd, then
//     --repeat times: ceiling (replayed token calls), timed requests, timed resolves.
//     --half-load adds an open-loop phase at 50% of the best measured rates (p99), preceded
//     by the same rates on the token calls alone (the baseline, kmsd idle). Every phase
//     also reports the host's steal and kmsd's slow audit commits (phase_env.h).
//   startup mode (--startup-users N): provision N users, start kmsd --startup-repeat times
//     and report the time to /readyz and VmRSS, then a short load on the big database.
//   timing mode (--timing N): N refused requests of each class of timing.h over one
//     connection, in random order; prints each class's latency and Welch's t between them.
//
// Exit codes: 0 no errors; 1 a phase had errors (counts printed) or, with --timing, the
// classes' times differ (|t| > kTimingThreshold); 2 usage; 3 set-up failed.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <climits>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "src/base/usable_cpus.h"
#include "src/cli/kms_bench/ceiling.h"
#include "src/cli/kms_bench/http_driver.h"
#include "src/cli/kms_bench/kmsd_process.h"
#include "src/cli/kms_bench/messages.h"
#include "src/cli/kms_bench/provision.h"
#include "src/cli/kms_bench/report.h"
#include "src/cli/kms_bench/timing.h"
#include "src/cli/kms_bench/workdir.h"

extern char** environ;

namespace kms::bench {
namespace {

constexpr int kExitErrors = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSetup = 3;

struct Options {
  std::string kmsd, module = "/usr/lib/softhsm/libsofthsm2.so", workdir = "/tmp", perf;
  std::string latency_trace;   // half-load phases: PREFIX.request.txt, PREFIX.resolve.txt
  std::string perf_half_load;  // perf record of the half-load legs: FILE, FILE.resolve
  size_t users = 1000, requests = 5000, startup_users = 0, timing = 0;
  unsigned connections = 32, threads = 2, repeat = 3, startup_repeat = 3;
  int audit_batch_ms = -1;    // -1: kmsd's default
  unsigned workers = 0;       // kmsd [server] workers; 0: kmsd's default (sessions, at most CPUs)
  unsigned http_threads = 0;  // kmsd [server] threads; 0: HttpThreads() below
  double ceiling_s = 3, half_load_s = 10;
  bool half_load = false, json = false, keep = false;
};

// HttpThreads: kmsd's libmicrohttpd threads only move bytes (decisions run on the workers),
// so by default one per token session but no more than the CPUs kmsd may use (the rule
// kmsd applies to its decision workers): at 8 sessions on 2 cores, 8 HTTP threads cost 12%
// more kmsd CPU per pair than 2 (docs/performance-workers.md, "Before: where the 8 / 32
// shortfall went").
unsigned HttpThreads(const Options& o) {
  if (o.http_threads != 0) return o.http_threads;
  return std::min(o.threads, UsableCpus());
}

// DefaultKmsd: binaries land in <build>/src/cli and <build>/src/daemon (src/cli/CMakeLists).
std::string DefaultKmsd() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "kmsd" : (self.parent_path().parent_path() / "daemon" / "kmsd").string();
}

int SetupFailed(const std::string& what, const Status& s) {
  std::cerr << "kms-bench: " << what << ": " << s.message() << "\n";
  return kExitSetup;
}

// PerfRecorder: `perf record --call-graph dwarf -p <kmsd>` around one timed phase (the first
// repetition's with --perf, the half-load legs' with --perf-half-load).
class PerfRecorder {
 public:
  PerfRecorder(const std::string& out, pid_t target) {
    if (out.empty()) return;
    // DWARF unwinding: glibc and SoftHSM2 are built without frame pointers.
    // clang-format off
    std::vector<std::string> a = {"perf", "record", "--call-graph", "dwarf,8192", "-F", "499",
                                  "-o", out, "-p", std::to_string(target)};
    // clang-format on
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "perf", nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // perf attaches
  }
  ~PerfRecorder() {
    if (pid_ > 0) {
      ::kill(pid_, SIGINT);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
  }
  PerfRecorder(const PerfRecorder&) = delete;
  PerfRecorder& operator=(const PerfRecorder&) = delete;

 private:
  pid_t pid_ = -1;
};

// CpuMsPer: kmsd CPU milliseconds per message of a phase. The CPU reading spans the whole
// Drive() call, warm-up messages included, so it is divided by every message sent.
double CpuMsPer(const DriveResult& r) {
  return r.responses.empty() ? 0 : r.server_cpu_s * 1000 / static_cast<double>(r.responses.size());
}

// MiB: KiB from /proc as MiB for printing.
double MiB(uint64_t kib) { return static_cast<double>(kib) / 1024.0; }

class Bench {
 public:
  explicit Bench(const Options& options) : o(options) {}
  const Options& o;
  WorkDir w;
  std::unique_ptr<hsm::TokenStack> stack;
  std::vector<client::Credentials> users;
  KmsdSettings ks;
  KmsdProcess kmsd;
  nlohmann::json out = nlohmann::json::object();
  uint64_t errors = 0;
  size_t next_pair = 0;

  DriveOptions Drv(double rate) const {
    return {"https://127.0.0.1:" + std::to_string(kmsd.https_port()) + "/kms", w.tls_cert,
            o.connections, rate, ""};
  }

  Status Setup(size_t n_users, size_t distinct_keys, size_t ue_kept) {
    KMS_ASSIGN_OR_RETURN(w, WorkDir::Create(o.workdir, o.keep));
    hsm::TokenConfig tc;
    tc.token_uri = "pkcs11:token=" + w.token_label;
    tc.pin.kind = hsm::PinSource::Kind::kFile;
    tc.pin.location = w.pin_file;
    tc.pool_size = std::max(2u, o.threads);
    tc.credential_cache_size = std::max<size_t>(1024, std::min(n_users, distinct_keys));
    KMS_ASSIGN_OR_RETURN(stack, hsm::TokenStack::Open(o.module, std::move(tc)));
    ProvisionOptions po;
    po.users = n_users;
    po.distinct_keys = distinct_keys;
    po.ue_credentials = ue_kept;
    po.progress = n_users >= 100000;
    KMS_ASSIGN_OR_RETURN(ProvisionStats ps, Provision(*stack, w.db, po, &users));
    out["provision"] = ToJson(ps);
    if (!o.json) {
      std::cout << "provisioned " << ps.users << " users in " << ps.total_s << " s (keys "
                << ps.keys_s << " s, " << std::min(n_users, distinct_keys) << " credential imports "
                << ps.import_s << " s, policy rows " << ps.rows_s << " s, durable commits)\n";
    }
    ks.binary = o.kmsd;
    ks.module = o.module;
    ks.threads = HttpThreads(o);
    ks.pool_size = o.threads;
    ks.credential_cache = static_cast<unsigned>(
        std::clamp<size_t>(std::min(n_users, distinct_keys), 1024, 1'000'000));
    ks.audit_batch_ms = o.audit_batch_ms;
    ks.workers = o.workers;
    return Status::Ok();
  }

  Status StartKmsd() {
    KMS_RETURN_IF_ERROR(kmsd.Start(w, ks, std::chrono::seconds(60)));
    if (!o.json) {
      std::cout << "kmsd pid " << kmsd.pid() << " ready in " << kmsd.startup_ms()
                << " ms (started line at " << kmsd.started_line_ms() << " ms), VmRSS "
                << MiB(kmsd.StatusKiB("VmRSS")) << " MiB, " << ks.threads << " HTTP thread(s), "
                << kmsd.decision_workers() << " decision worker(s)\n";
    }
    return Status::Ok();
  }

  // RequestThenResolve: one timed request phase and one timed resolve phase of n pairs.
  Result<std::pair<DriveResult, DriveResult>> RequestThenResolve(size_t n, double req_rate,
                                                                 double res_rate,
                                                                 const std::string& perf) {
    const size_t total = n + o.connections;  // the warm-up messages come first
    KMS_ASSIGN_OR_RETURN(RequestBatch rb, BuildRequests(users, total, next_pair, ks.kms_identity));
    next_pair += total;
    std::optional<PerfRecorder> rec;
    rec.emplace(perf, kmsd.pid());
    double cpu0 = kmsd.CpuSeconds();
    PhaseEnvSample env0 = SamplePhaseEnv(kmsd.ops_port());
    DriveOptions req_drive = Drv(req_rate);
    DriveOptions res_drive = Drv(res_rate);
    if (!o.latency_trace.empty() && req_rate > 0) {
      req_drive.trace_file = o.latency_trace + ".request.txt";
      res_drive.trace_file = o.latency_trace + ".resolve.txt";
    }
    DriveResult req = Drive(req_drive, rb.wires);
    req.server_cpu_s = kmsd.CpuSeconds() - cpu0;
    req.env = Between(env0, SamplePhaseEnv(kmsd.ops_port()));
    rec.reset();
    KMS_ASSIGN_OR_RETURN(ResolveBatch sb, BuildResolves(users, rb, req.responses, ks.kms_identity));
    rec.emplace(perf.empty() ? "" : perf + ".resolve", kmsd.pid());
    cpu0 = kmsd.CpuSeconds();
    env0 = SamplePhaseEnv(kmsd.ops_port());
    DriveResult res = Drive(res_drive, sb.wires);
    res.server_cpu_s = kmsd.CpuSeconds() - cpu0;
    res.env = Between(env0, SamplePhaseEnv(kmsd.ops_port()));
    rec.reset();
    // Every answer is checked by the UE library after the clock stopped; a rejected answer
    // that was not already counted (failed exchange, MIKEY Error) is a verify failure.
    const uint64_t bad_req = sb.bad_request_responses;
    req.verify_failures = bad_req - std::min<uint64_t>(bad_req, req.errors());
    const uint64_t bad_res = CountBadResolveResponses(users, sb, res.responses);
    res.verify_failures = bad_res - std::min<uint64_t>(bad_res, res.errors());
    errors += req.errors() + res.errors();
    return std::make_pair(std::move(req), std::move(res));
  }

  int Load() {
    if (Status s = Setup(o.users, o.users, o.users); !s.ok()) return SetupFailed("setup", s);
    auto trace = CaptureTrace(*stack, w.db, ks.kms_identity, users);
    if (!trace.ok()) return SetupFailed("token call trace", trace.status());
    out["token_calls"] = {{"request", Describe(trace->request)},
                          {"resolve", Describe(trace->resolve)},
                          {"cold_pair_unwraps", trace->unwraps_cold}};
    if (!o.json) PrintTrace(*trace);
    auto keys = OpenUserKeys(*stack, w.db, users.size());
    if (!keys.ok()) return SetupFailed("user keys", keys.status());
    if (Status s = StartKmsd(); !s.ok()) return SetupFailed("kmsd", s);
    out["kmsd"] = {{"pid", kmsd.pid()},
                   {"http_threads", ks.threads},
                   {"decision_workers", kmsd.decision_workers()},
                   {"startup_ms", kmsd.startup_ms()},
                   {"rss_kib_ready", kmsd.StatusKiB("VmRSS")}};

    // Warm-up, untimed: every user initiates once, so every credential has been opened
    // (unwrapped into kmsd's credential cache) before the first timed phase. The timed
    // phases then measure the steady state of a running KMS, not its first minutes.
    {
      auto warm = BuildRequests(users, users.size(), next_pair, ks.kms_identity);
      if (!warm.ok()) return SetupFailed("warm-up messages", warm.status());
      next_pair += users.size();
      const DriveResult wr = Drive(Drv(0), warm->wires);
      errors += wr.errors();
      out["warmup"] = {{"requests", users.size()}, {"errors", wr.errors()}};
      if (!o.json) {
        std::cout << "warm-up: " << users.size() << " requests, one per user (credential cache "
                  << "filled), errors " << wr.errors() << "\n";
      }
    }

    nlohmann::json runs = nlohmann::json::array();
    Range ceil_r, pairs_r, ratio_r, cpu_r;
    double best_req = 0, best_res = 0;
    for (unsigned rep = 0; rep < o.repeat; ++rep) {
      // Interleaved: the ceiling and the end-to-end phases of one repetition see the same
      // machine load (others build on this machine), so their ratio is the stable figure.
      const CeilingResult c = MeasureCeiling(*stack->vault, *trace, *keys, o.threads, o.ceiling_s);
      errors += c.failures;
      auto pr = RequestThenResolve(o.requests, 0, 0, rep == 0 ? o.perf : "");
      if (!pr.ok()) return SetupFailed("messages", pr.status());
      const auto& [req, res] = *pr;
      const double rq = Rate(req), rs = Rate(res);
      // A pair is one request plus one resolve, run back to back: 1 / (1/rq + 1/rs).
      const double pairs = rq > 0 && rs > 0 ? 1.0 / (1.0 / rq + 1.0 / rs) : 0;
      const double ratio = c.pairs_per_s > 0 ? pairs / c.pairs_per_s : 0;
      best_req = std::max(best_req, rq);
      best_res = std::max(best_res, rs);
      ceil_r.Add(c.pairs_per_s, rep == 0);
      pairs_r.Add(pairs, rep == 0);
      ratio_r.Add(ratio, rep == 0);
      // CPU per pair on both sides: a load-independent view of the same ratio (the machine
      // is shared, so wall-clock rates move with other work; CPU per unit of work less so).
      const double ceil_cpu_ms = c.pairs > 0 ? c.cpu_s * 1000 / static_cast<double>(c.pairs) : 0;
      const double kmsd_cpu_ms = CpuMsPer(req) + CpuMsPer(res);
      const double cpu_ratio = kmsd_cpu_ms > 0 ? ceil_cpu_ms / kmsd_cpu_ms : 0;
      cpu_r.Add(cpu_ratio, rep == 0);
      runs.push_back({{"ceiling",
                       {{"threads", c.threads},
                        {"seconds", c.seconds},
                        {"pairs", c.pairs},
                        {"pairs_per_s", c.pairs_per_s},
                        {"hmac_per_s", c.hmac_per_s},
                        {"failures", c.failures},
                        {"cpu_ms_per_pair", ceil_cpu_ms}}},
                      {"request", PhaseJson(req)},
                      {"resolve", PhaseJson(res)},
                      {"pairs_per_s", pairs},
                      {"ratio_to_ceiling", ratio},
                      {"kmsd_cpu_ms_per_pair", kmsd_cpu_ms},
                      {"token_share_of_kmsd_cpu", cpu_ratio}});
      runs.back()["load_average_1m"] = MachineJson()["load_average_1m"];
      if (!o.json) {
        std::cout << "repetition " << rep + 1 << " (load average "
                  << runs.back()["load_average_1m"].get<double>() << "):\n";
        PrintCeiling(c);
        PrintPhase("REQUEST_INIT", req);
        PrintPhase("RESOLVE_INIT", res);
        std::cout << "  end-to-end " << static_cast<int>(pairs)
                  << " pairs/s = " << static_cast<int>(ratio * 1000) / 10.0
                  << "% of the ceiling; CPU per pair: "
                  << "kmsd " << kmsd_cpu_ms << " ms, token calls alone " << ceil_cpu_ms << " ms ("
                  << static_cast<int>(cpu_ratio * 1000) / 10.0 << "%)\n";
      }
    }
    out["runs"] = runs;
    out["summary"] = {{"ceiling_pairs_per_s", {ceil_r.min, ceil_r.max}},
                      {"pairs_per_s", {pairs_r.min, pairs_r.max}},
                      {"ratio_to_ceiling", {ratio_r.min, ratio_r.max}},
                      {"token_share_of_kmsd_cpu", {cpu_r.min, cpu_r.max}},
                      {"target_ratio", 0.6}};
    if (o.half_load) {
      const double rq = best_req / 2, rs = best_res / 2;
      const size_t n = static_cast<size_t>(std::min(rq, rs) * o.half_load_s);
      // Baseline first, kmsd idle: the token alone, at the same rates for half as long.
      const auto [tq, ts] = MeasureTokenOpenLoop(*stack->vault, *trace, *keys, o.threads,
                                                 std::max<size_t>(n / 2, 50), rq, rs);
      errors += tq.failures + ts.failures;
      auto pr = RequestThenResolve(std::max<size_t>(n, 50), rq, rs, o.perf_half_load);
      if (!pr.ok()) return SetupFailed("messages", pr.status());
      out["half_load"] = {
          {"request_rate_per_s", rq},
          {"resolve_rate_per_s", rs},
          {"request", PhaseJson(pr->first)},
          {"resolve", PhaseJson(pr->second)},
          {"token_alone", {{"request", OpenLoopJson(tq)}, {"resolve", OpenLoopJson(ts)}}},
          {"target_p99_ms", kHalfLoadTargetP99Ms}};
      if (!o.json) {
        std::cout << "half load (open loop, latency from each message's due time):\n";
        PrintPhase("REQUEST_INIT @ " + std::to_string(static_cast<int>(rq)) + "/s", pr->first);
        PrintPhase("RESOLVE_INIT @ " + std::to_string(static_cast<int>(rs)) + "/s", pr->second);
        PrintOpenLoop("request calls", tq);
        PrintOpenLoop("resolve calls", ts);
        PrintHalfLoadVerdict("REQUEST_INIT", pr->first, tq);
        PrintHalfLoadVerdict("RESOLVE_INIT", pr->second, ts);
      }
      out["half_load"]["request"]["target_met"] = HalfLoadTargetMet(pr->first);
      out["half_load"]["resolve"]["target_met"] = HalfLoadTargetMet(pr->second);
    }
    out["kmsd"]["rss_kib_end"] = kmsd.StatusKiB("VmRSS");
    out["kmsd"]["hwm_kib"] = kmsd.StatusKiB("VmHWM");
    if (Status s = kmsd.Stop(); !s.ok()) {
      std::cerr << "kms-bench: " << s.message() << "\n";
      ++errors;
    }
    return Finish();
  }

  int Startup() {
    // One token import per distinct key; 1,000 distinct keys shared round-robin by the users
    // (each user still has its own credential id and row): see docs/performance.md.
    if (Status s = Setup(o.startup_users, 1000, 1000); !s.ok()) return SetupFailed("setup", s);
    nlohmann::json starts = nlohmann::json::array();
    Range start_r, rss_r;
    for (unsigned i = 0; i < o.startup_repeat; ++i) {
      if (Status s = StartKmsd(); !s.ok()) return SetupFailed("kmsd", s);
      const uint64_t rss = kmsd.StatusKiB("VmRSS");
      starts.push_back({{"startup_ms", kmsd.startup_ms()}, {"rss_kib_ready", rss}});
      start_r.Add(kmsd.startup_ms(), i == 0);
      rss_r.Add(static_cast<double>(rss), i == 0);
      if (i + 1 < o.startup_repeat) {
        if (Status s = kmsd.Stop(); !s.ok()) return SetupFailed("kmsd stop", s);
      }
    }
    // The big database in use: a short closed-loop load by the first 1,000 users.
    auto pr = RequestThenResolve(std::min<size_t>(o.requests, 2000), 0, 0, "");
    if (!pr.ok()) return SetupFailed("messages", pr.status());
    out["startup"] = {{"users", o.startup_users},
                      {"starts", starts},
                      {"startup_ms", {start_r.min, start_r.max}},
                      {"rss_kib_ready", {rss_r.min, rss_r.max}},
                      {"db_bytes", std::filesystem::file_size(w.db)},
                      {"rss_kib_after_load", kmsd.StatusKiB("VmRSS")},
                      {"hwm_kib", kmsd.StatusKiB("VmHWM")},
                      {"request", PhaseJson(pr->first)},
                      {"resolve", PhaseJson(pr->second)},
                      {"target_rss_mib", 200},
                      {"target_startup_ms", 1000}};
    if (!o.json) {
      std::cout << "startup with " << o.startup_users << " users: /readyz after " << start_r.min
                << "-" << start_r.max << " ms, VmRSS at ready " << rss_r.min / 1024 << "-"
                << rss_r.max / 1024 << " MiB; after load VmRSS " << MiB(kmsd.StatusKiB("VmRSS"))
                << " MiB, VmHWM " << MiB(kmsd.StatusKiB("VmHWM")) << " MiB\n";
      PrintPhase("REQUEST_INIT", pr->first);
      PrintPhase("RESOLVE_INIT", pr->second);
    }
    if (Status s = kmsd.Stop(); !s.ok()) {
      std::cerr << "kms-bench: " << s.message() << "\n";
      ++errors;
    }
    return Finish();
  }

  int Timing() {
    if (Status s = Setup(o.users, o.users, o.users); !s.ok()) return SetupFailed("setup", s);
    if (Status s = StartKmsd(); !s.ok()) return SetupFailed("kmsd", s);
    // Warm-up: every credential opened once (kmsd's credential cache, as in load mode), and
    // the connection, the database pages and the code paths of every class used.
    auto warm = BuildRequests(users, users.size(), next_pair, ks.kms_identity);
    if (!warm.ok()) return SetupFailed("warm-up messages", warm.status());
    next_pair += users.size();
    errors += Drive(Drv(0), warm->wires).errors();
    auto probes = BuildTimingProbes(users, o.timing, next_pair, ks.kms_identity);
    if (!probes.ok()) return SetupFailed("timing probes", probes.status());
    DriveOptions one = Drv(0);
    one.connections = 1;  // one message at a time: no queueing behind another class
    const DriveResult r = Drive(one, probes->wires);
    // Every probe must be refused with a MIKEY Error (the warm-up message is not timed).
    errors += r.ok + r.http_errors + r.transport_errors;
    const std::vector<TimingClass> timed(probes->classes.begin() + 1, probes->classes.end());
    const TimingReport t = AnalyzeTiming(timed, r.latency_us);
    nlohmann::json classes = nlohmann::json::array();
    for (int c = 0; c < kTimingClasses; ++c) {
      classes.push_back({{"class", TimingClassName(static_cast<TimingClass>(c))},
                         {"kept", t.cls[c].n},
                         {"median_us", t.cls[c].median_us},
                         {"mean_us_below_crop", t.cls[c].mean_us}});
    }
    out["timing"] = {{"per_class", o.timing},
                     {"crop_us", t.crop_us},
                     {"classes", classes},
                     {"t_first_vs_last_byte", t.t_first_vs_last},
                     {"t_unknown_vs_bad_mac", t.t_unknown_vs_mac},
                     {"threshold", kTimingThreshold},
                     {"difference", t.leak()},
                     {"mikey_errors", r.mikey_errors}};
    if (!o.json) {
      std::cout << "timing probe: " << r.timed << " refused requests over one connection, "
                << "cropped at " << t.crop_us << " us (pooled p90)\n";
      for (int c = 0; c < kTimingClasses; ++c) {
        std::cout << "  " << TimingClassName(static_cast<TimingClass>(c)) << ": median "
                  << t.cls[c].median_us << " us, mean below the crop " << t.cls[c].mean_us
                  << " us (" << t.cls[c].n << " kept)\n";
      }
      std::cout << "  Welch t: first vs last MAC byte " << t.t_first_vs_last
                << ", unknown credential vs wrong MAC " << t.t_unknown_vs_mac << " (|t| > "
                << kTimingThreshold
                << " = a difference): " << (t.leak() ? "DIFFERENCE" : "no difference found")
                << "\n";
    }
    if (t.leak()) ++errors;
    if (Status s = kmsd.Stop(); !s.ok()) {
      std::cerr << "kms-bench: " << s.message() << "\n";
      ++errors;
    }
    return Finish();
  }

  int Finish() {
    out["errors_total"] = errors;
    out["machine"] = MachineJson();
    out["workdir"] = o.keep ? w.root : "";
    if (o.json) {
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << "errors: " << errors << (o.keep ? "; work dir kept: " + w.root : "") << "\n";
    }
    return errors == 0 ? 0 : kExitErrors;
  }
};

}  // namespace
}  // namespace kms::bench

int main(int argc, char** argv) {
  using kms::bench::Options;
  Options o;
  o.kmsd = kms::bench::DefaultKmsd();
  CLI::App app{
      "kms-bench: kmsd throughput and latency against its token ceiling (issue 10)\n"
      "Exit codes: 0 no errors, 1 errors counted, 2 usage, 3 set-up failed"};
  app.add_option("--kmsd", o.kmsd, "kmsd binary")->capture_default_str();
  app.add_option("--module", o.module, "PKCS#11 module (SoftHSM2)")->capture_default_str();
  app.add_option("--workdir", o.workdir, "parent of the run's temporary directory")
      ->capture_default_str();
  app.add_flag("--keep", o.keep, "keep the temporary directory (token, database, kmsd log)");
  app.add_option("--users", o.users, "users to provision")
      ->check(CLI::Range(2, 10'000'000))
      ->capture_default_str();
  app.add_option("--requests", o.requests, "timed requests (and resolves) per repetition")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--connections", o.connections,
                 "HTTPS keep-alive connections (one message in flight on each; the default "
                 "saturates kmsd on the 2-core development machine, docs/performance.md)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "kmsd worker threads = token sessions = ceiling threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--repeat", o.repeat, "ceiling + end-to-end repetitions")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--ceiling-seconds", o.ceiling_s, "duration of each ceiling measurement")
      ->check(CLI::Range(0.2, 600.0))
      ->capture_default_str();
  CLI::Option* half_load =
      app.add_flag("--half-load", o.half_load, "open-loop phase at 50% of the best measured rates");
  app.add_option("--half-load-seconds", o.half_load_s, "duration of the half-load phase")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  app.add_option("--workers", o.workers,
                 "kmsd [server] workers deciding messages (default: kmsd's own, one per "
                 "session but at most one per usable CPU)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--http-threads", o.http_threads,
                 "kmsd [server] threads (default: one per session, at most one per usable CPU)")
      ->check(CLI::Range(1, 256));
  app.add_option("--audit-batch-ms", o.audit_batch_ms,
                 "kmsd [audit] batch_interval_ms (default: kmsd's own default)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--startup-users", o.startup_users,
                 "startup mode: provision this many users, measure start time and RSS")
      ->check(CLI::Range(2, 10'000'000));
  app.add_option("--startup-repeat", o.startup_repeat, "kmsd starts in startup mode")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  app.add_option("--timing", o.timing,
                 "timing mode: this many refused requests per class (wrong MAC first byte, "
                 "last byte, unknown credential); exit 1 if their times differ")
      ->check(CLI::Range(10, 1000000));
  app.add_option("--perf", o.perf,
                 "perf record (DWARF call graphs) kmsd during the first repetition into FILE");
  app.add_option("--perf-half-load", o.perf_half_load,
                 "perf record (DWARF call graphs) kmsd during the half-load legs into FILE and "
                 "FILE.resolve")
      ->needs(half_load);
  app.add_option("--latency-trace", o.latency_trace,
                 "write each half-load message's due time and latency to PREFIX.request.txt and "
                 "PREFIX.resolve.txt");
  app.add_flag("--json", o.json, "machine-readable output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kms::bench::kExitUsage;
  }
  signal(SIGPIPE, SIG_IGN);
  kms::bench::Bench b(o);
  const int rc = o.timing > 0 ? b.Timing() : o.startup_users > 0 ? b.Startup() : b.Load();
  b.stack.reset();  // log out and finalize the module before the token directory goes
  b.w.Remove();
  return rc;
}
