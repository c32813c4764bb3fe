#include "kagami/crawler/job_runner.h"

#include "kagami/crawler/crawl_worker.h"
#include "kagami/index/store.h"

namespace kagami::crawler {

std::filesystem::path JobDir(const std::filesystem::path& data_dir, const CrawlJob& job) {
  return data_dir / "crawl" / job.name;
}

Result<CrawlSummary> RunCrawlJob(const CrawlJob& job, const std::filesystem::path& data_dir,
                                 const RunJobOptions& given) {
  RunJobOptions options = given;
  if (!job.colour_check) options.scan.robust.colour_check = false;
  if (!options.pg_conninfo.empty()) return RunCrawlWorker(job, data_dir, options);
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<index::Store> store, index::Store::Open(data_dir));
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<reports::FindingsLedger> ledger,
                          reports::FindingsLedger::Open(data_dir));
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<LedgerFindingsSink> sink,
                          LedgerFindingsSink::Open(*ledger));
  pipeline::Scanner scanner(*store, options.scan);
  Crawler crawler(job, data_dir, scanner, *sink, options.on_finding);
  return crawler.Run(options.resume, options.stop, options.progress);
}

}  // namespace kagami::crawler
