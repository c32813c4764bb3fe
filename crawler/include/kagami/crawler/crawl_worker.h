#pragma once

// Crawl worker mode: one of any number of processes, on any number of
// machines, crawling one job together through a shared PostgreSQL store
// (pg_frontier.h for leasing and politeness, reports/pg_findings_ledger.h for
// one hash chain of findings). Each worker matches against the catalog in its
// own data directory and writes its WARC files and evidence there (a shared
// data directory, or one per machine; see README "Deployment").

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "kagami/base/status.h"
#include "kagami/crawler/crawl_job.h"
#include "kagami/crawler/crawler.h"
#include "kagami/crawler/findings_sink.h"
#include "kagami/crawler/job_runner.h"
#include "kagami/reports/pg_findings_ledger.h"

namespace kagami::crawler {

// Records each finding once across all workers: the duplicate check (work,
// media URL, content SHA-256) runs inside the ledger's append transaction.
class PgLedgerFindingsSink : public FindingsSink {
 public:
  // Reads the pages with findings of `ledger` (not owned; must outlive the
  // sink) as they are now (RefreshPages for later ones).
  static Result<std::unique_ptr<PgLedgerFindingsSink>> Open(reports::PgFindingsLedger& ledger);
  Result<bool> Record(const reports::Finding& finding) override;
  bool PageHasFindings(const std::string& page_url) override { return pages_.Contains(page_url); }
  Status RefreshPages() override { return pages_.Load(ledger_); }

 private:
  explicit PgLedgerFindingsSink(reports::PgFindingsLedger& ledger) : ledger_(ledger) {}
  reports::PgFindingsLedger& ledger_;  // not owned
  PagesWithFindings pages_;
};

// Runs `job` as one worker against options.pg_conninfo (RunCrawlJob calls it
// when that is set). kNotFound when the labelled run has already finished.
Result<CrawlSummary> RunCrawlWorker(const CrawlJob& job, const std::filesystem::path& data_dir,
                                    const RunJobOptions& options);

}  // namespace kagami::crawler
