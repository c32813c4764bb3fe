#include "kagami/crawler/safe_fetcher.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <thread>

#include "kagami/crawler/url.h"

namespace kagami::crawler {

double ParseRetryAfter(const std::string& value, double now_unix_s) {
  if (value.empty()) return -1;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return value.size() > 9 ? 1e9 : std::atof(value.c_str());
  }
  std::tm tm{};
  const char* end = strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return -1;
  return std::max(0.0, static_cast<double>(timegm(&tm)) - now_unix_s);
}

Result<std::unique_ptr<SafeFetcher>> SafeFetcher::Create(Options options, WarcWriter* warc) {
  std::unique_ptr<SafeFetcher> f(new SafeFetcher());
  options.http.max_connections = 1;
  options.http.max_host_connections = 1;
  KAGAMI_ASSIGN_OR_RETURN(f->client_, HttpClient::Create(options.http));
  f->options_ = std::move(options);
  f->warc_ = warc;
  return f;
}

Result<ingest::FetchedBytes> SafeFetcher::Fetch(const std::string& url_text, uint64_t max_bytes) {
  KAGAMI_ASSIGN_OR_RETURN(Url url, ParseUrl(url_text));
  std::string current = url.canonical;
  int redirects = 0, retries = 0;
  while (true) {
    if (options_.allow) {
      std::string why = options_.allow(current);
      if (!why.empty()) return Status::Unsupported(current + ": " + why);
    }
    auto now = std::chrono::steady_clock::now();
    if (now < next_start_) std::this_thread::sleep_for(next_start_ - now);
    next_start_ = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(options_.min_delay_s * 1000));
    HttpRequest req;
    req.token = static_cast<uint64_t>(++requests_);
    req.url = current;
    req.max_body_bytes = max_bytes;
    client_->Start(req);
    std::vector<HttpResponse> done;
    while (done.empty()) done = client_->Poll(200);
    HttpResponse& r = done.front();
    bytes_ += r.raw_body.size();
    if (r.code != 0 && warc_ != nullptr) {
      KAGAMI_ASSIGN_OR_RETURN(WarcRef ref, warc_->Write(ToExchange(r)));
      if (options_.on_archived) options_.on_archived(r.url, ref);
    }
    if (!r.status.ok()) return r.status.WithContext(current);
    if ((r.code == 429 || r.code == 503) && retries < options_.max_retries) {
      ++retries;
      auto ra = r.headers.find("retry-after");
      double wait = ra == r.headers.end()
                        ? -1
                        : ParseRetryAfter(ra->second, static_cast<double>(std::time(nullptr)));
      wait = std::max(wait, std::max(0.25, options_.min_delay_s) * std::pow(2.0, retries - 1));
      wait = std::min(wait, options_.max_backoff_s);
      next_start_ =
          std::max(next_start_, std::chrono::steady_clock::now() +
                                    std::chrono::milliseconds(static_cast<int64_t>(wait * 1000)));
      continue;
    }
    if (r.code >= 300 && r.code < 400) {
      auto loc = r.headers.find("location");
      if (loc == r.headers.end()) return Status::IoError(current + ": redirect without Location");
      if (++redirects > options_.max_redirects) {
        return Status::Unsupported(current + ": more than " +
                                   std::to_string(options_.max_redirects) + " redirects");
      }
      KAGAMI_ASSIGN_OR_RETURN(Url next, ParseUrl(loc->second, current));
      current = next.canonical;
      continue;
    }
    if (r.code < 200 || r.code >= 300) {
      return Status::IoError(current + ": HTTP " + std::to_string(r.code));
    }
    ingest::FetchedBytes out;
    out.url = current;
    out.bytes = std::move(r.body);
    auto ct = r.headers.find("content-type");
    if (ct != r.headers.end()) out.content_type = ct->second;
    return out;
  }
}

}  // namespace kagami::crawler
