// A page shown small inside a larger image that has no frame to find it by:
// Japanese text pages (fonts-noto-cjk) posted on a white social-media card,
// the page at ~40% of the card's width. The first pass describes the whole
// post at the working size, where the glyphs are at ~half their registered
// scale, and among many registered pages of the font others win the gate.
// The enlarged look (a zoom above 1 in RobustOptions::crop_zooms) describes
// the post again at up to 1.6x, as far as its pixels reach.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cjk_pages.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/scanner.h"
#include "scan_fixture.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

constexpr int kRegistered = 40;
constexpr int kShown = 8;

// The page `width` px wide on a white card 1280 px wide: an avatar and a
// name above it, two lines of caption and a reply box below; nothing but
// white between the page's own margins and the card.
cv::Mat Post(const cv::Mat& page, int width) {
  cv::Mat shown;
  cv::resize(page, shown, cv::Size(width, page.rows * width / page.cols), 0, 0, cv::INTER_AREA);
  cv::Mat card(shown.rows + 360, 1280, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::circle(card, cv::Point(80, 70), 36, cv::Scalar(90, 160, 200), cv::FILLED);
  cv::putText(card, "raw_uploads  @raws  3h", cv::Point(136, 80), cv::FONT_HERSHEY_SIMPLEX, 0.8,
              cv::Scalar(30, 30, 30), 2, cv::LINE_AA);
  shown.copyTo(card(cv::Rect(136, 130, shown.cols, shown.rows)));
  const int y = 130 + shown.rows;
  cv::putText(card, "chapter 12 raw, more in the thread", cv::Point(136, y + 60),
              cv::FONT_HERSHEY_SIMPLEX, 0.8, cv::Scalar(30, 30, 30), 2, cv::LINE_AA);
  cv::putText(card, "#manga #raw", cv::Point(136, y + 100), cv::FONT_HERSHEY_SIMPLEX, 0.8,
              cv::Scalar(200, 120, 40), 2, cv::LINE_AA);
  cv::rectangle(card, cv::Rect(136, y + 150, 900, 120), cv::Scalar(235, 235, 235), 2);
  return card;
}

class EnlargedLookTest : public ::kagami::testing::CjkWorkTest {
 protected:
  void SetUp() override {
    RegisterCjkWork(kRegistered, 9300, {"novel", "Novel", "", WorkKind::kManga, {}});
    if (IsSkipped() || HasFatalFailure()) return;
    posts_ = dir_ / "posts";
    fs::create_directories(posts_);
    for (int i = 0; i < kShown; ++i) {
      cv::imwrite((posts_ / ::kagami::testing::CjkPageName(i)).string(), Post(pages_[i], 520),
                  {cv::IMWRITE_JPEG_QUALITY, 85});
    }
  }

  // The posts whose own page matched (any other match fails the test).
  std::set<std::string> Found(const RobustOptions& robust) {
    return ::kagami::testing::FoundOwnPages(
        ::kagami::testing::MatchesByMember(*store_, posts_, robust));
  }

  fs::path posts_;
};

TEST_F(EnlargedLookTest, APageShownSmallInAPostIsFoundAtItsOwnScale) {
  // Without the "body" views, which find most of these posts by PDQ
  // (body_view_test.cc): this tests the look.
  RobustOptions without;
  without.body_views = false;
  without.crop_zooms = {0.85, 0.7, 0.6};
  const std::set<std::string> before = Found(without);
  RobustOptions look;
  look.body_views = false;
  const std::set<std::string> with = Found(look);
  EXPECT_LE(before.size(), 2u) << "the posts are found without the enlarged look";
  EXPECT_GE(with.size(), 6u);
  for (const std::string& member : before) EXPECT_EQ(with.count(member), 1u) << member;
}

TEST_F(EnlargedLookTest, AnImageNoLargerThanTheWorkingSizeIsNotEnlarged) {
  // The first post at 1.2x the working size (960 px long) and at 2x: the
  // enlarged look reaches 1.2 (< enlarged_look_min_zoom) in the first and
  // is skipped; it runs at 1.6 in the second.
  const cv::Mat post = cv::imread((posts_ / ::kagami::testing::CjkPageName(0)).string());
  ASSERT_FALSE(post.empty());
  auto enlarged = [&](int long_side) {
    const fs::path folder = dir_ / ("long" + std::to_string(long_side));
    fs::create_directories(folder);
    const double s = static_cast<double>(long_side) / std::max(post.cols, post.rows);
    cv::Mat scaled;
    cv::resize(post, scaled, cv::Size(), s, s, s < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
    cv::imwrite((folder / "post.jpg").string(), scaled, {cv::IMWRITE_JPEG_QUALITY, 90});
    RobustOptions robust;
    robust.body_views = false;  // a PDQ match through a body view skips the local stage
    robust.local_trace_path = (dir_ / ("trace" + std::to_string(long_side) + ".jsonl")).string();
    ::kagami::testing::MatchesByMember(*store_, folder, robust);
    std::vector<double> above_one;
    std::ifstream in(robust.local_trace_path);
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (!j.contains("zoomed")) continue;
      for (const auto& z : j["zoomed"]) {
        if (z["zoom"].get<double>() > 1) above_one.push_back(z["zoom"].get<double>());
      }
    }
    return above_one;
  };
  EXPECT_TRUE(enlarged(960).empty());
  const std::vector<double> at_2x = enlarged(1600);
  ASSERT_EQ(at_2x.size(), 1u);
  EXPECT_NEAR(at_2x[0], 1.6, 1e-6);
}

}  // namespace
}  // namespace kagami::index
