#pragma once

#include <opencv2/core.hpp>
#include <span>
#include <string>

#include "kagami/fingerprint/local_features.h"
#include "kagami/fingerprint/page_thumbnail.h"

namespace kagami::fingerprint {

// Geometric verification of a candidate page match: are the query's local
// features a projective view of the registered page's?
//
// Method: descriptor matching (brute force, Hamming for ORB/AKAZE, L2 for SIFT)
// with Lowe's ratio test (Lowe, IJCV 2004, section 7.1) and one match per
// registered keypoint, then RANSAC consensus (Fischler & Bolles, CACM 1981) on a
// similarity transform (2-point samples, so ~100x fewer iterations than a
// 4-point homography and fewer chance inliers between unrelated pages) that
// scores only similarities a copy can have (scale and rotation within the
// bounds below, with some slack for a sample's noise: the model check of USAC,
// Raguram et al., TPAMI 2013), so that a larger consensus no copy has (a
// symmetric drawing's half-turn, many keypoints collapsed onto one repeated
// motif) cannot hide the copy's own, refined by least squares as in
// LO-RANSAC (Chum, Matas & Kittler, DAGM 2003), deterministic (a fixed
// seed); then a least-squares homography on the inliers for the
// report, sanity checks on it (on the similarity instead where the inliers do
// not determine the homography's projective terms: max_projective_gain, an F
// test between the nested least-squares models in the spirit of Torr's model
// selection, "Geometric motion segmentation and model selection", Phil.
// Trans. R. Soc. A 356, 1998), then thresholds on the inlier count and on
// how much of the registered page the inliers cover. Digital pirate copies
// are cropped, padded, rescaled, slightly rotated or cut from spreads: all
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
  // RANSAC hypotheses scored (each a pass over the pairs); samples whose
  // similarity no copy has are skipped at no cost, up to 10 per hypothesis.
  int ransac_iterations = 2000;
  // Acceptance. Every threshold below was chosen from the measured
  // distributions of true and unrelated pairs of real images
  // (bench/e2e/real_calibration.cc; bench/RESULTS.md section 5).
  int min_inliers = 20;
  double min_coverage = 0.08;  // inlier hull / registered page area
  // Inlier hull / area of the overlap (the part of the registered page that
  // the query shows, or of the query that the registered page fills: the
  // smaller image's common part). A copy shows the page's content everywhere
  // in the overlap; chance matches cluster on a few repeated motifs.
  double min_overlap_coverage = 0.15;
  // Inliers must fall into at least this many cells of a 4x4 grid over the
  // overlap's bounding box (spread over the page, not one cluster).
  int min_grid_cells = 5;
  // What a real digital copy's transform (query -> registered) can be:
  // sqrt(|det A|) of the affine part A within [min_scale, max_scale]; singular
  // value ratio of A (aspect change) at most max_anisotropy; rotation within
  // max_rotation_deg; orientation preserved; the matched region in front of
  // the projection, with its projective scale w = h20 x + h21 y + h22 varying
  // across the region's corners by at most max_perspective (max w / min w - 1;
  // 0 for any crop, pad, rescale or rotation).
  double min_scale = 0.25;
  double max_scale = 4.0;
  double max_anisotropy = 1.25;
  double max_rotation_deg = 20.0;
  double max_perspective = 0.1;
  // The homography is fitted to the inliers by least squares; where they lie
  // on a line or in a small cluster (line art, a photo's one textured band)
  // its projective terms fit noise and extrapolate to a transform no copy
  // has. When the homography fails the constraints above and does not
  // explain the inliers better than RANSAC's similarity by more than this F
  // statistic (Verification::projective_gain), the similarity is judged
  // instead, under the same constraints and thresholds. A real perspective
  // view (a camera shot) is explained far better by the homography and stays
  // rejected. On real images (bench/RESULTS.md section 11, "Recall on line
  // art and textured bands") accepted true pairs' homographies gain 0-7.3
  // (p95 3.8); 0 never judges the similarity.
  double max_projective_gain = 10;
};

struct Verification {
  int matches = 0;      // after the ratio test
  int inliers = 0;      // RANSAC inliers of the homography (0 when none was found)
  double coverage = 0;  // area of the inliers' convex hull / registered page area, 0..1
  cv::Matx33d homography = cv::Matx33d::eye();  // query -> registered, normalised units
  bool sane = false;                            // the homography passed the sanity checks
  bool mirrored = false;                        // the query features were the mirrored ones
  // Measurements behind the decision (valid when inliers > 0).
  double scale = 0;             // sqrt(|det A|)
  double anisotropy = 0;        // singular value ratio of A, >= 1
  double rotation_deg = 0;      // of A, -180..180
  double perspective = 0;       // max w / min w - 1 over the matched region
  double overlap = 0;           // overlap area / registered page area, 0..1
  double overlap_coverage = 0;  // inlier hull / overlap area, 0..1
  int grid_cells = 0;           // occupied cells of the 4x4 grid over the overlap
  // How much better the homography explains the inliers than RANSAC's
  // similarity: the F statistic ((RSS_s - RSS_h) / 4) / (RSS_h / (2n - 8))
  // of the two least-squares fits' squared residuals over n inliers.
  double projective_gain = 0;
  // The transform judged: "homography", or "similarity" when the homography
  // was not a copy's and its projective terms are not supported by the
  // inliers (see VerifyOptions::max_projective_gain).
  std::string model = "homography";
  // Bounding box, in the query's normalised frame, of the registered page as
  // the homography places it, clipped to the query page: the region of the
  // query this match explains (see RegionsOverlap).
  cv::Rect2d query_region;
  // The photometric check against the registered page's thumbnail
  // (page_thumbnail.h), where the caller measured it (measured = false
  // otherwise).
  Appearance appearance;
  // accepted = sane && inliers >= min_inliers && coverage >= min_coverage &&
  // overlap_coverage >= min_overlap_coverage && grid_cells >= min_grid_cells;
  // or, where the caller accepts on appearance (by_appearance), sane and
  // inliers >= min_inliers with the appearance measured alike.
  bool accepted = false;
  bool by_appearance = false;
  std::string rejected_by;  // the first failed condition ("" when accepted)
};

// Whether two matches explain overlapping parts of one query page: the
// intersection of the regions covers more than `max_fraction` of the smaller
// one. A query page maps to a second registered page only through a region
// that does not overlap the first's (the halves of a spread).
bool RegionsOverlap(const cv::Rect2d& a, const cv::Rect2d& b, double max_fraction = 0.25);

// Verifies `query` against registered page `ref`: descriptor matching (ratio
// test, one match per registered keypoint), then VerifyCorrespondences on the
// matched points. Both must be of the same FeatureKind (asserted); `ref` is
// expected not mirrored. Never throws; with too few matches it returns
// inliers = 0 and accepted = false.
Verification Verify(const LocalFeatures& query, const LocalFeatures& ref,
                    const VerifyOptions& options = {});

// The verification behind Verify, from given point correspondences: pair i is
// query_points[i] (query page, normalised units: long side = 1, within
// query_page) -> ref_points[i] (registered page, within ref_page). Same
// RANSAC, measurements and real-copy constraints as Verify, so candidates
// matched from quantised data (visual words, compact codes) are judged alike.
// Inliers count pairs: give at most one pair per registered point (as Verify
// does) for counts comparable with the thresholds. Sizes must agree
// (asserted; the shorter length is used otherwise). `mirrored` is false in the
// result: the caller knows which query features it used. Never throws.
Verification VerifyCorrespondences(std::span<const cv::Point2f> query_points,
                                   std::span<const cv::Point2f> ref_points, cv::Size2f query_page,
                                   cv::Size2f ref_page, const VerifyOptions& options = {});

// The better of Verify(query) and Verify(*query_mirrored) (accepted first, then
// more inliers). `query_mirrored` may be null.
Verification VerifyEitherOrientation(const LocalFeatures& query,
                                     const LocalFeatures* query_mirrored, const LocalFeatures& ref,
                                     const VerifyOptions& options = {});

}  // namespace kagami::fingerprint
