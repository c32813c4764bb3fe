#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/reports/findings_ledger.h"

namespace kagami::reports::internal {

// Folds ledger entries, fed in seq order, into FindingRecords: the findings
// `filter.ids` selects (all when empty) with the reviews that name them, the
// last review setting the status. Backends select by work and time in their
// query and feed every review; `filter.status` is applied by Finish().
// `context` prefixes errors (e.g. the store's path). Not thread-safe.
class FindingFold {
 public:
  FindingFold(const FindingFilter& filter, std::string context);

  // kCorrupt (with the entry's seq) when a body does not parse for its kind.
  Status Add(LedgerEntry entry);
  std::vector<FindingRecord> Finish() &&;

 private:
  std::set<int64_t> ids_;
  std::optional<ReviewState> status_;
  std::string context_;
  std::vector<FindingRecord> out_;
  std::map<int64_t, size_t> pos_;  // finding seq -> index in out_
};

}  // namespace kagami::reports::internal
