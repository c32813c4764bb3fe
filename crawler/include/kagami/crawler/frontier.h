#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/crawler/html_extractor.h"

namespace kagami::crawler {

// One URL known to a crawl.
struct FrontierEntry {
  int64_t id = 0;         // assigned by the frontier
  std::string url;        // canonical (url.h)
  std::string authority;  // "host:port", the politeness key
  int depth = 0;          // link hops from a seed
  int redirects = 0;      // consecutive redirects that led here
  int priority = 0;       // higher first (media > chapter pages > navigation)
  LinkKind kind = LinkKind::kPage;
  std::string referrer;  // page the link was found on ("" for seeds)
};

// Outcome stored when an entry leaves the frontier.
enum class FetchOutcome {
  kDone = 2,     // fetched and processed
  kFailed = 3,   // fetch or processing failed (reason stored)
  kRefused = 4,  // not fetched: robots.txt, address policy, budget, size cap
};

// Counts of a crawl run (persisted with the frontier).
struct FrontierCounts {
  int64_t queued = 0;
  int64_t done_pages = 0;  // completed entries of kind page
  int64_t done_media = 0;  // completed entries of other kinds
  int64_t failed = 0;
  int64_t refused = 0;
};

// The crawl frontier: seen-set (every URL once per run), per-host queues with
// priorities, and the record of what was done. Survives a kill at any point:
// entries are durable once Add() returns; an entry claimed but not completed
// when the process died is queued again on the next Open (nothing lost; an
// exchange may be fetched again only if it was in flight at the kill).
// Implementations: SQLite in the data directory (here); the interface leaves
// room for a shared database. Not thread-safe: one crawler thread drives it.
class Frontier {
 public:
  virtual ~Frontier() = default;

  // Starts a run: `resume` keeps an unfinished previous run (returns true when
  // there was one); otherwise, or when the previous run finished, the frontier
  // is cleared and a new run begins.
  virtual Result<bool> BeginRun(bool resume) = 0;
  virtual Status FinishRun() = 0;  // marks the run finished (the next BeginRun starts afresh)

  // Adds unseen URLs (by canonical url); returns how many were new.
  virtual Result<int> Add(const std::vector<FrontierEntry>& entries) = 0;
  // Authorities that have queued (unclaimed) entries.
  virtual Result<std::vector<std::string>> ReadyAuthorities() = 0;
  // Claims up to `n` queued entries of `authority`, best priority first, then
  // in insertion order.
  virtual Result<std::vector<FrontierEntry>> Claim(const std::string& authority, int n) = 0;
  // Puts a claimed entry back (e.g. the host asked to retry later).
  virtual Status Release(int64_t id) = 0;
  virtual Status Complete(int64_t id, FetchOutcome outcome, const std::string& note) = 0;
  virtual Result<FrontierCounts> Counts() = 0;

  // Small persisted key/value state of the run (e.g. the WARC file sequence).
  virtual Result<std::string> GetMeta(const std::string& key) = 0;
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;

  // Politeness shared by every worker of a multi-machine frontier (PostgreSQL,
  // pg_frontier.h); the embedded frontier has one worker and keeps these
  // defaults (fetch robots.txt yourself, nothing shared).
  enum class RobotsLease {
    kFetch,  // this worker fetches robots.txt and reports it with StoreRobots
    kWait,   // another worker is fetching it: try the host later
    kKnown,  // `verdict` holds the cached result
  };
  struct SharedRobots {
    RobotsLease lease = RobotsLease::kFetch;
    std::string verdict;  // "allow", "disallow" or "rules\n" + robots.txt body
    int failures = 0;     // kFetch: consecutive 5xx/unreachable answers so far (all workers)
  };
  virtual Result<SharedRobots> LeaseRobots(const std::string& /*authority*/) {
    return SharedRobots{};
  }
  // `verdict` as SharedRobots::verdict, or "retry": robots.txt answered 5xx
  // or was unreachable and will be asked again after a back-off (RFC 9309
  // 2.3.1.4; the failure is counted, nothing is cached). "allow" and "rules"
  // are cached for 24 hours, "disallow" (retries exhausted) for
  // `disallow_valid_s`.
  virtual Status StoreRobots(const std::string& /*authority*/, const std::string& /*verdict*/,
                             double /*disallow_valid_s*/ = 0) {
    return Status::Ok();
  }
  // No worker starts a request to `authority` for `seconds` (Retry-After, back-off).
  virtual Status Defer(const std::string& /*authority*/, double /*seconds*/) {
    return Status::Ok();
  }

  // Puts every entry this process has claimed and not completed back in the
  // queue at once (a clean stop: SIGTERM), so other workers take them without
  // waiting for a lease to expire; a robots.txt lease held is given up too.
  virtual Status ReleaseAll() = 0;

  // The response of claimed entry `id` has arrived (it stays claimed until
  // Complete, e.g. while it is fingerprinted) and no longer holds one of its
  // host's connections in a shared frontier's politeness count.
  virtual Status MarkFetched(int64_t /*id*/) { return Status::Ok(); }

  // Page and media budgets (limits.max_pages / max_media) counted by the
  // frontier for all workers of a run together. When SharesBudgets() is
  // false the crawler counts in its own process. TakeBudget: true when entry
  // `id` may be fetched (each URL counted once, however often it is leased
  // again), false when the run's budget of that kind is spent.
  virtual bool SharesBudgets() const { return false; }
  virtual Result<bool> TakeBudget(int64_t /*id*/, bool /*page*/, int64_t /*limit*/) { return true; }
};

// Opens (creating) the SQLite frontier at `path` (WAL, synchronous=NORMAL).
Result<std::unique_ptr<Frontier>> OpenSqliteFrontier(const std::filesystem::path& path);

}  // namespace kagami::crawler
