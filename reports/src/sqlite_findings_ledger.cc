// The embedded findings ledger: data_dir/findings.sqlite (findings_ledger.h).

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include "finding_fold.h"

#include <sqlite3.h>

#include "kagami/reports/findings_ledger.h"

namespace kagami::reports {
namespace internal {
bool IsValidUtcStamp(std::string_view s);
}  // namespace internal

namespace {

constexpr int kApplicationId = 0x4b474c47;  // "KGLG"
constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 60000;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE ledger (
  seq INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('finding', 'review')),
  recorded_at TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL,
  work TEXT,              -- findings: the work id (for filtering; also in body)
  captured_at TEXT,       -- findings: capture time (for filtering; also in body)
  finding INTEGER         -- reviews: the finding reviewed
);
CREATE INDEX ledger_work ON ledger (work, captured_at);
CREATE INDEX ledger_finding ON ledger (finding);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the findings ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the findings ledger is append-only'); END;
)sql";

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

std::string ColumnText(sqlite3_stmt* s, int col) {
  const unsigned char* p = sqlite3_column_text(s, col);
  int n = sqlite3_column_bytes(s, col);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}

class SqliteFindingsLedger : public FindingsLedger {
 public:
  SqliteFindingsLedger(Db db, std::string path, Clock clock)
      : db_(std::move(db)), path_(std::move(path)), clock_(std::move(clock)) {}

  Result<int64_t> Append(const Finding& finding) override {
    if (finding.work.empty()) return Status::InvalidArgument("finding has no work id");
    if (finding.source.empty()) return Status::InvalidArgument("finding has no source");
    if (!internal::IsValidUtcStamp(finding.captured_at)) {
      return Status::InvalidArgument("finding captured_at \"" + finding.captured_at +
                                     "\" is not UTC YYYY-MM-DDTHH:MM:SSZ");
    }
    std::lock_guard<std::mutex> lock(mu_);
    return AppendLocked(EntryKind::kFinding, FindingToJson(finding), finding.work,
                        finding.captured_at, 0);
  }

  Result<int64_t> Review(const ReviewAction& action) override {
    if (action.who.empty()) return Status::InvalidArgument("a review needs the reviewer's name");
    if (action.state == ReviewState::kNew) {
      return Status::InvalidArgument("a review cannot set a finding back to new");
    }
    std::lock_guard<std::mutex> lock(mu_);
    return AppendLocked(EntryKind::kReview, ReviewToJson(action), "", "", action.finding);
  }

  Result<std::vector<FindingRecord>> List(const FindingFilter& filter) override {
    std::string since;
    if (!filter.since.empty()) {
      KAGAMI_ASSIGN_OR_RETURN(since, ParseUtcTime(filter.since));
    }
    std::lock_guard<std::mutex> lock(mu_);
    KAGAMI_ASSIGN_OR_RETURN(
        Stmt stmt,
        Prepare("SELECT seq, kind, recorded_at, prev_hash, body, hash, finding FROM ledger "
                "WHERE (kind = 'finding' AND (?1 = '' OR work = ?1) AND (?2 = '' OR captured_at >= "
                "?2)) "
                "OR kind = 'review' ORDER BY seq"));
    sqlite3_bind_text(stmt.get(), 1, filter.work.data(), filter.work.size(), SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt.get(), 2, since.data(), since.size(), SQLITE_TRANSIENT);
    internal::FindingFold fold(filter, path_ + ": ");
    while (true) {
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), "listing findings"));
      if (!row) break;
      KAGAMI_RETURN_IF_ERROR(fold.Add(ReadEntry(stmt.get())));
    }
    return std::move(fold).Finish();
  }

  Result<std::vector<LedgerEntry>> Entries() override {
    std::lock_guard<std::mutex> lock(mu_);
    KAGAMI_ASSIGN_OR_RETURN(
        Stmt stmt,
        Prepare("SELECT seq, kind, recorded_at, prev_hash, body, hash FROM ledger ORDER BY seq"));
    std::vector<LedgerEntry> out;
    while (true) {
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), "reading the ledger"));
      if (!row) break;
      out.push_back(ReadEntry(stmt.get()));
    }
    return out;
  }

  Result<LedgerHead> Head() override {
    std::lock_guard<std::mutex> lock(mu_);
    return HeadLocked();
  }

 private:
  std::string What(const std::string& op) const { return path_ + ": " + op; }

  Status SqliteError(int rc, const std::string& op) const {
    std::string msg = What(op) + ": " + sqlite3_errmsg(db_.get());
    int primary = rc & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return Status::Corrupt(msg);
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      return Status::Aborted(msg + " (another process holds the ledger; try again)");
    }
    return Status::IoError(msg);
  }

  Result<Stmt> Prepare(const char* sql) const {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
    Stmt stmt(raw);
    if (rc != SQLITE_OK) return SqliteError(rc, "preparing a query");
    return stmt;
  }

  Result<bool> Step(sqlite3_stmt* stmt, const std::string& op) const {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(rc, op);
  }

  Status Exec(const char* sql, const std::string& op) const {
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status::Ok() : SqliteError(rc, op);
  }

  static LedgerEntry ReadEntry(sqlite3_stmt* s) {
    LedgerEntry e;
    e.seq = sqlite3_column_int64(s, 0);
    e.kind = ColumnText(s, 1) == "finding" ? EntryKind::kFinding : EntryKind::kReview;
    e.recorded_at = ColumnText(s, 2);
    e.prev_hash = ColumnText(s, 3);
    e.body = ColumnText(s, 4);
    e.hash = ColumnText(s, 5);
    return e;
  }

  Result<LedgerHead> HeadLocked() const {
    KAGAMI_ASSIGN_OR_RETURN(Stmt stmt,
                            Prepare("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1"));
    KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), "reading the ledger head"));
    LedgerHead head;
    if (row) {
      head.seq = sqlite3_column_int64(stmt.get(), 0);
      head.hash = ColumnText(stmt.get(), 1);
    }
    return head;
  }

  // Rolls back unless committed.
  class Txn {
   public:
    explicit Txn(const SqliteFindingsLedger* owner) : owner_(owner) {}
    ~Txn() {
      if (open_) sqlite3_exec(owner_->db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Status Begin() {
      KAGAMI_RETURN_IF_ERROR(owner_->Exec("BEGIN IMMEDIATE", "starting an append"));
      open_ = true;
      return Status::Ok();
    }
    Status Commit() {
      KAGAMI_RETURN_IF_ERROR(owner_->Exec("COMMIT", "committing an append"));
      open_ = false;
      return Status::Ok();
    }

   private:
    const SqliteFindingsLedger* owner_;
    bool open_ = false;
  };

  Result<int64_t> AppendLocked(EntryKind kind, const std::string& body, const std::string& work,
                               const std::string& captured_at, int64_t finding) {
    Txn txn(this);
    KAGAMI_RETURN_IF_ERROR(txn.Begin());
    KAGAMI_ASSIGN_OR_RETURN(LedgerHead head, HeadLocked());
    if (kind == EntryKind::kReview) {
      KAGAMI_ASSIGN_OR_RETURN(Stmt q, Prepare("SELECT kind FROM ledger WHERE seq = ?1"));
      sqlite3_bind_int64(q.get(), 1, finding);
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(q.get(), "looking up a finding"));
      if (!row || ColumnText(q.get(), 0) != "finding") {
        return Status::NotFound("no finding " + std::to_string(finding) + " in the ledger");
      }
    }
    int64_t seq = head.seq + 1;
    std::string recorded_at = clock_ ? clock_() : UtcNow();
    std::string hash = ComputeEntryHash(seq, kind, recorded_at, head.hash, body);
    KAGAMI_ASSIGN_OR_RETURN(
        Stmt ins,
        Prepare("INSERT INTO ledger (seq, kind, recorded_at, prev_hash, hash, body, "
                "work, captured_at, finding) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
    std::string kind_name(EntryKindName(kind));
    sqlite3_bind_int64(ins.get(), 1, seq);
    sqlite3_bind_text(ins.get(), 2, kind_name.data(), kind_name.size(), SQLITE_TRANSIENT);
    sqlite3_bind_text(ins.get(), 3, recorded_at.data(), recorded_at.size(), SQLITE_TRANSIENT);
    sqlite3_bind_text(ins.get(), 4, head.hash.data(), head.hash.size(), SQLITE_TRANSIENT);
    sqlite3_bind_text(ins.get(), 5, hash.data(), hash.size(), SQLITE_TRANSIENT);
    sqlite3_bind_text(ins.get(), 6, body.data(), body.size(), SQLITE_TRANSIENT);
    if (kind == EntryKind::kFinding) {
      sqlite3_bind_text(ins.get(), 7, work.data(), work.size(), SQLITE_TRANSIENT);
      sqlite3_bind_text(ins.get(), 8, captured_at.data(), captured_at.size(), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_int64(ins.get(), 9, finding);
    }
    KAGAMI_ASSIGN_OR_RETURN(bool unused, Step(ins.get(), "appending to the ledger"));
    (void)unused;
    KAGAMI_RETURN_IF_ERROR(txn.Commit());
    return seq;
  }

  Db db_;
  std::string path_;
  Clock clock_;
  std::mutex mu_;  // one connection, used by one thread at a time
};

}  // namespace

Result<std::unique_ptr<FindingsLedger>> FindingsLedger::Open(const std::filesystem::path& data_dir,
                                                             Clock clock) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Status::IoError("creating " + data_dir.string() + ": " + ec.message());
  std::string path = (data_dir / kFileName).string();
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return Status::IoError(path + ": opening: " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  // `h` stays valid while `ledger` owns the connection.
  sqlite3* h = raw;
  auto ledger = std::make_unique<SqliteFindingsLedger>(std::move(db), path, std::move(clock));
  auto exec = [&](const char* sql, const char* op) -> Status {
    int r = sqlite3_exec(h, sql, nullptr, nullptr, nullptr);
    if (r == SQLITE_OK) return Status::Ok();
    std::string msg = path + ": " + op + ": " + sqlite3_errmsg(h);
    int primary = r & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
      return Status::Corrupt(msg + " (not a Kagami findings ledger?)");
    }
    return Status::IoError(msg);
  };
  auto query_int = [&](const char* sql, const char* op) -> Result<int64_t> {
    sqlite3_stmt* s = nullptr;
    int r = sqlite3_prepare_v2(h, sql, -1, &s, nullptr);
    Stmt stmt(s);
    if (r != SQLITE_OK) return Status::Corrupt(path + ": " + op + ": " + sqlite3_errmsg(h));
    r = sqlite3_step(s);
    if (r != SQLITE_ROW) return Status::Corrupt(path + ": " + op + ": " + sqlite3_errmsg(h));
    return static_cast<int64_t>(sqlite3_column_int64(s, 0));
  };
  // Switching a new file to WAL needs an exclusive lock, and SQLite answers
  // SQLITE_BUSY at once (without its busy handler) while another process opens
  // or creates the same file: retried here up to the busy timeout.
  {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
    auto pause = std::chrono::milliseconds(1);
    int r = SQLITE_OK;
    while (true) {
      r = sqlite3_exec(h, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
      const int primary = r & 0xff;
      if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
    if (r != SQLITE_OK) return Status::IoError(path + ": enabling WAL: " + sqlite3_errmsg(h));
  }
  KAGAMI_RETURN_IF_ERROR(exec("PRAGMA synchronous = FULL", "setting synchronous"));
  KAGAMI_ASSIGN_OR_RETURN(int64_t app_id, query_int("PRAGMA application_id", "reading header"));
  if (app_id != kApplicationId) {
    // New file, or another process is creating it: decide inside a write transaction.
    KAGAMI_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE", "creating the schema"));
    auto created = [&]() -> Status {
      KAGAMI_ASSIGN_OR_RETURN(app_id, query_int("PRAGMA application_id", "reading header"));
      if (app_id == kApplicationId) return Status::Ok();
      KAGAMI_ASSIGN_OR_RETURN(int64_t objects,
                              query_int("SELECT count(*) FROM sqlite_schema", "reading schema"));
      if (app_id != 0 || objects != 0) {
        return Status::Corrupt(path + ": not a Kagami findings ledger");
      }
      KAGAMI_RETURN_IF_ERROR(exec(kSchemaSql, "creating the schema"));
      std::string pragmas = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                            "; PRAGMA user_version = " + std::to_string(kSchemaVersion);
      return exec(pragmas.c_str(), "creating the schema");
    }();
    if (!created.ok()) {
      sqlite3_exec(h, "ROLLBACK", nullptr, nullptr, nullptr);
      return created;
    }
    KAGAMI_RETURN_IF_ERROR(exec("COMMIT", "creating the schema"));
  }
  KAGAMI_ASSIGN_OR_RETURN(int64_t version, query_int("PRAGMA user_version", "reading version"));
  if (version != kSchemaVersion) {
    return Status::Unsupported(path + ": findings ledger schema version " +
                               std::to_string(version) + " (this Kagami reads " +
                               std::to_string(kSchemaVersion) + ")");
  }
  return std::unique_ptr<FindingsLedger>(std::move(ledger));
}

}  // namespace kagami::reports
