// audit_bench: durable audit rows per second (issue 5 item 7), measured in one run on the
// same disk:
//   single: one thread, one transaction per row (BEGIN IMMEDIATE / AppendRow / COMMIT with
//           synchronous=FULL): every row pays its own fsync.
//   group:  N threads appending through AuditWriter (group commit): one fsync per batch.
// Every Append/commit is checked; a failure aborts the run (figures of a failing run would
// be meaningless). Prints both rates and their ratio.
// Usage: audit_bench [seconds per measurement, default 3] [directory, default $TMPDIR|/tmp]
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "policy/admin.h"
#include "policy/audit_chain.h"
#include "policy/audit_writer.h"
#include "tests/integration/policy/fake_audit_vault.h"

namespace {

using Clock = std::chrono::steady_clock;

kms::ports::AuditRecord Record(int64_t i) {
  kms::ports::AuditRecord r;
  r.time = std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
  r.actor = "ue:sip:alice@example.org";
  r.action = "REQUEST_INIT_PSK";
  r.initiator = "sip:alice@example.org";
  r.responder = "sip:bob@example.org";
  r.credential_id = "YWxpY2UtcmFuZA==@bsf.example.org";
  r.ticket_id = std::string(64, 'a');
  r.outcome = kms::ports::AuditOutcome::kGranted;
  r.rule = "allow";
  r.policy_version = 7;
  r.correlation_id = std::to_string(i);
  return r;
}

[[noreturn]] void Die(const std::string& what, const kms::Status& s) {
  std::fprintf(stderr, "audit_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

std::string FreshDb(const std::string& path) {
  auto admin = kms::policy::PolicyAdmin::Open(path, "bench");  // creates and migrates
  if (!admin.ok()) Die("open " + path, admin.status());
  return path;
}

// SingleRate: rows/s with one BEGIN IMMEDIATE ... COMMIT (synchronous=FULL) per row.
double SingleRate(const std::string& path, double seconds) {
  kms::policy::DbOptions o;
  o.synchronous_full = true;
  auto db = kms::policy::Db::Open(path, o);
  if (!db.ok()) Die("open", db.status());
  int64_t rows = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    auto txn = kms::policy::Txn::Begin(*db, kms::policy::TxnKind::kImmediate);
    if (!txn.ok()) Die("begin", txn.status());
    auto head = kms::policy::ReadChainHead(*db);
    if (!head.ok()) Die("head", head.status());
    auto next = kms::policy::AppendRow(*db, *head, Record(rows));
    if (!next.ok()) Die("append", next.status());
    kms::Status s = txn->Commit();
    if (!s.ok()) Die("commit", s);
    ++rows;
  }
  return static_cast<double>(rows) / std::chrono::duration<double>(Clock::now() - start).count();
}

// GroupRate: rows/s with `threads` callers appending through one AuditWriter whose writer
// thread waits batch_interval for more callers before each commit.
double GroupRate(const std::string& path, int threads, std::chrono::milliseconds batch_interval,
                 double seconds, kms::ports::KeyVault& vault) {
  kms::policy::AuditWriterOptions o;
  o.batch_interval = batch_interval;
  o.max_wait = std::chrono::milliseconds(10'000);  // measure throughput, not fail-closed
  auto w = kms::policy::AuditWriter::Open(path, vault, o);
  if (!w.ok()) Die("writer", w.status());
  std::atomic<int64_t> rows{0};
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        auto id = (*w)->Append(Record(rows.load(std::memory_order_relaxed)));
        if (!id.ok()) Die("append", id.status());
        rows.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(rows.load()) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  const char* tmp = getenv("TMPDIR");
  std::string tmpl = std::string(argc > 2 ? argv[2] : (tmp != nullptr ? tmp : "/tmp")) +
                     "/kms-auditbench-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = buf.data();
  kms::policy::testing::FakeAuditVault vault;

  const double single = SingleRate(FreshDb(dir + "/single.db"), seconds);
  std::printf("durable audit rows/s, one transaction per row (1 thread):               %8.0f\n",
              single);
  double best_group = 0;
  for (int interval_ms : {2, 0}) {  // 2 ms: the AuditWriterOptions default
    for (int threads : {1, 16, 64}) {
      const std::string name = dir + "/group" + std::to_string(interval_ms) + "-" +
                               std::to_string(threads) + ".db";
      const double group = GroupRate(FreshDb(name), threads,
                                     std::chrono::milliseconds(interval_ms), seconds, vault);
      std::printf("durable audit rows/s, group commit (%2d callers, batch_interval %d ms): "
                  "%8.0f  ratio %.1fx\n", threads, interval_ms, group, group / single);
      if (group > best_group) best_group = group;
    }
  }
  std::printf("ratio best group commit / one transaction per row: %.1fx\n", best_group / single);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
