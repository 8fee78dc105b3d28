// Txn::Begin and a statement left stepping (policy/sqlite_db.h). A read statement that is
// not reset pins a snapshot; once another connection commits, BEGIN IMMEDIATE on that
// connection fails at once with SQLITE_BUSY_SNAPSHOT and no busy wait. CI hit exactly
// this when `kmsctl audit archive` ran beside a busy kmsd, so Txn::Begin refuses the
// situation outright, under load or not.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <optional>

#include "policy/sqlite_db.h"
#include "tests/integration/policy/policy_test_support.h"

namespace kms::policy {
namespace {

using testing::RawExec;
using testing::TempDir;

class SqliteTxnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    path_ = dir_.File("t.db");
    auto db = Db::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::make_unique<Db>(std::move(*db));
    ASSERT_TRUE(db_->Exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2)").ok());
  }

  // PinnedRead: "SELECT v FROM t" stepped to its first row and left there (the snapshot
  // stays pinned until the returned statement is reset); nullopt after a failure.
  std::optional<StmtUse> PinnedRead() {
    auto s = db_->Use("SELECT v FROM t");
    EXPECT_TRUE(s.ok());
    if (!s.ok()) return std::nullopt;
    auto row = (*s)->Step();
    EXPECT_TRUE(row.ok() && *row);
    if (!row.ok() || !*row) return std::nullopt;
    return std::move(s).value();
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Db> db_;
};

// Why the guard exists: SQLite itself gives up without waiting (the 5 s busy timeout is
// set) when the pinned snapshot is stale.
TEST_F(SqliteTxnTest, StaleSnapshotMakesBeginImmediateFailWithoutWaiting) {
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db_->raw(), "SELECT v FROM t", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);                            // snapshot pinned
  ASSERT_EQ(RawExec(path_, "INSERT INTO t VALUES (3)"), SQLITE_OK);  // "kmsd" commits
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = sqlite3_exec(db_->raw(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(sqlite3_extended_errcode(db_->raw()), SQLITE_BUSY_SNAPSHOT) << rc;
  EXPECT_LT(waited, std::chrono::seconds(1));
  sqlite3_exec(db_->raw(), "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_finalize(s);
}

TEST_F(SqliteTxnTest, BeginRefusesWhileAStatementIsStillActive) {
  {
    std::optional<StmtUse> pinned = PinnedRead();
    ASSERT_TRUE(pinned.has_value());
    // Refused even though nobody else wrote: the race must not depend on timing.
    auto txn = Txn::Begin(*db_, TxnKind::kImmediate);
    ASSERT_FALSE(txn.ok());
    EXPECT_EQ(txn.status().code(), StatusCode::kInternal);
    EXPECT_NE(txn.status().message().find("SELECT v FROM t"), std::string::npos)
        << txn.status().ToString();
    EXPECT_NE(sqlite3_get_autocommit(db_->raw()), 0) << "no transaction may be left open";
  }
  // Reset (StmtUse's destructor): BEGIN works, and writes despite another commit meanwhile.
  ASSERT_EQ(RawExec(path_, "INSERT INTO t VALUES (4)"), SQLITE_OK);
  auto txn = Txn::Begin(*db_, TxnKind::kImmediate);
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  EXPECT_TRUE(db_->Exec("INSERT INTO t VALUES (5)").ok());
  EXPECT_TRUE(txn->Commit().ok());
  EXPECT_EQ(testing::RawQuery(path_, "SELECT count(*) FROM t")[0][0], "4");
}

// A read transaction may start inside a pinned snapshot: it only reads, in that snapshot.
TEST_F(SqliteTxnTest, ReadTransactionsAreNotRefused) {
  std::optional<StmtUse> pinned = PinnedRead();
  ASSERT_TRUE(pinned.has_value());
  auto txn = Txn::Begin(*db_, TxnKind::kDeferred);
  EXPECT_TRUE(txn.ok()) << txn.status().ToString();
}

// A statement that ran to its end is no longer active: Begin must not refuse it.
TEST_F(SqliteTxnTest, FinishedStatementsDoNotBlockBegin) {
  auto s = db_->Use("SELECT v FROM t WHERE v = 1");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Step().ok());
  auto done = (*s)->Step();
  ASSERT_TRUE(done.ok());
  ASSERT_FALSE(*done);
  auto txn = Txn::Begin(*db_, TxnKind::kImmediate);
  EXPECT_TRUE(txn.ok()) << txn.status().ToString();
}

}  // namespace
}  // namespace kms::policy
