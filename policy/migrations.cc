#include "policy/migrations.h"

#include <string>

namespace kms::policy {

Result<int> SchemaVersion(Db& db) {
  KMS_ASSIGN_OR_RETURN(StmtUse s, db.Use("PRAGMA user_version"));
  KMS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return InternalError("user_version returned no row");
  return static_cast<int>(s->ColumnInt(0));
}

Result<int> Migrate(Db& db, std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return InternalError("embedded migrations are not numbered 1..n");
    }
  }
  const int latest = static_cast<int>(migrations.size());

  KMS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db, TxnKind::kImmediate));
  KMS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT"));
  KMS_ASSIGN_OR_RETURN(int current, SchemaVersion(db));
  if (current > latest) {
    return FailedPreconditionError("database schema version " + std::to_string(current) +
                                   " is newer than this binary supports (" +
                                   std::to_string(latest) + ")");
  }
  {
    KMS_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT version, name FROM schema_migrations "
                                            "ORDER BY version"));
    int seen = 0;
    while (true) {
      KMS_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      int64_t v = s.ColumnInt(0);
      ++seen;
      if (v != seen || v > current || s.ColumnText(1) != migrations[static_cast<size_t>(v - 1)].name) {
        return FailedPreconditionError("schema_migrations does not match this binary's "
                                       "migrations at version " + std::to_string(v));
      }
    }
    if (seen != current) {
      return FailedPreconditionError("schema_migrations lists " + std::to_string(seen) +
                                     " migrations but user_version is " +
                                     std::to_string(current));
    }
  }
  for (int v = current + 1; v <= latest; ++v) {
    const Migration& m = migrations[static_cast<size_t>(v - 1)];
    KMS_RETURN_IF_ERROR(db.Exec(m.sql).WithContext(m.name));
    KMS_ASSIGN_OR_RETURN(Stmt ins, db.Prepare("INSERT INTO schema_migrations (version, name, "
                                              "applied_at) VALUES (?1, ?2, unixepoch())"));
    KMS_RETURN_IF_ERROR(ins.BindInt(1, v));
    KMS_RETURN_IF_ERROR(ins.BindText(2, m.name));
    KMS_RETURN_IF_ERROR(ins.Run());
    // PRAGMA takes no bound parameters; v is our own integer, not input.
    const std::string pragma = "PRAGMA user_version=" + std::to_string(v);
    KMS_RETURN_IF_ERROR(db.Exec(pragma.c_str()));
  }
  KMS_RETURN_IF_ERROR(txn.Commit());
  return latest;
}

}  // namespace kms::policy
