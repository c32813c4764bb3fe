#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <opencv2/core.hpp>

#include "kagami/fingerprint/geometric_verifier.h"
#include "kagami/fingerprint/local_features.h"
#include "kagami/fingerprint/page_fingerprint.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/index/local_index.h"
#include "kagami/index/matcher.h"
#include "kagami/index/store.h"
#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/page_source.h"

namespace kagami::index {

// When the local-feature stage runs for a scanned page.
enum class LocalStage {
  kNever,   // PDQ (with normalised views) only
  kAuto,    // only for pages without a strong PDQ hit (the default)
  kAlways,  // every page: also verifies strong PDQ hits ("method":"both")
};

struct RobustOptions {
  LocalStage local = LocalStage::kAuto;
  // Hash the trimmed page and the halves of wide pages too (page_normalizer.h).
  // false with kNever is plain PDQ on the full page.
  bool normalized_views = true;
  // A PDQ hit at or below this distance (bits) with quality >= min_quality is
  // conclusive; hits between it and MatchOptions::radius are candidates that the
  // local stage verifies when it runs (and are reported as "pdq" if it cannot).
  int strong_radius = 24;
  // Short side (pixels) the page is decoded at for local features.
  int local_min_short_side = 600;
  // Registered pages voted by local features that are verified geometrically.
  // Against 300 registered pages, the true page of a 20%-per-side crop ranked
  // in the top 10 by votes for 60 of 60 queries (in the top 1 for 43).
  int max_local_candidates = 12;
  // Voting index: exhaustive AVX2 Hamming search up to this many registered
  // descriptors (about 250 pages), FAISS IVF above (approximate, far cheaper
  // per query as the catalog grows).
  int64_t local_ivf_min_descriptors = 250'000;
  // Also try the mirror image in the local stage (a mirrored *and* cropped copy).
  bool local_mirrored = false;
  // Query pages keep 500 keypoints; registered pages keep 1000, so that a crop
  // showing a third of a registered page still has enough of its keypoints.
  fingerprint::LocalFeatureOptions features;
  fingerprint::LocalFeatureOptions registered_features = RegisteredFeatureOptions();
  // Acceptance at 13 sane inliers. Unrelated same-style generated pages reach
  // at most 10 (bench/e2e/local_calibration.cc, 12,904 wrong pairs, 500 vs 500
  // keypoints; 6 in 1,600 exhaustive pairs at 1000 vs 500), while 20%-per-side
  // crops of registered pages verified with 1000 registered keypoints have at
  // least 14 and typically 30+ (bench/e2e/robust_validation.cc reports recall
  // and false matches per 10,000 comparisons for these settings).
  fingerprint::VerifyOptions verify = DefaultVerifyOptions();

  static fingerprint::LocalFeatureOptions RegisteredFeatureOptions() {
    fingerprint::LocalFeatureOptions o;
    o.max_keypoints = 1000;
    return o;
  }
  static fingerprint::VerifyOptions DefaultVerifyOptions() {
    fingerprint::VerifyOptions o;
    o.min_inliers = 13;
    return o;
  }
};

// Grayscale view of decoded pixels (CV_8UC1 as is; RGB/RGBA converted).
cv::Mat ToGray(const cv::Mat& pixels);

// What registration stores beside a page's PDQ hash: the hash of its trimmed
// view and its local features. Computed in the pipeline's parallel stage.
struct RegisteredPageExtras {
  std::optional<fingerprint::PdqHash> trimmed;
  std::vector<uint8_t> local_features;  // LocalFeatures::Serialize(), empty if none
  Status local_status;                  // why there are no local features, if so
};

// Thread-safe (no state).
RegisteredPageExtras AnalyzeForRegistration(const cv::Mat& pixels,
                                            const ingest::EncodedPage& encoded,
                                            const ingest::IngestLimits& limits,
                                            fingerprint::PdqHasher& hasher,
                                            const RobustOptions& options);

// One registered page matched by a scanned page.
struct RobustHit {
  int64_t unit_id = 0;
  std::string method;  // "pdq", "local" or "both"
  std::string view;    // the scanned page's view that matched: full, trimmed, left, right
  int distance = -1;   // PDQ bits, -1 when only the local stage matched
  fingerprint::Dihedral variant = fingerprint::kOriginal;
  int inliers = 0;  // geometric verification, 0 when not verified
  double coverage = 0;
  bool mirrored = false;
  cv::Matx33d homography = cv::Matx33d::eye();  // scanned -> registered, normalised units
};

// The outcome of matching one scanned page: at most one hit per view group
// (two for a spread whose halves match different pages), best first.
struct PageOutcome {
  std::vector<RobustHit> hits;
  bool local_ran = false;
  Status local_status;  // non-ok if the local stage failed for this page
  Status status;        // non-ok if the page could not be matched at all (index failure)
};

// Matches scanned pages against a store with PDQ on normalised views and, where
// PDQ is inconclusive, local features with geometric verification.
// Match() is thread-safe: the PDQ index is searched concurrently, the catalog
// (for registered features) is read under a mutex, and the local index is
// built once, on first use.
class RobustMatcher {
 public:
  RobustMatcher(Store& store, const MatchOptions& match, const RobustOptions& options,
                const ingest::IngestLimits& limits);
  ~RobustMatcher();

  PageOutcome Match(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                    fingerprint::PdqHasher& hasher, const fingerprint::PageFingerprint& page);

  // Serialises the caller's other catalog use with Match()'s.
  std::mutex& catalog_mutex() { return catalog_mutex_; }

 private:
  Status EnsureLocalIndex();
  Result<std::shared_ptr<const fingerprint::LocalFeatures>> RegisteredFeatures(int64_t unit_id);
  void RunLocalStage(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                     const std::vector<RobustHit>& pdq_hits, PageOutcome& outcome);

  Store& store_;
  MatchOptions match_;
  RobustOptions options_;
  ingest::IngestLimits limits_;
  std::mutex catalog_mutex_;  // guards store_.catalog() and features_cache_
  std::once_flag local_once_;
  Status local_index_status_;
  std::unique_ptr<LocalIndex> local_index_;
  std::unordered_map<int64_t, std::shared_ptr<const fingerprint::LocalFeatures>> features_cache_;
};

}  // namespace kagami::index
