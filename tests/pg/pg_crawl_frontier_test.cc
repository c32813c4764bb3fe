// The PostgreSQL frontier's shared run state against a real server
// (pg_server.h): page budgets counted once for all workers under concurrent
// claims, leases released at once on a clean stop, and robots.txt 5xx
// back-off shared by workers without caching the failure.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "kagami/crawler/pg_frontier.h"
#include "pg_server.h"

namespace kagami {
namespace {

using crawler::Frontier;
using crawler::FrontierEntry;
using crawler::PgFrontierOptions;

class PgCrawlFrontierTest : public testing::PgServerTest {
 protected:
  std::unique_ptr<Frontier> Open(const std::string& worker, double lease_s = 600) {
    PgFrontierOptions o;
    o.conninfo = server_->Conninfo("kagami");
    o.job = "job";
    o.worker_id = worker;
    o.lease_s = lease_s;
    o.per_host_connections = 1000;
    auto f = crawler::OpenPgFrontier(o);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(*f) : nullptr;
  }

  static std::vector<FrontierEntry> Pages(int n) {
    std::vector<FrontierEntry> out;
    for (int i = 0; i < n; ++i) {
      FrontierEntry e;
      e.authority = "h.test:80";
      e.url = "http://h.test:80/p" + std::to_string(i);
      out.push_back(e);
    }
    return out;
  }
};

TEST_F(PgCrawlFrontierTest, PageBudgetIsCountedOnceForAllWorkersUnderConcurrentClaims) {
  constexpr int kWorkers = 4, kLimit = 10;
  std::vector<std::unique_ptr<Frontier>> fs;
  for (int w = 0; w < kWorkers; ++w) {
    fs.push_back(Open("w" + std::to_string(w)));
    ASSERT_TRUE(fs.back());
    ASSERT_TRUE(fs.back()->SharesBudgets());
    ASSERT_TRUE(fs.back()->BeginRun(true).ok());
  }
  ASSERT_EQ(*fs[0]->Add(Pages(60)), 60);
  std::atomic<int> granted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      while (true) {
        auto claimed = fs[w]->Claim("h.test:80", 3);
        if (!claimed.ok() || claimed->empty()) {
          auto counts = fs[w]->Counts();
          if (counts.ok() && counts->queued == 0) return;
          continue;  // another worker holds the host row right now
        }
        for (const FrontierEntry& e : *claimed) {
          auto ok = fs[w]->TakeBudget(e.id, /*page=*/true, kLimit);
          ASSERT_TRUE(ok.ok()) << ok.status().ToString();
          ++(*ok ? granted : refused);
          ASSERT_TRUE(
              fs[w]
                  ->Complete(e.id,
                             *ok ? crawler::FetchOutcome::kDone : crawler::FetchOutcome::kRefused,
                             "")
                  .ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), kLimit);
  EXPECT_EQ(refused.load(), 60 - kLimit);
  // A URL taken again (a retry, or a lease taken over) is not counted twice.
  ASSERT_EQ(*fs[0]->Add(Pages(61)), 1);
  auto last = fs[1]->Claim("h.test:80", 1);
  ASSERT_EQ(last->size(), 1u);
  EXPECT_FALSE(*fs[1]->TakeBudget(last->front().id, true, kLimit));  // spent
  EXPECT_TRUE(*fs[1]->TakeBudget(last->front().id, false, 100));     // media budget separate
  EXPECT_TRUE(*fs[2]->TakeBudget(last->front().id, false, 1));       // already counted
}

TEST_F(PgCrawlFrontierTest, ReleaseAllHandsEveryLeaseToAnotherWorkerAtOnce) {
  auto a = Open("a"), b = Open("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->BeginRun(true).ok());
  ASSERT_TRUE(b->BeginRun(true).ok());
  ASSERT_EQ(*a->Add(Pages(5)), 5);
  auto held = a->Claim("h.test:80", 5);
  ASSERT_EQ(held->size(), 5u);
  ASSERT_EQ(a->LeaseRobots("r.test:80")->lease, Frontier::RobotsLease::kFetch);
  EXPECT_TRUE(b->Claim("h.test:80", 5)->empty());  // leased for 10 minutes
  EXPECT_EQ(b->LeaseRobots("r.test:80")->lease, Frontier::RobotsLease::kWait);
  ASSERT_TRUE(a->Complete(held->front().id, crawler::FetchOutcome::kDone, "").ok());
  ASSERT_TRUE(a->ReleaseAll().ok());
  auto taken = b->Claim("h.test:80", 5);
  EXPECT_EQ(taken->size(), 4u);  // the completed one stays done
  EXPECT_EQ(b->LeaseRobots("r.test:80")->lease, Frontier::RobotsLease::kFetch);
  // What b holds is untouched by a's release.
  ASSERT_TRUE(a->ReleaseAll().ok());
  EXPECT_TRUE(a->Claim("h.test:80", 5)->empty());
}

TEST_F(PgCrawlFrontierTest, RobotsFailuresAreSharedAndNotCachedAsAVerdict) {
  auto a = Open("a"), b = Open("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->BeginRun(true).ok());
  auto ra = a->LeaseRobots("d.test:80");
  ASSERT_EQ(ra->lease, Frontier::RobotsLease::kFetch);
  EXPECT_EQ(ra->failures, 0);
  // a saw a 5xx: nothing cached, the count shared; b may ask next.
  ASSERT_TRUE(a->StoreRobots("d.test:80", "retry").ok());
  auto rb = b->LeaseRobots("d.test:80");
  ASSERT_EQ(rb->lease, Frontier::RobotsLease::kFetch);
  EXPECT_EQ(rb->failures, 1);
  ASSERT_TRUE(b->StoreRobots("d.test:80", "retry").ok());
  EXPECT_EQ(a->LeaseRobots("d.test:80")->failures, 2);
  // Retries exhausted: complete disallow, kept only for the given time.
  ASSERT_TRUE(a->StoreRobots("d.test:80", "disallow", /*disallow_valid_s=*/1).ok());
  auto known = b->LeaseRobots("d.test:80");
  EXPECT_EQ(known->lease, Frontier::RobotsLease::kKnown);
  EXPECT_EQ(known->verdict, "disallow");
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  auto again = b->LeaseRobots("d.test:80");
  EXPECT_EQ(again->lease, Frontier::RobotsLease::kFetch);
  EXPECT_EQ(again->failures, 0);
  // Rules are kept for 24 hours.
  ASSERT_TRUE(b->StoreRobots("d.test:80", "rules\nUser-agent: *\nDisallow: /x\n").ok());
  EXPECT_EQ(a->LeaseRobots("d.test:80")->lease, Frontier::RobotsLease::kKnown);
}

}  // namespace
}  // namespace kagami
