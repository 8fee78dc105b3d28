// Helpers shared by the policy integration tests: a temporary directory per test and raw
// sqlite3 access that plays "another process" or "an attacker with file access".
#pragma once

#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "policy/admin.h"
#include "src/core/ports/audit_sink.h"

namespace kms::policy::testing {

// AuditRow: a granted REQUEST_INIT_PSK decision of caller `thread`, row `i` (distinct
// correlation ids per thread and row), as kmsd's ticket service appends it.
inline ports::AuditRecord AuditRow(int thread, int i) {
  ports::AuditRecord r;
  r.time = std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
  r.actor = "ue:sip:t" + std::to_string(thread) + "@example.org";
  r.action = "REQUEST_INIT_PSK";
  r.initiator = "sip:t" + std::to_string(thread) + "@example.org";
  r.responder = "sip:bob@example.org";
  r.credential_id = "btid-" + std::to_string(i);
  r.outcome = ports::AuditOutcome::kGranted;
  r.rule = "allow";
  r.correlation_id = std::to_string(thread) + "-" + std::to_string(i);
  return r;
}

// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/kms-policy-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// RawExec: runs sql on a new connection; returns the sqlite3 result code.
inline int RawExec(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  int rc = sqlite3_open(db.c_str(), &h);
  if (rc == SQLITE_OK) rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(h);
  return rc;
}

// RawQuery: every row of a query, each column as text ("" for NULL).
inline std::vector<std::vector<std::string>> RawQuery(const std::string& db,
                                                      const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3* h = nullptr;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_open(db.c_str(), &h) == SQLITE_OK &&
      sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const unsigned char* t = sqlite3_column_text(s, i);
        row.emplace_back(t != nullptr ? reinterpret_cast<const char*>(t) : "");
      }
      rows.push_back(std::move(row));
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return rows;
}

// SystemDefault: a permissive system default policy (any responder in example.org, 128-bit
// suite, one hour validity) for tests that need requests to be allowed.
inline PolicySpec SystemDefault() {
  PolicySpec def;
  def.may_request = true;
  def.max_validity_s = 3600;
  def.reuse_allowed = false;
  def.max_reuse_window_s = 0;
  def.forking_required = false;
  def.mode3_allowed = false;
  def.allowed_suites = static_cast<uint8_t>(ports::Suite::k128);
  def.rate_limit_per_min = 0;
  def.responders = std::vector<ports::ResponderRule>{
      {ports::ResponderRuleKind::kDomain, "*@example.org"}};
  def.apps = std::vector<std::string>{};
  return def;
}

}  // namespace kms::policy::testing
