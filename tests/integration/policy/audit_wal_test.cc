// The audit writer keeps the WAL from growing while readers never stop (kmsd under steady
// load: every message reads the policy store in its own read transaction). SQLite restarts
// the WAL from its start only when the writer begins with every frame copied back and no
// reader on an older snapshot; with a reader always open that moment never comes
// (sqlite.org/wal.html, "Checkpoint starvation"), the file grows for as long as the load
// lasts and every commit appends to it. The fold's RESTART checkpoint creates the moment.
// Real SQLite file; the audit key is a fake vault (tests/integration/policy).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "policy/admin.h"
#include "policy/audit_verify.h"
#include "policy/audit_writer.h"
#include "tests/integration/policy/fake_audit_vault.h"
#include "tests/integration/policy/policy_test_support.h"

namespace kms::policy {
namespace {

using testing::AuditRow;
using testing::FakeAuditVault;
using testing::TempDir;

// BusyReaders: two threads that keep overlapping read transactions open on the database,
// like kmsd's policy lookups under load. A reader ends its transaction only while the other
// one holds a snapshot (open_ goes from 2 to 1), so at every instant some reader is open
// however the threads are scheduled: on a loaded machine, free-running readers were seen to
// leave gaps in which the WAL restarted without help.
class BusyReaders {
 public:
  explicit BusyReaders(const std::string& path) {
    for (int t = 0; t < 2; ++t) {
      threads_.emplace_back([this, path] {
        sqlite3* db = nullptr;
        if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
          failed_ = true;
          sqlite3_close(db);
          return;
        }
        while (!stop_.load()) {
          if (sqlite3_exec(db, "BEGIN; SELECT max(seq) FROM audit_log;", nullptr, nullptr,
                           nullptr) != SQLITE_OK) {
            failed_ = true;
          }
          ++open_;  // this thread now holds a snapshot
          std::this_thread::sleep_for(std::chrono::microseconds(300));
          for (int both = 2; !open_.compare_exchange_weak(both, 1) && !stop_.load(); both = 2) {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
          }
          sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
          ++transactions_;
        }
        sqlite3_close(db);
      });
    }
  }
  ~BusyReaders() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  BusyReaders(const BusyReaders&) = delete;
  BusyReaders& operator=(const BusyReaders&) = delete;
  bool failed() const { return failed_.load(); }
  int64_t transactions() const { return transactions_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::atomic<int> open_{0};  // readers holding a snapshot, as far as the hand-off knows
  std::atomic<int64_t> transactions_{0};
  std::vector<std::thread> threads_;
};

struct WalRun {
  uintmax_t max_wal_bytes = 0;
  int durable = 0;
  int64_t read_transactions = 0;
};

// AppendUnderReaders: `rows` commits, one row each, with readers busy throughout; returns
// the largest WAL file size seen after any commit.
WalRun AppendUnderReaders(const std::string& db, FakeAuditVault& vault,
                          std::chrono::microseconds restart_wait, int rows) {
  WalRun run;
  AuditWriterOptions o;
  o.wal_checkpoint_interval = std::chrono::milliseconds(20);
  o.wal_restart_wait = restart_wait;
  o.wal_restart_frames = 64;  // restart once the WAL holds 256 KiB (kmsd: 8 MiB)
  o.checkpoint_rows = 1'000'000;
  auto w = AuditWriter::Open(db, vault, o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return run;
  BusyReaders readers(db);
  const std::string wal = db + "-wal";
  for (int i = 0; i < rows; ++i) {
    run.durable += (*w)->Append(AuditRow(0, i)).ok() ? 1 : 0;
    std::error_code ec;
    run.max_wal_bytes = std::max(run.max_wal_bytes, std::filesystem::file_size(wal, ec));
  }
  EXPECT_FALSE(readers.failed());
  run.read_transactions = readers.transactions();
  return run;
}

TEST(AuditWalTest, WalStaysSmallUnderNeverEndingReadersAndGrowsWithoutRestart) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  FakeAuditVault vault;
  constexpr int kRows = 2000;
  // Without the RESTART checkpoint (the project's earlier behaviour): the WAL only grows.
  const std::string starved = dir.File("starved.db");
  ASSERT_TRUE(PolicyAdmin::Open(starved, "setup").ok());  // migrates
  const WalRun before = AppendUnderReaders(starved, vault, std::chrono::microseconds(0), kRows);
  // With it (the default): the WAL is reused from its start.
  const std::string folded = dir.File("folded.db");
  ASSERT_TRUE(PolicyAdmin::Open(folded, "setup").ok());
  const WalRun after =
      AppendUnderReaders(folded, vault, AuditWriterOptions{}.wal_restart_wait, kRows);

  std::cout << "WAL high-water mark: " << before.max_wal_bytes << " bytes without restarts, "
            << after.max_wal_bytes << " with\n";
  EXPECT_EQ(before.durable, kRows);
  EXPECT_EQ(after.durable, kRows);
  EXPECT_GT(before.read_transactions, 100);  // the readers really ran alongside
  EXPECT_GT(after.read_transactions, 100);
  // Each commit adds at least one 4 KiB page frame: 2000 commits are over 8 MB if the WAL is
  // never reused; most of that shows the starvation (a rare restart can still slip through).
  EXPECT_GT(before.max_wal_bytes, uintmax_t{3'000'000}) << "readers did not starve the WAL";
  EXPECT_LT(after.max_wal_bytes * 3, before.max_wal_bytes)
      << "WAL " << after.max_wal_bytes << " bytes with restarts, " << before.max_wal_bytes
      << " without";

  // Restarting the WAL loses nothing: the whole chain verifies.
  auto d = Db::Open(folded);
  ASSERT_TRUE(d.ok());
  auto report = VerifyAudit(*d, vault, {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->rows, kRows);
}

}  // namespace
}  // namespace kms::policy
