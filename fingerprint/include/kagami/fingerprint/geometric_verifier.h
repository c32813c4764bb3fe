#pragma once

#include <opencv2/core.hpp>
#include <string>

#include "kagami/fingerprint/local_features.h"

namespace kagami::fingerprint {

// Geometric verification of a candidate page match: are the query's local
// features a projective view of the registered page's?
//
// Method: descriptor matching (brute force, Hamming for ORB/AKAZE, L2 for SIFT)
// with Lowe's ratio test (Lowe, IJCV 2004, section 7.1) and one match per
// registered keypoint, then RANSAC consensus (Fischler & Bolles, CACM 1981) on a
// similarity transform (OpenCV cv::estimateAffinePartial2D: 2-point samples, so
// ~100x fewer iterations than a 4-point homography and fewer chance inliers
// between unrelated pages), a least-squares homography on the inliers for the
// report, sanity checks on it, then thresholds on the inlier count and on how
// much of the registered page the inliers cover. Digital pirate copies are
// cropped, padded, rescaled, slightly rotated or cut from spreads: all
// similarities; perspective (camera shots) is out of scope.
//
// Mirrored copies: descriptors are not mirror-invariant, so a flipped copy is
// verified with features extracted from the flipped query
// (ExtractLocalFeatures(gray, /*mirrored=*/true)); see VerifyEitherOrientation.
//
// Thresholds come from bench/e2e/local_calibration.cc (see the numbers in
// VerifyOptions). Thread-safe: no shared state.
struct VerifyOptions {
  double ratio = 0.8;               // Lowe's ratio test on the two nearest neighbours
  double ransac_threshold = 0.006;  // reprojection error, normalised units (long side = 1)
  int ransac_iterations = 2000;
  // Acceptance. See the calibration numbers in local_calibration.cc's output.
  int min_inliers = 20;
  double min_coverage = 0.08;  // fraction of the registered page's area
  // Homography sanity: sqrt(|det A|) of the affine part (query -> registered)
  // within [min_scale, max_scale], singular value ratio of A at most
  // max_anisotropy, orientation preserved, and the projected query page a
  // convex quadrilateral.
  double min_scale = 0.2;
  double max_scale = 5.0;
  double max_anisotropy = 3.0;
};

struct Verification {
  int matches = 0;      // after the ratio test
  int inliers = 0;      // RANSAC inliers of the homography (0 when none was found)
  double coverage = 0;  // area of the inliers' convex hull / registered page area, 0..1
  cv::Matx33d homography = cv::Matx33d::eye();  // query -> registered, normalised units
  bool sane = false;                            // the homography passed the sanity checks
  bool mirrored = false;                        // the query features were the mirrored ones
  bool accepted = false;  // sane && inliers >= min_inliers && coverage >= min_coverage
};

// Verifies `query` against registered page `ref`. Both must be of the same
// FeatureKind (asserted); `ref` is expected not mirrored. Never throws; with too
// few matches it returns inliers = 0 and accepted = false.
Verification Verify(const LocalFeatures& query, const LocalFeatures& ref,
                    const VerifyOptions& options = {});

// The better of Verify(query) and Verify(*query_mirrored) (accepted first, then
// more inliers). `query_mirrored` may be null.
Verification VerifyEitherOrientation(const LocalFeatures& query,
                                     const LocalFeatures* query_mirrored, const LocalFeatures& ref,
                                     const VerifyOptions& options = {});

}  // namespace kagami::fingerprint
