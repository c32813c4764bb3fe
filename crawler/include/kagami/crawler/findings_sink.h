#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "kagami/base/status.h"

namespace kagami::crawler {

// One registered page found in fetched media: the accusation and its evidence.
struct CrawlFinding {
  std::string job;
  std::string work_id;
  std::string work_title;
  std::string rights_holder;
  std::string page_url;         // the HTML page that linked the media ("" for a seed)
  std::string media_url;        // the fetched image or archive
  std::string member;           // the page inside an archive ("" for an image)
  int page_index = 0;
  int64_t fetched_unix_ms = 0;  // UTC
  std::string media_sha256;     // of the bytes as decoded from the HTTP response
  std::string warc_file;        // WARC holding the response
  std::string warc_record_id;
  uint64_t warc_offset = 0;
  int64_t unit_id = 0;          // the registered page
  std::string registered_member;
  std::string method;           // pdq, local, both
  std::string view;             // full, trimmed, left, right
  int distance = -1;            // PDQ bits (-1: local features only)
  int quality = 0;              // PDQ quality of the suspect page
  std::string suspect_pdq_hex;  // the suspect page's own PDQ hash
  int inliers = 0;
  double coverage = 0;
  bool robots_overridden = false;  // fetched although robots.txt disallowed it (job override)
};

// Where a crawl records findings. Record() is idempotent on (work, media
// SHA-256, member, unit): a crawl resumed after a kill re-scans media whose
// completion was not yet stored, and must not accuse twice.
// Thread-safe.
class FindingsSink {
 public:
  virtual ~FindingsSink() = default;
  // Returns true when the finding is new.
  virtual Result<bool> Record(const CrawlFinding& finding) = 0;
};

// Append-only JSON Lines file (one finding per line, fsync'd), used until the
// tamper-evident findings ledger is available to the crawler.
class JsonlFindingsSink : public FindingsSink {
 public:
  static Result<std::unique_ptr<JsonlFindingsSink>> Open(const std::filesystem::path& path);
  Result<bool> Record(const CrawlFinding& finding) override;

 private:
  std::filesystem::path path_;
  std::mutex mutex_;
  std::set<std::string> keys_;
  int fd_ = -1;

 public:
  ~JsonlFindingsSink() override;
};

std::string FindingKey(const CrawlFinding& f);
std::string FindingToJson(const CrawlFinding& f);

}  // namespace kagami::crawler
