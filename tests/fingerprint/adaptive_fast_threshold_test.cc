// The adaptive FAST threshold of ORB extraction (LocalFeatureOptions::
// fast_threshold / min_fast_threshold): low-contrast pages get enough
// keypoints to be verified, pages with contrast keep exactly their features.

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/geometric_verifier.h"
#include "kagami/fingerprint/local_features.h"
#include "page_fixtures.h"

namespace kagami::fingerprint {
namespace {

using ::kagami::testing::Extract;

const std::filesystem::path kReal = std::filesystem::path(KAGAMI_TEST_DATA_DIR) / "real";

cv::Mat ManualPage() {
  cv::Mat g = cv::imread((kReal / "manual-050.jpg").string(), cv::IMREAD_GRAYSCALE);
  EXPECT_FALSE(g.empty());
  return g;
}

// The page as a faded scan: ink and paper 16 gray levels apart.
cv::Mat Faded(const cv::Mat& gray) {
  cv::Mat out;
  gray.convertTo(out, CV_8U, 16.0 / 255.0, 120);
  return out;
}

LocalFeatureOptions Fixed() {
  LocalFeatureOptions o;
  o.min_fast_threshold = o.fast_threshold;
  return o;
}

TEST(AdaptiveFastThreshold, FindsKeypointsOnALowContrastPage) {
  const cv::Mat faded = Faded(ManualPage());
  const LocalFeatures fixed = Extract(faded, false, Fixed());
  const LocalFeatures adaptive = Extract(faded);
  EXPECT_EQ(fixed.fast_threshold, 20);
  EXPECT_LT(fixed.size(), 50);
  EXPECT_LT(adaptive.fast_threshold, 20);
  EXPECT_GE(adaptive.fast_threshold, LocalFeatureOptions{}.min_fast_threshold);
  EXPECT_GE(adaptive.size(), 4 * std::max(1, fixed.size()));
  EXPECT_EQ(adaptive.descriptors.rows, adaptive.size());
}

TEST(AdaptiveFastThreshold, LeavesAPageWithContrastUnchanged) {
  const cv::Mat page = ManualPage();
  const LocalFeatures fixed = Extract(page, false, Fixed());
  const LocalFeatures adaptive = Extract(page);
  ASSERT_EQ(fixed.size(), 500);  // enough corners at the first threshold
  EXPECT_EQ(adaptive.fast_threshold, 20);
  EXPECT_EQ(adaptive.points, fixed.points);
  EXPECT_EQ(cv::norm(adaptive.descriptors, fixed.descriptors, cv::NORM_INF), 0);
}

TEST(AdaptiveFastThreshold, StopsAtTheFloor) {
  LocalFeatureOptions o;
  o.min_fast_threshold = 10;
  const LocalFeatures f = Extract(Faded(ManualPage()), false, o);
  EXPECT_EQ(f.fast_threshold, 10);
}

TEST(AdaptiveFastThreshold, AFlatPageStillHasNoKeypoints) {
  const cv::Mat flat(800, 600, CV_8UC1, cv::Scalar(119));
  const LocalFeatures f = Extract(flat);
  EXPECT_EQ(f.size(), 0);
  EXPECT_EQ(f.fast_threshold, LocalFeatureOptions{}.min_fast_threshold);
}

// The point of it: a cropped copy of a faded page is verified against the
// registered page when both sides use the adaptive threshold, and not with the
// fixed one.
TEST(AdaptiveFastThreshold, AFadedPageMatchesItsCroppedCopy) {
  const cv::Mat registered = Faded(ManualPage());
  const cv::Rect crop(registered.cols / 10, registered.rows / 10, registered.cols * 8 / 10,
                      registered.rows * 8 / 10);
  cv::Mat copy;
  cv::resize(registered(crop), copy, cv::Size(), 1.3, 1.3, cv::INTER_LINEAR);
  VerifyOptions verify;
  verify.min_inliers = 13;
  LocalFeatureOptions reg_options;
  reg_options.max_keypoints = 1000;
  LocalFeatureOptions reg_fixed = Fixed();
  reg_fixed.max_keypoints = 1000;
  const Verification adaptive =
      Verify(Extract(copy), Extract(registered, false, reg_options), verify);
  const Verification fixed =
      Verify(Extract(copy, false, Fixed()), Extract(registered, false, reg_fixed), verify);
  EXPECT_TRUE(adaptive.accepted) << adaptive.rejected_by << " " << adaptive.inliers;
  EXPECT_FALSE(fixed.accepted) << fixed.inliers;
}

TEST(AdaptiveFastThreshold, RejectsThresholdsOutOfOrder) {
  LocalFeatureOptions o;
  o.min_fast_threshold = 30;  // above fast_threshold 20
  EXPECT_FALSE(ExtractLocalFeatures(ManualPage(), false, o).ok());
  o.min_fast_threshold = 0;
  EXPECT_FALSE(ExtractLocalFeatures(ManualPage(), false, o).ok());
}

}  // namespace
}  // namespace kagami::fingerprint
