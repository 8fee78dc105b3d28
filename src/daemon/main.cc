// kmsd: the KMS daemon (issue 7). Composition root: reads the configuration, builds the
// adapters (token, policy store, audit writer) and the core, starts the Ua and operations
// listeners, then waits for signals: SIGTERM/SIGINT drain in-flight requests and exit,
// SIGHUP reloads the TLS certificate and key (policy changes are seen without any signal).
//
// Exit codes: 0 clean stop; 1 start-up failed (message on stderr); 2 bad usage or config.
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "hsm/secret_file.h"
#include "hsm/tls_key.h"
#include "hsm/token_stack.h"
#include "policy/admin.h"
#include "policy/audit_writer.h"
#include "policy/key_usage.h"
#include "policy/migrations.h"
#include "policy/sqlite_policy_store.h"
#include "src/base/clock.h"
#include "src/base/encoding.h"
#include "src/base/secure_pool.h"
#include "src/base/usable_cpus.h"
#include "src/core/decision_pool.h"
#include "src/core/memory_replay_cache.h"
#include "src/core/ticket_service.h"
#include "src/core/vault_adapters.h"
#include "src/daemon/clock_watch.h"
#include "src/daemon/config.h"
#include "src/daemon/hardening.h"
#include "src/daemon/key_rotation.h"
#include "src/daemon/key_selection.h"
#include "src/daemon/log.h"
#include "src/daemon/self_test.h"
#include "src/daemon/store_watch.h"
#include "src/daemon/timing_decoy.h"
#include "src/http/listen_socket.h"
#include "src/http/ops_server.h"
#include "src/http/ua_server.h"

namespace {

using kms::daemon::Log;

constexpr int kExitStartup = 1;
constexpr int kExitUsage = 2;

kms::Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return kms::InvalidArgumentError("cannot read " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

kms::hsm::TokenConfig TokenConfigFrom(const kms::daemon::Config& c) {
  kms::hsm::TokenConfig t;
  t.token_uri = c.token.uri;
  if (!c.token.pin_file.empty()) {
    t.pin.kind = kms::hsm::PinSource::Kind::kFile;
    t.pin.location = c.token.pin_file;
  } else {
    t.pin.kind = kms::hsm::PinSource::Kind::kSystemdCredential;
    t.pin.location = c.token.pin_credential;
  }
  t.pool_size = c.token.pool_size;
  t.credential_storage = c.token.credential_storage == "token-objects"
                             ? kms::hsm::CredentialStorage::kTokenObjects
                             : kms::hsm::CredentialStorage::kWrapped;
  t.credential_cache_size = c.token.credential_cache;
  return t;
}

// LoadTlsIdentity: the certificate chain from its file and the key from a PEM file (owner
// only, like every secret file) or from the token (tls_key = "pkcs11:..."). Called at start
// and at every SIGHUP, so a renewed certificate or key is picked up without a restart.
kms::Result<std::shared_ptr<kms::http::TlsIdentity>> LoadTlsIdentity(
    const kms::daemon::TlsSettings& tls, kms::hsm::Token& token,
    std::shared_ptr<kms::hsm::TokenTlsKey>* token_key) {
  KMS_ASSIGN_OR_RETURN(std::string chain, ReadFile(tls.cert_file));
  if (tls.key_in_token()) {
    KMS_ASSIGN_OR_RETURN(std::unique_ptr<kms::hsm::TokenTlsKey> key,
                         kms::hsm::TokenTlsKey::Open(token, tls.key));
    *token_key = std::move(key);
    std::shared_ptr<kms::hsm::TokenTlsKey> signer = *token_key;
    return kms::http::TlsIdentity::FromSigner(
        chain, {signer->curve_bits(),
                [signer](std::span<const uint8_t> digest) { return signer->SignDigest(digest); }});
  }
  constexpr size_t kMaxKeyFile = 64 * 1024;
  KMS_ASSIGN_OR_RETURN(kms::SecretBytes pem,
                       kms::hsm::ReadSecretFile(tls.key, kMaxKeyFile, /*trim_newline=*/false));
  const std::span<const uint8_t> bytes = pem.Reveal();
  return kms::http::TlsIdentity::FromPem(
      chain, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// WarnUnlockedSecurePool: logs once per process, as a warning, that the secure pool could
// not lock an arena (RLIMIT_MEMLOCK without CAP_IPC_LOCK): secrets in it may reach swap.
// The pool only counts (it runs inside an allocation and base has no logger); this polls
// that count, one atomic load, from the main loop.
void WarnUnlockedSecurePool(bool* warned) {
  if (*warned || kms::internal::SecurePoolUnlockedArenas() == 0) {
    return;
  }
  *warned = true;
  const kms::internal::SecurePoolStats s = kms::internal::GetSecurePoolStats();
  Log("warning", "secure_pool_unlocked",
      {{"unlocked_arenas", std::to_string(s.unlocked_arenas)},
       {"arenas", std::to_string(s.arenas)},
       {"reason", std::string("mlock: ") + std::strerror(s.first_lock_errno)},
       {"hint", "raise LimitMEMLOCK (RLIMIT_MEMLOCK)"}});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kmsd: MIKEY-TICKET key management service (3GPP TS 33.328)\n"
               "Exit codes: 0 clean stop, 1 start-up failed, 2 bad usage or configuration"};
  std::string config_path = "/etc/kms/kmsd.toml";
  bool check_only = false;
  app.add_option("-c,--config", config_path, "configuration file (TOML)");
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  auto config = kms::daemon::LoadConfig(config_path);
  if (!config.ok()) {
    std::cerr << "kmsd: " << config.status().message() << "\n";
    return kExitUsage;
  }
  if (check_only) {
    std::cout << "kmsd: configuration " << config_path << " is valid\n";
    return 0;
  }
  const kms::daemon::Config& cfg = *config;

  // Hardening first: keys must never reach a core file.
  if (kms::Status s = kms::daemon::DisableCoreDumps(); !s.ok()) {
    Log("error", "startup_failed", {{"reason", s.message()}});
    return kExitStartup;
  }
  // Signals are handled synchronously by this thread; every thread started from here on
  // (listeners, audit writer) inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Bind both listeners while still root (a port below 1024 needs it), then give up root
  // before anything reads a file or the token: the PIN file, the TLS key and the token
  // directory are read as the configured user at start-up exactly as at a later reconnect or
  // SIGHUP.
  auto ua_socket = kms::http::ListenSocket::Bind(cfg.server.listen_address, cfg.server.port);
  if (!ua_socket.ok()) {
    Log("error", "startup_failed", {{"component", "https"}, {"reason", ua_socket.status().message()}});
    return kExitStartup;
  }
  auto ops_socket = kms::http::ListenSocket::Bind(cfg.ops.listen_address, cfg.ops.port);
  if (!ops_socket.ok()) {
    Log("error", "startup_failed", {{"component", "ops"}, {"reason", ops_socket.status().message()}});
    return kExitStartup;
  }
  if (kms::Status s = kms::daemon::DropPrivileges(cfg.process.user); !s.ok()) {
    Log("error", "startup_failed", {{"reason", s.message()}});
    return kExitStartup;
  }
  // Memory is locked as the user kmsd runs as, before any secret is read (the PIN, the TLS
  // key and the token come next): root's CAP_IPC_LOCK is gone from here on.
  if (cfg.process.mlockall) {
    if (kms::Status s = kms::daemon::LockMemory(); !s.ok()) {
      Log("error", "startup_failed", {{"reason", s.message()}});
      return kExitStartup;
    }
  }

  auto token = kms::hsm::TokenStack::Open(cfg.token.module, TokenConfigFrom(cfg));
  if (!token.ok()) {
    Log("error", "startup_failed", {{"component", "token"}, {"reason", token.status().message()}});
    return kExitStartup;
  }
  // Objects with the long-term key id that KeyManager did not make are never used
  // (hsm/key_provenance.h); their presence means someone wrote to the token: say so.
  for (const kms::hsm::RejectedKeyObject& r : (*token)->token->RejectedKeyObjects()) {
    Log("warning", "token_key_rejected", {{"label", r.label}, {"reason", r.reason}});
  }
  kms::policy::PolicyStoreOptions po;
  po.cache_entries = cfg.database_cache_entries;
  auto store = kms::policy::SqlitePolicyStore::Open(cfg.database, po);
  if (!store.ok()) {
    Log("error", "startup_failed", {{"component", "policy"}, {"reason", store.status().message()}});
    return kExitStartup;
  }
  // New tickets and checkpoints use the newest version the database registers (rotations
  // take effect while kmsd runs; an unregistered key object is never used): pinned before
  // anything can seal, then re-read on every tick of the main loop.
  kms::daemon::PinnedKeyVault vault(*(*token)->vault);
  // Automatic TPK rotation writes through its own connection, audited as "admin:kmsd".
  auto key_admin =
      kms::policy::PolicyAdmin::Open(cfg.database, "kmsd", kms::policy::AdminAccess::kReadWrite);
  if (!key_admin.ok()) {
    Log("error", "startup_failed",
        {{"component", "policy"}, {"reason", key_admin.status().message()}});
    return kExitStartup;
  }
  kms::daemon::KeyWatcher::Hooks key_hooks;
  key_hooks.newest_registered = [&store](kms::ports::KeyKind kind) {
    return (*store)->NewestActiveKeyVersion(kind);
  };
  key_hooks.refresh_token_index = [&token] { return (*token)->token->RefreshKeyIndex(); };
  key_hooks.tpk_max_uses = cfg.keys.tpk_max_tickets;
  key_hooks.add_usage = [&key_admin](kms::ports::KeyKind kind, uint32_t version, int64_t delta) {
    return kms::policy::AddKeyUsage(key_admin->db(), kind, version, delta);
  };
  key_hooks.rotate = [&token, &key_admin](kms::ports::KeyKind kind) {
    // A KEK rotation re-wraps every credential with the SO's help: kmsctl only.
    if (kind == kms::ports::KeyKind::kKek)
      return kms::InvalidArgumentError("kmsd does not rotate KEKs");
    return kms::daemon::RotateKey(*(*token)->token, *key_admin, kind).status();
  };
  kms::daemon::KeyWatcher key_watcher(vault, std::move(key_hooks));
  key_watcher.Poll();
  kms::http::Metrics metrics;
  kms::policy::AuditWriterOptions ao;
  ao.on_commit = [&metrics](double seconds, size_t rows) {
    metrics.Observe("kms_audit_commit_seconds", seconds);
    metrics.Inc("kms_audit_rows_total", {}, rows);
  };
  // The journal as the external anchor of the audit trail (docs/operations.md "Audit
  // trail"): the values are exactly what `kmsctl audit verify --expect-seq
  // --expect-checkpoint --expect-checkpoint-hash` takes. The hash is the unkeyed chain hash
  // of the sealed row; the audit key stays in the token and its HMAC is not logged.
  ao.on_checkpoint = [](const kms::policy::SealedCheckpoint& c) {
    Log("info", "audit_checkpoint",
        {{"seq", std::to_string(c.last_row)},
         {"checkpoint", std::to_string(c.checkpoint)},
         {"hash", kms::HexEncode(c.row_hash)}});
  };
  // A full, locked or failing disk refuses every request (fail closed, 503); the log says
  // why, once per transition (evaluator checklist item 22; docs/operations.md).
  ao.on_health_change = [](bool healthy, const std::string& reason) {
    if (healthy) {
      Log("info", "audit_recovered", {});
    } else {
      Log("error", "audit_unavailable", {{"reason", reason}});
    }
  };
  ao.batch_interval = std::chrono::milliseconds(cfg.audit.batch_interval_ms);
  ao.max_wait = std::chrono::milliseconds(cfg.audit.max_wait_ms);
  ao.queue_limit = cfg.audit.queue_limit;
  ao.checkpoint_rows = cfg.audit.checkpoint_rows;
  ao.checkpoint_interval = std::chrono::seconds(cfg.audit.checkpoint_interval_s);
  ao.replay_retention = 2 * cfg.kms.replay_window;
  kms::ports::IdleWorkers idle_workers;  // the decision pool counts, the window reads
  ao.idle_workers = &idle_workers;
  auto audit = kms::policy::AuditWriter::Open(cfg.database, vault, ao);
  if (!audit.ok()) {
    Log("error", "startup_failed", {{"component", "audit"}, {"reason", audit.status().message()}});
    return kExitStartup;
  }
  idle_workers.on_idle = [w = audit->get()] { w->Nudge(); };
  // Self-tests (src/daemon/self_test.h): after the audit writer, so the result is recorded;
  // before the core and the HTTP servers, so a failure leaves nothing that can emit a key.
  if (!kms::daemon::RunKmsdSelfTests(cfg, *(*token)->token, vault, **audit).ok()) {
    return kExitStartup;  // logged (event=self_test_failed) and audited
  }
  // The database file as opened now; a later delete, rename or replacement of the path makes
  // kmsd fail closed (evaluator checklist item 23; src/daemon/store_watch.h).
  auto store_watch = kms::daemon::StoreWatch::Open(cfg.database);
  if (!store_watch.ok()) {
    Log("error", "startup_failed",
        {{"component", "audit"}, {"reason", store_watch.status().message()}});
    return kExitStartup;
  }
  kms::daemon::FailClosedAuditSink audit_sink(**audit);
  kms::core::MemoryReplayCache replay({cfg.kms.replay_window, 1u << 20, 16});
  kms::SystemClock clock;
  // The replay cache survives a restart (evaluator checklist item 18): every message the
  // previous process answered left a mark in its audit commit; the last window's marks are
  // loaded before anything is served. If they cannot be read, kmsd does not start (fail
  // closed: it could not tell a replay from a new message).
  {
    const kms::UnixTime now = clock.Now();
    auto marks = (*store)->RecentReplayMarks(now - cfg.kms.replay_window);
    if (!marks.ok()) {
      Log("error", "startup_failed",
          {{"component", "replay_cache"}, {"reason", marks.status().message()}});
      return kExitStartup;
    }
    size_t restored = 0;
    std::optional<kms::UnixTime> lost;  // a restore from a backup (kmsctl) left this mark
    for (const kms::ports::ReplayMark& m : *marks) {
      if (m.digest == kms::ports::kReplayStateLost) {
        lost = lost ? std::max(*lost, m.sent) : m.sent;
        continue;
      }
      restored += replay.CheckAndInsert(m.digest, m.sent, now).ok() ? 1u : 0u;
    }
    if (lost) {
      // Spec §9.1: what was answered between the backup and the restore is unknown, so
      // everything sent before the restore is refused (until it ages out of the window).
      replay.RefuseSentUpTo(*lost);
      Log("warning", "replay_state_lost",
          {{"refused_up_to_unix_s", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                       lost->time_since_epoch())
                                                       .count())},
           {"reason", "database restored from a backup"}});
    }
    Log("info", "replay_cache_restored", {{"entries", std::to_string(restored)}});
  }
  kms::core::VaultRandom random(vault);
  kms::core::TicketService service(
      kms::core::ServicePorts{vault, **store, audit_sink, replay, clock, random}, cfg.kms);
  {
    auto decoy = kms::daemon::MakeTimingDecoy(vault, random,
                                              cfg.token.credential_storage == "token-objects");
    if (!decoy.ok()) {
      Log("error", "startup_failed",
          {{"component", "timing_decoy"}, {"reason", decoy.status().message()}});
      return kExitStartup;
    }
    service.SetDecoyCredential(std::move(decoy).value());
  }

  metrics.SetHelp("kms_audit_commit_seconds", "duration of one audit group commit, fsync included");
  metrics.SetHelp("kms_audit_rows_total", "audit rows made durable by the writer");
  metrics.SetHelp("kms_requests_total", "Ua requests by MIKEY data type and result");
  metrics.SetHelp("kms_request_duration_seconds", "Ua request latency");
  metrics.AddGauge("kms_replay_cache_entries", "authenticated messages remembered",
                   [&] { return static_cast<double>(replay.size()); });
  metrics.AddGauge("kms_audit_queue_depth", "audit rows waiting for the group commit",
                   [&] { return static_cast<double>((*audit)->queue_depth()); });
  metrics.AddGauge("kms_audit_last_commit_seconds", "duration of the last audit commit",
                   [&] { return (*audit)->last_commit_seconds(); });
  metrics.AddGauge("kms_audit_healthy", "1 when audit rows are being made durable",
                   [&] { return audit_sink.Healthy() ? 1.0 : 0.0; });
  // NTP loss is logged and audited (evaluator checklist item 19; src/daemon/clock_watch.h).
  kms::daemon::ClockWatch clock_watch(kms::daemon::ReadKernelClock, audit_sink, clock);
  clock_watch.Poll();
  metrics.AddGauge("kms_clock_synchronized",
                   "1 when the kernel clock is NTP-synchronised, 0 when not, -1 unknown",
                   [&] { return clock_watch.gauge(); });
  metrics.AddGauge("kms_token_pool_sessions", "operation sessions the token pool may use",
                   [&] { return static_cast<double>((*token)->token->pool_capacity()); });
  metrics.AddGauge("kms_token_sessions_in_use", "token sessions leased right now",
                   [&] { return static_cast<double>((*token)->token->sessions_in_use()); });
  kms::http::AddSecurePoolGauges(metrics, kms::internal::GetSecurePoolStats);
  metrics.SetHelp("kms_token_operation_seconds", "duration of one token operation (session lease)");
  (*token)->token->SetLeaseObserver(
      [&metrics](double seconds) { metrics.Observe("kms_token_operation_seconds", seconds); });

  std::shared_ptr<kms::hsm::TokenTlsKey> tls_key;
  auto tls = LoadTlsIdentity(cfg.tls, *(*token)->token, &tls_key);
  if (!tls.ok()) {
    Log("error", "startup_failed", {{"component", "tls"}, {"reason", tls.status().message()}});
    return kExitStartup;
  }
  // Decisions run on their own workers, not on the HTTP thread that owns the connection
  // (src/core/decision_pool.h): more messages than max_in_flight are refused before here.
  const uint32_t decision_workers = cfg.workers(kms::UsableCpus());
  auto decisions = std::make_unique<kms::core::DecisionPool>(
      service, kms::core::DecisionPoolOptions{decision_workers, cfg.server.max_in_flight,
                                              &idle_workers});
  metrics.AddGauge("kms_decision_queue_depth", "messages waiting for a decision worker",
                   [&] { return static_cast<double>(decisions->queue_depth()); });
  kms::http::UaServerOptions ua_options = cfg.server;
  ua_options.listen_fd = ua_socket->Release();
  auto ua = kms::http::UaServer::Start(ua_options, std::move(tls).value(), *decisions, metrics);
  if (!ua.ok()) {
    Log("error", "startup_failed", {{"component", "https"}, {"reason", ua.status().message()}});
    return kExitStartup;
  }
  kms::http::OpsServerOptions ops_options = cfg.ops;
  ops_options.listen_fd = ops_socket->Release();
  auto ops = kms::http::OpsServer::Start(
      ops_options,
      [&](std::string* why) {
        if (audit_sink.tripped()) {
          *why = "audit store replaced, restart kmsd";
          return false;
        }
        return service.Ready(why);
      },
      metrics);
  if (!ops.ok()) {
    Log("error", "startup_failed", {{"component", "ops"}, {"reason", ops.status().message()}});
    return kExitStartup;
  }
  // Everything is open: the syscall allow-list from here on, for every thread started above
  // (EnableSeccomp synchronises them) and every thread started later.
  if (cfg.process.seccomp) {
    if (kms::Status s = kms::daemon::EnableSeccomp(); !s.ok()) {
      Log("error", "startup_failed", {{"reason", s.message()}});
      return kExitStartup;
    }
  }
  bool pool_warned = false;
  WarnUnlockedSecurePool(&pool_warned);
  Log("info", "started", {{"https_port", std::to_string((*ua)->port())},
                          {"ops_port", std::to_string((*ops)->port())},
                          {"kms_identity", cfg.kms.kms_identity},
                          {"seccomp", cfg.process.seccomp ? "on" : "off"},
                          {"decision_workers", std::to_string(decision_workers)}});
  sd_notify(0, "READY=1");

  // Watchdog: ping at half the interval systemd expects (sd_watchdog_enabled(3)), and at
  // least once a second, the key watcher's period.
  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  const uint64_t tick_usec =
      watchdog ? std::clamp<uint64_t>(watchdog_usec / 2, 1000, 1'000'000) : 1'000'000;
  const timespec tick{static_cast<time_t>(tick_usec / 1'000'000),
                      static_cast<long>((tick_usec % 1'000'000) * 1000)};
  for (;;) {
    siginfo_t info{};
    const int sig = sigtimedwait(&signals, &info, &tick);
    if (watchdog) {
      sd_notify(0, "WATCHDOG=1");
    }
    key_watcher.Poll();  // one indexed SELECT per kind; a token re-read only on a change
    kms::daemon::CheckAuditStore(*store_watch, audit_sink);  // one stat(2)
    // The kernel's NTP state: one read-only adjtimex(2).
    clock_watch.Poll();
    // Arenas are mapped as load grows, so a refusal can come long after start-up.
    WarnUnlockedSecurePool(&pool_warned);
    if (sig == SIGHUP) {
      // New certificate and key for new handshakes; the listening socket stays open and
      // established connections keep their session. Policy needs no reload: every request
      // reads the current policy from the database (policy/sqlite_policy_store.h).
      sd_notify(0, "RELOADING=1");
      auto fresh = LoadTlsIdentity(cfg.tls, *(*token)->token, &tls_key);
      if (fresh.ok()) {
        kms::http::UaServer::ReloadTls(std::move(fresh).value());
        Log("info", "reloaded", {{"what", "tls"}, {"policy", "read per request"}});
      } else {
        // Keep serving with the previous certificate: a bad file must not take the KMS down.
        Log("error", "reload_failed", {{"what", "tls"}, {"reason", fresh.status().message()}});
      }
      sd_notify(0, "READY=1");
    } else if (sig == SIGTERM || sig == SIGINT) {
      Log("info", "stopping", {{"in_flight", std::to_string((*ua)->in_flight())}});
      sd_notify(0, "STOPPING=1");
      (*ops)->SetDraining();
      (*ua)->Drain(std::chrono::seconds(10));
      break;
    }
  }
  // Each part is freed only once nothing can call into it any more: the Ua listener's
  // threads are stopped (Drain never leaves them running), then the operations listener
  // (whose /metrics gauges read the pool and the audit writer), then the decision workers
  // (which decide what is still queued, writing audit rows, and nudge the audit writer),
  // and only then the audit writer.
  ua->reset();
  ops->reset();
  decisions.reset();
  idle_workers.on_idle = nullptr;
  key_watcher.FlushUsage();  // the last second's TPK uses (the count survives restarts)
  audit->reset();  // flushes the queue and seals a final checkpoint
  Log("info", "stopped");
  return 0;
}
