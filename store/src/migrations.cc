#include "kagami/store/migrations.h"

#include <memory>
#include <string>

namespace kagami::store {
namespace {

// Validates the list: versions 1..N in order.
Status CheckList(std::string_view component, std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i + 1)) {
      return Status::Internal(std::string(component) + ": migration list is not numbered 1..N");
    }
  }
  return Status::Ok();
}

Status TooNew(std::string_view component, int version, size_t known) {
  return Status::Unsupported("the " + std::string(component) + " schema is at version " +
                             std::to_string(version) + " but this Kagami knows versions up to " +
                             std::to_string(known) + ": upgrade Kagami on this machine");
}

constexpr std::string_view kPgTable =
    "CREATE TABLE IF NOT EXISTS kagami_schema (component TEXT NOT NULL, version INTEGER NOT NULL,"
    " description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " PRIMARY KEY (component, version))";

constexpr const char* kSqliteTable =
    "CREATE TABLE IF NOT EXISTS kagami_schema (component TEXT NOT NULL, version INTEGER NOT NULL,"
    " description TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ',"
    " 'now')), PRIMARY KEY (component, version))";

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

Status SqliteError(sqlite3* db, std::string_view component, std::string_view what) {
  return Status::IoError(std::string(component) + " schema: " + std::string(what) + ": " +
                         sqlite3_errmsg(db));
}

Status SqliteExec(sqlite3* db, const char* sql, std::string_view component) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(db, component, sql);
}

}  // namespace

Result<int> SchemaVersion(PgConnection& conn, std::string_view component) {
  KAGAMI_ASSIGN_OR_RETURN(PgRows exists,
                          conn.Exec("SELECT to_regclass('kagami_schema') IS NOT NULL"));
  if (!exists.Bool(0, 0)) return 0;
  KAGAMI_ASSIGN_OR_RETURN(
      PgRows r, conn.Exec("SELECT coalesce(max(version), 0) FROM kagami_schema WHERE component=$1",
                          {component}));
  return static_cast<int>(r.Int(0, 0));
}

Result<int> Migrate(PgConnection& conn, std::string_view component,
                    std::span<const Migration> migrations) {
  KAGAMI_RETURN_IF_ERROR(CheckList(component, migrations));
  for (int attempt = 0;; ++attempt) {
    PgTransaction txn(conn);
    KAGAMI_RETURN_IF_ERROR(txn.Begin());
    // One lock for every component: CREATE TABLE IF NOT EXISTS races otherwise.
    KAGAMI_RETURN_IF_ERROR(
        conn.Exec("SELECT pg_advisory_xact_lock(hashtext('kagami_schema'))").status());
    KAGAMI_RETURN_IF_ERROR(conn.Exec(kPgTable).status());
    KAGAMI_ASSIGN_OR_RETURN(int version, SchemaVersion(conn, component));
    if (version > static_cast<int>(migrations.size()))
      return TooNew(component, version, migrations.size());
    Status st;
    for (const Migration& m : migrations) {
      if (m.version <= version) continue;
      st = conn.ExecScript(m.sql);
      if (!st.ok()) break;
      st = conn.Exec(
                   "INSERT INTO kagami_schema (component, version, description) VALUES "
                   "($1, $2, $3)",
                   {component, m.version, m.description})
               .status();
      if (!st.ok()) break;
      version = m.version;
    }
    if (st.ok()) st = txn.Commit();
    if (st.ok()) return version;
    if (!IsRetryable(st) || attempt >= 3) {
      return st.WithContext("migrating the " + std::string(component) + " schema");
    }
  }
}

Result<int> SchemaVersion(sqlite3* db, std::string_view component) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT coalesce(max(version), 0) FROM kagami_schema WHERE component=?1",
                         -1, &raw, nullptr) != SQLITE_OK) {
    // No table yet.
    return 0;
  }
  Stmt stmt(raw);
  sqlite3_bind_text(raw, 1, component.data(), static_cast<int>(component.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(raw) != SQLITE_ROW) return SqliteError(db, component, "reading the version");
  return sqlite3_column_int(raw, 0);
}

Result<int> Migrate(sqlite3* db, std::string_view component,
                    std::span<const Migration> migrations) {
  KAGAMI_RETURN_IF_ERROR(CheckList(component, migrations));
  KAGAMI_RETURN_IF_ERROR(SqliteExec(db, "BEGIN IMMEDIATE", component));
  auto body = [&]() -> Result<int> {
    KAGAMI_RETURN_IF_ERROR(SqliteExec(db, kSqliteTable, component));
    KAGAMI_ASSIGN_OR_RETURN(int version, SchemaVersion(db, component));
    if (version > static_cast<int>(migrations.size()))
      return TooNew(component, version, migrations.size());
    for (const Migration& m : migrations) {
      if (m.version <= version) continue;
      std::string sql(m.sql);
      KAGAMI_RETURN_IF_ERROR(SqliteExec(db, sql.c_str(), component));
      sqlite3_stmt* raw = nullptr;
      if (sqlite3_prepare_v2(db,
                             "INSERT INTO kagami_schema (component, version, description) "
                             "VALUES (?1, ?2, ?3)",
                             -1, &raw, nullptr) != SQLITE_OK)
        return SqliteError(db, component, "recording a migration");
      Stmt stmt(raw);
      sqlite3_bind_text(raw, 1, component.data(), static_cast<int>(component.size()),
                        SQLITE_TRANSIENT);
      sqlite3_bind_int(raw, 2, m.version);
      sqlite3_bind_text(raw, 3, m.description.data(), static_cast<int>(m.description.size()),
                        SQLITE_TRANSIENT);
      if (sqlite3_step(raw) != SQLITE_DONE)
        return SqliteError(db, component, "recording a migration");
      version = m.version;
    }
    return version;
  };
  Result<int> r = body();
  if (!r.ok()) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return r.status();
  }
  KAGAMI_RETURN_IF_ERROR(SqliteExec(db, "COMMIT", component));
  return r;
}

}  // namespace kagami::store
