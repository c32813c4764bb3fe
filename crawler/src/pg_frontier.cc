#include "kagami/crawler/pg_frontier.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "kagami/crawler/robots.h"
#include "kagami/store/migrations.h"
#include "kagami/store/pg_connection.h"

namespace kagami::crawler {
namespace {

using store::PgConnection;
using store::PgRows;
using store::PgTransaction;

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE crawl_runs (
  job TEXT PRIMARY KEY,
  label TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('running', 'finished')),
  started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  finished_at TIMESTAMPTZ
);
CREATE TABLE crawl_urls (
  id BIGSERIAL PRIMARY KEY,
  job TEXT NOT NULL,
  url TEXT NOT NULL,
  authority TEXT NOT NULL,
  depth INTEGER NOT NULL,
  redirects INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  referrer TEXT NOT NULL,
  state SMALLINT NOT NULL DEFAULT 0,  -- 0 queued, 1 leased, 2 done, 3 failed, 4 refused
  worker TEXT,
  lease_until TIMESTAMPTZ,
  note TEXT,
  UNIQUE (job, url)
);
CREATE INDEX crawl_urls_queue ON crawl_urls (job, authority, priority DESC, id) WHERE state IN (0, 1);
CREATE INDEX crawl_urls_leased ON crawl_urls (authority) WHERE state = 1;
CREATE INDEX crawl_urls_worker ON crawl_urls (worker) WHERE state = 1;
CREATE TABLE crawl_hosts (
  authority TEXT PRIMARY KEY,
  next_allowed TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
  crawl_delay_s DOUBLE PRECISION NOT NULL DEFAULT 0,
  robots_verdict TEXT,
  robots_fetched_at TIMESTAMPTZ,
  robots_worker TEXT,
  robots_lease_until TIMESTAMPTZ
);
CREATE TABLE crawl_meta (
  job TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (job, key)
);
)sql";

// v2: budgets counted for all workers of a run; URLs fetched but still
// leased (being fingerprinted) no longer hold a host connection; robots.txt
// 5xx back-off shared by all workers; the PostgreSQL schedule (pg_schedule.h).
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE crawl_runs ADD COLUMN pages_started BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN media_started BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crawl_urls ADD COLUMN budgeted BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN on_wire BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE crawl_hosts ADD COLUMN robots_failures INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN robots_valid_until TIMESTAMPTZ;
CREATE TABLE crawl_schedule (
  job TEXT PRIMARY KEY,
  next_run TIMESTAMPTZ NOT NULL,
  running_by TEXT,
  run_label TEXT,
  last_start TIMESTAMPTZ,
  last_end TIMESTAMPTZ,
  last_status TEXT,
  last_findings BIGINT
);
)sql";

constexpr store::Migration kMigrations[] = {
    {1, "crawl frontier: runs, urls with leases, shared host politeness, meta", kSchemaV1},
    {2, "crawl frontier: shared budgets, on-wire leases, robots.txt back-off, schedule", kSchemaV2},
};

std::string DefaultWorkerId() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + suffix;
}

// PostgreSQL text must be valid UTF-8 without NUL; hostile sites send
// anything. True when `s` can be stored as is.
bool IsStorableText(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n = (c >= 0xc2 && c <= 0xdf)   ? 1
            : (c >= 0xe0 && c <= 0xef) ? 2
            : (c >= 0xf0 && c <= 0xf4) ? 3
                                       : -1;
    if (n < 0 || i + n >= s.size()) return false;
    unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
        (c == 0xf4 && c1 >= 0x90))
      return false;  // overlong, surrogate, beyond U+10FFFF
    for (int k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

// URLs: bytes PostgreSQL cannot store are percent-encoded (the same URL to a server).
std::string StorableUrl(const std::string& url) {
  if (IsStorableText(url)) return url;
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : url) {
    if (c >= 0x80 || c < 0x20) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Other text: such bytes become '?'.
std::string StorableText(const std::string& text) {
  if (IsStorableText(text)) return text;
  std::string out;
  for (unsigned char c : text) out += (c >= 0x80 || c == 0) ? '?' : static_cast<char>(c);
  return out;
}

class PgFrontier : public Frontier {
 public:
  PgFrontier(PgFrontierOptions o, std::unique_ptr<PgConnection> conn,
             std::unique_ptr<PgConnection> heartbeat)
      : o_(std::move(o)), db_(std::move(conn)), hb_db_(std::move(heartbeat)) {
    rotation_ = std::random_device()();
    hb_ = std::thread([this] { Heartbeat(); });
  }

  ~PgFrontier() override {
    {
      std::lock_guard<std::mutex> lock(hb_mu_);
      hb_stop_ = true;
    }
    hb_cv_.notify_all();
    if (hb_.joinable()) hb_.join();
  }

  Result<bool> BeginRun(bool resume) override {
    PgTransaction txn(*db_);
    KAGAMI_RETURN_IF_ERROR(txn.Begin());
    KAGAMI_RETURN_IF_ERROR(
        db_->Exec("SELECT pg_advisory_xact_lock(hashtext('kagami-crawl-run:' || $1))", {o_.job})
            .status());
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows run, db_->Exec("SELECT label, state FROM crawl_runs WHERE job=$1", {o_.job}));
    if (resume && !run.empty()) {
      std::string label = run.Text(0, 0), state = run.Text(0, 1);
      bool same = o_.run_label.empty() || label == o_.run_label;
      if (same && state == "running") {
        KAGAMI_RETURN_IF_ERROR(txn.Commit());
        return true;
      }
      if (same && !o_.run_label.empty()) {
        return Status::NotFound("crawl run '" + label + "' of job '" + o_.job +
                                "' has already finished; give a new --run label to crawl again");
      }
    }
    KAGAMI_RETURN_IF_ERROR(db_->Exec("DELETE FROM crawl_urls WHERE job=$1", {o_.job}).status());
    KAGAMI_RETURN_IF_ERROR(db_->Exec("DELETE FROM crawl_meta WHERE job=$1", {o_.job}).status());
    KAGAMI_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO crawl_runs (job, label, state) VALUES ($1, $2, 'running') "
                  "ON CONFLICT (job) DO UPDATE SET label=$2, state='running', started_at=now(), "
                  "finished_at=NULL, pages_started=0, media_started=0",
                  {o_.job, o_.run_label})
            .status());
    KAGAMI_RETURN_IF_ERROR(AddLocked(o_.seeds).status());
    KAGAMI_RETURN_IF_ERROR(txn.Commit());
    return false;
  }

  Status FinishRun() override {
    return db_
        ->Exec(
            "UPDATE crawl_runs SET state='finished', finished_at=now() WHERE job=$1 AND "
            "state='running' AND NOT EXISTS (SELECT 1 FROM crawl_urls WHERE job=$1 AND "
            "state IN (0, 1))",
            {o_.job})
        .status();
  }

  Result<int> Add(const std::vector<FrontierEntry>& entries) override {
    if (entries.empty()) return 0;
    PgTransaction txn(*db_);
    KAGAMI_RETURN_IF_ERROR(txn.Begin());
    KAGAMI_ASSIGN_OR_RETURN(int added, AddLocked(entries));
    KAGAMI_RETURN_IF_ERROR(txn.Commit());
    return added;
  }

  Result<std::vector<std::string>> ReadyAuthorities() override {
    // Hosts with claimable URLs whose shared politeness state would let a
    // claim succeed now, so workers do not queue on host rows in vain.
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows r,
        db_->Exec("WITH q AS (SELECT authority, bool_or(state = 0 OR lease_until <= "
                  "clock_timestamp()) AS claimable FROM crawl_urls WHERE job=$1 AND state IN "
                  "(0, 1) GROUP BY authority) "
                  "SELECT q.authority, q.claimable AND coalesce(h.next_allowed <= "
                  "clock_timestamp(), true) AND (SELECT count(*) FROM crawl_urls l WHERE "
                  "l.authority = q.authority AND l.state = 1 AND l.on_wire AND l.lease_until > "
                  "clock_timestamp()) < $2 FROM q LEFT JOIN crawl_hosts h ON h.authority = "
                  "q.authority ORDER BY 1",
                  {o_.job, o_.per_host_connections}));
    std::vector<std::string> ready;
    for (int i = 0; i < r.size(); ++i)
      if (r.Bool(i, 1)) ready.push_back(r.Text(i, 0));
    // Each worker starts at its own place in the list, so workers do not
    // all try the same host first.
    if (ready.size() > 1) {
      std::rotate(ready.begin(), ready.begin() + (rotation_++ % ready.size()), ready.end());
    }
    // Nothing claimable now, but URLs remain (queued behind politeness, or
    // leased by workers that may add more): the run is not over.
    if (ready.empty() && !r.empty()) ready.push_back(r.Text(0, 0));
    return ready;
  }

  Result<std::vector<FrontierEntry>> Claim(const std::string& authority, int n) override {
    std::vector<FrontierEntry> out;
    if (n <= 0) return out;
    KAGAMI_RETURN_IF_ERROR(EnsureHost(authority));
    PgTransaction txn(*db_);
    KAGAMI_RETURN_IF_ERROR(txn.Begin());
    // The host row serialises claims on the host across workers; a worker
    // finding it locked (another worker claiming there right now) moves on
    // instead of queuing behind it. The host's state is read by a second
    // statement, after the lock is held: under READ COMMITTED a statement's
    // snapshot is taken when it starts, so a count taken by the locking
    // statement itself could miss the claims the lock's previous holder
    // committed between that start and the lock being taken, and let one
    // more connection onto the host than per_host_connections.
    KAGAMI_ASSIGN_OR_RETURN(PgRows locked,
                            db_->Exec("SELECT 1 FROM crawl_hosts WHERE authority=$1 FOR UPDATE "
                                      "SKIP LOCKED",
                                      {authority}));
    if (locked.empty()) return out;  // rolls back: nothing changed
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows host,
        db_->Exec("SELECT h.next_allowed <= clock_timestamp(), h.crawl_delay_s, (SELECT count(*) "
                  "FROM crawl_urls l WHERE l.authority=$1 AND l.state=1 AND l.on_wire AND "
                  "l.lease_until > clock_timestamp()) FROM crawl_hosts h WHERE h.authority=$1",
                  {authority}));
    if (host.empty() || !host.Bool(0, 0)) return out;
    double delay = std::min(std::max(o_.min_delay_s, host.Double(0, 1)), o_.max_backoff_s);
    int room = o_.per_host_connections - static_cast<int>(host.Int(0, 2));
    int k = std::min(n, room);
    if (delay > 0) k = std::min(k, 1);
    if (k <= 0) return out;
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows r,
        db_->Exec("WITH c AS (SELECT id FROM crawl_urls WHERE job=$1 AND authority=$2 AND "
                  "(state=0 OR (state=1 AND lease_until <= clock_timestamp())) "
                  "ORDER BY priority DESC, id LIMIT $3 FOR UPDATE SKIP LOCKED) "
                  "UPDATE crawl_urls u SET state=1, on_wire=true, worker=$4, "
                  "lease_until=clock_timestamp() + make_interval(secs => $5::float8) FROM c "
                  "WHERE u.id = c.id "
                  "RETURNING u.id, u.url, u.authority, u.depth, u.redirects, u.priority, u.kind, "
                  "u.referrer",
                  {o_.job, authority, k, o_.worker_id, o_.lease_s}));
    for (int i = 0; i < r.size(); ++i) {
      FrontierEntry e;
      e.id = r.Int(i, 0);
      e.url = r.Text(i, 1);
      e.authority = r.Text(i, 2);
      e.depth = static_cast<int>(r.Int(i, 3));
      e.redirects = static_cast<int>(r.Int(i, 4));
      e.priority = static_cast<int>(r.Int(i, 5));
      e.kind = static_cast<LinkKind>(r.Int(i, 6));
      e.referrer = r.Text(i, 7);
      out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), [](const FrontierEntry& a, const FrontierEntry& b) {
      return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
    });
    if (!out.empty() && delay > 0) {
      KAGAMI_RETURN_IF_ERROR(db_->Exec("UPDATE crawl_hosts SET next_allowed = clock_timestamp() + "
                                       "make_interval(secs => $2::float8) WHERE authority=$1",
                                       {authority, delay})
                                 .status());
    }
    KAGAMI_RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  Status Release(int64_t id) override {
    return db_
        ->Exec(
            "UPDATE crawl_urls SET state=0, worker=NULL, lease_until=NULL WHERE id=$1 AND "
            "state=1 AND worker=$2",
            {id, o_.worker_id})
        .status();
  }

  Status ReleaseAll() override {
    KAGAMI_RETURN_IF_ERROR(
        db_->Exec("UPDATE crawl_urls SET state=0, worker=NULL, lease_until=NULL WHERE worker=$1 "
                  "AND state=1",
                  {o_.worker_id})
            .status());
    return db_
        ->Exec(
            "UPDATE crawl_hosts SET robots_worker=NULL, robots_lease_until=NULL WHERE "
            "robots_worker=$1",
            {o_.worker_id})
        .status();
  }

  Status MarkFetched(int64_t id) override {
    return db_
        ->Exec("UPDATE crawl_urls SET on_wire=false WHERE id=$1 AND state=1 AND worker=$2",
               {id, o_.worker_id})
        .status();
  }

  bool SharesBudgets() const override { return true; }

  Result<bool> TakeBudget(int64_t id, bool page, int64_t limit) override {
    // One statement: the URL is counted once (budgeted), the run's counter
    // moves only below the limit; concurrent workers re-check the limit on
    // the updated row (READ COMMITTED), so the budget is never exceeded.
    std::string column = page ? "pages_started" : "media_started";
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows r,
        db_->Exec("WITH u AS (UPDATE crawl_urls SET budgeted=true WHERE id=$2 AND NOT budgeted "
                  "RETURNING 1), r AS (UPDATE crawl_runs SET " +
                      column + "=" + column + " + 1 WHERE job=$1 AND " + column +
                      " < $3 AND EXISTS (SELECT 1 FROM u) RETURNING 1) "
                      "SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM r)",
                  {o_.job, id, limit}));
    return !r.Bool(0, 0) || r.Bool(0, 1);
  }

  Status Complete(int64_t id, FetchOutcome outcome, const std::string& note) override {
    // A lease lost (expired and taken by another worker) is left to that worker.
    return db_
        ->Exec(
            "UPDATE crawl_urls SET state=$2, note=$3, lease_until=NULL WHERE id=$1 AND "
            "state=1 AND worker=$4",
            {id, static_cast<int>(outcome), StorableText(note), o_.worker_id})
        .status();
  }

  Result<FrontierCounts> Counts() override {
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows r,
        db_->Exec("SELECT count(*) FILTER (WHERE state IN (0, 1)), "
                  "count(*) FILTER (WHERE state=2 AND kind=0), "
                  "count(*) FILTER (WHERE state=2 AND kind<>0), count(*) FILTER (WHERE state=3), "
                  "count(*) FILTER (WHERE state=4) FROM crawl_urls WHERE job=$1",
                  {o_.job}));
    FrontierCounts c;
    c.queued = r.Int(0, 0);
    c.done_pages = r.Int(0, 1);
    c.done_media = r.Int(0, 2);
    c.failed = r.Int(0, 3);
    c.refused = r.Int(0, 4);
    return c;
  }

  Result<std::string> GetMeta(const std::string& key) override {
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows r, db_->Exec("SELECT value FROM crawl_meta WHERE job=$1 AND key=$2", {o_.job, key}));
    return r.empty() ? std::string() : r.Text(0, 0);
  }

  Status SetMeta(const std::string& key, const std::string& value) override {
    return db_
        ->Exec(
            "INSERT INTO crawl_meta (job, key, value) VALUES ($1, $2, $3) ON CONFLICT (job, "
            "key) DO UPDATE SET value=$3",
            {o_.job, key, value})
        .status();
  }

  Result<SharedRobots> LeaseRobots(const std::string& authority) override {
    KAGAMI_RETURN_IF_ERROR(EnsureHost(authority));
    PgTransaction txn(*db_);
    KAGAMI_RETURN_IF_ERROR(txn.Begin());
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows r,
        db_->Exec("SELECT robots_verdict, robots_verdict IS NOT NULL AND "
                  "coalesce(robots_valid_until, robots_fetched_at + interval '24 hours') > "
                  "clock_timestamp(), robots_worker IS NOT NULL AND "
                  "robots_worker <> $2 AND robots_lease_until > clock_timestamp(), "
                  "robots_failures FROM crawl_hosts WHERE authority=$1 FOR UPDATE",
                  {authority, o_.worker_id}));
    SharedRobots out;
    out.failures = static_cast<int>(r.Int(0, 3));
    if (r.Bool(0, 1)) {
      out.lease = RobotsLease::kKnown;
      out.verdict = r.Text(0, 0);
      return out;
    }
    if (r.Bool(0, 2)) {
      out.lease = RobotsLease::kWait;
      return out;
    }
    KAGAMI_RETURN_IF_ERROR(
        db_->Exec("UPDATE crawl_hosts SET robots_worker=$2, robots_lease_until=clock_timestamp() "
                  "+ make_interval(secs => $3::float8) WHERE authority=$1",
                  {authority, o_.worker_id, o_.lease_s})
            .status());
    KAGAMI_RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  Status StoreRobots(const std::string& authority, const std::string& verdict,
                     double disallow_valid_s) override {
    if (verdict == "retry") {
      return db_
          ->Exec(
              "UPDATE crawl_hosts SET robots_failures=robots_failures + 1, robots_worker=NULL, "
              "robots_lease_until=NULL WHERE authority=$1",
              {authority})
          .status();
    }
    double valid_s = verdict == "disallow" ? disallow_valid_s : 24 * 3600.0;
    double crawl_delay = 0;
    if (verdict.rfind("rules\n", 0) == 0) {
      crawl_delay =
          RobotsRules::Parse(std::string_view(verdict).substr(6), o_.robots_token).crawl_delay_s();
    }
    return db_
        ->Exec(
            "UPDATE crawl_hosts SET robots_verdict=$2, robots_fetched_at=clock_timestamp(), "
            "robots_valid_until=clock_timestamp() + make_interval(secs => $4::float8), "
            "robots_failures=0, robots_worker=NULL, robots_lease_until=NULL, crawl_delay_s=$3 "
            "WHERE authority=$1",
            {authority, StorableText(verdict), crawl_delay, valid_s})
        .status();
  }

  Status Defer(const std::string& authority, double seconds) override {
    KAGAMI_RETURN_IF_ERROR(EnsureHost(authority));
    return db_
        ->Exec(
            "UPDATE crawl_hosts SET next_allowed = greatest(next_allowed, clock_timestamp() + "
            "make_interval(secs => $2::float8)) WHERE authority=$1",
            {authority, std::min(seconds, o_.max_backoff_s)})
        .status();
  }

 private:
  Status EnsureHost(const std::string& authority) {
    if (known_hosts_.count(authority)) return Status::Ok();
    KAGAMI_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO crawl_hosts (authority) VALUES ($1) ON CONFLICT DO NOTHING",
                  {authority})
            .status());
    known_hosts_.insert(authority);
    return Status::Ok();
  }

  Result<int> AddLocked(const std::vector<FrontierEntry>& entries) {
    int added = 0;
    for (const FrontierEntry& e : entries) {
      KAGAMI_ASSIGN_OR_RETURN(
          PgRows r,
          db_->Exec("INSERT INTO crawl_urls (job, url, authority, depth, redirects, priority, "
                    "kind, referrer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                    "ON CONFLICT (job, url) DO NOTHING",
                    {o_.job, StorableUrl(e.url), StorableUrl(e.authority), e.depth, e.redirects,
                     e.priority, static_cast<int>(e.kind), StorableUrl(e.referrer)}));
      added += static_cast<int>(r.affected());
    }
    return added;
  }

  void Heartbeat() {
    auto period = std::chrono::milliseconds(static_cast<int64_t>(o_.lease_s * 1000 / 3));
    std::unique_lock<std::mutex> lock(hb_mu_);
    while (!hb_cv_.wait_for(lock, period, [this] { return hb_stop_; })) {
      // Failures are retried next period; a worker whose leases lapse only
      // risks a URL being fetched twice, never lost.
      (void)hb_db_->Exec(
          "UPDATE crawl_urls SET lease_until = clock_timestamp() + make_interval(secs => "
          "$2::float8) WHERE worker=$1 AND state=1",
          {o_.worker_id, o_.lease_s});
    }
  }

  PgFrontierOptions o_;
  std::unique_ptr<PgConnection> db_;
  std::unique_ptr<PgConnection> hb_db_;  // used only by the heartbeat thread
  std::mutex hb_mu_;
  std::condition_variable hb_cv_;
  bool hb_stop_ = false;
  std::thread hb_;
  std::set<std::string> known_hosts_;  // host rows known to exist
  size_t rotation_ = 0;
};

}  // namespace

Status MigratePgFrontierSchema(const std::string& conninfo) {
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Connect(conninfo));
  return store::Migrate(*db, "frontier", kMigrations).status();
}

Result<std::unique_ptr<Frontier>> OpenPgFrontier(const PgFrontierOptions& options) {
  if (options.job.empty()) return Status::InvalidArgument("PostgreSQL frontier: no job name");
  if (options.lease_s < 1) return Status::InvalidArgument("lease must be at least 1 second");
  PgFrontierOptions o = options;
  if (o.worker_id.empty()) o.worker_id = DefaultWorkerId();
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Connect(o.conninfo));
  KAGAMI_RETURN_IF_ERROR(store::Migrate(*db, "frontier", kMigrations).status());
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> hb, PgConnection::Connect(o.conninfo));
  return std::unique_ptr<Frontier>(new PgFrontier(std::move(o), std::move(db), std::move(hb)));
}

}  // namespace kagami::crawler
