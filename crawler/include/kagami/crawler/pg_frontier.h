#pragma once

// The crawl frontier on PostgreSQL, shared by any number of `kagami crawl
// --worker` processes on any number of machines.
//
// Leasing: a worker claims URLs with SELECT ... FOR UPDATE SKIP LOCKED and
// marks them leased to itself until now + lease_s; a heartbeat (its own
// connection and thread) extends the leases of a live worker every lease_s/3.
// A killed worker stops renewing, its leases expire, and any worker claims
// those URLs again. Complete/Release act only on a lease still held, so a
// worker that lost a lease cannot undo the work of the one that took it.
//
// Politeness across workers (table crawl_hosts, one row per authority, shared
// by all jobs): a claim locks the host row (FOR UPDATE) and starts requests
// only while the number of unexpired leases on that host is below
// per_host_connections and next_allowed has passed; it then moves
// next_allowed by the host delay (max(min_delay_s, robots Crawl-delay),
// capped at max_backoff_s; with a delay, one URL per claim). Defer() pushes
// next_allowed for Retry-After and back-off. robots.txt is fetched by one
// worker (a robots lease on the host row) and cached for every worker for
// 24 hours (RFC 9309 2.4); a 5xx/unreachable answer is not cached but counted
// (robots_failures) so the back-off is shared, and the final "disallow" is
// kept only for the back-off cap. A URL whose response arrived (MarkFetched)
// stays leased until Complete but no longer counts as a host connection.
// The seen-set is UNIQUE(job, url).
//
// Budgets: TakeBudget counts each URL once (crawl_urls.budgeted) against the
// run's counters (crawl_runs.pages_started / media_started) in one statement,
// so max_pages / max_media hold for all workers together. ReleaseAll (a clean
// stop) puts every URL leased by this worker back in the queue at once.
//
// Runs: crawl_runs holds one row per job (label, running|finished). BeginRun
// joins the job's running run; with a label (--run) a worker joins or starts
// that run and refuses a finished one (kNotFound "already finished"), so N
// workers given the same label never crawl twice; without a label a finished
// run is replaced by a new one. Counts are over all workers.
//
// Thread-safety: as Frontier (one thread drives it); the heartbeat is internal.

#include <memory>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/crawler/frontier.h"

namespace kagami::crawler {

struct PgFrontierOptions {
  std::string conninfo;    // postgresql://... or key=value
  std::string job;         // job name: the frontier's partition
  std::string run_label;   // "" = join the running run or start one
  std::string worker_id;   // "" = host:pid:random
  double lease_s = 60;     // lease of a claimed URL (renewed while alive)
  double min_delay_s = 0;  // politeness (from the job)
  int per_host_connections = 2;
  double max_backoff_s = 300;
  std::string robots_token;  // the job's robots.txt product token
  // Added in the transaction that starts a run, so a worker joining a run
  // that was just started never sees it empty (the crawler adds them again:
  // no effect, the seen-set ignores them).
  std::vector<FrontierEntry> seeds;
};

// Connects, applies the frontier schema migrations and starts the heartbeat.
Result<std::unique_ptr<Frontier>> OpenPgFrontier(const PgFrontierOptions& options);

// The frontier schema migrations (component "frontier"), for `kagami store`.
Status MigratePgFrontierSchema(const std::string& conninfo);

}  // namespace kagami::crawler
