// Issue 7's PDQ false-match pattern on real images: a typeset page shown in a
// dark reader window (a 1920x1080 screenshot) is wide, so it is also hashed as
// two halves; its right half is the page's right half beside the flat dark
// viewer: two flat regions side by side. A registered two-tone image (the flag
// of Poland from openclipart-png: white over red, PDQ quality ~55) has, among
// its dihedral variants, the same coarse structure, and the two hashes come
// within 14-22 bits of each other. The rule (RobustOptions::
// min_unverified_half_quality): a half's PDQ hit is reported unverified only
// when both qualities are >= 70; below that only geometric verification may
// confirm it. Full and trimmed views keep PDQ's usual quality 50, so copies of
// the low-quality flag itself still match.
//
// Inputs (tests/data/real/): manual-05x.jpg are gnuplot-doc's gnuplot.pdf pages
// 50-53 at 72 dpi; flag-poland.png is openclipart-png's
// /usr/share/openclipart/png/signs_and_symbols/flags/europe/poland.png, copied.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"
#include "scan_fixture.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

fs::path RealData() { return fs::path(KAGAMI_TEST_DATA_DIR) / "real"; }

// A page inside a dark reader window: title bar with tabs, address bar, a
// sidebar of thumbnails, a status bar, and the page at `height_fraction` of
// the viewer's height, centred right of the sidebar.
cv::Mat DarkReaderScreenshot(const cv::Mat& page_bgr, double height_fraction) {
  const int w = 1920, h = 1080;
  cv::Mat out(h, w, CV_8UC3, cv::Scalar(40, 40, 44));
  cv::rectangle(out, cv::Rect(0, 0, w, 36), cv::Scalar(60, 60, 66), cv::FILLED);
  for (int t = 0; t < 4; ++t) {
    cv::rectangle(out, cv::Rect(10 + t * 230, 6, 220, 30),
                  t == 1 ? cv::Scalar(250, 250, 250) : cv::Scalar(90, 90, 96), cv::FILLED);
    cv::putText(out, "Chapter " + std::to_string(40 + t * 7) + " - read online",
                cv::Point(20 + t * 230, 27), cv::FONT_HERSHEY_SIMPLEX, 0.45,
                t == 1 ? cv::Scalar(20, 20, 20) : cv::Scalar(220, 220, 220), 1, cv::LINE_AA);
  }
  cv::rectangle(out, cv::Rect(0, 36, w, 44), cv::Scalar(250, 250, 250), cv::FILLED);
  cv::rectangle(out, cv::Rect(120, 44, 1200, 28), cv::Scalar(225, 225, 225), cv::FILLED);
  cv::putText(out, "https://manga-reader.example/series/3158507320/page-7", cv::Point(132, 64),
              cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar(30, 30, 30), 1, cv::LINE_AA);
  cv::rectangle(out, cv::Rect(0, 80, 260, h - 110), cv::Scalar(55, 55, 60), cv::FILLED);
  for (int k = 0; k < 6; ++k) {
    cv::rectangle(out, cv::Rect(30, 100 + k * 150, 90, 130), cv::Scalar(180, 180, 180), cv::FILLED);
  }
  cv::rectangle(out, cv::Rect(0, h - 30, w, 30), cv::Scalar(70, 70, 76), cv::FILLED);
  const int avail_h = h - 80 - 30, avail_w = w - 260;
  const double s = avail_h * height_fraction / page_bgr.rows;
  cv::Mat page;
  cv::resize(page_bgr, page, cv::Size(), s, s, cv::INTER_AREA);
  const int x = 260 + (avail_w - page.cols) / 2, y = 80 + (avail_h - page.rows) / 2;
  page.copyTo(out(cv::Rect(x, y, page.cols, page.rows)));
  return out;
}

class HalfViewFalseMatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kagami_half_view_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "registered");
    fs::create_directories(dir_ / "screenshots");
    fs::create_directories(dir_ / "flag_copies");
    // Registered as the calibration registers it: long side 1000, JPEG q90.
    cv::Mat flag = cv::imread((RealData() / "flag-poland.png").string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(flag.empty());
    const double fit = 1000.0 / std::max(flag.cols, flag.rows);
    cv::resize(flag, flag, cv::Size(), fit, fit, cv::INTER_AREA);
    cv::imwrite((dir_ / "registered" / "flag-poland.jpg").string(), flag,
                {cv::IMWRITE_JPEG_QUALITY, 90});
    for (const char* name :
         {"manual-050.jpg", "manual-051.jpg", "manual-052.jpg", "manual-053.jpg"}) {
      cv::Mat page = cv::imread((RealData() / name).string(), cv::IMREAD_COLOR);
      ASSERT_FALSE(page.empty()) << name;
      for (double fraction : {0.80, 0.85, 0.90}) {
        cv::imwrite((dir_ / "screenshots" /
                     (fs::path(name).stem().string() + "_" +
                      std::to_string(static_cast<int>(fraction * 100)) + ".jpg"))
                        .string(),
                    DarkReaderScreenshot(page, fraction), {cv::IMWRITE_JPEG_QUALITY, 85});
      }
    }
    // A copy of the registered flag itself (its quality is near 50, so a
    // re-encoded copy may fall below PDQ's quality floor on the query side).
    fs::copy_file(dir_ / "registered" / "flag-poland.jpg", dir_ / "flag_copies" / "same.jpg");

    auto store = Store::Open(dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto summary = ::kagami::testing::RegisterFolder(*store_, dir_ / "registered",
                                                     {"flags", "Flags", "", WorkKind::kOther, {}});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, 1);
    ASSERT_EQ(summary->units_low_quality, 0);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  // member -> matches of a scan of `folder`.
  std::map<std::string, std::vector<pipeline::PageMatchRecord>> ScanFolder(
      const std::string& folder, const RobustOptions& robust) {
    return ::kagami::testing::MatchesByMember(*store_, dir_ / folder, robust);
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(HalfViewFalseMatchTest, ScreenshotHalvesNeverMatchATwoToneFlagUnverified) {
  // The rule before: halves reported at PDQ quality 50 like any view. The
  // pattern must reproduce under it, or this test proves nothing.
  RobustOptions previous;
  previous.min_unverified_half_quality = 50;
  // The flag stores almost no keypoints, so the low-detail rule
  // (low_detail_pdq_test.cc) stops these hits too; off here, and below the
  // half-view rule is checked on its own as well.
  previous.min_unverified_keypoints = 0;
  int previous_false = 0;
  for (const auto& [member, matches] : ScanFolder("screenshots", previous)) {
    for (const auto& m : matches) {
      ++previous_false;
      EXPECT_EQ(m.method, "pdq") << member;
      EXPECT_TRUE(m.view == "left" || m.view == "right") << member << " " << m.view;
      EXPECT_GE(m.view_quality, 70) << member;
      EXPECT_LT(m.ref.quality, 70) << member;
    }
  }
  EXPECT_GE(previous_false, 1) << "the screenshots no longer reproduce the false-match pattern";

  RobustOptions half_rule_only;
  half_rule_only.min_unverified_keypoints = 0;
  for (const RobustOptions& robust : {RobustOptions{}, half_rule_only}) {
    for (const auto& [member, matches] : ScanFolder("screenshots", robust)) {
      for (const auto& m : matches) {
        ADD_FAILURE() << member << " matched the flag: " << m.method << ", view " << m.view << ", "
                      << m.hit.distance << " bits, quality " << m.view_quality << " / "
                      << m.ref.quality << ", " << m.inliers << " inliers";
      }
    }
  }
}

TEST_F(HalfViewFalseMatchTest, FullViewOfTheLowQualityFlagStillMatchesUnverified) {
  const auto by_member = ScanFolder("flag_copies", RobustOptions{});
  for (const char* member : {"same.jpg"}) {
    auto it = by_member.find(member);
    ASSERT_TRUE(it != by_member.end() && !it->second.empty()) << member << " not matched";
    const pipeline::PageMatchRecord& m = it->second.front();
    EXPECT_EQ(m.view, "full") << member;
    EXPECT_EQ(m.method, "pdq") << member;
    EXPECT_GE(m.hit.distance, 0) << member;
    EXPECT_GE(m.view_quality, 50) << member;
    EXPECT_GE(m.ref.quality, 50) << member;
  }
}

}  // namespace
}  // namespace kagami::index
