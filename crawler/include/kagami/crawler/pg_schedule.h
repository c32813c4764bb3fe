#pragma once

// The crawl schedule on PostgreSQL, shared by any number of `kagami schedule
// --store postgresql://...` daemons on any number of machines: each due job is
// run by one daemon (table crawl_schedule, created by the frontier schema).
//
// Claiming: a daemon locks the job's row (SELECT ... FOR UPDATE SKIP LOCKED,
// so daemons never queue on each other) and, when the job is due, takes a
// session advisory lock on the job for the length of the run. The advisory
// lock is the liveness of the run: a daemon that dies loses its session and
// the lock with it, and the next daemon to look resumes the interrupted run
// (same run label, so the PostgreSQL frontier continues it). A run stopped
// cleanly (SIGTERM) stays marked as running and is taken over at once by
// another daemon. Times are UTC seconds.
//
// Thread-safety: none; one daemon thread uses it.

#include <ctime>
#include <memory>
#include <string>

#include "kagami/base/status.h"

namespace kagami::store {
class PgConnection;
}

namespace kagami::crawler {

class PgSchedule {
 public:
  struct Claim {
    bool claimed = false;      // this daemon runs the job now
    bool resumed = false;      // an interrupted run of another (or this) daemon
    std::string run_label;     // the frontier run to start or join
    std::time_t next_run = 0;  // not claimed: when the job is next due (0: ask again soon)
  };

  // Connects and applies the frontier schema migrations (which hold the table).
  static Result<std::unique_ptr<PgSchedule>> Open(const std::string& conninfo,
                                                  const std::string& daemon_id);
  ~PgSchedule();

  // Registers `job` on first sight (next run `first_next`) and claims it when
  // it is due or its run was interrupted and no daemon holds it.
  Result<Claim> TryClaim(const std::string& job, std::time_t first_next);

  // Ends this daemon's run of `job`: `status` ("ok", "stopped" or an error),
  // and unless `interrupted`, the next run time. Releases the claim.
  Status Finish(const std::string& job, const std::string& status, int64_t findings,
                bool interrupted, std::time_t next_run);

 private:
  PgSchedule(std::unique_ptr<store::PgConnection> db, std::string id);
  std::unique_ptr<store::PgConnection> db_;
  std::string id_;
};

}  // namespace kagami::crawler
