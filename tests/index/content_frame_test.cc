// Verification in the registered page's content frame
// (RobustOptions::content_frame_min_inliers): a small drawing on a large blank
// page is matched by a copy whose inliers cover little of the registered page
// but most of its content; an unrelated drawing in the same place is not.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"
#include "kagami/synth/page_generator.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

void WriteBytes(const fs::path& path, const std::vector<unsigned char>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// A 1000 x 1400 white page with a 340 x 340 drawing (a piece of a generated
// page) at (x, y): about 8% of the page.
cv::Mat SmallDrawingPage(uint64_t seed, int x, int y) {
  const cv::Mat source = synth::GenerateMangaPage(seed, 1000, 1400);
  cv::Mat page(1400, 1000, CV_8UC3, cv::Scalar(255, 255, 255));
  source(cv::Rect(300, 400, 340, 340)).copyTo(page(cv::Rect(x, y, 340, 340)));
  return page;
}

// The page with a white margin of a twelfth of each side, rotated 3 degrees:
// a re-post with a border.
cv::Mat Reposted(const cv::Mat& page) {
  cv::Mat padded;
  cv::copyMakeBorder(page, padded, page.rows / 12, page.rows / 12, page.cols / 12, page.cols / 12,
                     cv::BORDER_CONSTANT, cv::Scalar(255, 255, 255));
  const cv::Mat r =
      cv::getRotationMatrix2D(cv::Point2f(padded.cols / 2.0f, padded.rows / 2.0f), 3.0, 1.0);
  cv::Mat out;
  cv::warpAffine(padded, out, r, padded.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(255, 255, 255));
  return out;
}

class ContentFrameTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::path(::testing::TempDir()) /
                        ("kagami_content_frame_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    WriteBytes(*dir_ / "work" / "small.jpg",
               synth::EncodeJpeg(SmallDrawingPage(8100, 560, 180), 90));
    for (int i = 0; i < 3; ++i) {
      WriteBytes(*dir_ / "work" / ("full" + std::to_string(i) + ".jpg"),
                 synth::EncodeJpeg(synth::GenerateMangaPage(8200 + i, 1000, 1400), 90));
    }
    auto store = Store::Open(*dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto summary = pipeline::RegisterWork(**store, {"w", "Content", "", WorkKind::kManga, {}},
                                          {(*dir_ / "work").string()}, {});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, 4);
    registered_ = true;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
    registered_ = false;
  }
  void SetUp() override { ASSERT_TRUE(registered_) << "registering the pages failed"; }

  // Registered file name -> whether its match was verified in the content frame.
  static std::map<std::string, bool> ScanOne(
      const std::string& name, const cv::Mat& bgr, int content_frame_min_inliers,
      int appearance_min_inliers = RobustOptions{}.appearance_min_inliers) {
    const fs::path folder = *dir_ / ("q_" + name);
    fs::remove_all(folder);
    WriteBytes(folder / (name + ".jpg"), synth::EncodeJpeg(bgr, 85));
    auto store = Store::Open(*dir_ / "data");
    EXPECT_TRUE(store.ok());
    pipeline::ScanOptions options;
    options.robust.content_frame_min_inliers = content_frame_min_inliers;
    options.robust.appearance_min_inliers = appearance_min_inliers;
    std::map<std::string, bool> matched;
    Status s =
        pipeline::Scan(**store, {folder.string()}, options, [&](const pipeline::VolumeReport& r) {
          for (const auto& m : r.matches)
            matched[fs::path(m.ref.asset_path).filename().string()] = m.content_frame;
        });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return matched;
  }

  static fs::path* dir_;
  static bool registered_;
};

fs::path* ContentFrameTest::dir_ = nullptr;
bool ContentFrameTest::registered_ = false;

TEST_F(ContentFrameTest, SmallDrawingOnALargePageMatchesItsRepost) {
  const cv::Mat copy = Reposted(SmallDrawingPage(8100, 560, 180));
  const int defaults = RobustOptions{}.content_frame_min_inliers;
  ASSERT_GT(defaults, 0);
  const std::map<std::string, bool> found = ScanOne("repost", copy, defaults);
  ASSERT_EQ(found.size(), 1u);
  ASSERT_TRUE(found.count("small.jpg"));
  EXPECT_TRUE(found.at("small.jpg"));  // verified against the drawing, not the paper
}

TEST_F(ContentFrameTest, WithoutTheContentFrameTheRepostIsMissed) {
  // The same query measured against the whole registered page only: its
  // inliers cover too little of it (the reason the content frame exists).
  // The photometric check (RobustOptions::appearance_min_inliers) is off: it
  // accepts this copy too (the next test).
  const cv::Mat copy = Reposted(SmallDrawingPage(8100, 560, 180));
  EXPECT_TRUE(ScanOne("repost_page_frame", copy, 0, /*appearance_min_inliers=*/0).empty());
}

TEST_F(ContentFrameTest, WithoutTheContentFrameTheRepostIsAcceptedOnAppearance) {
  const cv::Mat copy = Reposted(SmallDrawingPage(8100, 560, 180));
  const std::map<std::string, bool> found = ScanOne("repost_appearance", copy, 0);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found.count("small.jpg"));
}

TEST_F(ContentFrameTest, UnrelatedDrawingInTheSamePlaceIsNotMatched) {
  const cv::Mat other = Reposted(SmallDrawingPage(8177, 560, 180));
  EXPECT_TRUE(ScanOne("unrelated", other, RobustOptions{}.content_frame_min_inliers).empty());
}

TEST_F(ContentFrameTest, FullPagesStillMatchInThePageFrame) {
  const cv::Mat copy =
      synth::ApplyEdit(synth::GenerateMangaPage(8201, 1000, 1400), synth::Edit::kCrop20, 3);
  const std::map<std::string, bool> found =
      ScanOne("full", copy, RobustOptions{}.content_frame_min_inliers);
  ASSERT_TRUE(found.count("full1.jpg"));
  EXPECT_FALSE(found.at("full1.jpg"));
}

}  // namespace
}  // namespace kagami::index
