#include "kagami/synth/page_generator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <string>

namespace kagami::synth {
namespace {

bool SamePixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

double MeanAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d;
  cv::absdiff(a, b, d);
  return cv::mean(d)[0];
}

// Smaller pages keep the suite fast; the style scales with the page.
constexpr int kW = 600, kH = 850;

TEST(GenerateMangaPage, SameSeedGivesIdenticalPixels) {
  for (uint64_t seed : {0ULL, 1ULL, 42ULL, 0xFFFFFFFFFFFFFFFFULL}) {
    const cv::Mat a = GenerateMangaPage(seed, kW, kH);
    const cv::Mat b = GenerateMangaPage(seed, kW, kH);
    EXPECT_TRUE(SamePixels(a, b)) << "seed " << seed;
  }
}

TEST(GenerateMangaPage, DifferentSeedsGiveDifferentPages) {
  const cv::Mat first = GenerateMangaPage(100, kW, kH);
  for (uint64_t seed = 101; seed < 106; ++seed) {
    EXPECT_GT(MeanAbsDiff(first, GenerateMangaPage(seed, kW, kH)), 10.0) << "seed " << seed;
  }
}

TEST(GenerateMangaPage, HasRequestedSizeAndType) {
  for (const cv::Size size : {cv::Size(1200, 1700), cv::Size(300, 420), cv::Size(900, 600)}) {
    const cv::Mat page = GenerateMangaPage(7, size.width, size.height);
    EXPECT_EQ(page.size(), size);
    EXPECT_EQ(page.type(), CV_8UC3);
  }
}

TEST(GenerateMangaPage, IsMostlyPaperWithASaneAmountOfInk) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    cv::Mat gray;
    cv::cvtColor(GenerateMangaPage(seed, kW, kH), gray, cv::COLOR_BGR2GRAY);
    const double total = static_cast<double>(gray.total());
    const double ink = cv::countNonZero(gray < 128) / total;
    const double paper = cv::countNonZero(gray > 200) / total;
    EXPECT_GT(ink, 0.04) << "seed " << seed;
    EXPECT_LT(ink, 0.45) << "seed " << seed;
    EXPECT_GT(paper, 0.45) << "seed " << seed;
  }
}

TEST(GenerateMangaPage, PaperIsOffWhiteAndBalloonsArePureWhite) {
  const cv::Mat page = GenerateMangaPage(3, kW, kH);
  const cv::Vec3b corner = page.at<cv::Vec3b>(2, 2);
  EXPECT_NE(corner, cv::Vec3b(255, 255, 255));
  EXPECT_GT(corner[2], 225);
  EXPECT_LT(corner[0], corner[2]);  // warm tint: less blue than red
  const std::vector<cv::Rect> balloons = FindBalloons(page);
  ASSERT_FALSE(balloons.empty());
  for (const cv::Rect& r : balloons) {
    const cv::Point c = (r.tl() + r.br()) / 2;
    // The centre column of a balloon has pure white between glyphs.
    cv::Mat column = page(cv::Rect(c.x - r.width / 4, r.y, r.width / 2, r.height));
    cv::Mat white;
    cv::inRange(column, cv::Scalar(255, 255, 255), cv::Scalar(255, 255, 255), white);
    EXPECT_GT(cv::countNonZero(white), column.total() / 4);
  }
}

TEST(GenerateMangaPage, EveryPageHasBalloons) {
  for (uint64_t seed = 20; seed < 40; ++seed) {
    EXPECT_FALSE(FindBalloons(GenerateMangaPage(seed, kW, kH)).empty()) << "seed " << seed;
  }
}

TEST(Edits, NamesRoundTripAndAreUnique) {
  std::set<std::string> names;
  for (Edit e : AllEdits()) {
    EXPECT_NE(e, Edit::kNone);
    const std::string name(EditName(e));
    EXPECT_TRUE(names.insert(name).second) << name;
    ASSERT_TRUE(ParseEdit(name).has_value()) << name;
    EXPECT_EQ(*ParseEdit(name), e);
  }
  EXPECT_EQ(names.size(), 17u);
  EXPECT_FALSE(ParseEdit("crop7").has_value());
}

TEST(Edits, AreDeterministicForASeed) {
  const cv::Mat page = GenerateMangaPage(5, kW, kH);
  for (Edit e : AllEdits()) {
    EXPECT_TRUE(SamePixels(ApplyEdit(page, e, 9), ApplyEdit(page, e, 9))) << EditName(e);
  }
}

TEST(Edits, ChangeThePageAndKeepTheType) {
  const cv::Mat page = GenerateMangaPage(6, kW, kH);
  for (Edit e : AllEdits()) {
    const cv::Mat out = ApplyEdit(page, e, 1);
    EXPECT_EQ(out.type(), CV_8UC3) << EditName(e);
    EXPECT_FALSE(SamePixels(out, page)) << EditName(e);
  }
  EXPECT_TRUE(SamePixels(ApplyEdit(page, Edit::kNone, 1), page));
}

TEST(Edits, SizePreservingEditsKeepTheSize) {
  const cv::Mat page = GenerateMangaPage(8, kW, kH);
  for (Edit e : {Edit::kJpegQ30, Edit::kMirror, Edit::kWatermarkStrip, Edit::kCreditsStrip,
                 Edit::kGrayscale, Edit::kRotate2, Edit::kRotate5, Edit::kBalloonText}) {
    EXPECT_EQ(ApplyEdit(page, e, 2).size(), page.size()) << EditName(e);
  }
  EXPECT_EQ(ApplyEdit(page, Edit::kRescale50, 2).size(), cv::Size(kW / 2, kH / 2));
  EXPECT_EQ(ApplyEdit(page, Edit::kRescale150, 2).size(), cv::Size(kW * 3 / 2, kH * 3 / 2));
}

TEST(Edits, CropsKeepTheDocumentedRegion) {
  const cv::Mat page = GenerateMangaPage(9, kW, kH);
  const struct {
    Edit edit;
    double fraction;
  } cases[] = {
      {Edit::kCrop3, 0.03}, {Edit::kCrop5, 0.05}, {Edit::kCrop10, 0.10}, {Edit::kCrop20, 0.20}};
  for (const auto& c : cases) {
    const cv::Rect r = CropRectForEdit(page.size(), c.edit, 4);
    EXPECT_NEAR(r.x, kW * c.fraction, 1);
    EXPECT_NEAR(r.y, kH * c.fraction, 1);
    EXPECT_NEAR(r.width, kW * (1 - 2 * c.fraction), 2);
    EXPECT_NEAR(r.height, kH * (1 - 2 * c.fraction), 2);
    EXPECT_TRUE(SamePixels(ApplyEdit(page, c.edit, 4), page(r))) << EditName(c.edit);
  }
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const cv::Rect r = CropRectForEdit(page.size(), Edit::kCropRandom, seed);
    EXPECT_GE(r.x, kW * 0.05 - 1);
    EXPECT_LE(r.x, kW * 0.20 + 1);
    EXPECT_GE(kH - r.br().y, kH * 0.05 - 1);
    EXPECT_LE(kH - r.br().y, kH * 0.20 + 1);
    EXPECT_TRUE(SamePixels(ApplyEdit(page, Edit::kCropRandom, seed), page(r)));
  }
  EXPECT_NE(CropRectForEdit(page.size(), Edit::kCropRandom, 1),
            CropRectForEdit(page.size(), Edit::kCropRandom, 2));
}

TEST(Edits, PadsReachTheTargetAspectWithThePageCentred) {
  const cv::Mat page = GenerateMangaPage(10, kW, kH);
  for (uint64_t seed = 0; seed < 4; ++seed) {
    for (const auto& [edit, aspect] :
         {std::pair{Edit::kPad4x3, 4.0 / 3.0}, std::pair{Edit::kPad16x9, 16.0 / 9.0}}) {
      const cv::Mat out = ApplyEdit(page, edit, seed);
      EXPECT_EQ(out.rows, kH);  // portrait page: width grows
      EXPECT_NEAR(static_cast<double>(out.cols) / out.rows, aspect, 1.0 / out.rows);
      const cv::Rect content = PadContentRect(page.size(), aspect);
      EXPECT_TRUE(SamePixels(out(content), page)) << EditName(edit);
      EXPECT_NEAR(content.x, (out.cols - kW) / 2.0, 1);
      // Bars are uniform, black or white.
      const cv::Mat bar = out(cv::Rect(0, 0, content.x, out.rows));
      double lo = 0, hi = 0;
      cv::minMaxLoc(bar.reshape(1), &lo, &hi);
      EXPECT_EQ(lo, hi);
      EXPECT_TRUE(lo == 0 || lo == 255) << lo;
    }
  }
  // A landscape image grows in height instead.
  const cv::Rect wide = PadContentRect(cv::Size(1000, 300), 16.0 / 9.0);
  EXPECT_EQ(wide.x, 0);
  EXPECT_NEAR(wide.y, (1000 / (16.0 / 9.0) - 300) / 2, 1);
}

TEST(Edits, MirrorFlipsHorizontally) {
  const cv::Mat page = GenerateMangaPage(11, kW, kH);
  cv::Mat flipped;
  cv::flip(page, flipped, 1);
  EXPECT_TRUE(SamePixels(ApplyEdit(page, Edit::kMirror, 0), flipped));
}

TEST(Edits, RotationKeepsSizeAndFillsCornersWithWhite) {
  const cv::Mat page = GenerateMangaPage(12, kW, kH);
  for (Edit e : {Edit::kRotate2, Edit::kRotate5}) {
    const cv::Mat out = ApplyEdit(page, e, 3);
    EXPECT_EQ(out.size(), page.size());
    // Every corner of the output maps outside the source page, hence white.
    for (const cv::Point p :
         {cv::Point(0, 0), cv::Point(kW - 1, 0), cv::Point(0, kH - 1), cv::Point(kW - 1, kH - 1)}) {
      EXPECT_EQ(out.at<cv::Vec3b>(p), cv::Vec3b(255, 255, 255)) << EditName(e) << " " << p;
    }
    // The centre stays put.
    EXPECT_LT(MeanAbsDiff(out(cv::Rect(kW / 2 - 2, kH / 2 - 2, 4, 4)),
                          page(cv::Rect(kW / 2 - 2, kH / 2 - 2, 4, 4))),
              60);
  }
}

// Rows of `a` and `b` that differ.
std::vector<int> DifferingRows(const cv::Mat& a, const cv::Mat& b) {
  std::vector<int> rows;
  for (int y = 0; y < a.rows; ++y) {
    if (cv::norm(a.row(y), b.row(y), cv::NORM_INF) > 0) rows.push_back(y);
  }
  return rows;
}

TEST(Edits, WatermarkStripCoversOnlyTheBottomEightPercent) {
  const cv::Mat page = GenerateMangaPage(13, kW, kH);
  const std::vector<int> rows = DifferingRows(page, ApplyEdit(page, Edit::kWatermarkStrip, 1));
  ASSERT_FALSE(rows.empty());
  EXPECT_GE(rows.front(), kH - std::lround(0.08 * kH));
  EXPECT_GT(rows.size(), 0.07 * kH);
}

TEST(Edits, CreditsStripCoversATenPercentBandAtTopOrBottom) {
  const cv::Mat page = GenerateMangaPage(14, kW, kH);
  bool saw_top = false, saw_bottom = false;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const std::vector<int> rows = DifferingRows(page, ApplyEdit(page, Edit::kCreditsStrip, seed));
    ASSERT_FALSE(rows.empty());
    const int band = static_cast<int>(std::lround(0.10 * kH));
    if (rows.front() == 0) {
      saw_top = true;
      EXPECT_LT(rows.back(), band);
    } else {
      saw_bottom = true;
      EXPECT_GE(rows.front(), kH - band);
    }
    EXPECT_GT(rows.size(), 0.09 * kH);
  }
  EXPECT_TRUE(saw_top);
  EXPECT_TRUE(saw_bottom);
}

TEST(Edits, GrayscaleHasEqualChannels) {
  const cv::Mat out = ApplyEdit(GenerateMangaPage(15, kW, kH), Edit::kGrayscale, 0);
  std::vector<cv::Mat> ch;
  cv::split(out, ch);
  EXPECT_EQ(cv::norm(ch[0], ch[1], cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(ch[1], ch[2], cv::NORM_INF), 0);
}

TEST(Edits, BalloonTextChangesOnlyInsideBalloons) {
  for (uint64_t seed = 50; seed < 56; ++seed) {
    const cv::Mat page = GenerateMangaPage(seed, kW, kH);
    const std::vector<cv::Rect> balloons = FindBalloons(page);
    ASSERT_FALSE(balloons.empty());
    const cv::Mat out = ApplyEdit(page, Edit::kBalloonText, seed);
    cv::Mat diff;
    cv::absdiff(page, out, diff);
    cv::Mat changed;
    cv::cvtColor(diff, changed, cv::COLOR_BGR2GRAY);
    changed = changed > 0;
    cv::Mat inside(page.size(), CV_8UC1, cv::Scalar(0));
    for (const cv::Rect& r : balloons) inside(r).setTo(255);
    EXPECT_GT(cv::countNonZero(changed & inside), 0) << "seed " << seed;
    EXPECT_EQ(cv::countNonZero(changed & ~inside), 0) << "seed " << seed;
    // Re-lettered balloons are still found (the page can be edited again).
    EXPECT_EQ(FindBalloons(out).size(), balloons.size()) << "seed " << seed;
  }
}

TEST(MakeSpread, PutsRightPageOnTheRightAndEqualisesHeight) {
  const cv::Mat left = GenerateMangaPage(16, 400, 600);
  const cv::Mat right = GenerateMangaPage(17, 500, 700);
  const cv::Mat spread = MakeSpread(left, right);
  EXPECT_EQ(spread.rows, 700);
  EXPECT_NEAR(spread.cols, 500 + 400 * 700.0 / 600.0, 1);
  EXPECT_TRUE(SamePixels(spread(cv::Rect(spread.cols - 500, 0, 500, 700)), right));
}

TEST(Encode, JpegAndPngDecodeToTheSameSize) {
  const cv::Mat page = GenerateMangaPage(18, 300, 420);
  const cv::Mat jpeg = cv::imdecode(EncodeJpeg(page, 75), cv::IMREAD_COLOR);
  ASSERT_FALSE(jpeg.empty());
  EXPECT_EQ(jpeg.size(), page.size());
  EXPECT_LT(MeanAbsDiff(jpeg, page), 12);
  const cv::Mat png = cv::imdecode(EncodePng(page), cv::IMREAD_COLOR);
  EXPECT_TRUE(SamePixels(png, page));
  EXPECT_LT(EncodeJpeg(page, 30).size(), EncodeJpeg(page, 95).size());
}

}  // namespace
}  // namespace kagami::synth
