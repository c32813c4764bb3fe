#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/index/pdq_index.h"

namespace kagami::index {

struct MatchOptions {
  // Hamming radius in bits. PDQ's authors suggest 31 of 256 as the match
  // threshold; the MultiHash index is exact up to 31, a flat scan beyond.
  int radius = 31;
  // Pages below this PDQ quality are not matched (flat or near-empty pages
  // collide); the index also holds no registered units below it.
  int min_quality = 50;
  // Also search the query's 8 dihedral variants (mirrored or rotated copies).
  bool dihedral = true;
  // A volume matches a work when at least max(volume_min_pages,
  // ceil(volume_min_fraction * eligible pages)) distinct registered pages of
  // that work are matched. volume_min_pages is lowered to the number of
  // eligible pages for tiny inputs (a single image can match).
  double volume_min_fraction = 0.2;
  int volume_min_pages = 2;
};

// A query page's best hit among registered units.
struct PageHit {
  int64_t unit_id = 0;
  int distance = 0;                                        // bits
  fingerprint::Dihedral variant = fingerprint::kOriginal;  // query variant that matched
};

// Range-searches a page (and its variants) and returns hits within the radius,
// one per registered unit (its best distance over variants), nearest first.
// Thread-safe (the index's const search is). Fails only if the index search
// fails (out of memory).
Result<std::vector<PageHit>> MatchPage(const PdqIndex& index, const fingerprint::PdqHash& page,
                                       const fingerprint::PdqDihedralHashes* dihedral,
                                       const MatchOptions& options);

// The per-volume decision, independent of how page matches were found.
struct WorkTally {
  std::string work_id;
  int matched_pages = 0;   // distinct registered units of the work matched
  int required_pages = 0;  // threshold that applied
  bool matched = false;
};

// `units_by_work`: for each work, the distinct registered unit ids matched by
// the volume's pages. `eligible_pages`: query pages of sufficient quality.
// Returns one tally per work, best first.
std::vector<WorkTally> DecideVolume(
    const std::map<std::string, std::vector<int64_t>>& units_by_work, int eligible_pages,
    const MatchOptions& options);

}  // namespace kagami::index
