// audit_bench: durable audit rows per second with group commit (AuditWriter, 16 threads)
// versus one transaction per row (BEGIN IMMEDIATE / AppendRow / COMMIT, synchronous=FULL),
// measured in the same run on the same disk. Prints both rates and the ratio.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "policy/admin.h"
#include "policy/audit_chain.h"
#include "policy/audit_writer.h"
#include "tests/unit/core/fakes.h"

namespace {

using Clock = std::chrono::steady_clock;

kms::ports::AuditRecord Record() {
  kms::ports::AuditRecord r;
  r.actor = "ue:sip:alice@example.org";
  r.action = "REQUEST_INIT_PSK";
  r.initiator = "sip:alice@example.org";
  r.responder = "sip:bob@example.org";
  r.credential_id = "YWxpY2UtcmFuZA==@bsf.example.org";
  r.ticket_id = std::string(64, 'a');
  r.outcome = kms::ports::AuditOutcome::kGranted;
  r.rule = "allow";
  return r;
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/kms-auditbench-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  kms::core::testing::FakeKeyVault vault;
  vault.SetAuditKey(1, vault.AddKey(std::vector<uint8_t>(32, 0xa1)));

  // One transaction per row.
  const std::string db1 = dir + "/single.db";
  (void)kms::policy::PolicyAdmin::Open(db1, "bench");
  auto db = kms::policy::Db::Open(db1);
  const int single_rows = 300;
  auto t0 = Clock::now();
  for (int i = 0; i < single_rows; ++i) {
    auto txn = kms::policy::Txn::Begin(*db, kms::policy::TxnKind::kImmediate);
    auto head = kms::policy::ReadChainHead(*db);
    (void)kms::policy::AppendRow(*db, *head, Record());
    (void)txn->Commit();
  }
  const double single_rate =
      single_rows / std::chrono::duration<double>(Clock::now() - t0).count();

  // Group commit through the writer, 16 concurrent callers.
  const std::string db2 = dir + "/group.db";
  (void)kms::policy::PolicyAdmin::Open(db2, "bench");
  kms::policy::AuditWriterOptions o;
  auto w = kms::policy::AuditWriter::Open(db2, vault, o);
  const int threads = 16;
  const int per_thread = 200;
  t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        (void)(*w)->Append(Record());
      }
    });
  }
  for (auto& t : ts) {
    t.join();
  }
  const double group_rate =
      threads * per_thread / std::chrono::duration<double>(Clock::now() - t0).count();
  w->reset();
  std::printf("durable audit rows/s, one transaction per row: %.0f\n", single_rate);
  std::printf("durable audit rows/s, group commit (%d callers): %.0f\n", threads, group_rate);
  std::printf("ratio group/single: %.1f\n", group_rate / single_rate);
  std::filesystem::remove_all(dir);
  return 0;
}
