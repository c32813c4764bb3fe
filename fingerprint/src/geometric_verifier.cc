#include "kagami/fingerprint/geometric_verifier.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
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

// Fills v's affine measurements from v.homography (normalised so h22 = 1)
// and returns the first violated constraint of a real copy ("" when none).
std::string CheckAffinePart(Verification& v, const VerifyOptions& o) {
  const cv::Matx33d& h = v.homography;
  for (int i = 0; i < 9; ++i) {
    if (!std::isfinite(h.val[i])) return "non-finite homography";
  }
  if (std::abs(h(2, 2)) < 1e-12) return "degenerate homography";
  const cv::Matx33d hn = h * (1.0 / h(2, 2));
  v.homography = hn;
  const cv::Matx22d a(hn(0, 0), hn(0, 1), hn(1, 0), hn(1, 1));
  const double det = cv::determinant(a);
  if (det <= 0) return "orientation reversed";  // mirrors come via mirrored features
  v.scale = std::sqrt(det);
  cv::Matx21d w;
  cv::SVD::compute(a, w);
  v.anisotropy = w(1) > 0 ? w(0) / w(1) : 1e9;
  v.rotation_deg = std::atan2(a(1, 0) - a(0, 1), a(0, 0) + a(1, 1)) * 180.0 / CV_PI;
  if (v.scale < o.min_scale || v.scale > o.max_scale) return "scale";
  if (v.anisotropy > o.max_anisotropy) return "aspect change";
  if (std::abs(v.rotation_deg) > o.max_rotation_deg) return "rotation";
  return "";
}

std::vector<cv::Point2f> Project(const cv::Matx33d& h, const std::vector<cv::Point2f>& pts) {
  std::vector<cv::Point2f> out;
  out.reserve(pts.size());
  for (const cv::Point2f& p : pts) {
    const cv::Vec3d q = h * cv::Vec3d(p.x, p.y, 1);
    out.emplace_back(static_cast<float>(q[0] / q[2]), static_cast<float>(q[1] / q[2]));
  }
  return out;
}

std::vector<cv::Point2f> PageQuad(cv::Size2f page) {
  return {{0, 0}, {page.width, 0}, {page.width, page.height}, {0, page.height}};
}

cv::Rect2d BoundingBox(const std::vector<cv::Point2f>& pts) {
  double x0 = pts[0].x, y0 = pts[0].y, x1 = x0, y1 = y0;
  for (const cv::Point2f& p : pts) {
    x0 = std::min<double>(x0, p.x);
    y0 = std::min<double>(y0, p.y);
    x1 = std::max<double>(x1, p.x);
    y1 = std::max<double>(y1, p.y);
  }
  return cv::Rect2d(x0, y0, x1 - x0, y1 - y0);
}

// Sutherland-Hodgman clipping of a convex polygon to [0, w] x [0, h]
// (robust to edges that coincide with the rectangle's).
std::vector<cv::Point2f> ClipToRect(std::vector<cv::Point2f> poly, float w, float h) {
  auto clip = [&](auto inside, auto cross) {
    std::vector<cv::Point2f> out;
    for (size_t i = 0; i < poly.size(); ++i) {
      const cv::Point2f a = poly[i], b = poly[(i + 1) % poly.size()];
      const bool ia = inside(a), ib = inside(b);
      if (ia) out.push_back(a);
      if (ia != ib) out.push_back(cross(a, b));
    }
    poly = std::move(out);
  };
  auto at_x = [](cv::Point2f a, cv::Point2f b, float x) {
    const float t = (x - a.x) / (b.x - a.x);
    return cv::Point2f(x, a.y + t * (b.y - a.y));
  };
  auto at_y = [](cv::Point2f a, cv::Point2f b, float y) {
    const float t = (y - a.y) / (b.y - a.y);
    return cv::Point2f(a.x + t * (b.x - a.x), y);
  };
  clip([](cv::Point2f p) { return p.x >= 0; },
       [&](cv::Point2f a, cv::Point2f b) { return at_x(a, b, 0); });
  clip([&](cv::Point2f p) { return p.x <= w; },
       [&](cv::Point2f a, cv::Point2f b) { return at_x(a, b, w); });
  clip([](cv::Point2f p) { return p.y >= 0; },
       [&](cv::Point2f a, cv::Point2f b) { return at_y(a, b, 0); });
  clip([&](cv::Point2f p) { return p.y <= h; },
       [&](cv::Point2f a, cv::Point2f b) { return at_y(a, b, h); });
  return poly;
}

// Sum of squared reprojection errors of `h` (src -> dst).
double SquaredResiduals(const cv::Matx33d& h, const std::vector<cv::Point2f>& src,
                        const std::vector<cv::Point2f>& dst) {
  double sum = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    const cv::Vec3d q = h * cv::Vec3d(src[i].x, src[i].y, 1);
    if (std::abs(q[2]) < 1e-12) return 1e300;
    const double dx = q[0] / q[2] - dst[i].x, dy = q[1] / q[2] - dst[i].y;
    sum += dx * dx + dy * dy;
  }
  return sum;
}

// Judges v.homography as a real copy's transform (CheckAffinePart, then the
// matched region: in front of the projection, bounded perspective) and, when
// it is one, measures the overlap, overlap coverage and grid cells of
// `inlier_points` (registered frame). Sets v.sane; returns the first violated
// constraint ("" when none).
std::string JudgeTransform(Verification& v, const std::vector<cv::Point2f>& inlier_points,
                           double hull_area, cv::Size2f query_page, cv::Size2f ref_page,
                           const VerifyOptions& o) {
  const double page_area = static_cast<double>(ref_page.width) * ref_page.height;
  std::string reason = CheckAffinePart(v, o);
  if (reason.empty()) {
    // The matched region in the query frame: the registered page placed by
    // the homography, clipped to the query page. It must lie in front of the
    // projection (w > 0 at its corners), and the projective scale w may vary
    // across it by at most max_perspective (a copy's is constant).
    const cv::Matx33d& h = v.homography;
    const cv::Matx33d inv = h.inv();
    std::vector<cv::Point2f> ref_in_query;
    for (const cv::Point2f& c : PageQuad(ref_page)) {
      const cv::Vec3d q = inv * cv::Vec3d(c.x, c.y, 1);
      if (q[2] <= 1e-9) {
        reason = "behind the camera";
        break;
      }
      ref_in_query.emplace_back(static_cast<float>(q[0] / q[2]), static_cast<float>(q[1] / q[2]));
    }
    std::vector<cv::Point2f> region;
    if (reason.empty()) {
      region = ClipToRect(ref_in_query, query_page.width, query_page.height);
      if (region.size() < 3) reason = "no overlap";
    }
    if (reason.empty()) {
      double w_min = 1e300, w_max = -1e300;
      for (const cv::Point2f& p : region) {
        const double w = h(2, 0) * p.x + h(2, 1) * p.y + h(2, 2);
        w_min = std::min(w_min, w);
        w_max = std::max(w_max, w);
      }
      v.perspective = w_min > 0 ? w_max / w_min - 1.0 : 1e9;
      if (w_min <= 1e-9)
        reason = "behind the camera";
      else if (v.perspective > o.max_perspective)
        reason = "perspective";
    }
    v.sane = reason.empty();
    if (v.sane) {
      v.query_region = BoundingBox(region);
      // The overlap in the registered frame.
      const std::vector<cv::Point2f> overlap = Project(h, region);
      const double overlap_area = cv::contourArea(overlap);
      v.overlap = std::clamp(overlap_area / page_area, 0.0, 1.0);
      v.overlap_coverage = overlap_area > 0 ? std::clamp(hull_area / overlap_area, 0.0, 1.0) : 0.0;
      const cv::Rect2d box = BoundingBox(overlap);
      bool cell[16] = {};
      for (const cv::Point2f& p : inlier_points) {
        const int cx =
            std::clamp(static_cast<int>((p.x - box.x) * 4 / std::max(box.width, 1e-6)), 0, 3);
        const int cy =
            std::clamp(static_cast<int>((p.y - box.y) * 4 / std::max(box.height, 1e-6)), 0, 3);
        cell[cy * 4 + cx] = true;
      }
      v.grid_cells = static_cast<int>(std::count(cell, cell + 16, true));
    }
  }
  return reason;
}

// A similarity q = [a -b; b a] p + t (query -> registered, RANSAC units).
struct Similarity {
  double a = 1, b = 0, tx = 0, ty = 0;
  double Scale() const { return std::hypot(a, b); }
  double RotationDeg() const { return std::atan2(b, a) * 180.0 / CV_PI; }
  cv::Matx33d Matrix() const { return cv::Matx33d(a, -b, tx, b, a, ty, 0, 0, 1); }
};

// Whether a RANSAC hypothesis could be a real copy's transform: scale and
// rotation within the VerifyOptions bounds widened by the slack below (a
// 2-point sample's estimate is noisy; JudgeTransform applies the exact
// bounds to the refit).
bool PlausibleCopy(const Similarity& s, const VerifyOptions& o) {
  constexpr double kScaleSlack = 1.25, kRotationSlackDeg = 10.0;
  const double scale = s.Scale();
  if (!std::isfinite(scale) || scale < o.min_scale / kScaleSlack ||
      scale > o.max_scale * kScaleSlack)
    return false;
  return std::abs(s.RotationDeg()) <= o.max_rotation_deg + kRotationSlackDeg;
}

// Least-squares similarity of dst ~ s(src) over the pairs with mask[i] set
// (linear in a, b, tx, ty; centred closed form). Returns false when the
// source points coincide.
bool FitSimilarity(const std::vector<cv::Point2f>& src, const std::vector<cv::Point2f>& dst,
                   const std::vector<uint8_t>& mask, Similarity* out) {
  double n = 0, mpx = 0, mpy = 0, mqx = 0, mqy = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    if (!mask[i]) continue;
    n += 1;
    mpx += src[i].x;
    mpy += src[i].y;
    mqx += dst[i].x;
    mqy += dst[i].y;
  }
  if (n < 2) return false;
  mpx /= n, mpy /= n, mqx /= n, mqy /= n;
  double spp = 0, sa = 0, sb = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    if (!mask[i]) continue;
    const double px = src[i].x - mpx, py = src[i].y - mpy;
    const double qx = dst[i].x - mqx, qy = dst[i].y - mqy;
    spp += px * px + py * py;
    sa += px * qx + py * qy;
    sb += px * qy - py * qx;
  }
  if (spp < 1e-9) return false;
  out->a = sa / spp;
  out->b = sb / spp;
  out->tx = mqx - (out->a * mpx - out->b * mpy);
  out->ty = mqy - (out->b * mpx + out->a * mpy);
  return true;
}

// Inliers of `s` (squared reprojection error <= threshold2) into `mask`;
// returns their count.
int CountInliers(const Similarity& s, const std::vector<cv::Point2f>& src,
                 const std::vector<cv::Point2f>& dst, double threshold2,
                 std::vector<uint8_t>* mask) {
  int count = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    const double dx = s.a * src[i].x - s.b * src[i].y + s.tx - dst[i].x;
    const double dy = s.b * src[i].x + s.a * src[i].y + s.ty - dst[i].y;
    const bool in = dx * dx + dy * dy <= threshold2;
    (*mask)[i] = in;
    count += in;
  }
  return count;
}

struct Consensus {
  Similarity model;           // least squares on `mask`
  std::vector<uint8_t> mask;  // the inliers
  int inliers = 0;
};

// RANSAC (Fischler & Bolles, CACM 1981) on 2-point similarity samples that
// scores only hypotheses a real copy can have (PlausibleCopy): the model
// check of USAC (Raguram et al., TPAMI 2013), in the spirit of DEGENSAC
// (Chum, Werner, Matas, CVPR 2005). On symmetric or repetitive content the
// largest consensus over all similarities can be a half-turn or a collapse
// of many query points onto one motif (scale ~0.02), which hides the copy's
// own. Each new best consensus is refined by least squares on its inliers
// and re-counted while that gains inliers (LO-RANSAC, Chum, Matas & Kittler,
// DAGM 2003). `iterations` bounds the hypotheses scored (each costs a pass
// over the pairs); samples the model check rejects cost O(1) and do not
// count, up to 10 samples per hypothesis. Stops earlier once the samples
// drawn make a better consensus unlikely (confidence 0.995, the standard
// bound on the inlier ratio).
// Deterministic: a fixed-seed generator. `threshold` in the points' units.
Consensus PlausibleSimilarityRansac(const std::vector<cv::Point2f>& src,
                                    const std::vector<cv::Point2f>& dst, double threshold,
                                    int iterations, const VerifyOptions& o) {
  constexpr double kConfidence = 0.995;
  constexpr int kLocalRefits = 4;
  constexpr int kSamplesPerHypothesis = 10;
  const int n = static_cast<int>(src.size());
  const double threshold2 = threshold * threshold;
  Consensus best;
  best.mask.assign(n, 0);
  if (n < 2) return best;
  std::vector<uint8_t> mask(n), refit_mask(n);
  uint64_t state = 0x9E3779B97F4A7C15ull;  // splitmix64 (Steele et al., OOPSLA 2014)
  auto next = [&state](int bound) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<int>(z % static_cast<uint64_t>(bound));
  };
  const int max_samples = iterations * kSamplesPerHypothesis;
  int needed = max_samples, scored = 0;
  for (int sample = 0; sample < needed && scored < iterations; ++sample) {
    const int i = next(n);
    int j = next(n - 1);
    if (j >= i) ++j;
    const double px = src[j].x - src[i].x, py = src[j].y - src[i].y;
    const double qx = dst[j].x - dst[i].x, qy = dst[j].y - dst[i].y;
    const double pp = px * px + py * py;
    if (pp < threshold2 || qx * qx + qy * qy < threshold2) continue;  // too close to orient
    Similarity s;
    s.a = (px * qx + py * qy) / pp;
    s.b = (px * qy - py * qx) / pp;
    s.tx = dst[i].x - (s.a * src[i].x - s.b * src[i].y);
    s.ty = dst[i].y - (s.b * src[i].x + s.a * src[i].y);
    if (!PlausibleCopy(s, o)) continue;
    ++scored;
    int count = CountInliers(s, src, dst, threshold2, &mask);
    if (count <= best.inliers) continue;
    for (int r = 0; r < kLocalRefits; ++r) {
      Similarity refit;
      if (!FitSimilarity(src, dst, mask, &refit) || !PlausibleCopy(refit, o)) break;
      const int refit_count = CountInliers(refit, src, dst, threshold2, &refit_mask);
      if (refit_count <= count) break;
      s = refit;
      count = refit_count;
      mask.swap(refit_mask);
    }
    best.model = s;
    best.mask = mask;
    best.inliers = count;
    const double w = static_cast<double>(count) / n;
    const double miss = 1.0 - w * w;
    if (miss <= 0) break;
    needed = static_cast<int>(
        std::min<double>(max_samples, std::ceil(std::log(1.0 - kConfidence) / std::log(miss))));
  }
  if (best.inliers >= 2) FitSimilarity(src, dst, best.mask, &best.model);
  return best;
}

}  // namespace

Verification Verify(const LocalFeatures& query, const LocalFeatures& ref,
                    const VerifyOptions& options) {
  assert(query.kind == ref.kind);
  if (query.kind != ref.kind) {
    Verification v;
    v.mirrored = query.mirrored;
    v.rejected_by = "matches";
    return v;
  }
  const std::vector<Match> matches = MatchDescriptors(query, ref, options.ratio);
  std::vector<cv::Point2f> query_points, ref_points;
  query_points.reserve(matches.size());
  ref_points.reserve(matches.size());
  for (const Match& m : matches) {
    query_points.push_back(query.points[m.query]);
    ref_points.push_back(ref.points[m.ref]);
  }
  Verification v =
      VerifyCorrespondences(query_points, ref_points, {query.page_width, query.page_height},
                            {ref.page_width, ref.page_height}, options);
  v.mirrored = query.mirrored;
  return v;
}

Verification VerifyCorrespondences(std::span<const cv::Point2f> query_points,
                                   std::span<const cv::Point2f> ref_points, cv::Size2f query_page,
                                   cv::Size2f ref_page, const VerifyOptions& options) {
  assert(query_points.size() == ref_points.size());
  Verification v;
  v.rejected_by = "matches";
  const size_t n = std::min(query_points.size(), ref_points.size());
  v.matches = static_cast<int>(n);
  // Fewer matches than the inliers needed cannot be accepted: skip RANSAC.
  if (n < 8 || v.matches < options.min_inliers) return v;
  std::vector<cv::Point2f> src, dst;
  src.reserve(n);
  dst.reserve(n);
  // RANSAC runs in "pixel" units (long side = kRansacUnits): its internal
  // normalisation and thresholds are tuned for image coordinates.
  for (size_t i = 0; i < n; ++i) {
    src.push_back(query_points[i] * kRansacUnits);
    dst.push_back(ref_points[i] * kRansacUnits);
  }
  // Consensus with a similarity transform (rotation, uniform scale,
  // translation: 2-point samples, a closed-form solver), which covers crops,
  // padding, rescaling, small rotations and spread halves; then the homography
  // reported is refined on those inliers by least squares.
  std::vector<uint8_t> inlier_mask;
  cv::Mat h;
  cv::Matx33d similarity_h = cv::Matx33d::eye();  // RANSAC's model, pixel units
  double rss_similarity = 0, rss_homography = 0;  // squared residuals on the inliers
  try {
    Consensus consensus = PlausibleSimilarityRansac(
        src, dst, options.ransac_threshold * kRansacUnits, options.ransac_iterations, options);
    inlier_mask = std::move(consensus.mask);
    std::vector<cv::Point2f> src_in, dst_in;
    for (size_t i = 0; i < inlier_mask.size(); ++i) {
      if (inlier_mask[i]) {
        src_in.push_back(src[i]);
        dst_in.push_back(dst[i]);
      }
    }
    if (static_cast<int>(src_in.size()) < std::max(options.min_inliers, 4)) {
      v.inliers = static_cast<int>(src_in.size());
      v.rejected_by = "inliers";
      return v;
    }
    similarity_h = consensus.model.Matrix();
    cv::Mat s3(similarity_h);
    h = cv::findHomography(src_in, dst_in, 0);
    if (h.empty()) h = s3.clone();
    rss_similarity = SquaredResiduals(similarity_h, src_in, dst_in);
    rss_homography = SquaredResiduals(cv::Matx33d(h), src_in, dst_in);
    const double dof = 2.0 * static_cast<double>(src_in.size()) - 8.0;
    v.projective_gain =
        rss_homography > 0 && dof > 0
            ? std::max(0.0, (rss_similarity - rss_homography) / 4.0) / (rss_homography / dof)
            : 1e9;
  } catch (const cv::Exception&) {
    return v;
  }
  // Back to normalised units: H_norm = S^-1 H S with S = diag(k, k, 1).
  const cv::Matx33d scale(kRansacUnits, 0, 0, 0, kRansacUnits, 0, 0, 0, 1);
  const cv::Matx33d unscale(1.0 / kRansacUnits, 0, 0, 0, 1.0 / kRansacUnits, 0, 0, 0, 1);
  v.homography = unscale * cv::Matx33d(h) * scale;
  std::vector<cv::Point2f> inlier_points;
  for (size_t i = 0; i < inlier_mask.size(); ++i) {
    if (inlier_mask[i]) inlier_points.push_back(ref_points[i]);
  }
  v.inliers = static_cast<int>(inlier_points.size());
  const double page_area = static_cast<double>(ref_page.width) * ref_page.height;
  double hull_area = 0;
  if (inlier_points.size() >= 3) {
    std::vector<cv::Point2f> hull;
    cv::convexHull(inlier_points, hull);
    hull_area = cv::contourArea(hull);
    v.coverage = std::clamp(hull_area / page_area, 0.0, 1.0);
  }
  std::string reason = JudgeTransform(v, inlier_points, hull_area, query_page, ref_page, options);
  if (!v.sane && options.max_projective_gain > 0 &&
      v.projective_gain <= options.max_projective_gain) {
    Verification s = v;
    s.homography = unscale * similarity_h * scale;
    s.model = "similarity";
    s.scale = s.anisotropy = s.rotation_deg = s.perspective = 0;
    const std::string similarity_reason =
        JudgeTransform(s, inlier_points, hull_area, query_page, ref_page, options);
    if (s.sane) {
      v = s;
      reason = similarity_reason;
    }
  }
  if (v.sane) {
    if (v.inliers < options.min_inliers) {
      reason = "inliers";
    } else if (v.coverage < options.min_coverage) {
      reason = "coverage";
    } else if (v.overlap_coverage < options.min_overlap_coverage) {
      reason = "overlap coverage";
    } else if (v.grid_cells < options.min_grid_cells) {
      reason = "inlier spread";
    }
  }
  v.rejected_by = reason;
  v.accepted = reason.empty();
  return v;
}

bool RegionsOverlap(const cv::Rect2d& a, const cv::Rect2d& b, double max_fraction) {
  const double smaller = std::min(a.area(), b.area());
  if (smaller <= 0) return true;  // unknown extent: assume the worst
  return (a & b).area() > max_fraction * smaller;
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
