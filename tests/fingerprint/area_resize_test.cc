#include "kagami/fingerprint/area_resize.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <tuple>

namespace kagami::fingerprint {
namespace {

// Largest per-pixel difference of two same-size CV_8UC1 images.
double MaxDifference(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  double max = 0;
  cv::minMaxLoc(diff, nullptr, &max);
  return max;
}

cv::Mat Texture(cv::Size size, uint64_t seed, bool smooth) {
  cv::Mat m(size, CV_8UC1);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  if (smooth) cv::GaussianBlur(m, m, cv::Size(5, 5), 1.5);
  return m;
}

// (input width, input height, output width, output height)
class AreaDownscaleTest : public ::testing::TestWithParam<std::tuple<int, int, int, int>> {};

TEST_P(AreaDownscaleTest, MatchesOpenCvsAreaResizeWithinOneLevel) {
  const auto [w, h, dw, dh] = GetParam();
  for (uint64_t seed : {1u, 2u}) {
    const cv::Mat in = Texture(cv::Size(w, h), seed, seed == 2);
    const cv::Mat got = AreaDownscale(in, cv::Size(dw, dh));
    cv::Mat want;
    cv::resize(in, want, cv::Size(dw, dh), 0, 0, cv::INTER_AREA);
    ASSERT_EQ(got.size(), want.size());
    ASSERT_EQ(got.type(), CV_8UC1);
    EXPECT_LE(MaxDifference(got, want), 1.0) << w << "x" << h << " -> " << dw << "x" << dh;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Factors, AreaDownscaleTest,
    ::testing::Values(std::make_tuple(600, 400, 384, 256),   // box working copy, 1.5625
                      std::make_tuple(600, 400, 512, 341),   // seam working copy, 1.17
                      std::make_tuple(650, 450, 384, 266),   // portrait-ish page
                      std::make_tuple(1001, 777, 333, 259),  // ~3: the general tap loop
                      std::make_tuple(640, 480, 320, 240),   // integer factor 2
                      std::make_tuple(97, 61, 1, 1),         // one output pixel
                      std::make_tuple(300, 200, 300, 133),   // one axis unchanged
                      std::make_tuple(17, 1000, 16, 999)));  // factors barely above 1

TEST(AreaDownscale, SameSizeIsACopy) {
  const cv::Mat in = Texture(cv::Size(33, 21), 3, false);
  const cv::Mat out = AreaDownscale(in, in.size());
  EXPECT_EQ(MaxDifference(in, out), 0.0);
  EXPECT_NE(in.data, out.data);
}

TEST(AreaDownscale, KeepsAFlatImageFlatAndWorksOnRegionsOfInterest) {
  cv::Mat big(400, 500, CV_8UC1, cv::Scalar(0));
  cv::Mat roi = big(cv::Rect(37, 11, 300, 301));
  roi.setTo(200);
  const cv::Mat out = AreaDownscale(roi, cv::Size(113, 97));
  double lo = 0, hi = 0;
  cv::minMaxLoc(out, &lo, &hi);
  EXPECT_EQ(lo, 200);
  EXPECT_EQ(hi, 200);
}

TEST(AreaDownscale, RealPageWithinOneLevelOfOpenCv) {
  const cv::Mat page =
      cv::imread(std::string(KAGAMI_TEST_DATA_DIR) + "/real/manual-051.jpg", cv::IMREAD_GRAYSCALE);
  ASSERT_FALSE(page.empty());
  const cv::Size size(page.cols * 384 / std::max(page.cols, page.rows),
                      page.rows * 384 / std::max(page.cols, page.rows));
  cv::Mat want;
  cv::resize(page, want, size, 0, 0, cv::INTER_AREA);
  EXPECT_LE(MaxDifference(AreaDownscale(page, size), want), 1.0);
}

}  // namespace
}  // namespace kagami::fingerprint
