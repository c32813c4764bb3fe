#include "kagami/crawler/findings_sink.h"

#include <time.h>

#include <algorithm>
#include <ctime>

namespace kagami::crawler {

std::string FindingKey(const reports::Finding& f) {
  return f.work + "|" + f.media_url + "|" + f.content_sha256;
}

Result<std::unique_ptr<LedgerFindingsSink>> LedgerFindingsSink::Open(
    reports::FindingsLedger& ledger) {
  std::unique_ptr<LedgerFindingsSink> sink(new LedgerFindingsSink(ledger));
  KAGAMI_ASSIGN_OR_RETURN(std::vector<reports::FindingRecord> existing,
                          ledger.List(reports::FindingFilter{}));
  for (const reports::FindingRecord& r : existing) {
    if (!r.finding.source_is_url) continue;
    sink->keys_.insert(FindingKey(r.finding));
    sink->pages_.Add(r.finding);
  }
  return sink;
}

Result<bool> LedgerFindingsSink::Record(const reports::Finding& finding) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string key = FindingKey(finding);
  if (keys_.count(key)) return false;
  KAGAMI_RETURN_IF_ERROR(ledger_.Append(finding).status());
  keys_.insert(key);
  pages_.Add(finding);
  return true;
}

namespace {

// "YYYY-MM-DDTHH:MM:SSZ" `seconds` earlier; "" when `utc` is not that form.
std::string EarlierUtc(const std::string& utc, int64_t seconds) {
  std::tm tm{};
  if (strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) return "";
  const time_t t = timegm(&tm) - seconds;
  std::tm out{};
  if (gmtime_r(&t, &out) == nullptr) return "";
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &out) == 0) return "";
  return buf;
}

}  // namespace

Status PagesWithFindings::Load(reports::FindingsLedger& ledger) {
  // After the first load, only findings captured since the latest one seen,
  // less kClockSkew (workers' clocks differ; a capture is recorded after it).
  constexpr int64_t kClockSkew = 600;
  reports::FindingFilter filter;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!latest_captured_.empty()) filter.since = EarlierUtc(latest_captured_, kClockSkew);
  }
  KAGAMI_ASSIGN_OR_RETURN(std::vector<reports::FindingRecord> records, ledger.List(filter));
  for (const reports::FindingRecord& r : records) Add(r.finding);
  return Status::Ok();
}

void PagesWithFindings::Add(const reports::Finding& finding) {
  if (!finding.source_is_url || finding.page_url.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  pages_.insert(finding.page_url);
  latest_captured_ = std::max(latest_captured_, finding.captured_at);
}

bool PagesWithFindings::Contains(const std::string& page_url) const {
  if (page_url.empty()) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  return pages_.count(page_url) > 0;
}

}  // namespace kagami::crawler
