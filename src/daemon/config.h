// kmsd's configuration: one TOML file parsed strictly into an immutable struct (style.md
// "Config"). An unknown key, a wrong type or an out-of-range value is an error naming the
// file, the line and the key. Every limit has exactly one default, here. Secrets (the token
// PIN) are never in this file: only where to read them.
#pragma once

#include <cstdint>
#include <string>

#include "src/base/result.h"
#include "src/core/kms_options.h"
#include "src/http/ops_server.h"
#include "src/http/ua_server.h"

namespace kms::daemon {

struct TokenSettings {
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string uri = "pkcs11:token=kms";
  std::string pin_file;        // a file readable only by its owner, or:
  std::string pin_credential;  // a systemd credential name ($CREDENTIALS_DIRECTORY/<name>)
  uint32_t pool_size = 8;
  std::string credential_storage = "wrapped";  // or "token-objects"
  uint32_t credential_cache = 1024;
};

// TlsSettings: [server] tls_cert (PEM chain file, leaf first) and tls_key: a PEM file path,
// or a PKCS#11 URI ("pkcs11:token=...;object=...") naming an EC key in the KMS token.
struct TlsSettings {
  std::string cert_file;
  std::string key;
  bool key_in_token() const { return key.rfind("pkcs11:", 0) == 0; }
};

struct AuditSettings {
  uint32_t batch_interval_ms = 2;       // group commit window (0: none, see audit_writer.h)
  uint32_t max_wait_ms = 1000;          // fail closed after this
  uint32_t queue_limit = 10'000;
  uint32_t checkpoint_rows = 1000;      // seal every N rows...
  uint32_t checkpoint_interval_s = 60;  // ...or T seconds
};

// [keys]: lifecycle of the keys kmsd seals with (docs/operations-keys.md "Key lifecycle").
struct KeySettings {
  // tpk_max_tickets: once this many tickets were sealed under the active TPK version, kmsd
  // rotates it itself (as `kmsctl key rotate tpk` would; evaluator checklist item 30). The
  // count is kept in the database, so restarts do not reset it. 0: never (operator rotates).
  uint64_t tpk_max_tickets = 1'000'000'000;
};

struct ProcessSettings {
  std::string user;       // drop to this user when started as root ("" = stay)
  bool mlockall = false;
  // seccomp: kmsd's system-call allow-list (hardening.h), on unless the operator turns it
  // off: with it no process can be made after C_Initialize (evaluator checklist 2.29).
  bool seccomp = true;
  // require_integrity_digest: refuse to start when "<kmsd>.sha256" is missing (a digest that
  // is present is always checked; src/daemon/integrity.h).
  bool require_integrity_digest = false;
};

struct Config {
  std::string path;  // the file it came from
  core::KmsOptions kms;
  http::UaServerOptions server;
  // [server] workers: threads that decide messages (core::DecisionPool); the HTTP threads
  // only move bytes. 0: one per [token] pool_size session but no more than the CPUs kmsd
  // may run on: a software token (SoftHSM2) computes in the worker's own thread and runs
  // slower, not faster, when more threads call it at once (docs/performance.md, "Decision
  // workers"). A token whose calls wait on a device or network wants `workers = pool_size`.
  uint32_t decision_workers = 0;
  uint32_t workers(unsigned usable_cpus) const;
  TlsSettings tls;
  http::OpsServerOptions ops;
  TokenSettings token;
  std::string database = "/var/lib/kms/policy.db";
  uint32_t database_cache_entries = 65'536;  // rows remembered per policy version (0: none)
  AuditSettings audit;
  KeySettings keys;
  ProcessSettings process;
};

// LoadConfig: reads and validates the file. Errors are kInvalidArgument with a one-line
// message "<file>:<line>: <what>".
Result<Config> LoadConfig(const std::string& path);
// ParseConfig: the same from text (tests, --check-config on stdin).
Result<Config> ParseConfig(std::string_view text, const std::string& source_name);

}  // namespace kms::daemon
