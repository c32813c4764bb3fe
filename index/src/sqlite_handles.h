#pragma once

// RAII handles and small helpers over the SQLite C API, private to
// kagami_index. All SQLite result codes become a Status in SqliteStatus().

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kagami/base/status.h"

namespace kagami::index::internal {

struct SqliteDbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteDbCloser>;

struct SqliteStmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqliteStmt = std::unique_ptr<sqlite3_stmt, SqliteStmtFinalizer>;

// The single place where SQLite result codes become a Status. `what` names the
// operation and the database ("catalog /d/catalog.sqlite: adding asset"); the
// message ends with sqlite3_errmsg (or sqlite3_errstr when `db` is null).
// SQLITE_CORRUPT/NOTADB -> kCorrupt, SQLITE_FULL/NOMEM/TOOBIG -> kResourceExhausted,
// SQLITE_CANTOPEN/IOERR/READONLY/PERM/BUSY/LOCKED -> kIoError,
// SQLITE_CONSTRAINT/MISMATCH -> kInvalidArgument, SQLITE_INTERRUPT -> kAborted,
// anything else -> kInternal.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

// Runs SQL without results (may hold several statements).
Status Exec(sqlite3* db, const char* sql, std::string_view what);

Result<SqliteStmt> Prepare(sqlite3* db, std::string_view sql, std::string_view what);

// A blob argument for Bind(); the bytes are copied by SQLite (SQLITE_TRANSIENT).
struct BlobArg {
  const void* data = nullptr;
  size_t size = 0;
};

Status BindOne(sqlite3_stmt* stmt, int index, std::string_view value);
Status BindOne(sqlite3_stmt* stmt, int index, int64_t value);
Status BindOne(sqlite3_stmt* stmt, int index, int value);
Status BindOne(sqlite3_stmt* stmt, int index, double value);
Status BindOne(sqlite3_stmt* stmt, int index, BlobArg value);
Status BindOne(sqlite3_stmt* stmt, int index, std::nullptr_t);
// Binds NULL when `value` is empty.
Status BindOne(sqlite3_stmt* stmt, int index, const std::optional<BlobArg>& value);

// Binds parameters ?1, ?2, ... in order.
template <typename... Args>
Status Bind(sqlite3_stmt* stmt, const Args&... args) {
  int index = 0;
  Status status;
  ((status.ok() ? (void)(status = BindOne(stmt, ++index, args)) : (void)0), ...);
  return status;
}

// One sqlite3_step: true for a row, false when done, or the error.
Result<bool> Step(sqlite3_stmt* stmt, std::string_view what);

std::string ColumnText(sqlite3_stmt* stmt, int column);
std::vector<uint8_t> ColumnBlob(sqlite3_stmt* stmt, int column);

// The first column of every row `sql` (no parameters) returns, as text.
Result<std::vector<std::string>> SelectTexts(sqlite3* db, std::string_view sql,
                                             std::string_view what);

// Resets and clears a cached statement when the scope ends, so that it holds
// no read transaction and no stale bindings.
class ScopedReset {
 public:
  explicit ScopedReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ScopedReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE on construction via Begin(); ROLLBACK on destruction unless
// Commit() succeeded. SQLite may already have rolled back after some errors
// (SQLITE_FULL, SQLITE_IOERR, ...); the destructor checks autocommit first.
class ScopedTransaction {
 public:
  static Result<std::unique_ptr<ScopedTransaction>> Begin(sqlite3* db, std::string_view what);
  ~ScopedTransaction();
  ScopedTransaction(const ScopedTransaction&) = delete;
  ScopedTransaction& operator=(const ScopedTransaction&) = delete;

  Status Commit();

 private:
  ScopedTransaction(sqlite3* db, std::string what) : db_(db), what_(std::move(what)) {}
  sqlite3* db_;
  std::string what_;
  bool active_ = true;
};

}  // namespace kagami::index::internal
