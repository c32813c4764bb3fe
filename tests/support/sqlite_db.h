#pragma once

// SQLite handles for tests that read or damage a store's files directly,
// closed by their owners whatever the test's outcome.

#include <sqlite3.h>

#include <filesystem>
#include <memory>

namespace kagami::testing {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct SqliteFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStmt = std::unique_ptr<sqlite3_stmt, SqliteFinalizer>;

// The database at `path`, or null when it cannot be opened (the handle that
// SQLite allocates even then is closed).
inline SqliteDb OpenSqlite(const std::filesystem::path& path,
                           int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
  sqlite3* raw = nullptr;
  SqliteDb db;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db.reset(raw);
  if (rc != SQLITE_OK) db.reset();
  return db;
}

// `sql` prepared on `db`, or null on an error.
inline SqliteStmt PrepareSqlite(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  return SqliteStmt(raw);
}

}  // namespace kagami::testing
