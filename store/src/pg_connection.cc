#include "kagami/store/pg_connection.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace kagami::store {
namespace {

constexpr std::string_view kSqlStatePrefix = "SQLSTATE ";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Abbrev(std::string_view sql) {
  std::string s(sql.substr(0, 60));
  for (char& c : s)
    if (c == '\n') c = ' ';
  return sql.size() > 60 ? s + "..." : s;
}

}  // namespace

PgParam::PgParam(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  value = buf;
}

std::string PgRows::Text(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  return v ? std::string(v, PQgetlength(r_.get(), row, col)) : std::string();
}

int64_t PgRows::Int(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  return v ? std::strtoll(v, nullptr, 10) : 0;
}

double PgRows::Double(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  return v ? std::strtod(v, nullptr) : 0;
}

bool PgRows::Bool(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  return v && v[0] == 't';
}

int64_t PgRows::affected() const {
  const char* v = r_ ? PQcmdTuples(r_.get()) : nullptr;
  return v && *v ? std::strtoll(v, nullptr, 10) : 0;
}

std::string RedactConninfo(std::string_view conninfo) {
  std::string s(conninfo);
  if (s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0) {
    size_t start = s.find("://") + 3;
    size_t at = s.find('@', start);
    size_t slash = s.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = s.find(':', start);
      if (colon != std::string::npos && colon < at) s.erase(colon, at - colon);
    }
    size_t pw = s.find("password=");
    if (pw != std::string::npos) {
      size_t end = s.find('&', pw);
      s.replace(pw, end == std::string::npos ? std::string::npos : end - pw, "password=***");
    }
    return s;
  }
  size_t pw = s.find("password");
  while (pw != std::string::npos) {
    size_t eq = s.find('=', pw);
    if (eq == std::string::npos) break;
    size_t v = s.find_first_not_of(' ', eq + 1);
    size_t end = v == std::string::npos ? s.size() : v;
    if (end < s.size() && s[end] == '\'') {
      end = s.find('\'', end + 1);
      end = end == std::string::npos ? s.size() : end + 1;
    } else {
      end = s.find(' ', end);
      if (end == std::string::npos) end = s.size();
    }
    s.replace(pw, end - pw, "password=***");
    pw = s.find("password", pw + 12);
  }
  return s;
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo) {
  std::string display = RedactConninfo(conninfo);
  // libpq parses both URIs and key=value strings with PQconnectdbParams + expand_dbname.
  const char* keys[] = {"dbname",           "client_encoding", "options",
                        "application_name", "connect_timeout", nullptr};
  const char* values[] = {
      conninfo.c_str(), "UTF8", "-c TimeZone=UTC -c client_min_messages=warning",
      "kagami",         "10",   nullptr};
  PgConnPtr conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!conn) return Status::ResourceExhausted("PostgreSQL: out of memory connecting");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Status::IoError("cannot connect to PostgreSQL at " + display + ": " +
                           Trim(PQerrorMessage(conn.get())) +
                           " (is the server running and the database created? check --store or "
                           "$KAGAMI_STORE)");
  }
  // Server NOTICEs ("relation already exists, skipping") are not for users.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(std::move(conn), std::move(display)));
}

Status PgConnection::ResultError(const PGresult* r, std::string_view sql) const {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = r ? Trim(PQresultErrorMessage(r)) : Trim(PQerrorMessage(conn_.get()));
  if (msg.empty()) msg = Trim(PQerrorMessage(conn_.get()));
  std::string code = state ? state : "";
  std::string full = "PostgreSQL " + display_ + ": " + msg +
                     (code.empty() ? "" : " (" + std::string(kSqlStatePrefix) + code + ")") +
                     " in: " + Abbrev(sql);
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    return Status::IoError(full + "; the connection was lost (server restarted?)");
  }
  if (code == "40001" || code == "40P01" || code == "55P03" || code == "57014") {
    return Status::Aborted(full);
  }
  if (code.rfind("53", 0) == 0) return Status::ResourceExhausted(full);
  if (code.rfind("42", 0) == 0) {
    return Status::Internal(full + " (schema out of date? another Kagami version migrated it?)");
  }
  if (code.rfind("22", 0) == 0 || code.rfind("23", 0) == 0) return Status::InvalidArgument(full);
  return Status::IoError(full);
}

Result<PgRows> PgConnection::Exec(std::string_view sql, std::initializer_list<PgParam> params) {
  return Exec(sql, std::vector<PgParam>(params));
}

Result<PgRows> PgConnection::Exec(std::string_view sql, const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p.value ? p.value->c_str() : nullptr);
  std::string text(sql);
  PgResultPtr r(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, /*resultFormat=*/0));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ResultError(r.get(), sql);
  return PgRows(std::move(r));
}

Status PgConnection::ExecScript(std::string_view sql) {
  std::string text(sql);
  PgResultPtr r(PQexec(conn_.get(), text.c_str()));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ResultError(r.get(), sql);
  return Status::Ok();
}

PgTransaction::~PgTransaction() {
  if (open_) (void)conn_.Exec("ROLLBACK");
}

Status PgTransaction::Begin(std::string_view mode) {
  KAGAMI_RETURN_IF_ERROR(conn_.Exec(mode).status());
  open_ = true;
  return Status::Ok();
}

Status PgTransaction::Commit() {
  Result<PgRows> r = conn_.Exec("COMMIT");
  open_ = false;  // a failed COMMIT has rolled back
  return r.status();
}

bool IsRetryable(const Status& status) {
  return status.code() == StatusCode::kAborted &&
         (status.message().find("SQLSTATE 40001") != std::string::npos ||
          status.message().find("SQLSTATE 40P01") != std::string::npos);
}

}  // namespace kagami::store
