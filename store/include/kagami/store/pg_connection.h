#pragma once

// A PostgreSQL connection through libpq (https://www.postgresql.org/docs/15/libpq.html):
// RAII handles, parameterised queries only, libpq errors mapped to Status
// with the SQLSTATE and an actionable message.

#include <libpq-fe.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kagami/base/status.h"

namespace kagami::store {

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnCloser>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultClearer>;

// One query parameter, sent as text (NULL when empty-optional).
struct PgParam {
  std::optional<std::string> value;
  PgParam(std::nullopt_t) {}  // NOLINT: implicit by design
  PgParam(std::string v) : value(std::move(v)) {}
  PgParam(std::string_view v) : value(std::string(v)) {}
  PgParam(const char* v) : value(std::string(v)) {}
  PgParam(int64_t v) : value(std::to_string(v)) {}
  PgParam(int v) : value(std::to_string(v)) {}
  PgParam(double v);
  PgParam(bool v) : value(v ? "true" : "false") {}
};

// The rows of a successful query. Values are text; NULL reads as "".
class PgRows {
 public:
  explicit PgRows(PgResultPtr r) : r_(std::move(r)) {}
  int size() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool empty() const { return size() == 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  double Double(int row, int col) const;
  bool Bool(int row, int col) const;  // 't'
  int64_t affected() const;           // rows changed by INSERT/UPDATE/DELETE

 private:
  PgResultPtr r_;
};

// Not thread-safe: one thread at a time per connection (libpq's rule).
class PgConnection {
 public:
  // `conninfo`: a postgresql:// URI or a libpq key=value string. The session
  // is set to UTC and client encoding UTF8. kIoError names the server
  // (password redacted) and what to check when the connection fails.
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo);

  // Runs one statement with $1.. parameters.
  Result<PgRows> Exec(std::string_view sql, std::initializer_list<PgParam> params = {});
  Result<PgRows> Exec(std::string_view sql, const std::vector<PgParam>& params);
  // Runs a parameterless script of several statements (schema migrations).
  Status ExecScript(std::string_view sql);

  // conninfo with any password removed, for messages.
  const std::string& display() const { return display_; }
  PGconn* raw() const { return conn_.get(); }

 private:
  PgConnection(PgConnPtr conn, std::string display)
      : conn_(std::move(conn)), display_(std::move(display)) {}
  Status ResultError(const PGresult* r, std::string_view sql) const;

  PgConnPtr conn_;
  std::string display_;
};

// BEGIN on Begin(); ROLLBACK on destruction unless Commit() succeeded.
class PgTransaction {
 public:
  explicit PgTransaction(PgConnection& conn) : conn_(conn) {}
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  Status Begin(std::string_view mode = "BEGIN");
  Status Commit();

 private:
  PgConnection& conn_;
  bool open_ = false;
};

// True when `status` came from a serialisation failure or deadlock (SQLSTATE
// 40001/40P01): the transaction may be retried.
bool IsRetryable(const Status& status);

// "postgresql://user:secret@host/db" -> "postgresql://user@host/db"; key=value
// strings lose their password=... pair.
std::string RedactConninfo(std::string_view conninfo);

}  // namespace kagami::store
