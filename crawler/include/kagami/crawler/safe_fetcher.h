#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "kagami/base/status.h"
#include "kagami/crawler/http_client.h"
#include "kagami/crawler/warc_writer.h"
#include "kagami/ingest/byte_fetcher.h"

namespace kagami::crawler {

// The crawler's fetcher behind ingest::ByteFetcher, for readers that pull in
// more resources by URL (HLS playlists and segments): one request at a time
// on its own HttpClient, so the address policy (after DNS), size, time and
// decompression caps, http/https only and --resolve pins all apply; redirects
// followed hop by hop up to `max_redirects`; 429/503 retried after
// Retry-After or an exponential back-off (capped at `max_backoff_s`), at most
// `max_retries` times; at least `min_delay_s` between request starts; every
// exchange (redirects and errors included) written to `warc` when given.
// Not thread-safe: one thread uses a fetcher.
class SafeFetcher : public ingest::ByteFetcher {
 public:
  struct Options {
    HttpClientOptions http;
    int max_redirects = 5;
    int max_retries = 3;
    double min_delay_s = 0;
    double max_backoff_s = 60;
    // Optional: "" when the URL may be fetched, else why not (robots.txt).
    std::function<std::string(const std::string& url)> allow;
    // Optional: called for each exchange archived (the WARC reference).
    std::function<void(const std::string& url, const WarcRef& ref)> on_archived;
  };
  // `warc` may be null (nothing archived); not owned, must outlive the fetcher.
  static Result<std::unique_ptr<SafeFetcher>> Create(Options options, WarcWriter* warc);

  Result<ingest::FetchedBytes> Fetch(const std::string& url, uint64_t max_bytes) override;

  int requests() const { return requests_; }
  uint64_t bytes_received() const { return bytes_; }

 private:
  SafeFetcher() = default;
  Options options_;
  WarcWriter* warc_ = nullptr;
  std::unique_ptr<HttpClient> client_;
  std::chrono::steady_clock::time_point next_start_{};
  int requests_ = 0;
  uint64_t bytes_ = 0;
};

// Seconds from a Retry-After value (delta-seconds or an HTTP-date, RFC 9110
// 10.2.3) relative to `now_unix_s`; -1 when it is neither.
double ParseRetryAfter(const std::string& value, double now_unix_s);

}  // namespace kagami::crawler
