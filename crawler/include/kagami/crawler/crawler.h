#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/crawler/crawl_job.h"
#include "kagami/crawler/findings_sink.h"
#include "kagami/crawler/frontier.h"
#include "kagami/pipeline/scanner.h"

namespace kagami::crawler {

struct CrawlProgress {
  int64_t pages = 0;     // HTML pages fetched
  int64_t media = 0;     // images and archives fetched
  int64_t bytes = 0;     // response bytes received (as sent)
  int64_t findings = 0;  // new findings recorded
  int64_t refused = 0;   // URLs not fetched (robots, address policy, caps, budgets)
  // Images completed without the local-feature stage: no PDQ candidate, not
  // sampled, and no image of their reader page matched
  // (pipeline::ScanOptions::local_sample).
  int64_t media_local_skipped = 0;
  int64_t failed = 0;  // fetches that failed after retries
  int64_t queued = 0;
  int in_flight = 0;
};

struct CrawlSummary {
  CrawlProgress totals;
  bool resumed = false;  // continued a run that had been interrupted
  bool stopped = false;  // ended by the stop flag (the run stays resumable)
  double seconds = 0;
  std::vector<std::string> warc_files;  // written by this invocation (absolute paths)
};

// Runs a crawl job: fetch (one libcurl event loop on the calling thread) ->
// extraction -> frontier, and each fetched media item, as it arrives, through
// a TBB flow graph: WARC record + SHA-256 -> ingest -> fingerprint -> match
// (the long-lived Scanner) -> findings (serial), with HLS streams on their own
// threads joining the graph through an async node. The graph runs in its own
// task arena with one worker per extraction thread (Scanner options), so the
// event loop's thread never fingerprints. Memory is bounded: response bodies
// by the job's size caps, media waiting in the graph by
// limits.max_pending_media_bytes (fetching of new URLs pauses above it).
//
// State lives in <data_dir>/crawl/<job name>/ (created): frontier.sqlite and
// warc/*.warc.gz; matched media is also kept in the data directory's evidence
// store (reports::EvidenceStore) and findings go to `findings`. An
// interrupted run (killed, or stopped through `stop`) resumes on the next Run
// with `resume`; a finished run starts afresh. A media URL is completed in the
// frontier only after its findings are recorded, so a kill loses nothing.
class Crawler {
 public:
  // `on_finding` (may be empty) is called from the media graph's record node
  // or a stream thread, one call at a time, for each finding newly recorded.
  Crawler(CrawlJob job, std::filesystem::path data_dir, pipeline::Scanner& scanner,
          FindingsSink& findings, std::function<void(const reports::Finding&)> on_finding = {});
  ~Crawler();

  // Crawls with `frontier` instead of <dir>/frontier.sqlite (e.g. a shared
  // PostgreSQL frontier for many workers, pg_frontier.h). Call before Run.
  void UseFrontier(std::unique_ptr<Frontier> frontier);

  // `stop` (may be null) is polled; setting it ends the run cleanly: no new
  // fetches; exchanges in flight get 5 s to finish, then are abandoned;
  // fetched media gets 20 s to be fingerprinted and recorded, and media still
  // queued then is dropped unarchived; every URL still claimed goes back to
  // the frontier at once (ReleaseAll: other workers take it without waiting
  // for a lease to expire). The summary says `stopped`; the run stays resumable.
  // `progress` (may be empty) is called from the calling thread a few times a second.
  Result<CrawlSummary> Run(bool resume, const std::atomic<bool>* stop,
                           const std::function<void(const CrawlProgress&)>& progress);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kagami::crawler
