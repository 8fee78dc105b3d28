// Audit trail against a real SQLite file (issue 5 items 5-6): group-commit appends from many
// threads, sealed checkpoints, append-only triggers, detection of each kind of tampering by
// VerifyAudit, and fail-closed behaviour of AuditWriter while the database is locked.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
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
using testing::RawExec;
using testing::RawQuery;
using testing::TempDir;

constexpr const char* kDropTriggers =
    "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; "
    "DROP TRIGGER audit_checkpoint_no_update; DROP TRIGGER audit_checkpoint_no_delete;";

// ExclusiveLock: another connection holding BEGIN EXCLUSIVE on the database (the audit
// writer's commits wait on it) until Release or the end of the scope.
class ExclusiveLock {
 public:
  explicit ExclusiveLock(const std::string& path) {
    held_ = sqlite3_open(path.c_str(), &db_) == SQLITE_OK &&
            sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~ExclusiveLock() { (void)Release(); }
  ExclusiveLock(const ExclusiveLock&) = delete;
  ExclusiveLock& operator=(const ExclusiveLock&) = delete;
  bool held() const { return held_; }
  // Release: COMMIT and close; true when the lock was held and is now given up.
  bool Release() {
    const bool ok = held_ && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    held_ = false;
    if (db_ != nullptr) {
      sqlite3_close(db_);
      db_ = nullptr;
    }
    return ok;
  }

 private:
  sqlite3* db_ = nullptr;
  bool held_ = false;
};

// AppendUntilDurable: retries Append for up to 15 s (a writer recovering from a lock).
Result<int64_t> AppendUntilDurable(AuditWriter& w, const ports::AuditRecord& record) {
  Result<int64_t> id = UnavailableError("not tried");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!id.ok() && std::chrono::steady_clock::now() < deadline) {
    id = w.Append(record);
  }
  return id;
}

// WindowOptions: a group-commit window long enough (5 s) that a row committed within
// 2.5 s shows the window ended early rather than ran out.
AuditWriterOptions WindowOptions() {
  AuditWriterOptions o;
  o.batch_interval = std::chrono::seconds(5);
  o.max_wait = std::chrono::seconds(30);
  return o;
}

// AppendAsyncFuture: AppendAsync with the outcome as a future.
std::future<Result<int64_t>> AppendAsyncFuture(AuditWriter& w, const ports::AuditRecord& row) {
  auto p = std::make_shared<std::promise<Result<int64_t>>>();
  std::future<Result<int64_t>> done = p->get_future();
  w.AppendAsync(row, [p](Result<int64_t> id) { p->set_value(std::move(id)); });
  return done;
}

// AppendWhileAnotherDecides: what TicketService does for one message while another is still
// being decided: both decisions begin, this one ends, its row is appended.
std::future<Result<int64_t>> AppendWhileAnotherDecides(AuditWriter& w,
                                                       const ports::AuditRecord& row) {
  w.BeginDecision();  // another message, still being decided
  w.BeginDecision();  // this message
  w.EndDecision();
  return AppendAsyncFuture(w, row);
}

class AuditTrailTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  // BuildTrail: a migrated database with `checkpoints` sealed segments of `rows_per_segment`
  // rows each, every segment appended by 4 threads at once through one AuditWriter.
  std::string BuildTrail(const std::string& name, int checkpoints, int rows_per_segment) {
    const std::string db = dir_.File(name);
    EXPECT_TRUE(PolicyAdmin::Open(db, "setup").ok());  // migrates
    AuditWriterOptions o;
    o.checkpoint_rows = 1'000'000;  // seal only when the test says so
    o.checkpoint_interval = std::chrono::seconds(3600);
    auto w = AuditWriter::Open(db, vault_, o);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    if (!w.ok()) return db;
    std::mutex mu;
    std::set<int64_t> ids;
    for (int c = 0; c < checkpoints; ++c) {
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < rows_per_segment / 4; ++i) {
            auto id = (*w)->Append(AuditRow(t, i));
            EXPECT_TRUE(id.ok()) << id.status().ToString();
            if (!id.ok()) return;
            std::lock_guard<std::mutex> lock(mu);
            EXPECT_TRUE(ids.insert(*id).second) << "row id " << *id << " handed out twice";
          }
        });
      }
      for (auto& th : threads) th.join();
      EXPECT_TRUE((*w)->Checkpoint().ok());
    }
    const int64_t n = static_cast<int64_t>(checkpoints) * (rows_per_segment / 4) * 4;
    EXPECT_EQ(static_cast<int64_t>(ids.size()), n);
    if (!ids.empty()) {
      EXPECT_EQ(*ids.begin(), 1);
      EXPECT_EQ(*ids.rbegin(), n);  // unique and without gaps
    }
    return db;
  }

  AuditVerifyReport Verify(const std::string& db, const AuditVerifyOptions& options = {}) {
    auto d = Db::Open(db);
    EXPECT_TRUE(d.ok());
    if (!d.ok()) return {};
    auto r = VerifyAudit(*d, vault_, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : AuditVerifyReport{};
  }

  TempDir dir_;
  FakeAuditVault vault_;
};

TEST_F(AuditTrailTest, ConcurrentAppendsAreChainedAndSealed) {
  const std::string db = BuildTrail("ok.db", 1, 400);
  const auto r = Verify(db);
  EXPECT_TRUE(r.intact()) << AuditProblemName(r.problem) << ": " << r.detail;
  EXPECT_TRUE(r.fully_sealed());
  EXPECT_EQ(r.rows, 400);
  EXPECT_EQ(r.checkpoints, 1);
  EXPECT_EQ(r.sealed_through_row, 400);
  EXPECT_EQ(r.unsealed_rows, 0);
  {
    // A checkpoint with nothing new to seal is a no-op, not an error.
    auto w = AuditWriter::Open(db, vault_, AuditWriterOptions{});
    ASSERT_TRUE(w.ok());
    EXPECT_TRUE((*w)->Checkpoint().ok());
  }
  EXPECT_EQ(Verify(db).checkpoints, 1);
  FakeAuditVault other_key(0x5c);
  auto d = Db::Open(db);
  ASSERT_TRUE(d.ok());
  auto wrong = VerifyAudit(*d, other_key);  // the same trail under another key: forged
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->problem, AuditProblem::kForgedCheckpoint);
  EXPECT_EQ(wrong->bad_checkpoint, 1);
  EXPECT_FALSE(wrong->fully_sealed());
}

TEST_F(AuditTrailTest, TriggersRefuseUpdateAndDelete) {
  const std::string db = BuildTrail("trig.db", 1, 8);
  EXPECT_EQ(RawExec(db, "UPDATE audit_log SET actor = 'x' WHERE seq = 1"), SQLITE_CONSTRAINT);
  EXPECT_EQ(RawExec(db, "DELETE FROM audit_log WHERE seq = 8"), SQLITE_CONSTRAINT);
  EXPECT_EQ(RawExec(db, "UPDATE audit_checkpoint SET time_ns = 0"), SQLITE_CONSTRAINT);
  EXPECT_EQ(RawExec(db, "DELETE FROM audit_checkpoint"), SQLITE_CONSTRAINT);
  const auto r = Verify(db);
  EXPECT_TRUE(r.fully_sealed());
  EXPECT_EQ(r.rows, 8);
  EXPECT_EQ(RawQuery(db, "SELECT actor FROM audit_log WHERE seq = 1").at(0).at(0).rfind("ue:", 0),
            0u);
}

TEST_F(AuditTrailTest, ModifiedRowIsReportedAtThatRow) {
  const std::string db = BuildTrail("mod.db", 1, 20);
  ASSERT_EQ(RawExec(db, std::string(kDropTriggers) +
                            "UPDATE audit_log SET outcome = 'denied' WHERE seq = 5"),
            SQLITE_OK);
  const auto r = Verify(db);
  EXPECT_EQ(r.problem, AuditProblem::kModifiedRow) << r.detail;
  EXPECT_EQ(r.first_bad_row, 5);
  EXPECT_LE(r.sealed_through_row, 4);
  EXPECT_FALSE(r.fully_sealed());
}

TEST_F(AuditTrailTest, RewrittenChainIsCaughtByTheCheckpoint) {
  // An attacker who rewrites a row and recomputes every later hash keeps the chain
  // consistent; only the sealed checkpoint shows it.
  const std::string db = BuildTrail("rechain.db", 1, 8);
  ASSERT_EQ(RawExec(db, std::string(kDropTriggers) + "UPDATE audit_log SET hash = "
                                                     "zeroblob(32) WHERE seq = 8"),
            SQLITE_OK);
  const auto r = Verify(db);
  EXPECT_EQ(r.problem, AuditProblem::kModifiedRow) << r.detail;
  EXPECT_EQ(r.first_bad_row, 8);
}

TEST_F(AuditTrailTest, DeletedRowIsReported) {
  const std::string db = BuildTrail("del.db", 1, 20);
  ASSERT_EQ(RawExec(db, std::string(kDropTriggers) + "DELETE FROM audit_log WHERE seq = 7"),
            SQLITE_OK);
  const auto r = Verify(db);
  EXPECT_EQ(r.problem, AuditProblem::kDeletedRow) << r.detail;
  EXPECT_EQ(r.first_bad_row, 7);
  EXPECT_EQ(r.rows, 19);
}

TEST_F(AuditTrailTest, SwappedRowsAreReportedAsReordered) {
  const std::string db = BuildTrail("swap.db", 1, 20);
  // Swap rows 3 and 4 whole (content and hashes), only their positions change.
  ASSERT_EQ(RawExec(db, std::string(kDropTriggers) +
                            "UPDATE audit_log SET seq = 1000 WHERE seq = 3;"
                            "UPDATE audit_log SET seq = 3 WHERE seq = 4;"
                            "UPDATE audit_log SET seq = 4 WHERE seq = 1000;"),
            SQLITE_OK);
  const auto r = Verify(db);
  EXPECT_EQ(r.problem, AuditProblem::kReorderedRows) << r.detail;
  EXPECT_EQ(r.first_bad_row, 3);
  EXPECT_EQ(r.rows, 20);
}

TEST_F(AuditTrailTest, ChangedCheckpointMacIsForged) {
  const std::string db = BuildTrail("forged.db", 2, 8);
  ASSERT_EQ(RawExec(db, std::string(kDropTriggers) +
                            "UPDATE audit_checkpoint SET mac = zeroblob(32) WHERE seq = 2"),
            SQLITE_OK);
  const auto r = Verify(db);
  EXPECT_EQ(r.problem, AuditProblem::kForgedCheckpoint) << r.detail;
  EXPECT_EQ(r.bad_checkpoint, 2);
  EXPECT_EQ(r.first_bad_row, 16);
  EXPECT_EQ(r.sealed_through_row, 8);  // checkpoint 1 still verifies
  EXPECT_FALSE(r.fully_sealed());
}

TEST_F(AuditTrailTest, CheckpointWithUnknownKeyVersionIsForged) {
  const std::string db = BuildTrail("kv.db", 1, 8);
  ASSERT_EQ(RawExec(db, std::string(kDropTriggers) + "UPDATE audit_checkpoint SET "
                                                     "key_version = 9"),
            SQLITE_OK);
  const auto r = Verify(db);
  EXPECT_EQ(r.problem, AuditProblem::kForgedCheckpoint) << r.detail;
  EXPECT_EQ(r.bad_checkpoint, 1);
}

TEST_F(AuditTrailTest, DeletedLastCheckpointLeavesAnUnsealedTail) {
  const std::string db = BuildTrail("tail.db", 3, 8);
  ASSERT_TRUE(Verify(db).fully_sealed());
  ASSERT_EQ(RawExec(db, std::string(kDropTriggers) +
                            "DELETE FROM audit_checkpoint WHERE seq = 3"),
            SQLITE_OK);
  const auto r = Verify(db);
  // The rows still chain, but the last 8 are no longer sealed: never "fully sealed".
  EXPECT_TRUE(r.intact()) << r.detail;
  EXPECT_FALSE(r.fully_sealed());
  EXPECT_EQ(r.rows, 24);
  EXPECT_EQ(r.checkpoints, 2);
  EXPECT_EQ(r.sealed_through_row, 16);
  EXPECT_EQ(r.unsealed_rows, 8);
  // With a bound on rows per checkpoint: a tail within the bound is fine...
  AuditVerifyOptions strict;
  strict.max_rows_per_checkpoint = 8;
  const auto t = Verify(db, strict);
  EXPECT_TRUE(t.intact()) << t.detail;
  // ...but after removing the last two checkpoints the 16-row tail exceeds it: a checkpoint
  // was removed.
  ASSERT_EQ(RawExec(db, "DELETE FROM audit_checkpoint WHERE seq = 2"), SQLITE_OK);
  const auto s = Verify(db, strict);
  EXPECT_EQ(s.problem, AuditProblem::kMissingCheckpoint) << s.detail;
  EXPECT_EQ(s.first_bad_row, 9);
  EXPECT_EQ(s.sealed_through_row, 8);
  EXPECT_FALSE(s.fully_sealed());
  const auto lax = Verify(db);  // without the bound: intact, 16 unsealed rows
  EXPECT_TRUE(lax.intact());
  EXPECT_EQ(lax.unsealed_rows, 16);
  // A bound smaller than a sealed segment flags that segment's checkpoint.
  strict.max_rows_per_checkpoint = 4;
  const auto u = Verify(db, strict);
  EXPECT_EQ(u.problem, AuditProblem::kMissingCheckpoint) << u.detail;
  EXPECT_EQ(u.first_bad_row, 1);
  EXPECT_EQ(u.bad_checkpoint, 1);
}

TEST_F(AuditTrailTest, DeletedMiddleCheckpointIsMissing) {
  const std::string db = BuildTrail("mid.db", 3, 8);
  ASSERT_EQ(RawExec(db, std::string(kDropTriggers) +
                            "DELETE FROM audit_checkpoint WHERE seq = 2"),
            SQLITE_OK);
  const auto r = Verify(db);
  EXPECT_EQ(r.problem, AuditProblem::kMissingCheckpoint) << r.detail;
  EXPECT_EQ(r.bad_checkpoint, 2);
  EXPECT_EQ(r.first_bad_row, 9);
  EXPECT_EQ(r.sealed_through_row, 8);
  EXPECT_FALSE(r.fully_sealed());
}

TEST_F(AuditTrailTest, AdminRowsFromAnotherConnectionJoinTheSameChain) {
  // kmsctl (PolicyAdmin, its own connection) appends its rows while kmsd's AuditWriter
  // appends from 4 threads: the writer re-reads the head in every transaction, so both
  // end up in one unbroken chain.
  const std::string db = dir_.File("shared.db");
  auto admin = PolicyAdmin::Open(db, "ops");
  ASSERT_TRUE(admin.ok());
  AuditWriterOptions o;
  o.checkpoint_rows = 50;
  auto w = AuditWriter::Open(db, vault_, o);
  ASSERT_TRUE(w.ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (!(*w)->Append(AuditRow(t, i)).ok()) ++failures;
      }
    });
  }
  for (int i = 0; i < 30; ++i) {
    const std::string n = "user" + std::to_string(i);
    ASSERT_TRUE(admin->AddUser(n, n + "@ims", {"sip:" + n + "@example.org"}).ok());
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE((*w)->Checkpoint().ok());
  const auto r = Verify(db);
  EXPECT_TRUE(r.fully_sealed()) << AuditProblemName(r.problem) << ": " << r.detail;
  EXPECT_EQ(r.rows, 430);
  EXPECT_GE(r.checkpoints, 2);
  EXPECT_EQ(RawQuery(db, "SELECT count(*) FROM audit_log WHERE actor = 'admin:ops'").at(0).at(0),
            "30");
}

TEST_F(AuditTrailTest, AppendFailsClosedWhileLockedAndRecovers) {
  const std::string db = BuildTrail("locked.db", 1, 4);
  AuditWriterOptions o;
  o.max_wait = std::chrono::milliseconds(200);
  std::mutex changes_mu;
  std::vector<std::pair<bool, std::string>> changes;  // what kmsd would log
  o.on_health_change = [&](bool healthy, const std::string& reason) {
    std::lock_guard<std::mutex> lock(changes_mu);
    changes.emplace_back(healthy, reason);
  };
  auto w = AuditWriter::Open(db, vault_, o);
  ASSERT_TRUE(w.ok());
  // Retried: the 200-ms bound that the locked phase tests is short for a first fsync on a
  // loaded machine.
  ASSERT_TRUE(AppendUntilDurable(**w, AuditRow(0, 0)).ok());
  EXPECT_TRUE((*w)->Healthy());
  {
    std::lock_guard<std::mutex> lock(changes_mu);
    changes.clear();  // a retry above may have reported a slow first fsync
  }

  ExclusiveLock locker(db);
  ASSERT_TRUE(locker.held());
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto id = (*w)->Append(AuditRow(1, i));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(id.status().code(), StatusCode::kUnavailable);
    EXPECT_LT(took, std::chrono::milliseconds(1000)) << "the wait is bounded by max_wait";
    EXPECT_FALSE((*w)->Healthy());
  }
  ASSERT_TRUE(locker.Release());

  // After the lock is released the writer recovers (rows refused meanwhile may still land:
  // they record requests that were failed, which the trail may show).
  Result<int64_t> id = AppendUntilDurable(**w, AuditRow(2, 0));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE((*w)->Healthy());
  EXPECT_EQ(RawQuery(db, "SELECT correlation_id FROM audit_log WHERE seq = " +
                             std::to_string(*id)).at(0).at(0),
            "2-0");
  {
    // One report per transition: down (with why) once although three rows failed, then up
    // (a retry of the recovery append on a loaded machine may add a down/up pair).
    std::lock_guard<std::mutex> lock(changes_mu);
    ASSERT_GE(changes.size(), 2u);
    EXPECT_EQ(changes.size() % 2, 0u);
    EXPECT_FALSE(changes.front().first);
    const std::string& why = changes.front().second;
    EXPECT_TRUE(why.find("not durable") != std::string::npos ||
                why.find("locked") != std::string::npos)
        << why;
    for (size_t i = 1; i < changes.size(); ++i) {
      EXPECT_NE(changes[i].first, changes[i - 1].first) << "a repeated report at " << i;
    }
    EXPECT_TRUE(changes.back().first);
    EXPECT_EQ(changes.back().second, "");
  }
  ASSERT_TRUE((*w)->Checkpoint().ok());
  w->reset();
  const auto r = Verify(db);
  EXPECT_TRUE(r.fully_sealed()) << AuditProblemName(r.problem) << ": " << r.detail;
}

// AppendAsync (kmsd's path): each callback fires once, with a row that is already committed
// (a separate connection sees it from inside the callback); while the database is locked the
// watchdog fails the overdue rows within the bound although the writer itself is stuck.
TEST_F(AuditTrailTest, AppendAsyncCallsBackWhenDurableAndFailsOverdueRows) {
  const std::string db = BuildTrail("async.db", 1, 4);
  AuditWriterOptions o;
  // Generous: every callback below opens its own connection on the writer thread, so the
  // last of the 40 rows fires after all the others' queries; on a loaded machine 200 ms was
  // seen to run out (a false "overdue").
  o.max_wait = std::chrono::milliseconds(2000);
  auto w = AuditWriter::Open(db, vault_, o);
  ASSERT_TRUE(w.ok());

  constexpr int kRows = 40;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Result<int64_t>> outcomes;
  std::vector<std::string> seen;  // correlation id each callback found committed
  for (int i = 0; i < kRows; ++i) {
    (*w)->AppendAsync(AuditRow(7, i), [&](Result<int64_t> id) {
      std::string found;
      if (id.ok()) {
        const auto rows = RawQuery(db, "SELECT correlation_id FROM audit_log WHERE seq = " +
                                            std::to_string(*id));
        found = rows.empty() || rows[0].empty() ? "" : rows[0][0];
      }
      std::lock_guard<std::mutex> lock(mu);
      outcomes.push_back(std::move(id));
      seen.push_back(found);
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20),
                            [&] { return outcomes.size() == kRows; }));
  }
  std::set<std::string> correlation_ids(seen.begin(), seen.end());
  for (const auto& id : outcomes) {
    EXPECT_TRUE(id.ok()) << id.status().ToString();
  }
  EXPECT_EQ(correlation_ids.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(correlation_ids.count(""), 0u);

  ExclusiveLock locker(db);
  ASSERT_TRUE(locker.held());
  std::promise<Result<int64_t>> late;
  const auto start = std::chrono::steady_clock::now();
  (*w)->AppendAsync(AuditRow(8, 0), [&](Result<int64_t> id) { late.set_value(std::move(id)); });
  auto fut = late.get_future();
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the watchdog must answer within the bound while the writer waits on the lock";
  EXPECT_EQ(fut.get().status().code(), StatusCode::kUnavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - start, o.max_wait);
  EXPECT_FALSE((*w)->Healthy());
  ASSERT_TRUE(locker.Release());
  // The writer recovers; the late row may still land (it records a request that failed).
  Result<int64_t> id = AppendUntilDurable(**w, AuditRow(9, 0));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE((*w)->Healthy());
  ASSERT_TRUE((*w)->Checkpoint().ok());
  w->reset();
  EXPECT_TRUE(Verify(db).fully_sealed());
}

// The group-commit window (batch_interval) is waited out only while another message is still
// being decided: a lone row is committed at once, a row waits for a decision still open and
// goes as soon as that decision's row is appended.
TEST_F(AuditTrailTest, BatchWindowWaitsOnlyWhileADecisionIsOpen) {
  const std::string db = BuildTrail("window.db", 1, 1);
  auto w = AuditWriter::Open(db, vault_, WindowOptions());
  ASSERT_TRUE(w.ok());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE((*w)->Append(AuditRow(1, 0)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2500))
      << "no decision open: the window must not be waited out";

  auto first_done = AppendWhileAnotherDecides(**w, AuditRow(2, 0));
  EXPECT_EQ(first_done.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "a decision is open: its row is on its way and may join this commit";
  const auto t1 = std::chrono::steady_clock::now();
  (*w)->EndDecision();
  auto second_done = AppendAsyncFuture(**w, AuditRow(2, 1));
  ASSERT_EQ(first_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  ASSERT_EQ(second_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::milliseconds(2500));
  EXPECT_TRUE(first_done.get().ok());
  EXPECT_TRUE(second_done.get().ok());
}

// With idle_workers, the window also ends when a decision worker waits for a message: the
// row of a finished decision goes at once although another decision is still open.
TEST_F(AuditTrailTest, BatchWindowEndsWhenADecisionWorkerIsIdle) {
  const std::string db = BuildTrail("window-idle.db", 1, 1);
  ports::IdleWorkers idle;
  AuditWriterOptions o = WindowOptions();
  o.idle_workers = &idle;
  auto w = AuditWriter::Open(db, vault_, o);
  ASSERT_TRUE(w.ok());
  auto done = AppendWhileAnotherDecides(**w, AuditRow(3, 0));
  EXPECT_EQ(done.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "every worker busy and a decision open: the window holds the row";
  const auto t = std::chrono::steady_clock::now();
  idle.count = 1;  // what DecisionPool does before calling on_idle
  (*w)->Nudge();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - t, std::chrono::milliseconds(2500))
      << "a worker waits for a message: the window must end";
  EXPECT_TRUE(done.get().ok());
  (*w)->EndDecision();
}

// on_commit reports every successful group commit: its duration and how many rows it made
// durable (kmsd turns these into /metrics).
TEST_F(AuditTrailTest, OnCommitReportsEveryCommitWithItsRows) {
  const std::string db = BuildTrail("observed.db", 1, 1);
  std::mutex mu;
  size_t rows = 0, commits = 0;
  double min_s = 1e9;
  AuditWriterOptions o;
  o.on_commit = [&](double seconds, size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    rows += n;
    ++commits;
    min_s = std::min(min_s, seconds);
  };
  auto w = AuditWriter::Open(db, vault_, o);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*w)->Append(AuditRow(3, i)).ok());
  }
  w->reset();  // joins the writer: every callback has run
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(rows, 5u);
  EXPECT_GE(commits, 1u);
  EXPECT_LE(commits, 5u);
  EXPECT_GT(min_s, 0.0);
}

// The writer does not checkpoint the WAL inside its commits; a background connection folds
// it into the database file, so the file grows while the writer keeps running.
TEST_F(AuditTrailTest, WalIsFoldedIntoTheDatabaseFileInTheBackground) {
  const std::string db = BuildTrail("fold.db", 1, 4);
  const auto initial = std::filesystem::file_size(db);
  AuditWriterOptions o;
  o.wal_checkpoint_interval = std::chrono::milliseconds(50);
  o.checkpoint_rows = 1'000'000;
  auto w = AuditWriter::Open(db, vault_, o);
  ASSERT_TRUE(w.ok());
  constexpr int kRows = 3000;
  std::atomic<int> durable{0};
  for (int i = 0; i < kRows; ++i) {
    (*w)->AppendAsync(AuditRow(3, i), [&](Result<int64_t> id) { durable += id.ok() ? 1 : 0; });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((durable.load() < kRows || std::filesystem::file_size(db) <= initial) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(durable.load(), kRows);
  EXPECT_GT(std::filesystem::file_size(db), initial)
      << "no checkpoint copied the new rows into the database file";
  ASSERT_TRUE((*w)->Checkpoint().ok());
  w->reset();
  const auto r = Verify(db);
  EXPECT_TRUE(r.fully_sealed()) << AuditProblemName(r.problem) << ": " << r.detail;
  EXPECT_EQ(r.rows, kRows + 4);
}

}  // namespace
}  // namespace kms::policy
