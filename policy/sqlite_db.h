// RAII wrappers around sqlite3 (style.md "Log vs audit": Db/Stmt/Txn, prepared statements
// only, WAL, foreign_keys=ON). The only file pair in the project that includes sqlite3.h
// besides the adapters built on it. SQL text passed here is always a string literal of the
// adapter; values go through Bind*, never into the SQL text.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/base/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kms::policy {

// SqliteStatus: maps an sqlite3 result code to a Status. Busy/locked/full/I/O errors are
// kUnavailable (the caller may retry later); constraint violations map to kAlreadyExists
// (unique), kFailedPrecondition (foreign key) or kInvalidArgument (check/not null).
Status SqliteStatus(int rc, sqlite3* db, std::string_view what);

class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Bind*: 1-based parameter index. Text and blobs are copied by sqlite (SQLITE_TRANSIENT).
  Status BindInt(int index, int64_t value);
  Status BindText(int index, std::string_view value);
  Status BindBlob(int index, std::span<const uint8_t> value);
  Status BindNull(int index);
  Status BindOptInt(int index, std::optional<int64_t> value);

  // Step: true when a row is available, false when done; an error Status otherwise.
  Result<bool> Step();
  // Run: steps until done (for INSERT/UPDATE); kInternal if the statement yields rows.
  Status Run();
  // Reset: makes the statement reusable and clears bindings.
  void Reset();

  int64_t ColumnInt(int col) const;
  std::optional<int64_t> ColumnOptInt(int col) const;
  std::string ColumnText(int col) const;
  std::vector<uint8_t> ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// ForEachRow: steps s and calls fn(s) for each row; fn returns void or a Status, and an
// error Status from fn stops the loop and is returned.
template <typename Fn>
Status ForEachRow(Stmt& s, Fn&& fn) {
  for (;;) {
    KMS_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return Status::Ok();
    }
    if constexpr (std::is_same_v<decltype(fn(std::as_const(s))), Status>) {
      KMS_RETURN_IF_ERROR(fn(std::as_const(s)));
    } else {
      fn(std::as_const(s));
    }
  }
}

// StmtUse: a borrowed cached statement, reset (bindings cleared) when the scope ends.
class StmtUse {
 public:
  explicit StmtUse(Stmt* stmt) : stmt_(stmt) {}
  StmtUse(StmtUse&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  StmtUse& operator=(StmtUse&&) = delete;
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;
  ~StmtUse() {
    if (stmt_ != nullptr) stmt_->Reset();
  }
  Stmt* operator->() const { return stmt_; }
  Stmt& operator*() const { return *stmt_; }

 private:
  Stmt* stmt_;
};

enum class OpenMode : uint8_t { kReadWriteCreate, kReadWrite, kReadOnly };

struct DbOptions {
  OpenMode mode = OpenMode::kReadWriteCreate;
  int busy_timeout_ms = 5000;
  bool synchronous_full = true;  // PRAGMA synchronous=FULL (durable commits in WAL)
};

// WalCheckpointMode: the sqlite3_wal_checkpoint_v2 modes the project uses.
// kPassive copies what no reader still needs and never waits. kRestart also waits (through
// the connection's busy handler) for the writer and for readers of older snapshots, so that
// the next writer starts the WAL again from its beginning (sqlite.org/wal.html,
// "Checkpoint starvation").
enum class WalCheckpointMode : uint8_t { kPassive, kRestart };

class Db {
 public:
  // Open: opens (or, in kReadWriteCreate mode, creates with mode 0600) the database file,
  // sets WAL, foreign_keys=ON, busy timeout and synchronous. Fails with kNotFound if the
  // file is missing in the other modes, kUnavailable if it cannot be opened.
  static Result<Db> Open(const std::string& path, const DbOptions& options = {});

  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Exec: runs fixed SQL (pragmas, embedded migrations). Never pass text built from input.
  Status Exec(const char* sql);
  // ExecCached: runs one fixed statement (BEGIN, COMMIT, ROLLBACK) from the statement cache,
  // so the per-message read transaction does not re-parse its SQL every time.
  Status ExecCached(std::string_view sql);
  // Prepare: a fresh statement owned by the caller.
  Result<Stmt> Prepare(std::string_view sql);
  // Use: a statement from this connection's cache (prepared once), reset after use.
  Result<StmtUse> Use(std::string_view sql);
  // WalCheckpoint: one checkpoint of this database's WAL on this connection; returns the
  // frames in the WAL when it ended. A checkpoint that had to give up (SQLITE_BUSY) is not
  // an error: what it could not copy is durable in the WAL and is tried again next time.
  Result<int> WalCheckpoint(WalCheckpointMode mode);
  // SetBusyWait: replaces the busy timeout (whose sleeps grow to 100 ms, so a lock held for
  // 10 ms can cost a waiter 18) by pauses of `pause` for at most `budget` per lock.
  void SetBusyWait(std::chrono::microseconds pause, std::chrono::microseconds budget);
  // DataVersion: PRAGMA data_version; changes when another connection commits.
  Result<int64_t> DataVersion();
  int64_t LastInsertRowId() const;
  int Changes() const;
  sqlite3* raw() const { return db_; }

 private:
  struct BusyWait {
    int64_t tries;
    std::chrono::microseconds pause;
  };
  explicit Db(sqlite3* db) : db_(db) {}
  void Close();
  sqlite3* db_ = nullptr;
  std::unique_ptr<BusyWait> busy_;  // the busy handler's argument: a stable address
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
};

enum class TxnKind : uint8_t { kDeferred, kImmediate };

// Txn: BEGIN on construction (via Begin), ROLLBACK in the destructor unless Commit() ran.
class Txn {
 public:
  // Begin: kImmediate is refused (kInternal, naming the statement) while any statement of
  // db is still active: its pinned snapshot would make BEGIN IMMEDIATE fail without the
  // busy wait as soon as another connection commits (sqlite_db.cc).
  static Result<Txn> Begin(Db& db, TxnKind kind);
  Txn(Txn&& other) noexcept : db_(other.db_), open_(other.open_) { other.open_ = false; }
  Txn& operator=(Txn&&) = delete;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn();
  // Commit: COMMIT; on failure the transaction is rolled back and the error returned.
  Status Commit();

 private:
  explicit Txn(Db* db) : db_(db), open_(true) {}
  Db* db_;
  bool open_;
};

}  // namespace kms::policy
