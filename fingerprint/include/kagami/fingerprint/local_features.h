#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <vector>

#include "kagami/base/status.h"

namespace kagami::fingerprint {

// Local (keypoint) features of a page, the second matching stage after PDQ:
// they survive crops, padding, spreads, small rotations and pasted-on credits,
// where a global hash does not, and geometric verification of their matches
// (geometric_verifier.h) tells a copy from a different page in the same style.
//
// Detectors: ORB (Rublee et al., "ORB: an efficient alternative to SIFT or
// SURF", ICCV 2011), AKAZE (Alcantarilla et al., "Fast Explicit Diffusion for
// Accelerated Features in Nonlinear Scale Spaces", BMVC 2013; 61-byte MLDB
// descriptors) and SIFT (Lowe, "Distinctive Image Features from Scale-Invariant
// Keypoints", IJCV 2004; descriptors quantised to 8 bits), all from OpenCV 4.6.
//
// Choice, measured with bench/e2e/local_calibration.cc (30 synthetic manga
// pages of 1200x1700, every synth edit plus spreads, 500 keypoints at long side
// 800, homography RANSAC, ratio 0.8; ms per core on the shared 2-core build
// machine, so only their ratios mean much):
//   detector  extract/view  true-pair inliers p1/p5/p50  crop20 p5/p50  unrelated max
//   ORB         13-20 ms         22 / 41 / 137             13 / 31          12
//   AKAZE      280-360 ms        49 / 75 / 199             35 / 60          14
//   SIFT       280-390 ms         5 / 11 / 199              0 / 58          13
// (unrelated: 4,300 pairs of different pages, same style). AKAZE separates
// best but costs ~20x ORB per view and a query needs two views (plain and
// mirrored); SIFT loses whole pages (few repeatable blobs on flat line art) and
// its float descriptors do not fit a binary index. ORB is the default. With
// 800 ORB keypoints crop20 rises to 23/54 for +60% storage and ~2x vote time.
enum class FeatureKind : uint8_t { kOrb = 1, kAkaze = 2, kSift = 3 };

// Bytes per descriptor for a kind: 32 (ORB), 61 (AKAZE), 128 (SIFT).
int DescriptorBytes(FeatureKind kind);
// True for kinds compared by Hamming distance (ORB, AKAZE).
bool IsBinary(FeatureKind kind);

struct LocalFeatureOptions {
  FeatureKind kind = FeatureKind::kOrb;
  int max_keypoints = 500;      // kept after bucketing, best response first
  int working_long_side = 800;  // the page is resized to this long side first
  int grid = 8;                 // bucketing: grid x grid cells share the keypoints
  // ORB scale-pyramid levels (factor 1.2 between levels), 1..8: fewer levels
  // cost less and cover a narrower scale range. Other kinds ignore it.
  int pyramid_levels = 8;
  // ORB's FAST threshold (gray levels), adaptive: when fewer than
  // max_keypoints corners are found at fast_threshold, detection is repeated
  // with the threshold halved, down to min_fast_threshold, until at least
  // max_keypoints are found. A low-contrast or sparse page (a dark misty
  // photo, a pale abstract, an outline drawing) finds 5-30 corners at 20 and
  // 400-650 at 5; a page with enough contrast never reaches the second pass,
  // so its features do not change. The rule depends only on the page, so
  // registration and query apply it alike. min_fast_threshold ==
  // fast_threshold is the fixed threshold of before. Other kinds ignore both.
  // Measured in bench/RESULTS.md section 11, "Sparse and low-contrast pages".
  int fast_threshold = 20;
  int min_fast_threshold = 5;
};

// Upper bound accepted by Deserialize and produced by extraction.
inline constexpr int kMaxLocalKeypoints = 8192;

struct LocalFeatures {
  FeatureKind kind = FeatureKind::kOrb;
  // Features were extracted from the horizontally flipped page; points are in
  // the flipped page's frame. Such features match an unflipped registered page
  // when the query was a mirrored copy (descriptors are not mirror-invariant).
  bool mirrored = false;
  // Page size in normalised units: the long side is 1, e.g. 0.706 x 1.
  float page_width = 1.0f;
  float page_height = 1.0f;
  // Keypoint positions in normalised units (divided by the long side in pixels),
  // 0 <= x <= page_width, 0 <= y <= page_height.
  std::vector<cv::Point2f> points;
  // One row per point, CV_8UC1, DescriptorBytes(kind) columns.
  cv::Mat descriptors;
  // The FAST threshold the points were detected at (ORB; 0 for other kinds
  // and after Deserialize: diagnostics only, not serialised).
  int fast_threshold = 0;

  int size() const { return static_cast<int>(points.size()); }

  // Compact blob for the catalog: header (magic "KLF", version, kind, flags,
  // descriptor bytes, count, page size) then points as 16-bit fractions of the
  // page size, then raw descriptors. About 18 KB for 500 ORB keypoints.
  std::vector<uint8_t> Serialize() const;
  // Inverse of Serialize. kCorrupt on a wrong magic, unknown version or kind,
  // inconsistent sizes, counts above kMaxLocalKeypoints or non-finite page size.
  static Result<LocalFeatures> Deserialize(std::span<const uint8_t> blob);
};

// Extracts features from a CV_8UC1 page (any size >= 16x16; kInvalidArgument
// otherwise). The page is resized to options.working_long_side (INTER_AREA when
// shrinking), optionally flipped (`mirrored`), keypoints are detected (ORB with
// the adaptive FAST threshold of LocalFeatureOptions), bucketed
// over a grid so that they spread over the page, and described. A blank page
// gives zero keypoints (not an error). Thread-safe; about 10 ms for ORB.
Result<LocalFeatures> ExtractLocalFeatures(const cv::Mat& gray, bool mirrored = false,
                                           const LocalFeatureOptions& options = {});

}  // namespace kagami::fingerprint
