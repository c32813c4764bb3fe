#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "kagami/base/status.h"
#include "kagami/reports/findings_ledger.h"

namespace kagami::crawler {

// Where a crawl records findings (reports::Finding: one fetched media source
// that holds pages of one registered work, with the matched units and the
// evidence: content SHA-256, WARC record, HTTP exchange, robots override).
// Thread-safe.
class FindingsSink {
 public:
  virtual ~FindingsSink() = default;
  // Returns true when the finding was recorded, false when the same finding
  // (work, media URL, content SHA-256) is already recorded: a crawl resumed
  // after a kill re-scans media whose completion was not yet stored, and a
  // re-crawl finding unchanged content must not accuse twice.
  virtual Result<bool> Record(const reports::Finding& finding) = 0;
  // Whether a finding was recorded for media found on reader page `page_url`
  // (its canonical URL), by this crawl, an earlier one or another worker
  // sharing the ledger, as of the last RefreshPages(): the page's other images
  // are then all described (Crawler's page evidence). False by default.
  virtual bool PageHasFindings(const std::string& page_url) {
    (void)page_url;
    return false;
  }
  // Reads the ledger again for pages with findings recorded elsewhere since
  // (other workers). A failure leaves the pages known as they were.
  virtual Status RefreshPages() { return Status::Ok(); }
};

// The reader pages with URL findings in a ledger (FindingsSink::
// PageHasFindings). Thread-safe.
class PagesWithFindings {
 public:
  // Adds the page of every URL finding in `ledger`; after the first load,
  // of those captured since the latest seen (less ten minutes of clock skew).
  Status Load(reports::FindingsLedger& ledger);
  void Add(const reports::Finding& finding);
  bool Contains(const std::string& page_url) const;

 private:
  mutable std::mutex mutex_;
  std::set<std::string> pages_;
  std::string latest_captured_;  // UTC, "YYYY-MM-DDTHH:MM:SSZ"
};

// Records into the tamper-evident findings ledger (reports/findings_ledger.h).
class LedgerFindingsSink : public FindingsSink {
 public:
  // Loads the keys of the URL findings already in `ledger` (not owned; must
  // outlive the sink).
  static Result<std::unique_ptr<LedgerFindingsSink>> Open(reports::FindingsLedger& ledger);
  Result<bool> Record(const reports::Finding& finding) override;
  bool PageHasFindings(const std::string& page_url) override { return pages_.Contains(page_url); }
  Status RefreshPages() override { return pages_.Load(ledger_); }

 private:
  explicit LedgerFindingsSink(reports::FindingsLedger& ledger) : ledger_(ledger) {}
  reports::FindingsLedger& ledger_;
  std::mutex mutex_;
  std::set<std::string> keys_;
  PagesWithFindings pages_;
};

// "work|media_url|content_sha256"
std::string FindingKey(const reports::Finding& f);

}  // namespace kagami::crawler
