#include "sqlite_handles.h"

#include <limits>

namespace kagami::index::internal {

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  StatusCode code = StatusCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = StatusCode::kCorrupt;
      break;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      code = StatusCode::kResourceExhausted;
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
      code = StatusCode::kIoError;
      break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
      code = StatusCode::kInvalidArgument;
      break;
    case SQLITE_INTERRUPT:
    case SQLITE_ABORT:
      code = StatusCode::kAborted;
      break;
    default:
      break;
  }
  return Status(code, std::move(message));
}

Status Exec(sqlite3* db, const char* sql, std::string_view what) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, what);
  return Status::Ok();
}

Result<SqliteStmt> Prepare(sqlite3* db, std::string_view sql, std::string_view what) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  SqliteStmt stmt(raw);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, what);
  return stmt;
}

namespace {

Status BindResult(sqlite3_stmt* stmt, int rc, int index) {
  if (rc == SQLITE_OK) return Status::Ok();
  return SqliteStatus(sqlite3_db_handle(stmt), rc, "binding parameter " + std::to_string(index));
}

}  // namespace

Status BindOne(sqlite3_stmt* stmt, int index, std::string_view value) {
  if (value.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Status::ResourceExhausted("text parameter " + std::to_string(index) + " is too long");
  }
  return BindResult(stmt,
                    sqlite3_bind_text(stmt, index, value.data(), static_cast<int>(value.size()),
                                      SQLITE_TRANSIENT),
                    index);
}

Status BindOne(sqlite3_stmt* stmt, int index, int64_t value) {
  return BindResult(stmt, sqlite3_bind_int64(stmt, index, value), index);
}

Status BindOne(sqlite3_stmt* stmt, int index, int value) {
  return BindResult(stmt, sqlite3_bind_int64(stmt, index, value), index);
}

Status BindOne(sqlite3_stmt* stmt, int index, double value) {
  return BindResult(stmt, sqlite3_bind_double(stmt, index, value), index);
}

Status BindOne(sqlite3_stmt* stmt, int index, BlobArg value) {
  if (value.size > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Status::ResourceExhausted("blob parameter " + std::to_string(index) + " is too large");
  }
  // A zero-length blob is stored as an empty blob, not NULL.
  static const uint8_t kEmpty = 0;
  const void* data = value.size == 0 ? &kEmpty : value.data;
  return BindResult(
      stmt, sqlite3_bind_blob(stmt, index, data, static_cast<int>(value.size), SQLITE_TRANSIENT),
      index);
}

Status BindOne(sqlite3_stmt* stmt, int index, std::nullptr_t) {
  return BindResult(stmt, sqlite3_bind_null(stmt, index), index);
}

Status BindOne(sqlite3_stmt* stmt, int index, const std::optional<BlobArg>& value) {
  return value ? BindOne(stmt, index, *value) : BindOne(stmt, index, nullptr);
}

Result<bool> Step(sqlite3_stmt* stmt, std::string_view what) {
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(sqlite3_db_handle(stmt), rc, what);
}

Result<std::vector<std::string>> SelectTexts(sqlite3* db, std::string_view sql,
                                             std::string_view what) {
  KAGAMI_ASSIGN_OR_RETURN(SqliteStmt stmt, Prepare(db, sql, what));
  std::vector<std::string> out;
  while (true) {
    KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
    if (!row) break;
    out.push_back(ColumnText(stmt.get(), 0));
  }
  return out;
}

std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  if (text == nullptr) return {};
  int size = sqlite3_column_bytes(stmt, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::vector<uint8_t> ColumnBlob(sqlite3_stmt* stmt, int column) {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, column));
  int size = sqlite3_column_bytes(stmt, column);
  if (data == nullptr || size <= 0) return {};
  return std::vector<uint8_t>(data, data + size);
}

Result<std::unique_ptr<ScopedTransaction>> ScopedTransaction::Begin(sqlite3* db,
                                                                    std::string_view what) {
  KAGAMI_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", what));
  return std::unique_ptr<ScopedTransaction>(new ScopedTransaction(db, std::string(what)));
}

ScopedTransaction::~ScopedTransaction() {
  if (active_ && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

Status ScopedTransaction::Commit() {
  assert(active_);
  KAGAMI_RETURN_IF_ERROR(Exec(db_, "COMMIT", what_));
  active_ = false;
  return Status::Ok();
}

}  // namespace kagami::index::internal
