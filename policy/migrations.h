// Schema migrations (architecture.md §5): policy/migrations/NNNN_name.sql, embedded into the
// binary at build time (cmake/embed_migrations.cmake), applied at start in one transaction.
// PRAGMA user_version holds the applied version; schema_migrations lists applied names.
#pragma once

#include <span>
#include <string_view>

#include "policy/sqlite_db.h"
#include "src/base/result.h"

namespace kms::policy {

struct Migration {
  int version;       // 1, 2, 3... without gaps
  const char* name;  // "0001_policy"
  const char* sql;   // NUL-terminated SQL text (may hold several statements)
};

// EmbeddedMigrations: the migrations compiled into this binary, in version order.
std::span<const Migration> EmbeddedMigrations();

// Migrate: applies every pending migration in one BEGIN IMMEDIATE transaction and returns
// the resulting schema version. Fails with kFailedPrecondition (and changes nothing) if the
// database is newer than the newest migration given, or if an applied migration's name
// differs from ours (a different schema lineage). Safe to call concurrently from several
// processes: the transaction serializes them.
Result<int> Migrate(Db& db, std::span<const Migration> migrations = EmbeddedMigrations());

// SchemaVersion: PRAGMA user_version of an open database.
Result<int> SchemaVersion(Db& db);

}  // namespace kms::policy
