// `kagami crawl --worker`: 2, 3 and 4 worker processes crawl the fixture site
// (tests/pg/pg_fixture_site.py) together through a real PostgreSQL server
// (pg_server.h): every registered page found once, no URL fetched twice,
// per-host limits and Retry-After held across workers, robots.txt fetched
// once for all; a worker killed with SIGKILL has its leased URLs finished by
// the others; the ledger verifies, and a bundle exported from PostgreSQL
// passes `kagami verify`.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
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
    ASSERT_EQ(Wait(Spawn({KAGAMI_BINARY, "--data", data_.string(), "register", "--work", "pg-work",
                          "--title", "PG Work", (root / "reg").string()},
                         root / "register.log")),
              0)
        << ReadText(root / "register.log");
    ASSERT_EQ(
        Wait(Spawn({KAGAMI_BINARY, "--data", data_.string(), "keys", "init"}, root / "keys.log")),
        0)
        << ReadText(root / "keys.log");
  }

  void TearDown() override { StopSite(); }

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
    for (int i = 0; i < 300 && !fs::exists(port_file); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(fs::exists(port_file)) << ReadText(dir_ / "site.log");
    port_ = std::stoi(ReadText(port_file));
  }

  void StopSite() {
    if (site_ > 0) {
      kill(site_, SIGTERM);
      Wait(site_);
      site_ = -1;
    }
  }

  fs::path WriteJob(const std::string& name) {
    std::string p = std::to_string(port_);
    std::ostringstream job;
    job << "name = \"" << name << "\"\n"
        << "seeds = [\"http://site.test:" << p << "/\"]\n"
        << "allow_addresses = [\"127.0.0.1\"]\n"
        << "resolve = [\"site.test:" << p << ":127.0.0.1\", \"img.test:" << p << ":127.0.0.1\"]\n"
        << "[limits]\nmax_depth = 6\nmax_pages = 500\ntotal_timeout_s = 20\n"
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
    ASSERT_EQ(pg_->CreateDatabase(db), "");
    StartSite(/*latency_ms=*/30);
    std::string logs = RunWorkers(workers, WriteJob("pgjob"), pg_->Conninfo(db));
    std::vector<Request> reqs = Requests();
    ExpectEveryFindingOnce(pg_->Conninfo(db));
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
    std::string late = RunWorkers(1, dir_ / "pgjob.toml", pg_->Conninfo(db));
    EXPECT_NE(late.find("already finished"), std::string::npos) << late;
    EXPECT_EQ(Requests().size(), reqs.size());
  }
}

TEST_F(PgCrawlWorkersTest, AKilledWorkersLeasedUrlsAreFinishedByTheOthers) {
  ASSERT_EQ(pg_->CreateDatabase("crawlkill"), "");
  std::string conninfo = pg_->Conninfo("crawlkill");
  StartSite(/*latency_ms=*/100);
  fs::path job = WriteJob("killjob");
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i)
    pids.push_back(
        Spawn(WorkerArgs(job, conninfo, /*lease_s=*/3), dir_ / ("k" + std::to_string(i) + ".log")));
  // SIGKILL worker 0 once it holds leases mid-crawl.
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
  ASSERT_TRUE(killed) << "worker 0 never held a lease";
  EXPECT_EQ(Wait(pids[0]), -SIGKILL);
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

}  // namespace
}  // namespace kagami
