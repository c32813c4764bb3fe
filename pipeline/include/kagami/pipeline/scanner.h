#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/index/catalog.h"
#include "kagami/index/matcher.h"
#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "kagami/ingest/byte_fetcher.h"
#include "kagami/ingest/memory_source.h"
#include "kagami/pipeline/batch_extractor.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/video_segment.h"

namespace kagami::pipeline {

using index::MatchOptions;
using index::PageHit;
using index::RobustOptions;
using index::Store;
using index::UnitRef;
using index::Work;
using index::WorkTally;

enum class Verdict { kMatch, kNoMatch, kError };
std::string_view VerdictName(Verdict verdict);  // "match", "no_match", "error"

// One scanned page that matched a registered page.
struct PageMatchRecord {
  std::string member;          // the scanned page inside its volume ("" for a plain file)
  int page_index = 0;          // 0-based position of the scanned page in its volume
  int quality = 0;             // PDQ quality of the scanned page
  fingerprint::Hash256 pdq;    // the scanned page's own PDQ hash (full view)
  PageHit hit;                 // the registered unit; distance -1 when only local features matched
  UnitRef ref;                 // what that unit is
  std::string method = "pdq";  // "pdq", "local" or "both"
  // The scanned view that matched: full, trimmed, box, left, right, unbanded,
  // deskewed, levelled.
  std::string view = "full";
  int view_quality = -1;  // PDQ quality of that view (-1: PDQ did not match)
  // PDQ quality of the registered hash hit.distance is to (the page's, its
  // trimmed view's or its blurred hash: index::RobustHit::ref_quality); -1
  // when PDQ did not match.
  int ref_quality = -1;
  bool blurred = false;   // hit.distance is between blurred hashes (RobustHit::blurred)
  int inliers = 0;        // geometric verification (0: not verified)
  double coverage = 0;    // fraction of the registered page covered by inliers
  bool mirrored = false;  // verified against the mirror image of the scanned page
  cv::Matx33d homography = cv::Matx33d::eye();  // scanned -> registered, normalised units
  fingerprint::Verification verification;       // all measurements when inliers > 0
  // Coverage measurements are relative to the registered page's content box,
  // not the whole page (index::RobustHit::content_frame).
  bool content_frame = false;
  // Registered keypoints marked as layout shared with sibling pages, and the
  // inliers without them (index::RobustHit; -1: not checked).
  int boilerplate_keypoints = -1;
  int distinct_inliers = -1;
  // The same picture registered in another work (index::RobustHit::twins):
  // the unit of the match this one twins, a record of the same scanned page
  // in the same report, and the bits between the two registered pages' PDQ
  // hashes; 0 and -1 for other matches.
  int64_t twin_of = 0;
  int twin_bits = -1;
  // The colour check's disagreement (index::RobustHit::colour_disagreement,
  // 0..1; -1: not measured, e.g. a greyscale page).
  double colour_disagreement = -1;
};

struct WorkResult {
  WorkTally tally;
  std::string title;
  std::string rights_holder;
};

// Everything found for one input volume.
struct VolumeReport {
  std::string source;
  Verdict verdict = Verdict::kNoMatch;
  Status status;  // non-ok when the volume could not be read at all
  int pages = 0;  // pages read (including failed ones)
  int pages_hashed = 0;
  int pages_low_quality = 0;  // hashed but below MatchOptions::min_quality
  // Pages the local-feature stage did not describe for want of evidence
  // (ScanOptions::local_sample): no PDQ candidate, not sampled, and no page of
  // the volume matched.
  int pages_local_skipped = 0;
  std::vector<PageMatchRecord> matches;  // page order
  std::vector<WorkResult> works;         // every work with a matched page, best first
  std::vector<FileError> errors;
  // Videos (video_pipeline.h): pages are sampled frames; matches are segments.
  bool video = false;
  double duration_s = 0;                    // seconds decoded
  std::vector<VideoSegmentMatch> segments;  // query start order
  std::string content_sha256;  // videos read over http(s): ingest::VideoInfo::content_sha256
};

// The match `twin` twins (PageMatchRecord::twin_of) in `report`: the record of
// the same scanned page for the registered unit it names; null for a match
// that is not a twin, or when the report does not hold that record.
const PageMatchRecord* TwinnedMatch(const VolumeReport& report, const PageMatchRecord& twin);

struct ScanOptions {
  ExtractOptions extract;
  MatchOptions match;
  RobustOptions robust;
  // Video and HLS URLs are read through this fetcher (VideoOptions::fetcher).
  ingest::ByteFetcher* fetcher = nullptr;
  // Shared catalogs (PostgreSQL): a Scanner checks the catalog's high-water
  // mark for pages registered elsewhere before a batch when this long has
  // passed since its last check (0: before every batch).
  std::chrono::milliseconds refresh_interval{std::chrono::seconds(5)};
  // Live HLS playlists are followed for at most this many seconds of media
  // (VideoOptions::live: max_media_seconds, and 1.1x + 60 s of wall time).
  double live_seconds = 600;
  // Volume-level evidence for the local-feature stage (RobustOptions::local
  // kAuto). The pages of a volume (an archive, a folder, a document) are one
  // copy or none: a pirated chapter is cropped, padded or re-encoded the same
  // way throughout. Until some page of a volume matches, only the pages
  // without a PDQ candidate at the sampled positions (IsSampledPosition: page
  // indexes 0, N, 3N, 7N, 15N, ...) are described with local features; the
  // others wait for the end of the volume and are
  // described only if a page of it matched (by PDQ or local features). Pages
  // with a PDQ candidate are always verified at once, and a volume of one page
  // is always described unless the caller groups volumes (the positions are
  // page indexes plus ingest::Volume::sample_offset: a crawler scanning the
  // images of one reader page one at a time). The cost: a page copied alone into an otherwise
  // unrelated volume, with no PDQ candidate, is found only if sampled. 1
  // describes every page on its own evidence (the most recall, the most CPU).
  int local_sample = 12;
  // Encoded bytes of deferred pages held at once (a soft bound: past it pages
  // are described at once instead of deferred).
  size_t max_deferred_bytes = size_t{256} << 20;
};

// The positions ScanOptions::local_sample = n describes while a volume has
// no evidence: 0, n, 3n, 7n, 15n, ... (the k-th at n * (2^k - 1)). The gaps
// double: each sampled page that matches nothing makes a copy less likely
// (a copy's pages are edited alike, and one in ~20 is missed), so an
// unrelated volume of P pages costs about log2(P / n) + 2 local stages
// instead of P / n, and a chapter of up to 4n pages gets as many as with a
// fixed gap minus one. Every position is sampled when n <= 1.
bool IsSampledPosition(int64_t position, int n);
// The number of the sample at or before `position` (0 for 0..n-1, 1 from n,
// 2 from 3n, ...): which crop zoom a page tries (RobustOptions::crop_zooms).
int SampleNumber(int64_t position, int n);

using VolumeFn = std::function<void(const VolumeReport&)>;

struct LocalDeferral;  // scanner.cc: ScanOptions::local_sample's state

// A long-lived matcher: the store's PDQ index, catalog lookups and local-feature
// index are loaded once (the local index lazily, on first need) and queried by
// every batch. One batch runs at a time per Scanner (callers serialise the
// Scan* calls); within a batch pages are processed in parallel. `store` must
// outlive the Scanner and must not be written to while it exists.
class Scanner {
 public:
  Scanner(Store& store, const ScanOptions& options);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Scans volumes (files, folders or in-memory assets), calling `on_volume`
  // once per volume, in order, as soon as it is complete.
  void ScanVolumes(const std::vector<ingest::Volume>& volumes, const VolumeFn& on_volume,
                   const ProgressFn& progress = {});
  // Paths as `kagami scan` takes them (ExpandInputs).
  void ScanPaths(const std::vector<std::string>& paths, const VolumeFn& on_volume,
                 const ProgressFn& progress = {});
  // Downloaded assets: one volume each, named by its provenance URL, its
  // sample_offset the asset's.
  void ScanMemory(const std::vector<ingest::MemoryAsset>& assets, const VolumeFn& on_volume,
                  const ProgressFn& progress = {});

  // Shared catalogs: adds the pages registered elsewhere since the last
  // refresh to the PDQ and local-feature indexes (Store::Refresh, no full
  // rebuild). Waits for running scans to finish and holds new ones meanwhile;
  // ScanVolumes calls it itself every ScanOptions::refresh_interval, and
  // before the next batch as soon as the catalog announces a registration
  // (Store::CatalogChanged, PostgreSQL LISTEN/NOTIFY). A no-op
  // (zero counts) for an embedded catalog.
  Result<index::IndexRefresh> Refresh();
  // Refreshes done so far that found new units.
  int64_t refreshes_with_new_units() const;

  // Serialises other catalog use with the matcher's.
  std::mutex& catalog_mutex();
  const ScanOptions& options() const { return options_; }
  Store& store() { return store_; }  // the store given at construction

 private:
  Store& store_;
  ScanOptions options_;  // effective options (sha256 off, dihedral from match)
  std::unique_ptr<index::RobustMatcher> matcher_;
  // Which volumes of the batch in progress have evidence; deferred bytes held.
  std::unique_ptr<LocalDeferral> deferral_;
  // Scans in flight and a pending refresh (a refresh waits for the scans and
  // holds new ones back until it is done).
  mutable std::mutex gate_mutex_;
  std::condition_variable gate_cv_;
  int active_scans_ = 0;
  bool refreshing_ = false;
  std::chrono::steady_clock::time_point last_check_{};
  int64_t refreshes_with_new_units_ = 0;
};

// Fingerprints every input volume and matches it against the store. Calls
// `on_volume` once per volume, in input order, as soon as it is complete.
// A volume is `error` only when nothing in it could be hashed; otherwise page
// errors are listed and the verdict stands on the pages that were read.
Status Scan(Store& store, const std::vector<std::string>& paths, const ScanOptions& options,
            const std::function<void(const VolumeReport&)>& on_volume,
            const ProgressFn& progress = {});

}  // namespace kagami::pipeline
