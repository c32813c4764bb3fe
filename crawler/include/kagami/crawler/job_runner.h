#pragma once

#include <atomic>
#include <filesystem>
#include <functional>

#include "kagami/base/status.h"
#include "kagami/crawler/crawl_job.h"
#include "kagami/crawler/crawler.h"
#include "kagami/crawler/findings_sink.h"
#include "kagami/pipeline/scanner.h"

namespace kagami::crawler {

struct RunJobOptions {
  pipeline::ScanOptions scan;  // how fetched media is fingerprinted and matched
  bool resume = true;          // continue an interrupted run of the same job
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const CrawlProgress&)> progress;
  // Called (from the media graph's record node or a stream thread, serialised) for each new
  // finding.
  std::function<void(const reports::Finding&)> on_finding;
  // Worker mode (crawl_worker.h): a PostgreSQL conninfo puts the frontier and
  // the findings ledger there, shared with every other worker of the job.
  std::string pg_conninfo;
  std::string run_label;  // worker mode: which run to join ("" = the running one)
  double lease_s = 60;    // worker mode: URL lease, renewed while the worker lives
};

// The job's state folder: <data_dir>/crawl/<job name>.
std::filesystem::path JobDir(const std::filesystem::path& data_dir, const CrawlJob& job);
// Opens the store in `data_dir` (its matchers loaded once) and the findings
// ledger there, and runs the job.
Result<CrawlSummary> RunCrawlJob(const CrawlJob& job, const std::filesystem::path& data_dir,
                                 const RunJobOptions& options);

}  // namespace kagami::crawler
