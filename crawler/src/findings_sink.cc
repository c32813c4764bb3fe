#include "kagami/crawler/findings_sink.h"

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
    if (r.finding.source_is_url) sink->keys_.insert(FindingKey(r.finding));
  }
  return sink;
}

Result<bool> LedgerFindingsSink::Record(const reports::Finding& finding) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string key = FindingKey(finding);
  if (keys_.count(key)) return false;
  KAGAMI_RETURN_IF_ERROR(ledger_.Append(finding).status());
  keys_.insert(key);
  return true;
}

}  // namespace kagami::crawler
