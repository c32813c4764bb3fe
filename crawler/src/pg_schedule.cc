#include "kagami/crawler/pg_schedule.h"

#include "kagami/crawler/pg_frontier.h"
#include "kagami/crawler/warc_writer.h"
#include "kagami/store/pg_connection.h"

namespace kagami::crawler {
namespace {

using store::PgConnection;
using store::PgRows;
using store::PgTransaction;

constexpr const char* kLockKey = "hashtext('kagami-schedule:' || $1)";

}  // namespace

PgSchedule::PgSchedule(std::unique_ptr<PgConnection> db, std::string id)
    : db_(std::move(db)), id_(std::move(id)) {}

PgSchedule::~PgSchedule() = default;

Result<std::unique_ptr<PgSchedule>> PgSchedule::Open(const std::string& conninfo,
                                                     const std::string& daemon_id) {
  KAGAMI_RETURN_IF_ERROR(MigratePgFrontierSchema(conninfo));
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Connect(conninfo));
  return std::unique_ptr<PgSchedule>(new PgSchedule(std::move(db), daemon_id));
}

Result<PgSchedule::Claim> PgSchedule::TryClaim(const std::string& job, std::time_t first_next) {
  Claim out;
  KAGAMI_RETURN_IF_ERROR(db_->Exec("INSERT INTO crawl_schedule (job, next_run) VALUES ($1, "
                                   "to_timestamp($2::float8)) ON CONFLICT DO NOTHING",
                                   {job, static_cast<int64_t>(first_next)})
                             .status());
  PgTransaction txn(*db_);
  KAGAMI_RETURN_IF_ERROR(txn.Begin());
  KAGAMI_ASSIGN_OR_RETURN(
      PgRows row,
      db_->Exec("SELECT extract(epoch FROM next_run)::bigint, next_run <= now(), running_by IS "
                "NOT NULL, coalesce(run_label, '') FROM crawl_schedule WHERE job=$1 FOR UPDATE "
                "SKIP LOCKED",
                {job}));
  if (row.empty()) return out;  // another daemon is deciding right now
  out.next_run = static_cast<std::time_t>(row.Int(0, 0));
  bool due = row.Bool(0, 1), interrupted = row.Bool(0, 2);
  if (!due && !interrupted) return out;
  std::string sql = std::string("SELECT pg_try_advisory_lock(") + kLockKey + ")";
  KAGAMI_ASSIGN_OR_RETURN(PgRows lock, db_->Exec(sql, {job}));
  if (!lock.Bool(0, 0)) {
    out.next_run = 0;  // running on a live daemon
    return out;
  }
  out.resumed = interrupted && !row.Text(0, 3).empty();
  out.run_label = out.resumed ? row.Text(0, 3) : "sched-" + WarcDate(row.Int(0, 0) * 1000);
  Status updated = db_->Exec(
                          "UPDATE crawl_schedule SET running_by=$2, run_label=$3, last_start=now() "
                          "WHERE job=$1",
                          {job, id_, out.run_label})
                       .status();
  if (updated.ok()) updated = txn.Commit();
  if (!updated.ok()) {
    std::string unlock = std::string("SELECT pg_advisory_unlock(") + kLockKey + ")";
    (void)db_->Exec(unlock, {job});
    return updated;
  }
  out.claimed = true;
  return out;
}

Status PgSchedule::Finish(const std::string& job, const std::string& status, int64_t findings,
                          bool interrupted, std::time_t next_run) {
  Status s = db_->Exec(
                    "UPDATE crawl_schedule SET last_end=now(), last_status=$2, last_findings=$3, "
                    "running_by=CASE WHEN $4 THEN running_by END, run_label=CASE WHEN $4 THEN "
                    "run_label END, next_run=CASE WHEN $4 THEN next_run ELSE "
                    "to_timestamp($5::float8) END WHERE job=$1",
                    {job, status, findings, interrupted, static_cast<int64_t>(next_run)})
                 .status();
  std::string unlock = std::string("SELECT pg_advisory_unlock(") + kLockKey + ")";
  Status u = db_->Exec(unlock, {job}).status();
  return s.ok() ? u : s;
}

}  // namespace kagami::crawler
