// `kagami crawl --worker`: 2, 3 and 4 worker processes crawl the fixture site
// (tests/pg/pg_fixture_site.py) together through a real PostgreSQL server
// (pg_server.h), the works registered into its catalog with --store (the
// workers match from it): every registered page found once, no URL fetched twice,
// per-host limits and Retry-After held across workers, robots.txt fetched
// once for all; a worker killed with SIGKILL has its leased URLs finished by
// the others; the ledger verifies, and a bundle exported from PostgreSQL
// passes `kagami verify`. A worker stopped with SIGTERM releases its leases at
// once (another worker takes them long before they would expire); page and
// depth budgets hold for all workers together; N `kagami schedule --store`
// daemons run a due job once, and a daemon stopped with SIGTERM hands its run
// to another at once.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/synth/page_generator.h"
#include "pg_server.h"
#include "process.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;

constexpr int kChapters = 4;
constexpr int kPagesPerChapter = 2;
constexpr int kPerHost = 2;

using kagami::testing::Lines;
using kagami::testing::ReadText;
using kagami::testing::Spawn;
using kagami::testing::Wait;

struct Request {
  double start = 0, end = 0;
  std::string host, path;
  int status = 0;
};

class PgCrawlWorkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    pg_ = testing::PgServer::Start(error);
    if (!pg_ && testing::PgServer::FindBinDir().empty()) GTEST_SKIP() << error;
    ASSERT_TRUE(pg_) << error;
    const fs::path root = dir_.path();
    for (int c = 1; c <= kChapters; ++c) {
      for (int i = 0; i < kPagesPerChapter; ++i) {
        int seed = 5100 + c * 10 + i;
        cv::Mat page = synth::GenerateMangaPage(seed, 800, 1150);
        testing::WriteFile(root / "reg" / ("p" + std::to_string(seed) + ".png"),
                           synth::EncodePng(page));
        std::string name = std::to_string(seed) + ".jpg";
        testing::WriteFile(root / "content/img" / ("c" + std::to_string(c)) / name,
                           synth::EncodeJpeg(page, 80));
        expected_.insert("/c" + std::to_string(c) + "/" + name);
      }
    }
    // A decoy: not registered, never reported.
    testing::WriteFile(root / "content/img/c2/decoy.jpg",
                       synth::EncodeJpeg(synth::GenerateMangaPage(999, 800, 1150), 80));
    data_ = root / "data";
    ASSERT_EQ(
        Wait(Spawn({KAGAMI_BINARY, "--data", data_.string(), "keys", "init"}, root / "keys.log")),
        0)
        << ReadText(root / "keys.log");
  }

  void TearDown() override { StopSite(); }

  // A new database `db` with the work registered into its catalog (from
  // another data directory, as a registering machine would): the workers
  // match against the PostgreSQL catalog, never an embedded one. Returns its
  // conninfo.
  std::string NewStore(const std::string& db) {
    std::string error = pg_->CreateDatabase(db);
    EXPECT_EQ(error, "");
    std::string conninfo = pg_->Conninfo(db);
    fs::path log = dir_ / ("register-" + db + ".log");
    EXPECT_EQ(
        Wait(Spawn({KAGAMI_BINARY, "--data", (dir_ / "regnode").string(), "--store", conninfo,
                    "register", "--work", "pg-work", "--title", "PG Work", (dir_ / "reg").string()},
                   log)),
        0)
        << ReadText(log);
    EXPECT_EQ(Query(conninfo, "SELECT count(*) FROM units"), std::to_string(expected_.size()));
    return conninfo;
  }

  void StartSite(double latency_ms) {
    StopSite();
    ++site_runs_;
    fs::path port_file = dir_ / ("port" + std::to_string(site_runs_));
    access_log_ = dir_ / ("access" + std::to_string(site_runs_) + ".log");
    site_ = Spawn(
        {"python3", KAGAMI_PG_FIXTURE_SITE, "--content", (dir_ / "content").string(), "--port-file",
         port_file.string(), "--log", access_log_.string(), "--chapters", std::to_string(kChapters),
         "--comments", "5", "--latency-ms", std::to_string(latency_ms)},
        dir_ / "site.log");
    port_ = testing::WaitForPort(port_file);
    ASSERT_GT(port_, 0) << ReadText(dir_ / "site.log");
  }

  void StopSite() { testing::Stop(site_); }

  fs::path WriteJob(const std::string& name, const std::string& limits = "max_depth = 6\n",
                    const std::string& top = "") {
    std::string p = std::to_string(port_);
    std::ostringstream job;
    job << "name = \"" << name << "\"\n"
        << top << "seeds = [\"http://site.test:" << p << "/\"]\n"
        << "allow_addresses = [\"127.0.0.1\"]\n"
        << "resolve = [\"site.test:" << p << ":127.0.0.1\", \"img.test:" << p << ":127.0.0.1\"]\n"
        << "[limits]\n"
        << (limits.find("max_pages") == std::string::npos ? "max_pages = 500\n" : "") << limits
        << "total_timeout_s = 20\n"
        << "[politeness]\nmin_delay_s = 0\nper_host_connections = " << kPerHost
        << "\nmax_retries = 3\n";
    fs::path f = dir_ / (name + ".toml");
    testing::WriteFile(f, job.str());
    return f;
  }

  // `lease_s`: short where a killed worker's leases must expire during the
  // test, long elsewhere so a worker starved of CPU never loses a lease.
  std::vector<std::string> WorkerArgs(const fs::path& job, const std::string& conninfo,
                                      int lease_s = 20) {
    return {KAGAMI_BINARY, "--data",   data_.string(), "crawl",
            job.string(),  "--worker", "--store",      conninfo,
            "--run",       "r1",       "--lease",      std::to_string(lease_s)};
  }

  // Runs `n` workers to the end; returns their logs.
  std::string RunWorkers(int n, const fs::path& job, const std::string& conninfo) {
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i)
      pids.push_back(Spawn(WorkerArgs(job, conninfo), dir_ / ("w" + std::to_string(i) + ".log")));
    std::string logs;
    for (int i = 0; i < n; ++i) {
      int rc = Wait(pids[i]);
      std::string log = ReadText(dir_ / ("w" + std::to_string(i) + ".log"));
      EXPECT_EQ(rc, 0) << log;
      logs += log;
    }
    return logs;
  }

  // The first value of a query's first row ("" on error or no row).
  static std::string Query(const std::string& conninfo, const std::string& sql) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> db(PQconnectdb(conninfo.c_str()), &PQfinish);
    if (PQstatus(db.get()) != CONNECTION_OK) return "";
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(db.get(), sql.c_str()), &PQclear);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) == 0) return "";
    return PQgetvalue(r.get(), 0, 0);
  }

  // Polls `done` every 50 ms for up to `seconds`.
  static bool WaitFor(const std::function<bool()>& done, double seconds = 60) {
    for (int i = 0; i < seconds * 20 && !done(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return done();
  }

  // SIGTERM, then the exit code (-1 when it did not exit within 30 s: killed).
  static int Terminate(pid_t pid) {
    kill(pid, SIGTERM);
    int rc = -1;
    bool exited = WaitFor(
        [&] {
          int st = 0;
          if (waitpid(pid, &st, WNOHANG) != pid) return false;
          rc = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
          return true;
        },
        30);
    if (!exited) {
      kill(pid, SIGKILL);
      Wait(pid);
    }
    return rc;
  }

  std::vector<Request> Requests() {
    std::vector<Request> out;
    for (const std::string& line : Lines(ReadText(access_log_))) {
      std::istringstream in(line);
      Request r;
      in >> r.start >> r.end >> r.host >> r.path >> r.status;
      out.push_back(r);
    }
    return out;
  }

  std::vector<nlohmann::json> Findings(const std::string& conninfo) {
    fs::path out = dir_ / "findings.jsonl";
    EXPECT_EQ(Wait(Spawn({KAGAMI_BINARY, "--data", data_.string(), "--store", conninfo, "findings",
                          "--format", "jsonl"},
                         out)),
              0)
        << ReadText(out);
    std::vector<nlohmann::json> v;
    for (const std::string& line : Lines(ReadText(out))) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object()) v.push_back(j);
    }
    return v;
  }

  // Every registered page's image found exactly once, nothing else.
  void ExpectEveryFindingOnce(const std::string& conninfo) {
    // The works were matched from the PostgreSQL catalog: the workers' data
    // directory holds only its index cache, no embedded catalog to fall back on.
    EXPECT_FALSE(fs::exists(data_ / "catalog.sqlite"));
    EXPECT_TRUE(fs::exists(data_ / "pdq-shared.index"));
    std::map<std::string, int> seen;
    for (const auto& f : Findings(conninfo)) {
      std::string url = f.value("media_url", "");
      EXPECT_EQ(f.value("work", ""), "pg-work");
      seen[url.substr(url.find('/', 8))]++;
    }
    for (const std::string& path : expected_) EXPECT_EQ(seen[path], 1) << path;
    EXPECT_EQ(seen.size(), expected_.size());
    // The ledger verifies.
    fs::path v = dir_ / "verify.log";
    EXPECT_EQ(Wait(Spawn({KAGAMI_BINARY, "--data", data_.string(), "--store", conninfo, "findings",
                          "--verify"},
                         v)),
              0)
        << ReadText(v);
  }

  // No URL answered twice (a 429 is asked again, as it should be); robots.txt
  // once per host for all workers; at most kPerHost requests at once per host.
  void ExpectNoDoubleFetchAndHostLimits(const std::vector<Request>& reqs) {
    std::map<std::string, int> answered;
    for (const Request& r : reqs)
      if (r.status != 429) answered[r.host + r.path]++;
    for (const auto& [url, n] : answered) EXPECT_EQ(n, 1) << url << " fetched " << n << " times";
    EXPECT_EQ(answered["site.test/robots.txt"], 1);
    EXPECT_EQ(answered["img.test/robots.txt"], 1);
    EXPECT_EQ(answered.count("site.test/private/admin"), 0u);  // robots.txt obeyed
    for (const std::string host : {"site.test", "img.test"}) {
      std::vector<std::pair<double, int>> events;
      for (const Request& r : reqs) {
        if (r.host != host) continue;
        events.push_back({r.start, +1});
        events.push_back({r.end, -1});
      }
      std::sort(events.begin(), events.end());  // ends sort before starts at equal times
      int now = 0, peak = 0;
      for (auto& [t, d] : events) peak = std::max(peak, now += d);
      EXPECT_LE(peak, kPerHost) << host;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::PgServer> pg_;
  fs::path data_, access_log_;
  std::set<std::string> expected_;
  pid_t site_ = -1;
  int port_ = 0;
  int site_runs_ = 0;
};

TEST_F(PgCrawlWorkersTest, TwoAndFourWorkersFindEveryWorkOnceAndFetchNothingTwice) {
  for (int workers : {2, 4}) {
    SCOPED_TRACE(std::to_string(workers) + " workers");
    std::string db = "crawl" + std::to_string(workers);
    std::string conninfo = NewStore(db);
    StartSite(/*latency_ms=*/30);
    std::string logs = RunWorkers(workers, WriteJob("pgjob"), conninfo);
    std::vector<Request> reqs = Requests();
    ExpectEveryFindingOnce(conninfo);
    ExpectNoDoubleFetchAndHostLimits(reqs);
    // Retry-After: 1 on /chapter/3 held site.test for every worker.
    auto r429 =
        std::find_if(reqs.begin(), reqs.end(), [](const Request& r) { return r.status == 429; });
    ASSERT_NE(r429, reqs.end());
    for (const Request& r : reqs) {
      if (r.host == "site.test" && r.start > r429->end + 0.2) {
        EXPECT_GE(r.start, r429->end + 0.95) << r.path << " started during Retry-After";
      }
    }
    // A worker started after the labelled run finished has nothing to do.
    std::string late = RunWorkers(1, dir_ / "pgjob.toml", conninfo);
    EXPECT_NE(late.find("already finished"), std::string::npos) << late;
    EXPECT_EQ(Requests().size(), reqs.size());
  }
}

TEST_F(PgCrawlWorkersTest, AKilledWorkersLeasedUrlsAreFinishedByTheOthers) {
  std::string conninfo = NewStore("crawlkill");
  StartSite(/*latency_ms=*/100);
  fs::path job = WriteJob("killjob");
  auto spawn = [&](int i) {
    return Spawn(WorkerArgs(job, conninfo, /*lease_s=*/3),
                 dir_ / ("k" + std::to_string(i) + ".log"));
  };
  // Worker 0 starts alone and is SIGKILLed mid-crawl while it holds leases
  // (alone, so that a slow start under load cannot leave it without any);
  // workers 1 and 2 then take its URLs over when the leases expire.
  std::vector<pid_t> pids = {spawn(0)};
  std::unique_ptr<PGconn, decltype(&PQfinish)> db(PQconnectdb(conninfo.c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(db.get()), CONNECTION_OK);
  bool killed = false;
  for (int i = 0; i < 3000 && !killed; ++i) {  // up to 60 s: workers start slowly under load
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::string q = "SELECT count(*) FROM crawl_urls WHERE state=1 AND worker LIKE '%:" +
                    std::to_string(pids[0]) + ":%'";
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(db.get(), q.c_str()), &PQclear);
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK && std::atoi(PQgetvalue(r.get(), 0, 0)) > 0 &&
        Requests().size() >= 8) {
      kill(pids[0], SIGKILL);
      killed = true;
    }
  }
  ASSERT_TRUE(killed) << "worker 0 never held a lease" << ReadText(dir_ / "k0.log");
  EXPECT_EQ(Wait(pids[0]), -SIGKILL);
  for (int i = 1; i < 3; ++i) pids.push_back(spawn(i));
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(Wait(pids[i]), 0) << ReadText(dir_ / ("k" + std::to_string(i) + ".log"));
  }
  ExpectEveryFindingOnce(conninfo);
  std::unique_ptr<PGresult, decltype(&PQclear)> left(
      PQexec(db.get(), "SELECT count(*) FROM crawl_urls WHERE state IN (0, 1)"), &PQclear);
  EXPECT_STREQ(PQgetvalue(left.get(), 0, 0), "0");  // nothing lost
  // Export from PostgreSQL; the bundle verifies like one from SQLite.
  fs::path bundle = dir_ / "bundle";
  fs::path elog = dir_ / "export.log";
  ASSERT_EQ(Wait(Spawn({KAGAMI_BINARY, "--data", data_.string(), "--store", conninfo, "export",
                        "--out", bundle.string(), "--case", "PG-1"},
                       elog)),
            0)
      << ReadText(elog);
  fs::path vlog = dir_ / "bundle-verify.log";
  EXPECT_EQ(Wait(Spawn({KAGAMI_BINARY, "verify", bundle.string()}, vlog)), 0) << ReadText(vlog);
}

TEST_F(PgCrawlWorkersTest, ASigtermedWorkerReleasesItsLeasesAtOnceAndExitsCleanly) {
  std::string conninfo = NewStore("crawlterm");
  StartSite(/*latency_ms=*/300);
  fs::path job = WriteJob("termjob");
  // Leases of 10 minutes: only a release, never an expiry, lets another
  // worker take worker A's URLs within this test.
  pid_t a = Spawn(WorkerArgs(job, conninfo, /*lease_s=*/600), dir_ / "a.log");
  const std::string held_by_a =
      "SELECT count(*) FROM crawl_urls WHERE state=1 AND worker LIKE '%:" + std::to_string(a) +
      ":%'";
  ASSERT_TRUE(WaitFor([&] { return Query(conninfo, held_by_a) != "0" && Requests().size() >= 6; }))
      << ReadText(dir_ / "a.log");
  EXPECT_EQ(Terminate(a), 0) << ReadText(dir_ / "a.log");
  EXPECT_THAT(ReadText(dir_ / "a.log"), ::testing::HasSubstr("stopped, resumable"));
  EXPECT_EQ(Query(conninfo, held_by_a), "0");  // every lease released
  EXPECT_NE(Query(conninfo, "SELECT count(*) FROM crawl_urls WHERE state=0"), "0");
  // A's WARC files are complete gzip streams (flushed and closed).
  for (const auto& w : fs::directory_iterator(data_ / "crawl/termjob/warc")) {
    EXPECT_EQ(Wait(Spawn({"gzip", "-t", w.path().string()}, dir_ / "gzip.log")), 0)
        << w.path() << ReadText(dir_ / "gzip.log");
  }
  // Worker B takes the released URLs at once and finishes the run.
  pid_t b = Spawn(WorkerArgs(job, conninfo, /*lease_s=*/600), dir_ / "b.log");
  EXPECT_EQ(Wait(b), 0) << ReadText(dir_ / "b.log");
  EXPECT_EQ(Query(conninfo, "SELECT count(*) FROM crawl_urls WHERE state IN (0, 1)"), "0");
  EXPECT_EQ(Query(conninfo, "SELECT state FROM crawl_runs WHERE job='termjob'"), "finished");
  ExpectEveryFindingOnce(conninfo);
  // In-flight exchanges finished within the stop's grace: nothing fetched twice.
  ExpectNoDoubleFetchAndHostLimits(Requests());
}

TEST_F(PgCrawlWorkersTest, PageAndDepthBudgetsHoldAcrossWorkers) {
  std::string conninfo = NewStore("crawlbudget");
  auto pages_fetched = [&](const std::vector<Request>& reqs) {
    int pages = 0;
    for (const Request& r : reqs)
      if (r.host == "site.test" && r.path != "/robots.txt" && r.status != 429) ++pages;
    return pages;
  };
  // 1. max_pages = 7 for the run, 3 workers: 7 pages in all (the site has 25).
  StartSite(/*latency_ms=*/50);
  std::string logs =
      RunWorkers(3, WriteJob("budgetjob", "max_depth = 6\nmax_pages = 7\n"), conninfo);
  EXPECT_EQ(pages_fetched(Requests()), 7) << logs;
  EXPECT_EQ(Query(conninfo, "SELECT pages_started FROM crawl_runs WHERE job='budgetjob'"), "7");
  EXPECT_NE(Query(conninfo, "SELECT count(*) FROM crawl_urls WHERE note='page budget reached'"),
            "0");
  // 2. max_depth = 1, 3 workers: the index and chapters (depth 1), their
  // images (media: one hop more), no comment pages (depth 2).
  conninfo = NewStore("crawldepth");
  StartSite(/*latency_ms=*/50);
  logs = RunWorkers(3, WriteJob("depthjob", "max_depth = 1\n"), conninfo);
  std::vector<Request> reqs = Requests();
  EXPECT_EQ(pages_fetched(reqs), 1 + kChapters) << logs;
  for (const Request& r : reqs) EXPECT_EQ(r.path.find("/comments/"), std::string::npos) << r.path;
  EXPECT_EQ(Query(conninfo,
                  "SELECT max(depth) FROM crawl_urls WHERE job='depthjob' AND kind=0 "
                  "AND state=2"),
            "1");
  ExpectEveryFindingOnce(conninfo);
}

TEST_F(PgCrawlWorkersTest, ScheduleDaemonsOnPostgresRunEachDueJobOnceAndHandOverOnSigterm) {
  std::string conninfo = NewStore("sched");
  StartSite(/*latency_ms=*/200);
  fs::path jobs = dir_ / "jobs";
  fs::create_directories(jobs);
  WriteJob("pgsched", "max_depth = 6\n", "schedule = \"0 0 1 1 *\"\n");  // yearly
  fs::copy_file(dir_ / "pgsched.toml", jobs / "pgsched.toml");
  auto daemon = [&](const std::string& log, bool once) {
    std::vector<std::string> args = {KAGAMI_BINARY, "--data",   data_.string(), "--store",
                                     conninfo,      "schedule", jobs.string()};
    if (once) args.push_back("--once");
    return Spawn(args, dir_ / log);
  };
  // Registered, not due (next 1 January): a daemon with --once runs nothing.
  ASSERT_EQ(Wait(daemon("s0.log", true)), 0) << ReadText(dir_ / "s0.log");
  ASSERT_NE(Query(conninfo, "SELECT next_run FROM crawl_schedule WHERE job='pgsched'"), "");
  EXPECT_EQ(Requests().size(), 0u);

  // 1. Made due: three daemons look at once; one runs it, once.
  Query(conninfo, "UPDATE crawl_schedule SET next_run = now() - interval '5 s' RETURNING 1");
  std::vector<pid_t> pids;
  for (int i = 1; i <= 3; ++i) pids.push_back(daemon("s" + std::to_string(i) + ".log", true));
  int ran = 0;
  for (int i = 1; i <= 3; ++i) {
    fs::path log = dir_ / ("s" + std::to_string(i) + ".log");
    EXPECT_EQ(Wait(pids[i - 1]), 0) << ReadText(log);
    if (ReadText(log).find("running pgsched") != std::string::npos) ++ran;
  }
  EXPECT_EQ(ran, 1);
  ExpectEveryFindingOnce(conninfo);
  ExpectNoDoubleFetchAndHostLimits(Requests());
  EXPECT_EQ(Query(conninfo, "SELECT last_status FROM crawl_schedule WHERE job='pgsched'"), "ok");
  EXPECT_EQ(Query(conninfo, "SELECT running_by IS NULL FROM crawl_schedule WHERE job='pgsched'"),
            "t");
  EXPECT_EQ(Query(conninfo,
                  "SELECT next_run > now() + interval '1 day' FROM crawl_schedule "
                  "WHERE job='pgsched'"),
            "t");

  // 2. Due, two resident daemons (a new store): the one running it gets
  // SIGTERM mid-crawl, exits 0, and the other resumes the same run at once.
  conninfo = NewStore("sched2");
  StartSite(/*latency_ms=*/300);
  WriteJob("pgsched", "max_depth = 6\n", "schedule = \"0 0 1 1 *\"\n");  // the new port
  fs::copy_file(dir_ / "pgsched.toml", jobs / "pgsched.toml", fs::copy_options::overwrite_existing);
  ASSERT_EQ(Wait(daemon("s4.log", true)), 0) << ReadText(dir_ / "s4.log");
  Query(conninfo, "UPDATE crawl_schedule SET next_run = now() - interval '5 s' RETURNING 1");
  pid_t d1 = daemon("d1.log", false);
  pid_t d2 = daemon("d2.log", false);
  auto running = [&](const std::string& log) {
    return ReadText(dir_ / log).find("running pgsched") != std::string::npos;
  };
  ASSERT_TRUE(WaitFor([&] { return running("d1.log") || running("d2.log"); }));
  ASSERT_TRUE(WaitFor([&] { return Requests().size() >= 8; }));
  bool first_is_d1 = running("d1.log");
  pid_t first = first_is_d1 ? d1 : d2, second = first_is_d1 ? d2 : d1;
  std::string second_log = first_is_d1 ? "d2.log" : "d1.log";
  EXPECT_EQ(Terminate(first), 0);
  ASSERT_TRUE(WaitFor([&] {
    return ReadText(dir_ / second_log).find("resuming an interrupted run") != std::string::npos;
  }));
  ASSERT_TRUE(WaitFor(
      [&] {
        return Query(conninfo, "SELECT last_status FROM crawl_schedule WHERE job='pgsched'") ==
                   "ok" &&
               Query(conninfo, "SELECT running_by IS NULL FROM crawl_schedule") == "t";
      },
      120))
      << ReadText(dir_ / second_log);
  EXPECT_EQ(Terminate(second), 0) << ReadText(dir_ / second_log);
  EXPECT_EQ(Query(conninfo, "SELECT count(*) FROM crawl_urls WHERE state IN (0, 1)"), "0");
  ExpectNoDoubleFetchAndHostLimits(Requests());
  ExpectEveryFindingOnce(conninfo);
}

}  // namespace
}  // namespace kagami
