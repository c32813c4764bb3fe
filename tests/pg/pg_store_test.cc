// The PostgreSQL store against a real server (pg_server.h): schema
// migrations, frontier leasing and lease takeover, politeness shared by
// workers, and one findings-ledger hash chain under concurrent appenders.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "kagami/crawler/crawl_worker.h"
#include "kagami/crawler/pg_frontier.h"
#include "kagami/reports/pg_findings_ledger.h"
#include "kagami/store/migrations.h"
#include "kagami/store/pg_connection.h"
#include "kagami/store/store_location.h"
#include "pg_server.h"
#include "sqlite_db.h"
#include "temp_dir.h"

namespace kagami {
namespace {

using crawler::Frontier;
using crawler::FrontierEntry;
using crawler::PgFrontierOptions;

class PgStoreTest : public testing::PgServerTest {
 protected:
  void SetUp() override {
    PgServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    conninfo_ = server_->Conninfo("kagami");
  }

  PgFrontierOptions Opts(const std::string& worker, double lease_s = 30) {
    PgFrontierOptions o;
    o.conninfo = conninfo_;
    o.job = "job";
    o.worker_id = worker;
    o.lease_s = lease_s;
    o.per_host_connections = 100;
    return o;
  }

  static std::unique_ptr<Frontier> Open(const PgFrontierOptions& o) {
    auto f = crawler::OpenPgFrontier(o);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(*f) : nullptr;
  }

  static std::vector<FrontierEntry> Urls(int hosts, int per_host) {
    std::vector<FrontierEntry> out;
    for (int h = 0; h < hosts; ++h)
      for (int i = 0; i < per_host; ++i) {
        FrontierEntry e;
        e.authority = "h" + std::to_string(h) + ".test:80";
        e.url = "http://" + e.authority + "/p" + std::to_string(i);
        e.priority = i % 3;
        out.push_back(e);
      }
    return out;
  }

  static reports::Finding MakeFinding(int i) {
    reports::Finding f;
    f.work = "work-" + std::to_string(i % 3);
    f.source = "http://img.test/" + std::to_string(i) + ".jpg";
    f.source_is_url = true;
    f.media_url = f.source;
    f.page_url = "http://site.test/ch";
    f.captured_at = "2026-01-02T03:04:05Z";
    f.content_sha256 = std::string(64, 'a' + i % 6);
    reports::MatchedUnit u;
    u.pdq_hex = std::string(64, 'f');
    u.ref_unit = i;
    u.distance = i % 20;
    u.similarity = 0.5 + i / 1000.0;
    f.units.push_back(u);
    f.recorded_by = "test";
    return f;
  }

  std::string conninfo_;
};

TEST(StoreLocationTest, AcceptsPostgresUrisKeyValueAndSqliteAndRejectsOthers) {
  unsetenv("KAGAMI_STORE");
  auto d = store::ResolveStoreLocation("", "/data");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->postgres());
  EXPECT_EQ(d->data_dir, "/data");
  auto u = store::ResolveStoreLocation("postgresql://k:secret@db.example/kagami", "/data");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->postgres());
  EXPECT_EQ(u->Display(), "postgresql://k@db.example/kagami");  // password never shown
  auto kv = store::ResolveStoreLocation("host=/run/postgresql dbname=kagami password=x", "/d");
  ASSERT_TRUE(kv.ok());
  EXPECT_TRUE(kv->postgres());
  EXPECT_EQ(kv->Display().find("password=x"), std::string::npos);
  auto s = store::ResolveStoreLocation("sqlite:/other", "/data");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->data_dir, "/other");
  EXPECT_FALSE(store::ResolveStoreLocation("mysql://x", "/data").ok());
  setenv("KAGAMI_STORE", "postgres://h/db", 1);
  auto env = store::ResolveStoreLocation("", "/data");
  unsetenv("KAGAMI_STORE");
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->postgres());
}

TEST(SqliteMigrationsTest, AppliesInOrderOnceAndRefusesANewerStore) {
  testing::TempDir dir;
  testing::SqliteDb db = testing::OpenSqlite((dir.path() / "m.sqlite"));
  ASSERT_NE(db, nullptr);
  sqlite3* raw = db.get();
  const store::Migration v2[] = {{1, "t", "CREATE TABLE t (a INTEGER);"},
                                 {2, "t.b", "ALTER TABLE t ADD COLUMN b TEXT;"}};
  auto first = store::Migrate(raw, "demo", std::span(v2, 1));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 1);
  auto second = store::Migrate(raw, "demo", v2);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, 2);
  EXPECT_EQ(*store::Migrate(raw, "demo", v2), 2);  // nothing left: no error re-adding the column
  auto older = store::Migrate(raw, "demo", std::span(v2, 1));
  EXPECT_EQ(older.status().code(), StatusCode::kUnsupported);
  // A failing migration leaves the previous version intact.
  const store::Migration bad[] = {v2[0], v2[1], {3, "bad", "CREATE TABLE t (a INTEGER);"}};
  EXPECT_FALSE(store::Migrate(raw, "demo", bad).ok());
  EXPECT_EQ(*store::SchemaVersion(raw, "demo"), 2);
}

TEST_F(PgStoreTest, MigrationsRunOnceWhenManyStartTogetherAndErrorsNameTheServer) {
  const store::Migration ms[] = {{1, "t", "CREATE TABLE t (a INTEGER);"},
                                 {2, "t.b", "ALTER TABLE t ADD COLUMN b TEXT;"}};
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto db = store::PgConnection::Connect(conninfo_);
      if (!db.ok() || !store::Migrate(**db, "demo", ms).ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto db = store::PgConnection::Connect(conninfo_);
  ASSERT_TRUE(db.ok());
  auto rows = (*db)->Exec("SELECT count(*) FROM kagami_schema WHERE component='demo'");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->Int(0, 0), 2);
  EXPECT_EQ(store::Migrate(**db, "demo", std::span(ms, 1)).status().code(),
            StatusCode::kUnsupported);
  const store::Migration bad[] = {ms[0], ms[1], {3, "bad", "CREATE TABLE t (a INTEGER);"}};
  EXPECT_FALSE(store::Migrate(**db, "demo", bad).ok());
  EXPECT_EQ(*store::SchemaVersion(**db, "demo"), 2);
  // Parameters are sent apart from the SQL text: quotes are data.
  auto echo = (*db)->Exec("SELECT $1::text", {"'); DROP TABLE t; --"});
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->Text(0, 0), "'); DROP TABLE t; --");
  // A failed connection names the server, without its password.
  auto refused = store::PgConnection::Connect("host=" + server_->dir() +
                                              " user=kagami dbname=missing password=hunter2");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kIoError);
  EXPECT_NE(refused.status().message().find("dbname=missing"), std::string::npos);
  EXPECT_EQ(refused.status().message().find("hunter2"), std::string::npos);
}

TEST_F(PgStoreTest, TwoWorkersNeverClaimTheSameUrlAndExpiredLeasesAreRetaken) {
  auto a = Open(Opts("worker-a"));
  auto b = Open(Opts("worker-b"));
  ASSERT_TRUE(a && b);
  ASSERT_FALSE(*a->BeginRun(true));  // started the run
  ASSERT_TRUE(*b->BeginRun(true));   // joined it
  ASSERT_EQ(*a->Add(Urls(4, 15)), 60);
  EXPECT_EQ(*b->Add(Urls(4, 15)), 0);  // the seen-set is shared
  std::map<std::string, std::vector<int64_t>> got;
  std::mutex mu;
  auto drain = [&](Frontier* f, const std::string& who) {
    while (true) {
      auto hosts = f->ReadyAuthorities();
      ASSERT_TRUE(hosts.ok());
      int claimed = 0;
      for (const std::string& h : *hosts) {
        auto c = f->Claim(h, 3);
        ASSERT_TRUE(c.ok()) << c.status().ToString();
        for (const FrontierEntry& e : *c) {
          {
            std::lock_guard<std::mutex> lock(mu);
            got[who].push_back(e.id);
          }
          ASSERT_TRUE(f->Complete(e.id, crawler::FetchOutcome::kDone, "").ok());
        }
        claimed += static_cast<int>(c->size());
      }
      if (claimed == 0 && hosts->empty()) return;
    }
  };
  std::thread ta(drain, a.get(), "a");
  std::thread tb(drain, b.get(), "b");
  ta.join();
  tb.join();
  std::set<int64_t> all;
  size_t total = 0;
  for (auto& [who, ids] : got) {
    total += ids.size();
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(total, 60u);       // nothing claimed twice
  EXPECT_EQ(all.size(), 60u);  // nothing lost
  EXPECT_FALSE(got["a"].empty());
  EXPECT_FALSE(got["b"].empty());
  auto counts = a->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->queued, 0);
  EXPECT_EQ(counts->done_pages, 60);

  // A worker that dies holding leases: nobody else gets them until they expire.
  FrontierEntry late_url;
  late_url.authority = "late.test:80";
  late_url.url = "http://late.test:80/x";
  ASSERT_EQ(*a->Add({late_url}), 1);
  {
    auto doomed = Open(Opts("worker-doomed", /*lease_s=*/2));
    ASSERT_TRUE(*doomed->BeginRun(true));
    auto c = doomed->Claim("late.test:80", 5);
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(c->size(), 1u);
  }  // destroyed without completing: its heartbeat stops
  auto before = b->Claim("late.test:80", 5);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->empty());
  EXPECT_FALSE(b->ReadyAuthorities()->empty());  // the run is not over while a lease is out
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto after = b->Claim("late.test:80", 5);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->front().url, "http://late.test:80/x");
  ASSERT_TRUE(b->Complete(after->front().id, crawler::FetchOutcome::kDone, "").ok());
  ASSERT_TRUE(b->FinishRun().ok());

  // A labelled run that finished is not redone by a late worker.
  auto late = Opts("worker-late");
  late.run_label = "r1";
  auto l1 = Open(late);
  ASSERT_FALSE(*l1->BeginRun(true));  // new label: a new run
  ASSERT_TRUE(l1->FinishRun().ok());
  auto l2 = Open(late);
  EXPECT_EQ(l2->BeginRun(true).status().code(), StatusCode::kNotFound);
}

TEST_F(PgStoreTest, HostLimitsDelayRetryAfterAndRobotsAreSharedByWorkers) {
  auto oa = Opts("a"), ob = Opts("b");
  oa.per_host_connections = ob.per_host_connections = 1;
  auto a = Open(oa), b = Open(ob);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->BeginRun(true).ok());
  ASSERT_TRUE(b->BeginRun(true).ok());
  ASSERT_EQ(*a->Add(Urls(2, 4)), 8);
  // Concurrency 1 per host across both workers.
  auto ca = a->Claim("h0.test:80", 4);
  ASSERT_EQ(ca->size(), 1u);
  EXPECT_TRUE(b->Claim("h0.test:80", 4)->empty());
  ASSERT_TRUE(a->Complete(ca->front().id, crawler::FetchOutcome::kDone, "").ok());
  auto cb = b->Claim("h0.test:80", 4);
  ASSERT_EQ(cb->size(), 1u);
  ASSERT_TRUE(b->Release(cb->front().id).ok());
  // Retry-After from one worker holds the host for all.
  ASSERT_TRUE(b->Defer("h0.test:80", 60).ok());
  EXPECT_TRUE(a->Claim("h0.test:80", 4)->empty());
  EXPECT_TRUE(b->Claim("h0.test:80", 4)->empty());
  // A minimum delay: one request per delay for all workers together.
  auto oc = Opts("c"), od = Opts("d");
  oc.min_delay_s = od.min_delay_s = 60;
  auto c = Open(oc), d = Open(od);
  ASSERT_TRUE(c->BeginRun(true).ok());
  ASSERT_TRUE(d->BeginRun(true).ok());
  auto c1 = c->Claim("h1.test:80", 4);
  ASSERT_EQ(c1->size(), 1u);
  ASSERT_TRUE(c->Complete(c1->front().id, crawler::FetchOutcome::kDone, "").ok());
  EXPECT_TRUE(d->Claim("h1.test:80", 4)->empty());
  EXPECT_TRUE(c->Claim("h1.test:80", 4)->empty());
  // robots.txt: one worker fetches, the others wait, then all use the cache.
  auto ra = a->LeaseRobots("h2.test:80");
  ASSERT_TRUE(ra.ok());
  EXPECT_EQ(ra->lease, Frontier::RobotsLease::kFetch);
  EXPECT_EQ(b->LeaseRobots("h2.test:80")->lease, Frontier::RobotsLease::kWait);
  ASSERT_TRUE(a->StoreRobots("h2.test:80", "rules\nUser-agent: *\nDisallow: /x\n").ok());
  auto rb = b->LeaseRobots("h2.test:80");
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(rb->lease, Frontier::RobotsLease::kKnown);
  EXPECT_EQ(rb->verdict, "rules\nUser-agent: *\nDisallow: /x\n");
  // Hostile bytes (invalid UTF-8, NUL) in robots.txt, URLs and notes are stored, not fatal.
  ASSERT_EQ(a->LeaseRobots("h3.test:80")->lease, Frontier::RobotsLease::kFetch);
  EXPECT_TRUE(
      a->StoreRobots("h3.test:80", std::string("rules\nDisallow: /\xff\xfe\0x\n", 19)).ok());
  FrontierEntry odd;
  odd.authority = "h4.test:80";
  odd.url = "http://h4.test:80/\xc3\x28\xed\xa0\x80";
  ASSERT_EQ(*a->Add({odd}), 1);
  auto got = a->Claim("h4.test:80", 1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().url, "http://h4.test:80/%C3(%ED%A0%80");
  EXPECT_TRUE(
      a->Complete(got->front().id, crawler::FetchOutcome::kFailed, "bad \xff\x80 bytes").ok());
}

TEST_F(PgStoreTest, AWorkerSeesTheReaderPagesOfAnotherWorkersFindingsAfterARefresh) {
  auto ledger_a = reports::PgFindingsLedger::Open(conninfo_);
  auto ledger_b = reports::PgFindingsLedger::Open(conninfo_);  // another worker's connection
  ASSERT_TRUE(ledger_a.ok()) << ledger_a.status().ToString();
  ASSERT_TRUE(ledger_b.ok()) << ledger_b.status().ToString();
  reports::Finding earlier = MakeFinding(1);
  earlier.page_url = "http://site.test/earlier";
  ASSERT_TRUE((*ledger_a)->Append(earlier).ok());
  auto a = crawler::PgLedgerFindingsSink::Open(**ledger_a);
  auto b = crawler::PgLedgerFindingsSink::Open(**ledger_b);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  // Pages of findings already in the ledger are known to both from the start.
  EXPECT_TRUE((*a)->PageHasFindings("http://site.test/earlier"));
  EXPECT_TRUE((*b)->PageHasFindings("http://site.test/earlier"));

  reports::Finding found = MakeFinding(2);
  found.page_url = "http://site.test/chapter-9";
  ASSERT_TRUE((*a)->Record(found).ok());
  EXPECT_TRUE((*a)->PageHasFindings("http://site.test/chapter-9"));
  EXPECT_FALSE((*b)->PageHasFindings("http://site.test/chapter-9"));
  ASSERT_TRUE((*b)->RefreshPages().ok());
  EXPECT_TRUE((*b)->PageHasFindings("http://site.test/chapter-9"));
  EXPECT_FALSE((*b)->PageHasFindings("http://site.test/chapter-10"));
  EXPECT_FALSE((*b)->PageHasFindings(""));
}

TEST_F(PgStoreTest, FourConcurrentAppendersKeepOneChainWithTheSqliteEntryHash) {
  constexpr int kPerWriter = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      auto ledger = reports::PgFindingsLedger::Open(conninfo_);  // its own connection
      if (!ledger.ok()) {
        ++failures;
        return;
      }
      for (int i = 0; i < kPerWriter; ++i)
        if (!(*ledger)->Append(MakeFinding(w * 100 + i)).ok()) ++failures;
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto ledger = reports::PgFindingsLedger::Open(conninfo_);
  ASSERT_TRUE(ledger.ok());
  auto check = (*ledger)->VerifyChain();
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->entries, 4 * kPerWriter);
  EXPECT_EQ(check->head.seq, 4 * kPerWriter);

  // The same finding offered by 4 workers at once is recorded once.
  std::atomic<int> recorded{0};
  writers.clear();
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&] {
      auto l = reports::PgFindingsLedger::Open(conninfo_);
      if (!l.ok()) return;
      auto r = (*l)->AppendUnique(MakeFinding(7), "key-7");
      if (r.ok() && r->has_value()) ++recorded;
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(recorded.load(), 1);

  // Entries chain exactly as in the embedded ledger (same clock, same bodies).
  testing::TempDir dir;
  auto fixed = [] { return std::string("2026-02-03T04:05:06Z"); };
  ASSERT_EQ(server_->CreateDatabase("same"), "");
  auto pg = reports::PgFindingsLedger::Open(server_->Conninfo("same"), fixed);
  auto lite = reports::FindingsLedger::Open(dir.path(), fixed);
  ASSERT_TRUE(pg.ok() && lite.ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*pg)->Append(MakeFinding(i)).ok());
    ASSERT_TRUE((*lite)->Append(MakeFinding(i)).ok());
  }
  ASSERT_TRUE((*pg)->Review({2, reports::ReviewState::kConfirmed, "ana", "checked"}).ok());
  ASSERT_TRUE((*lite)->Review({2, reports::ReviewState::kConfirmed, "ana", "checked"}).ok());
  auto pe = (*pg)->Entries();
  auto le = (*lite)->Entries();
  ASSERT_TRUE(pe.ok() && le.ok());
  ASSERT_EQ(pe->size(), le->size());
  for (size_t i = 0; i < pe->size(); ++i) {
    EXPECT_EQ((*pe)[i].hash, (*le)[i].hash);
    EXPECT_EQ((*pe)[i].body, (*le)[i].body);
  }
  EXPECT_EQ((*pg)->Get(2)->status, reports::ReviewState::kConfirmed);
  // Append-only: the server refuses edits.
  auto db = store::PgConnection::Connect(server_->Conninfo("same"));
  ASSERT_TRUE(db.ok());
  EXPECT_FALSE((*db)->Exec("UPDATE ledger SET body='{}' WHERE seq=1").ok());
  EXPECT_FALSE((*db)->Exec("DELETE FROM ledger").ok());
  // Import copies an embedded chain verbatim, and is resumable.
  ASSERT_EQ(server_->CreateDatabase("copy"), "");
  auto copy = reports::PgFindingsLedger::Open(server_->Conninfo("copy"));
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(*(*copy)->Import(*le), static_cast<int64_t>(le->size()));
  EXPECT_EQ(*(*copy)->Import(*le), 0);
  EXPECT_EQ((*copy)->Head()->hash, (*lite)->Head()->hash);
  EXPECT_FALSE((*ledger)->Import(*le).ok());  // a different chain is not overwritten
}

}  // namespace
}  // namespace kagami
