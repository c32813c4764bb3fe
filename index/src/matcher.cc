#include "kagami/index/matcher.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

namespace kagami::index {

Result<std::vector<PageHit>> MatchPage(const PdqIndex& index, const fingerprint::PdqHash& page,
                                       const fingerprint::PdqDihedralHashes* dihedral,
                                       const MatchOptions& options) {
  if (page.quality < options.min_quality) return std::vector<PageHit>{};
  std::vector<fingerprint::Hash256> queries;
  std::vector<fingerprint::Dihedral> variants;
  if (options.dihedral && dihedral != nullptr) {
    for (int v = 0; v < 8; ++v) {
      queries.push_back(dihedral->hashes[v]);
      variants.push_back(static_cast<fingerprint::Dihedral>(v));
    }
  } else {
    queries.push_back(page.hash);
    variants.push_back(fingerprint::kOriginal);
  }
  KAGAMI_ASSIGN_OR_RETURN(std::vector<std::vector<IndexHit>> results,
                          index.RangeSearch(queries, options.radius));

  std::unordered_map<int64_t, PageHit> best;
  for (size_t q = 0; q < results.size(); ++q) {
    for (const IndexHit& hit : results[q]) {
      auto [it, inserted] =
          best.try_emplace(hit.unit_id, PageHit{hit.unit_id, hit.distance, variants[q]});
      if (!inserted && hit.distance < it->second.distance) {
        it->second = PageHit{hit.unit_id, hit.distance, variants[q]};
      }
    }
  }
  std::vector<PageHit> hits;
  hits.reserve(best.size());
  for (const auto& [id, hit] : best) hits.push_back(hit);
  std::sort(hits.begin(), hits.end(), [](const PageHit& a, const PageHit& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.unit_id < b.unit_id;
  });
  return hits;
}

std::vector<WorkTally> DecideVolume(
    const std::map<std::string, std::vector<int64_t>>& units_by_work, int eligible_pages,
    const MatchOptions& options) {
  int min_pages = std::max(1, std::min(options.volume_min_pages, eligible_pages));
  int by_fraction =
      static_cast<int>(std::ceil(options.volume_min_fraction * eligible_pages - 1e-9));
  int required = std::max(min_pages, by_fraction);
  std::vector<WorkTally> tallies;
  for (const auto& [work_id, units] : units_by_work) {
    WorkTally t;
    t.work_id = work_id;
    t.matched_pages = static_cast<int>(std::set<int64_t>(units.begin(), units.end()).size());
    t.required_pages = required;
    t.matched = t.matched_pages >= required;
    tallies.push_back(t);
  }
  std::sort(tallies.begin(), tallies.end(), [](const WorkTally& a, const WorkTally& b) {
    return a.matched_pages != b.matched_pages ? a.matched_pages > b.matched_pages
                                              : a.work_id < b.work_id;
  });
  return tallies;
}

}  // namespace kagami::index
