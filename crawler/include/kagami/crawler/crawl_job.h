#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/crawler/html_extractor.h"

namespace kagami::crawler {

// Bounds on everything a hostile site controls.
struct CrawlLimits {
  int64_t max_pages = 1000;                 // HTML pages fetched per run
  int64_t max_media = 20000;                // images/archives fetched per run
  int max_depth = 8;                        // link hops from a seed (pages); media one hop more
  int max_redirects = 5;                    // consecutive redirect hops
  uint64_t max_page_bytes = 8 << 20;        // one HTML body, as received and decoded
  uint64_t max_media_bytes = 256ull << 20;  // one image or archive, as received and decoded
  double max_decompression_ratio = 100;     // decoded / received, per response (gzip, br)
  int connect_timeout_ms = 10000;
  int total_timeout_ms = 120000;                    // one exchange, start to end
  int low_speed_bytes_per_s = 512;                  // abort below this rate ...
  int low_speed_time_s = 15;                        // ... sustained for this long
  int max_connections = 16;                         // exchanges in flight, all hosts
  uint64_t max_pending_media_bytes = 512ull << 20;  // fetched, waiting to be fingerprinted
  // Live HLS playlists (no #EXT-X-ENDLIST) found by the crawl are followed
  // until one of these bounds (ingest::VideoDecodeOptions::Live).
  double live_max_media_s = 600;    // EXTINF seconds taken
  int64_t live_max_segments = 600;  // media segments taken
  double live_max_wall_s = 0;       // from the first playlist fetch; 0: 1.1 x media + 60 s
  double live_max_stall_s = 0;      // no new segment for this long; 0: three target durations
};

// Per-host politeness.
struct Politeness {
  int per_host_connections = 2;
  double min_delay_s =
      0.5;              // between request starts to one host (robots Crawl-delay wins if larger)
  int max_retries = 3;  // for 429, 503, timeouts and connection errors
  double max_backoff_s = 300;  // exponential back-off cap, also caps Retry-After
  bool obey_robots = true;
  // robots.txt answering 5xx or unreachable (RFC 9309 2.3.1.4): the host is
  // completely disallowed meanwhile and robots.txt is asked again after
  // robots_retry_s, doubling (capped at max_backoff_s), up to robots_retries
  // more times; after that the host's queued URLs are refused for this run.
  double robots_retry_s = 30;
  int robots_retries = 3;
  // Hosts whose robots.txt is deliberately not obeyed; each such fetch is
  // recorded as an override in its findings.
  std::vector<std::string> ignore_robots_hosts;
};

// A crawl job (TOML file; see README "Crawl jobs" for every key).
struct CrawlJob {
  std::string name;  // identifies the job's frontier and WARC folder
  std::vector<std::string> seeds;
  std::vector<std::string> follow_hosts;  // pages are followed only here (seeds' hosts added)
  // Media and archives linked from followed pages are fetched from any host
  // (image CDNs, file lockers) unless this list is non-empty.
  std::vector<std::string> media_hosts;
  std::vector<std::string> works;            // work ids to report ("" = every registered work)
  std::vector<std::string> resolve;          // "HOST:PORT:ADDR" pins, as curl --resolve
  std::vector<std::string> allow_addresses;  // IPs or CIDRs exempt from the address policy
  std::string user_agent;                    // default names Kagami and the operator
  std::string operator_contact;              // put in the default user agent and the WARC info
  std::string schedule;                      // 5-field cron expression ("" = manual only)
  CrawlLimits limits;
  Politeness politeness;
  std::vector<SiteRule> sites;
  // Job key `colour_check` (default true; `kagami crawl --no-colour-check`
  // sets it false): whether matches whose colours disagree with their
  // registered page's are dropped (index::RobustOptions::colour_check). False
  // turns the check off for this job whatever RunJobOptions says.
  bool colour_check = true;
  // Measuring only (`kagami crawl --fetch-only`, not a job-file key): media is
  // fetched and archived to WARC but not fingerprinted or matched.
  bool fetch_only = false;

  std::string EffectiveUserAgent() const;
  std::string RobotsToken() const { return "kagami"; }
};

// Parses a job file. Errors name the file, the key and what is wrong.
Result<CrawlJob> LoadCrawlJob(const std::filesystem::path& path);
Result<CrawlJob> ParseCrawlJob(std::string_view toml_text, const std::string& source_name);

}  // namespace kagami::crawler
