#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/core.hpp>
#include <vector>

#include "kagami/fingerprint/geometric_verifier.h"

namespace kagami::fingerprint {
namespace {

// A registered page 0.7 x 1 (normalised units) and its copy cropped 10% per
// side, long side rescaled to 1: query = (ref - offset) * kZoom.
const cv::Size2f kRefPage(0.7f, 1.0f);
constexpr float kZoom = 1.0f / 0.8f;
const cv::Size2f kQueryPage(0.56f * kZoom, 1.0f);
const cv::Point2f kOffset(0.07f, 0.1f);

cv::Point2f CopyOf(cv::Point2f ref) { return (ref - kOffset) * kZoom; }

// Registered points inside the part of the page the copy shows.
std::vector<cv::Point2f> RefPoints(int n, cv::RNG& rng) {
  std::vector<cv::Point2f> out;
  for (int i = 0; i < n; ++i)
    out.emplace_back(rng.uniform(0.08f, 0.62f), rng.uniform(0.11f, 0.89f));
  return out;
}

// The twin of a registered point on a 2-fold symmetric page (a CD label's
// sectors): the point turned a half-turn about the page centre. Its
// descriptor matches as well as the point's own.
cv::Point2f Twin(cv::Point2f ref) { return cv::Point2f(kRefPage.width, kRefPage.height) - ref; }

TEST(PlausibleConsensusTest, FindsTheCopyUnderALargerHalfTurnConsensus) {
  // 300 copy keypoints on a symmetric page: 120 matched to their own
  // registered point, 180 to its twin. The largest consensus over all
  // similarities is the half-turn (180 pairs); no copy is rotated 180 degrees.
  cv::RNG rng(11);
  const std::vector<cv::Point2f> ref = RefPoints(300, rng);
  std::vector<cv::Point2f> query_points, ref_points;
  for (size_t i = 0; i < ref.size(); ++i) {
    query_points.push_back(CopyOf(ref[i]));
    ref_points.push_back(i % 5 < 2 ? ref[i] : Twin(ref[i]));
  }
  const Verification v = VerifyCorrespondences(query_points, ref_points, kQueryPage, kRefPage);
  EXPECT_TRUE(v.accepted) << v.rejected_by << " rotation " << v.rotation_deg;
  EXPECT_GE(v.inliers, 115);
  EXPECT_LE(v.inliers, 125);
  EXPECT_NEAR(v.rotation_deg, 0, 0.5);
  EXPECT_NEAR(v.scale, 0.8, 0.01);
}

TEST(PlausibleConsensusTest, FindsTheCopyUnderALargerCollapsedConsensus) {
  // 60 pairs of the copy, plus 100 query keypoints from all over the page
  // matched to one small repeated motif of the registered page: a consensus
  // at scale 0.02 (query -> registered), larger than the copy's.
  cv::RNG rng(12);
  const std::vector<cv::Point2f> ref = RefPoints(60, rng);
  std::vector<cv::Point2f> query_points, ref_points;
  for (const cv::Point2f& r : ref) {
    query_points.push_back(CopyOf(r));
    ref_points.push_back(r);
  }
  for (int i = 0; i < 100; ++i) {
    const cv::Point2f q(rng.uniform(0.0f, kQueryPage.width), rng.uniform(0.0f, 1.0f));
    query_points.push_back(q);
    ref_points.push_back(cv::Point2f(0.3f, 0.4f) + q * 0.02f);
  }
  const Verification v = VerifyCorrespondences(query_points, ref_points, kQueryPage, kRefPage);
  EXPECT_TRUE(v.accepted) << v.rejected_by << " scale " << v.scale;
  EXPECT_GE(v.inliers, 58);
  EXPECT_LE(v.inliers, 65);
  EXPECT_NEAR(v.scale, 0.8, 0.01);
}

TEST(PlausibleConsensusTest, RejectsCorrespondencesOnlyAnImpossibleTransformExplains) {
  cv::RNG rng(13);
  const std::vector<cv::Point2f> ref = RefPoints(200, rng);
  std::vector<cv::Point2f> query_points, half_turn, collapsed;
  for (const cv::Point2f& r : ref) {
    query_points.push_back(CopyOf(r));
    half_turn.push_back(Twin(r));
    collapsed.push_back(cv::Point2f(0.3f, 0.4f) + CopyOf(r) * 0.02f);
  }
  for (const auto* ref_points : {&half_turn, &collapsed}) {
    const Verification v = VerifyCorrespondences(query_points, *ref_points, kQueryPage, kRefPage);
    EXPECT_FALSE(v.accepted);
    EXPECT_FALSE(v.rejected_by.empty());
  }
}

TEST(PlausibleConsensusTest, RotationJustBeyondTheBoundIsStillRejected) {
  // A copy turned 25 degrees: its consensus is found, and judged by the
  // exact bound (max_rotation_deg 20).
  cv::RNG rng(14);
  const std::vector<cv::Point2f> ref = RefPoints(200, rng);
  const double a = 25.0 * CV_PI / 180;
  std::vector<cv::Point2f> query_points;
  for (const cv::Point2f& r : ref) {
    const cv::Point2f c = r - cv::Point2f(0.35f, 0.5f);
    query_points.emplace_back(static_cast<float>(0.5 + std::cos(a) * c.x - std::sin(a) * c.y),
                              static_cast<float>(0.5 + std::sin(a) * c.x + std::cos(a) * c.y));
  }
  const Verification v = VerifyCorrespondences(query_points, ref, cv::Size2f(1.0f, 1.0f), kRefPage);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.rejected_by, "rotation");
  EXPECT_NEAR(std::abs(v.rotation_deg), 25, 0.5);
}

TEST(PlausibleConsensusTest, SameCorrespondencesGiveTheSameVerification) {
  cv::RNG rng(15);
  const std::vector<cv::Point2f> ref = RefPoints(150, rng);
  std::vector<cv::Point2f> query_points;
  for (size_t i = 0; i < ref.size(); ++i)
    query_points.push_back(i % 2 ? CopyOf(ref[i])
                                 : cv::Point2f(rng.uniform(0.0f, 0.7f), rng.uniform(0.0f, 1.0f)));
  const Verification a = VerifyCorrespondences(query_points, ref, kQueryPage, kRefPage);
  const Verification b = VerifyCorrespondences(query_points, ref, kQueryPage, kRefPage);
  EXPECT_EQ(a.inliers, b.inliers);
  EXPECT_EQ(a.accepted, b.accepted);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(a.homography.val[i], b.homography.val[i]);
}

}  // namespace
}  // namespace kagami::fingerprint
