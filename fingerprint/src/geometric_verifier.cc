#include "kagami/fingerprint/geometric_verifier.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <opencv2/calib3d.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace kagami::fingerprint {
namespace {

constexpr double kRansacUnits = 1000.0;

struct Match {
  int query;
  int ref;
  float distance;
};

// Ratio-test matches, at most one per registered keypoint (the closest).
std::vector<Match> MatchDescriptors(const LocalFeatures& query, const LocalFeatures& ref,
                                    double ratio) {
  std::vector<Match> out;
  if (query.size() < 2 || ref.size() < 2) return out;
  std::vector<std::vector<cv::DMatch>> knn;
  if (IsBinary(query.kind)) {
    cv::BFMatcher matcher(cv::NORM_HAMMING);
    matcher.knnMatch(query.descriptors, ref.descriptors, knn, 2);
  } else {
    cv::Mat q, r;
    query.descriptors.convertTo(q, CV_32F);
    ref.descriptors.convertTo(r, CV_32F);
    cv::BFMatcher matcher(cv::NORM_L2);
    matcher.knnMatch(q, r, knn, 2);
  }
  std::vector<int> best_for_ref(ref.size(), -1);
  for (const auto& m : knn) {
    if (m.size() < 2 || m[0].distance >= ratio * m[1].distance) continue;
    const int r = m[0].trainIdx;
    const int prev = best_for_ref[r];
    if (prev >= 0 && out[prev].distance <= m[0].distance) continue;
    if (prev >= 0) {
      out[prev] = {m[0].queryIdx, r, m[0].distance};
    } else {
      best_for_ref[r] = static_cast<int>(out.size());
      out.push_back({m[0].queryIdx, r, m[0].distance});
    }
  }
  return out;
}

bool Sane(const cv::Matx33d& h, const LocalFeatures& query, const VerifyOptions& o) {
  for (int i = 0; i < 9; ++i) {
    if (!std::isfinite(h.val[i])) return false;
  }
  const cv::Matx22d a(h(0, 0), h(0, 1), h(1, 0), h(1, 1));
  const double det = cv::determinant(a);
  if (det <= 0) return false;  // mirrored or degenerate: mirrors come via mirrored features
  const double scale = std::sqrt(det);
  if (scale < o.min_scale || scale > o.max_scale) return false;
  cv::Matx21d w;
  cv::SVD::compute(a, w);
  if (w(1) <= 0 || w(0) / w(1) > o.max_anisotropy) return false;
  // The query page must project to a convex quadrilateral in front of the camera.
  const cv::Vec3d corners[4] = {{0, 0, 1},
                                {query.page_width, 0, 1},
                                {query.page_width, query.page_height, 1},
                                {0, query.page_height, 1}};
  cv::Point2d p[4];
  for (int i = 0; i < 4; ++i) {
    const cv::Vec3d v = h * corners[i];
    if (v[2] <= 1e-6) return false;
    p[i] = cv::Point2d(v[0] / v[2], v[1] / v[2]);
  }
  int sign = 0;
  for (int i = 0; i < 4; ++i) {
    const cv::Point2d e1 = p[(i + 1) % 4] - p[i], e2 = p[(i + 2) % 4] - p[(i + 1) % 4];
    const double cross = e1.x * e2.y - e1.y * e2.x;
    const int s = cross > 0 ? 1 : (cross < 0 ? -1 : 0);
    if (s == 0 || (sign != 0 && s != sign)) return false;
    sign = s;
  }
  return true;
}

}  // namespace

Verification Verify(const LocalFeatures& query, const LocalFeatures& ref,
                    const VerifyOptions& options) {
  assert(query.kind == ref.kind);
  Verification v;
  v.mirrored = query.mirrored;
  if (query.kind != ref.kind) return v;
  const std::vector<Match> matches = MatchDescriptors(query, ref, options.ratio);
  v.matches = static_cast<int>(matches.size());
  // Fewer matches than the inliers needed cannot be accepted: skip RANSAC.
  if (matches.size() < 8 || v.matches < options.min_inliers) return v;
  std::vector<cv::Point2f> src, dst;
  src.reserve(matches.size());
  dst.reserve(matches.size());
  // RANSAC runs in "pixel" units (long side = kRansacUnits): its internal
  // normalisation and thresholds are tuned for image coordinates.
  for (const Match& m : matches) {
    src.push_back(query.points[m.query] * kRansacUnits);
    dst.push_back(ref.points[m.ref] * kRansacUnits);
  }
  // Consensus with a similarity transform (rotation, uniform scale,
  // translation: 2-point samples, a closed-form solver), which covers crops,
  // padding, rescaling, small rotations and spread halves; then the homography
  // reported is refined on those inliers by least squares.
  cv::Mat inlier_mask;
  cv::Mat h;
  try {
    cv::Mat similarity = cv::estimateAffinePartial2D(
        src, dst, inlier_mask, cv::RANSAC, options.ransac_threshold * kRansacUnits,
        static_cast<size_t>(options.ransac_iterations), 0.995, 10);
    if (similarity.empty() || inlier_mask.empty()) return v;
    std::vector<cv::Point2f> src_in, dst_in;
    for (int i = 0; i < inlier_mask.rows; ++i) {
      if (inlier_mask.at<uint8_t>(i)) {
        src_in.push_back(src[i]);
        dst_in.push_back(dst[i]);
      }
    }
    if (static_cast<int>(src_in.size()) < options.min_inliers) {
      v.inliers = static_cast<int>(src_in.size());
      return v;
    }
    h = cv::findHomography(src_in, dst_in, 0);
    if (h.empty()) {
      h = cv::Mat::eye(3, 3, CV_64F);
      similarity.copyTo(h(cv::Rect(0, 0, 3, 2)));
    }
  } catch (const cv::Exception&) {
    return v;
  }
  // Back to normalised units: H_norm = S^-1 H S with S = diag(k, k, 1).
  const cv::Matx33d scale(kRansacUnits, 0, 0, 0, kRansacUnits, 0, 0, 0, 1);
  const cv::Matx33d unscale(1.0 / kRansacUnits, 0, 0, 0, 1.0 / kRansacUnits, 0, 0, 0, 1);
  v.homography = unscale * cv::Matx33d(h) * scale;
  std::vector<cv::Point2f> inlier_points;
  for (int i = 0; i < inlier_mask.rows; ++i) {
    if (inlier_mask.at<uint8_t>(i)) inlier_points.push_back(ref.points[matches[i].ref]);
  }
  v.inliers = static_cast<int>(inlier_points.size());
  if (inlier_points.size() >= 3) {
    std::vector<cv::Point2f> hull;
    cv::convexHull(inlier_points, hull);
    const double page_area = static_cast<double>(ref.page_width) * ref.page_height;
    v.coverage = std::clamp(cv::contourArea(hull) / page_area, 0.0, 1.0);
  }
  v.sane = Sane(v.homography, query, options);
  v.accepted = v.sane && v.inliers >= options.min_inliers && v.coverage >= options.min_coverage;
  return v;
}

Verification VerifyEitherOrientation(const LocalFeatures& query,
                                     const LocalFeatures* query_mirrored, const LocalFeatures& ref,
                                     const VerifyOptions& options) {
  Verification best = Verify(query, ref, options);
  if (query_mirrored == nullptr) return best;
  Verification flipped = Verify(*query_mirrored, ref, options);
  const auto key = [](const Verification& v) { return std::make_pair(v.accepted, v.inliers); };
  return key(flipped) > key(best) ? flipped : best;
}

}  // namespace kagami::fingerprint
