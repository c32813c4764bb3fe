#include "kagami/reports/pg_findings_ledger.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include "finding_fold.h"

#include "kagami/store/migrations.h"
#include "kagami/store/pg_connection.h"

namespace kagami::reports {
namespace internal {
bool IsValidUtcStamp(std::string_view s);
}  // namespace internal

namespace {

using store::PgConnection;
using store::PgRows;
using store::PgTransaction;

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE ledger (
  seq BIGINT PRIMARY KEY CHECK (seq > 0),
  kind TEXT NOT NULL CHECK (kind IN ('finding', 'review')),
  recorded_at TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL,
  work TEXT,          -- findings: the work id (for filtering; also in body)
  captured_at TEXT,   -- findings: capture time (for filtering; also in body)
  finding BIGINT,     -- reviews: the finding reviewed
  finding_key TEXT    -- crawl findings: SHA-256 of work|media_url|content_sha256
);
CREATE INDEX ledger_work ON ledger (work, captured_at);
CREATE INDEX ledger_finding ON ledger (finding);
CREATE INDEX ledger_key ON ledger (finding_key);
CREATE FUNCTION kagami_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the findings ledger is append-only';
END $$;
CREATE TRIGGER ledger_no_change BEFORE UPDATE OR DELETE ON ledger
  FOR EACH ROW EXECUTE FUNCTION kagami_ledger_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
  FOR EACH STATEMENT EXECUTE FUNCTION kagami_ledger_append_only();
)sql";

constexpr store::Migration kMigrations[] = {
    {1, "findings ledger: hash-chained entries, append-only", kSchemaV1},
};

// The advisory lock key that serialises appends (any constant shared by all writers).
constexpr int64_t kHeadLock = 0x4b474c47;  // "KGLG"

constexpr const char* kEntryColumns = "seq, kind, recorded_at, prev_hash, body, hash";

LedgerEntry ReadEntry(const PgRows& r, int i) {
  LedgerEntry e;
  e.seq = r.Int(i, 0);
  e.kind = r.Text(i, 1) == "finding" ? EntryKind::kFinding : EntryKind::kReview;
  e.recorded_at = r.Text(i, 2);
  e.prev_hash = r.Text(i, 3);
  e.body = r.Text(i, 4);
  e.hash = r.Text(i, 5);
  return e;
}

class PgLedger : public PgFindingsLedger {
 public:
  PgLedger(std::unique_ptr<PgConnection> db, Clock clock)
      : db_(std::move(db)), clock_(std::move(clock)) {}

  Result<int64_t> Append(const Finding& finding) override {
    KAGAMI_RETURN_IF_ERROR(CheckFinding(finding));
    std::lock_guard<std::mutex> lock(mu_);
    KAGAMI_ASSIGN_OR_RETURN(std::optional<int64_t> seq,
                            AppendLocked(EntryKind::kFinding, FindingToJson(finding), finding.work,
                                         finding.captured_at, 0, ""));
    return *seq;
  }

  Result<std::optional<int64_t>> AppendUnique(const Finding& finding,
                                              const std::string& key) override {
    KAGAMI_RETURN_IF_ERROR(CheckFinding(finding));
    std::lock_guard<std::mutex> lock(mu_);
    // Stored as its SHA-256: the key holds URL bytes a site chose.
    return AppendLocked(EntryKind::kFinding, FindingToJson(finding), finding.work,
                        finding.captured_at, 0, Sha256Hex(key));
  }

  Result<int64_t> Review(const ReviewAction& action) override {
    if (action.who.empty()) return Status::InvalidArgument("a review needs the reviewer's name");
    if (action.state == ReviewState::kNew) {
      return Status::InvalidArgument("a review cannot set a finding back to new");
    }
    std::lock_guard<std::mutex> lock(mu_);
    KAGAMI_ASSIGN_OR_RETURN(
        std::optional<int64_t> seq,
        AppendLocked(EntryKind::kReview, ReviewToJson(action), "", "", action.finding, ""));
    return *seq;
  }

  Result<int64_t> Import(const std::vector<LedgerEntry>& entries) override {
    ChainCheck check = VerifyEntries(entries);
    if (!check.ok) return Status::Corrupt("source ledger does not verify: " + check.problem);
    std::lock_guard<std::mutex> lock(mu_);
    PgTransaction txn(*db_);
    KAGAMI_RETURN_IF_ERROR(txn.Begin());
    KAGAMI_RETURN_IF_ERROR(db_->Exec("SELECT pg_advisory_xact_lock($1)", {kHeadLock}).status());
    KAGAMI_ASSIGN_OR_RETURN(PgRows have, db_->Exec("SELECT seq, hash FROM ledger ORDER BY seq"));
    if (have.size() > static_cast<int>(entries.size())) {
      return Status::InvalidArgument("the PostgreSQL ledger holds " + std::to_string(have.size()) +
                                     " entries, more than the " + std::to_string(entries.size()) +
                                     " being copied");
    }
    for (int i = 0; i < have.size(); ++i) {
      if (have.Int(i, 0) != entries[i].seq || have.Text(i, 1) != entries[i].hash) {
        return Status::InvalidArgument("the PostgreSQL ledger differs from the source at entry " +
                                       std::to_string(i + 1) + ": it is not a copy of it");
      }
    }
    int64_t added = 0;
    for (size_t i = have.size(); i < entries.size(); ++i) {
      const LedgerEntry& e = entries[i];
      std::optional<std::string> work, captured, key;
      std::optional<int64_t> finding;
      if (e.kind == EntryKind::kFinding) {
        KAGAMI_ASSIGN_OR_RETURN(Finding f, FindingFromJson(e.body));
        work = f.work;
        captured = f.captured_at;
        if (f.source_is_url) key = Sha256Hex(f.work + "|" + f.media_url + "|" + f.content_sha256);
      } else {
        KAGAMI_ASSIGN_OR_RETURN(ReviewAction r, ReviewFromJson(e.body));
        finding = r.finding;
      }
      KAGAMI_RETURN_IF_ERROR(
          db_->Exec("INSERT INTO ledger (seq, kind, recorded_at, prev_hash, hash, body, work, "
                    "captured_at, finding, finding_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                    "$9, $10)",
                    {e.seq, std::string(EntryKindName(e.kind)), e.recorded_at, e.prev_hash, e.hash,
                     e.body, work ? store::PgParam(*work) : store::PgParam(std::nullopt),
                     captured ? store::PgParam(*captured) : store::PgParam(std::nullopt),
                     finding ? store::PgParam(*finding) : store::PgParam(std::nullopt),
                     key ? store::PgParam(*key) : store::PgParam(std::nullopt)})
              .status()
              .WithContext("copying ledger entry " + std::to_string(e.seq)));
      ++added;
    }
    KAGAMI_RETURN_IF_ERROR(txn.Commit());
    return added;
  }

  Result<std::vector<FindingRecord>> List(const FindingFilter& filter) override {
    std::string since;
    if (!filter.since.empty()) {
      KAGAMI_ASSIGN_OR_RETURN(since, ParseUtcTime(filter.since));
    }
    std::lock_guard<std::mutex> lock(mu_);
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows rows,
        db_->Exec(std::string("SELECT ") + kEntryColumns +
                      " FROM ledger WHERE (kind = 'finding' AND ($1 = '' OR work = $1) AND "
                      "($2 = '' OR captured_at >= $2)) OR kind = 'review' ORDER BY seq",
                  {filter.work, since}));
    internal::FindingFold fold(filter, "");
    for (int i = 0; i < rows.size(); ++i) KAGAMI_RETURN_IF_ERROR(fold.Add(ReadEntry(rows, i)));
    return std::move(fold).Finish();
  }

  Result<std::vector<LedgerEntry>> Entries() override {
    std::lock_guard<std::mutex> lock(mu_);
    KAGAMI_ASSIGN_OR_RETURN(PgRows rows, db_->Exec(std::string("SELECT ") + kEntryColumns +
                                                   " FROM ledger ORDER BY seq"));
    std::vector<LedgerEntry> out;
    out.reserve(rows.size());
    for (int i = 0; i < rows.size(); ++i) out.push_back(ReadEntry(rows, i));
    return out;
  }

  Result<LedgerHead> Head() override {
    std::lock_guard<std::mutex> lock(mu_);
    return HeadLocked();
  }

 private:
  static Status CheckFinding(const Finding& finding) {
    if (finding.work.empty()) return Status::InvalidArgument("finding has no work id");
    if (finding.source.empty()) return Status::InvalidArgument("finding has no source");
    if (!internal::IsValidUtcStamp(finding.captured_at)) {
      return Status::InvalidArgument("finding captured_at \"" + finding.captured_at +
                                     "\" is not UTC YYYY-MM-DDTHH:MM:SSZ");
    }
    return Status::Ok();
  }

  Result<LedgerHead> HeadLocked() {
    KAGAMI_ASSIGN_OR_RETURN(PgRows r,
                            db_->Exec("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1"));
    LedgerHead head;
    if (!r.empty()) {
      head.seq = r.Int(0, 0);
      head.hash = r.Text(0, 1);
    }
    return head;
  }

  // nullopt when `key` is set and already recorded.
  Result<std::optional<int64_t>> AppendLocked(EntryKind kind, const std::string& body,
                                              const std::string& work,
                                              const std::string& captured_at, int64_t finding,
                                              const std::string& key) {
    PgTransaction txn(*db_);
    KAGAMI_RETURN_IF_ERROR(txn.Begin());
    KAGAMI_RETURN_IF_ERROR(db_->Exec("SELECT pg_advisory_xact_lock($1)", {kHeadLock}).status());
    if (!key.empty()) {
      KAGAMI_ASSIGN_OR_RETURN(PgRows dup,
                              db_->Exec("SELECT 1 FROM ledger WHERE finding_key=$1", {key}));
      if (!dup.empty()) return std::optional<int64_t>();
    }
    if (kind == EntryKind::kReview) {
      KAGAMI_ASSIGN_OR_RETURN(PgRows q,
                              db_->Exec("SELECT kind FROM ledger WHERE seq=$1", {finding}));
      if (q.empty() || q.Text(0, 0) != "finding") {
        return Status::NotFound("no finding " + std::to_string(finding) + " in the ledger");
      }
    }
    KAGAMI_ASSIGN_OR_RETURN(LedgerHead head, HeadLocked());
    int64_t seq = head.seq + 1;
    std::string recorded_at = clock_ ? clock_() : UtcNow();
    std::string hash = ComputeEntryHash(seq, kind, recorded_at, head.hash, body);
    std::string kind_name(EntryKindName(kind));
    bool is_finding = kind == EntryKind::kFinding;
    KAGAMI_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO ledger (seq, kind, recorded_at, prev_hash, hash, body, work, "
                  "captured_at, finding, finding_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                  "$10)",
                  {seq, kind_name, recorded_at, head.hash, hash, body,
                   is_finding ? store::PgParam(work) : store::PgParam(std::nullopt),
                   is_finding ? store::PgParam(captured_at) : store::PgParam(std::nullopt),
                   is_finding ? store::PgParam(std::nullopt) : store::PgParam(finding),
                   key.empty() ? store::PgParam(std::nullopt) : store::PgParam(key)})
            .status()
            .WithContext("appending to the findings ledger"));
    KAGAMI_RETURN_IF_ERROR(txn.Commit());
    return std::optional<int64_t>(seq);
  }

  std::unique_ptr<PgConnection> db_;
  Clock clock_;
  std::mutex mu_;
};

}  // namespace

Result<std::unique_ptr<PgFindingsLedger>> PgFindingsLedger::Open(const std::string& conninfo,
                                                                 Clock clock) {
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Connect(conninfo));
  KAGAMI_RETURN_IF_ERROR(store::Migrate(*db, "ledger", kMigrations).status());
  return std::unique_ptr<PgFindingsLedger>(new PgLedger(std::move(db), std::move(clock)));
}

Result<std::unique_ptr<FindingsLedger>> OpenFindingsLedger(const store::StoreLocation& location,
                                                           FindingsLedger::Clock clock) {
  if (!location.postgres()) return FindingsLedger::Open(location.data_dir, std::move(clock));
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<PgFindingsLedger> ledger,
                          PgFindingsLedger::Open(location.conninfo, std::move(clock)));
  return std::unique_ptr<FindingsLedger>(std::move(ledger));
}

}  // namespace kagami::reports
