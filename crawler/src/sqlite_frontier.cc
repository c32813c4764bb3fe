#include <sqlite3.h>

#include <memory>
#include <string>

#include "kagami/crawler/frontier.h"

namespace kagami::crawler {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

class SqliteFrontier : public Frontier {
 public:
  static Result<std::unique_ptr<Frontier>> Open(const std::filesystem::path& path) {
    std::unique_ptr<SqliteFrontier> f(new SqliteFrontier());
    f->path_ = path.string();
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(f->path_.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    f->db_.reset(raw);
    if (rc != SQLITE_OK) return f->Error(rc, "open");
    sqlite3_busy_timeout(raw, 10000);
    KAGAMI_RETURN_IF_ERROR(f->Exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS urls(id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE,"
        " authority TEXT NOT NULL, depth INTEGER, redirects INTEGER, priority INTEGER,"
        " kind INTEGER, referrer TEXT, state INTEGER NOT NULL DEFAULT 0, note TEXT);"
        "CREATE INDEX IF NOT EXISTS urls_queue ON urls(state, authority, priority DESC, id);"
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
        "UPDATE urls SET state=0 WHERE state=1;"));
    return std::unique_ptr<Frontier>(std::move(f));
  }

  Result<bool> BeginRun(bool resume) override {
    KAGAMI_ASSIGN_OR_RETURN(std::string state, GetMeta("run_state"));
    if (resume && state == "running") return true;
    KAGAMI_RETURN_IF_ERROR(Exec("DELETE FROM urls; DELETE FROM meta;"));
    KAGAMI_RETURN_IF_ERROR(SetMeta("run_state", "running"));
    return false;
  }

  Status FinishRun() override { return SetMeta("run_state", "finished"); }

  Result<int> Add(const std::vector<FrontierEntry>& entries) override {
    if (entries.empty()) return 0;
    KAGAMI_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    KAGAMI_ASSIGN_OR_RETURN(
        sqlite3_stmt * stmt,
        Cached(insert_,
               "INSERT OR IGNORE INTO urls(url, authority, depth, redirects, priority, kind,"
               " referrer, state) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)"));
    int added = 0;
    for (const FrontierEntry& e : entries) {
      sqlite3_bind_text(stmt, 1, e.url.data(), static_cast<int>(e.url.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt, 2, e.authority.data(), static_cast<int>(e.authority.size()),
                        SQLITE_TRANSIENT);
      sqlite3_bind_int(stmt, 3, e.depth);
      sqlite3_bind_int(stmt, 4, e.redirects);
      sqlite3_bind_int(stmt, 5, e.priority);
      sqlite3_bind_int(stmt, 6, static_cast<int>(e.kind));
      sqlite3_bind_text(stmt, 7, e.referrer.data(), static_cast<int>(e.referrer.size()),
                        SQLITE_TRANSIENT);
      int rc = sqlite3_step(stmt);
      sqlite3_reset(stmt);
      if (rc != SQLITE_DONE) {
        static_cast<void>(Exec("ROLLBACK"));  // the step's error is the one reported
        return Error(rc, "adding URLs");
      }
      added += sqlite3_changes(db_.get());
    }
    KAGAMI_RETURN_IF_ERROR(Exec("COMMIT"));
    return added;
  }

  Result<std::vector<std::string>> ReadyAuthorities() override {
    KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt,
                            Cached(ready_, "SELECT DISTINCT authority FROM urls WHERE state=0"));
    std::vector<std::string> out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) out.push_back(Text(stmt, 0));
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return Error(rc, "listing hosts");
    return out;
  }

  Result<std::vector<FrontierEntry>> Claim(const std::string& authority, int n) override {
    KAGAMI_ASSIGN_OR_RETURN(
        sqlite3_stmt * stmt,
        Cached(claim_,
               "SELECT id, url, authority, depth, redirects, priority, kind, referrer FROM urls"
               " WHERE state=0 AND authority=?1 ORDER BY priority DESC, id LIMIT ?2"));
    sqlite3_bind_text(stmt, 1, authority.data(), static_cast<int>(authority.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, n);
    std::vector<FrontierEntry> out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      FrontierEntry e;
      e.id = sqlite3_column_int64(stmt, 0);
      e.url = Text(stmt, 1);
      e.authority = Text(stmt, 2);
      e.depth = sqlite3_column_int(stmt, 3);
      e.redirects = sqlite3_column_int(stmt, 4);
      e.priority = sqlite3_column_int(stmt, 5);
      e.kind = static_cast<LinkKind>(sqlite3_column_int(stmt, 6));
      e.referrer = Text(stmt, 7);
      out.push_back(std::move(e));
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return Error(rc, "claiming URLs");
    for (const FrontierEntry& e : out) KAGAMI_RETURN_IF_ERROR(SetState(e.id, 1, ""));
    return out;
  }

  Status Release(int64_t id) override { return SetState(id, 0, ""); }

  Status ReleaseAll() override { return Exec("UPDATE urls SET state=0 WHERE state=1;"); }

  Status Complete(int64_t id, FetchOutcome outcome, const std::string& note) override {
    return SetState(id, static_cast<int>(outcome), note);
  }

  Result<FrontierCounts> Counts() override {
    KAGAMI_ASSIGN_OR_RETURN(
        sqlite3_stmt * stmt,
        Cached(counts_,
               "SELECT SUM(state IN (0,1)), SUM(state=2 AND kind=0), SUM(state=2 AND kind<>0),"
               " SUM(state=3), SUM(state=4) FROM urls"));
    FrontierCounts c;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      c.queued = sqlite3_column_int64(stmt, 0);
      c.done_pages = sqlite3_column_int64(stmt, 1);
      c.done_media = sqlite3_column_int64(stmt, 2);
      c.failed = sqlite3_column_int64(stmt, 3);
      c.refused = sqlite3_column_int64(stmt, 4);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW) return Error(rc, "counting");
    return c;
  }

  Result<std::string> GetMeta(const std::string& key) override {
    KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt,
                            Cached(get_meta_, "SELECT value FROM meta WHERE key=?1"));
    sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    std::string value = rc == SQLITE_ROW ? Text(stmt, 0) : std::string();
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(rc, "reading state");
    return value;
  }

  Status SetMeta(const std::string& key, const std::string& value) override {
    KAGAMI_ASSIGN_OR_RETURN(
        sqlite3_stmt * stmt,
        Cached(set_meta_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)"));
    sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return Error(rc, "writing state");
    return Status::Ok();
  }

 private:
  Status Error(int rc, const std::string& what) {
    std::string msg = "frontier " + path_ + ": " + what + ": " +
                      (db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc));
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return Status::Corrupt(msg);
    if (rc == SQLITE_FULL) return Status::ResourceExhausted(msg);
    return Status::IoError(msg);
  }

  Status Exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
    if (err) sqlite3_free(err);
    if (rc != SQLITE_OK) return Error(rc, sql);
    return Status::Ok();
  }

  Result<sqlite3_stmt*> Cached(Stmt& slot, const char* sql) {
    if (!slot) {
      sqlite3_stmt* raw = nullptr;
      int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
      if (rc != SQLITE_OK) return Error(rc, "prepare");
      slot.reset(raw);
    }
    sqlite3_clear_bindings(slot.get());
    return slot.get();
  }

  Status SetState(int64_t id, int state, const std::string& note) {
    KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt,
                            Cached(set_state_, "UPDATE urls SET state=?1, note=?2 WHERE id=?3"));
    sqlite3_bind_int(stmt, 1, state);
    sqlite3_bind_text(stmt, 2, note.data(), static_cast<int>(note.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, id);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return Error(rc, "updating URL state");
    return Status::Ok();
  }

  static std::string Text(sqlite3_stmt* stmt, int col) {
    const unsigned char* t = sqlite3_column_text(stmt, col);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  }

  std::string path_;
  std::unique_ptr<sqlite3, DbCloser> db_;
  Stmt insert_, ready_, claim_, counts_, get_meta_, set_meta_, set_state_;
};

}  // namespace

Result<std::unique_ptr<Frontier>> OpenSqliteFrontier(const std::filesystem::path& path) {
  return SqliteFrontier::Open(path);
}

}  // namespace kagami::crawler
