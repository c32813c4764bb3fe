#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/index/catalog.h"
#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/batch_extractor.h"

namespace kagami::pipeline {

using index::MatchOptions;
using index::PageHit;
using index::RobustOptions;
using index::Store;
using index::UnitRef;
using index::Work;
using index::WorkTally;

// A per-file (or per-member) failure that did not stop the batch.
struct FileError {
  std::string source;  // the volume or file
  std::string member;  // inside an archive/folder, or ""
  Status status;
};

// Running totals, reported after every asset.
struct Progress {
  size_t volumes_total = 0;
  size_t volumes_done = 0;
  size_t pages_done = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

struct RegisterOptions {
  ExtractOptions extract;
  // Also store each page's trimmed-view PDQ hash and local features (needed by
  // the robust stage of `scan`; costs roughly 10 ms per page).
  bool robust = true;
  RobustOptions robust_options;
};

struct RegisterSummary {
  int volumes = 0;
  int assets_added = 0;
  int assets_skipped = 0;  // already registered (same content SHA-256)
  // Skipped files that another work holds: the file and that work's id. Their
  // pages stay that work's; a scan reports them for it.
  struct HeldElsewhere {
    std::string file;
    std::string work_id;
  };
  std::vector<HeldElsewhere> in_other_works;
  // Pages added that are the same picture as a registered page of another
  // work (index::RobustOptions::twin_radius), per work id: a scan reports
  // their copies for both works. Counted where the store has its PDQ index
  // loaded (embedded stores; a shared catalog's writer loads none).
  std::map<std::string, int> twin_pages;
  int assets_incomplete = 0;  // some pages failed: not registered, retried next run
  int units_added = 0;
  int units_low_quality = 0;  // stored but not indexed (quality < Store::kMinIndexQuality)
  // Registered files whose pages had no blurred hash or no colour signature
  // (a catalog made before them): read again, and their pages given them
  // (Catalog::AddMissingBlurredHashes, Catalog::AddMissingColour). Such a
  // file counts here, not in assets_skipped.
  int assets_backfilled = 0;
  int units_backfilled = 0;         // pages given a blurred hash
  int units_colour_backfilled = 0;  // pages given a colour signature
  // Pages of those files that decode to another PDQ hash than registered
  // (another decoder version): left without either.
  int units_backfill_mismatched = 0;
  std::vector<FileError> errors;
};

// Registers files, folders and archives as assets of `work` (created or
// updated). Idempotent: an asset whose content SHA-256 is already in the
// catalog is skipped without decoding, unless some of its pages lack the
// blurred hash or the colour signature (registered before they existed) and
// options.robust is set: the file is then read again and those pages get them
// (assets_backfilled), whichever work holds it.
//
// An asset is committed only whole, in one catalog transaction: if any of its
// pages fails to decode (or the file fails part-way), nothing of it is stored,
// its page errors and a summary error are listed, and it counts in
// assets_incomplete; since its SHA-256 is not in the catalog, a later run reads
// it again. Bad input (unreadable or hostile files, records over the catalog's
// limits such as a 16 KiB member name) is a per-file error in the summary and
// the run goes on. A store failure (I/O, disk full, corruption) stops the run
// at once: no further file is read, and the store's Status is returned (assets
// committed before it stay committed and indexed). The index is saved at the
// end (a killed run leaves a store that Store::Open repairs). The caller holds
// the data directory's writer lock (Store::Open with kWrite).
Result<RegisterSummary> RegisterWork(Store& store, const Work& work,
                                     const std::vector<std::string>& paths,
                                     const RegisterOptions& options,
                                     const ProgressFn& progress = {});

}  // namespace kagami::pipeline
