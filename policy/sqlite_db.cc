#include "policy/sqlite_db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

namespace kms::policy {

Status SqliteStatus(int rc, sqlite3* db, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  // sqlite3_errmsg names tables and columns, never bound values, so it is safe to log.
  msg += (db != nullptr) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
      return UnavailableError(std::move(msg));
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return AlreadyExistsError(std::move(msg));
      }
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return FailedPreconditionError(std::move(msg));
      if (rc == SQLITE_CONSTRAINT_TRIGGER) return PermissionDeniedError(std::move(msg));
      return InvalidArgumentError(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return FailedPreconditionError(std::move(msg));
    default:
      return InternalError(std::move(msg));
  }
}

// ---- Stmt ----

Stmt::Stmt(Stmt&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Status Stmt::BindInt(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(rc, db_, "bind");
}

Status Stmt::BindText(int index, std::string_view value) {
  int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(rc, db_, "bind");
}

Status Stmt::BindBlob(int index, std::span<const uint8_t> value) {
  // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
  static const uint8_t kEmpty = 0;
  const void* p = value.empty() ? &kEmpty : value.data();
  int rc = sqlite3_bind_blob64(stmt_, index, p, value.size(), SQLITE_TRANSIENT);
  return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(rc, db_, "bind");
}

Status Stmt::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(rc, db_, "bind");
}

Status Stmt::BindOptInt(int index, std::optional<int64_t> value) {
  return value ? BindInt(index, *value) : BindNull(index);
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // sqlite3_step returns the primary code unless extended codes are on (they are: Open).
  return SqliteStatus(rc, db_, "step");
}

Status Stmt::Run() {
  KMS_ASSIGN_OR_RETURN(bool row, Step());
  if (row) return InternalError("statement unexpectedly returned rows");
  return Status::Ok();
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }

std::optional<int64_t> Stmt::ColumnOptInt(int col) const {
  if (ColumnIsNull(col)) return std::nullopt;
  return ColumnInt(col);
}

std::string Stmt::ColumnText(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

std::vector<uint8_t> Stmt::ColumnBlob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return {};
  const auto* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n);
}

bool Stmt::ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

// ---- Db ----

Result<Db> Db::Open(const std::string& path, const DbOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX;  // one connection per thread; we never share one
  switch (options.mode) {
    case OpenMode::kReadWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case OpenMode::kReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case OpenMode::kReadOnly: flags |= SQLITE_OPEN_READONLY; break;
  }
  if (options.mode == OpenMode::kReadWriteCreate) {
    // The database holds identities, wrapped credentials and the audit trail: owner-only
    // whatever the umask. SQLite would create it with 0644 & ~umask; created here first
    // (O_EXCL: an existing file keeps its owner and mode), SQLite then creates -wal and
    // -shm with the database file's permissions (sqlite.org/tempfiles.html, os_unix.c
    // findCreateFileMode).
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::close(fd);
    } else if (errno != EEXIST) {
      return UnavailableError("create database " + path + ": " + std::strerror(errno));
    }
  } else if (struct stat st{}; ::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    // Without SQLITE_OPEN_CREATE sqlite3_open_v2 would say only "unable to open database
    // file"; a missing file is worth its own code (kmsctl: only init creates one).
    return NotFoundError("no database at " + path);
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);  // owns raw even on failure
  if (rc != SQLITE_OK) return SqliteStatus(rc, raw, "open database");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  // Defensive settings: no attached databases from SQL text, no extension loading.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  KMS_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=ON"));
  if (options.mode != OpenMode::kReadOnly) {
    KMS_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL"));
  }
  KMS_RETURN_IF_ERROR(db.Exec(options.synchronous_full ? "PRAGMA synchronous=FULL"
                                                       : "PRAGMA synchronous=NORMAL"));
  return db;
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      busy_(std::move(other.busy_)),
      cache_(std::move(other.cache_)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    Close();
    db_ = std::exchange(other.db_, nullptr);
    busy_ = std::move(other.busy_);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

Db::~Db() { Close(); }

void Db::Close() {
  cache_.clear();  // finalize statements before closing
  if (db_ != nullptr) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

Status Db::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqliteStatus(rc, db_, "exec");
  return Status::Ok();
}

Status Db::ExecCached(std::string_view sql) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, Use(sql));
  return s->Run();
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  Stmt s(db_, stmt);
  if (rc != SQLITE_OK) return SqliteStatus(rc, db_, "prepare");
  if (stmt == nullptr) return InternalError("prepare: empty statement");
  if (tail != nullptr && tail != sql.data() + sql.size()) {
    return InternalError("prepare: more than one statement");
  }
  return s;
}

Result<StmtUse> Db::Use(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    KMS_ASSIGN_OR_RETURN(Stmt s, Prepare(sql));
    it = cache_.emplace(std::string(sql), std::make_unique<Stmt>(std::move(s))).first;
  }
  return StmtUse(it->second.get());
}

Result<int> Db::WalCheckpoint(WalCheckpointMode mode) {
  int log = 0;
  const int rc = sqlite3_wal_checkpoint_v2(
      db_, nullptr,
      mode == WalCheckpointMode::kRestart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE,
      &log, nullptr);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) return SqliteStatus(rc, db_, "wal checkpoint");
  return log;
}

void Db::SetBusyWait(std::chrono::microseconds pause, std::chrono::microseconds budget) {
  const int64_t tries = pause.count() > 0 ? budget.count() / pause.count() : 0;
  busy_ = std::make_unique<BusyWait>(BusyWait{tries, pause});
  sqlite3_busy_handler(
      db_,
      [](void* arg, int count) -> int {
        const auto* b = static_cast<const BusyWait*>(arg);
        if (count >= b->tries) return 0;  // give up: the caller sees SQLITE_BUSY
        std::this_thread::sleep_for(b->pause);
        return 1;
      },
      busy_.get());
}

Result<int64_t> Db::DataVersion() {
  KMS_ASSIGN_OR_RETURN(StmtUse s, Use("PRAGMA data_version"));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return InternalError("data_version returned no row");
  return s->ColumnInt(0);
}

int64_t Db::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

int Db::Changes() const { return sqlite3_changes(db_); }

// ---- Txn ----

Result<Txn> Txn::Begin(Db& db, TxnKind kind) {
  // A statement still stepping holds a read snapshot. BEGIN IMMEDIATE on a stale snapshot
  // fails at once with SQLITE_BUSY_SNAPSHOT, without the busy wait, whenever another
  // connection (kmsd's audit writer) committed in between (sqlite.org/wal.html#busy,
  // rescode.html#busy_snapshot): a race that shows only under load. Refuse it every time so
  // tests catch the bug, not production traffic. A read transaction (kDeferred, never
  // upgraded to a write here) simply goes on in the pinned snapshot, so it is not refused.
  if (kind == TxnKind::kImmediate) {
    for (sqlite3_stmt* s = sqlite3_next_stmt(db.raw(), nullptr); s != nullptr;
         s = sqlite3_next_stmt(db.raw(), s)) {
      if (sqlite3_stmt_busy(s) != 0) {
        return InternalError(std::string("BEGIN while a statement is still active: ") +
                             sqlite3_sql(s));
      }
    }
  }
  KMS_RETURN_IF_ERROR(db.ExecCached(kind == TxnKind::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN"));
  return Txn(&db);
}

Txn::~Txn() {
  // sqlite may already have rolled back by itself (e.g. after SQLITE_FULL): check first.
  if (open_ && sqlite3_get_autocommit(db_->raw()) == 0) {
    // Rollback cannot meaningfully fail here; if it does, sqlite rolls back on close.
    db_->ExecCached("ROLLBACK").IgnoreError();
  }
}

Status Txn::Commit() {
  if (!open_) return FailedPreconditionError("transaction already finished");
  Status s = db_->ExecCached("COMMIT");
  if (!s.ok()) {
    // A failed COMMIT may leave the transaction open (e.g. SQLITE_BUSY); roll it back so
    // the connection is usable and nothing half-written stays pending.
    if (sqlite3_get_autocommit(db_->raw()) == 0) db_->ExecCached("ROLLBACK").IgnoreError();
  }
  open_ = false;
  return s;
}

}  // namespace kms::policy
