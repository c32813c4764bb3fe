#include "kagami/crawler/job_runner.h"

#include "kagami/index/store.h"

namespace kagami::crawler {
namespace {

// Forwards new findings to a callback after they are durably recorded.
class NotifyingSink : public FindingsSink {
 public:
  NotifyingSink(FindingsSink& inner, std::function<void(const CrawlFinding&)> fn)
      : inner_(inner), fn_(std::move(fn)) {}
  Result<bool> Record(const CrawlFinding& finding) override {
    KAGAMI_ASSIGN_OR_RETURN(bool added, inner_.Record(finding));
    if (added && fn_) fn_(finding);
    return added;
  }

 private:
  FindingsSink& inner_;
  std::function<void(const CrawlFinding&)> fn_;
};

}  // namespace

std::filesystem::path JobDir(const std::filesystem::path& data_dir, const CrawlJob& job) {
  return data_dir / "crawl" / job.name;
}

std::filesystem::path FindingsPath(const std::filesystem::path& data_dir) {
  return data_dir / "findings.jsonl";
}

Result<CrawlSummary> RunCrawlJob(const CrawlJob& job, const std::filesystem::path& data_dir,
                                 const RunJobOptions& options) {
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<index::Store> store, index::Store::Open(data_dir));
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<JsonlFindingsSink> ledger,
                          JsonlFindingsSink::Open(FindingsPath(data_dir)));
  NotifyingSink sink(*ledger, options.on_finding);
  pipeline::Scanner scanner(*store, options.scan);
  Crawler crawler(job, JobDir(data_dir, job), scanner, sink);
  return crawler.Run(options.resume, options.stop, options.progress);
}

}  // namespace kagami::crawler
