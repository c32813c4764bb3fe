// Photos registered upright and scanned turned by a few degrees on a plain
// canvas (a page scanned or pasted askew): PDQ alone finds them through the
// "deskewed" view within the strong radius, and nothing matches a page it
// does not show. Real photos from plasma-workspace-wallpapers; skipped when
// the package is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "real_images.h"
#include "scan_fixture.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

using ::kagami::testing::LoadOnWhite;
using ::kagami::testing::Wallpaper;

// Photos whose PDQ quality is at least 50 (indexed by PDQ).
const std::vector<std::string> kPhotos = {"Path", "Autumn", "BytheWater", "EveningGlow",
                                          "OneStandsOut"};

class SkewedPageMatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string& name : kPhotos) {
      if (!fs::exists(Wallpaper(name))) GTEST_SKIP() << Wallpaper(name) << " missing";
    }
    dir_ = fs::path(::testing::TempDir()) / ("kagami_skewed_page_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "registered");
    fs::create_directories(dir_ / "queries");
    for (size_t i = 0; i < kPhotos.size(); ++i) {
      const cv::Mat photo = LoadOnWhite(Wallpaper(kPhotos[i]), 1000);
      const std::string name = kPhotos[i] + ".jpg";
      cv::imwrite((dir_ / "registered" / name).string(), photo, {cv::IMWRITE_JPEG_QUALITY, 92});
      // Turned 2-5 degrees either way, re-encoded.
      const double degrees = (i % 2 ? -1.0 : 1.0) * (2.0 + 0.75 * static_cast<double>(i));
      // On a canvas that differs from the photo's border (white for a dark one).
      cv::Mat gray;
      cv::cvtColor(photo, gray, cv::COLOR_BGR2GRAY);
      cv::Mat border(gray.size(), CV_8UC1, cv::Scalar(255));
      border(cv::Rect(8, 8, gray.cols - 16, gray.rows - 16)).setTo(0);
      const cv::Mat turned = ::kagami::testing::Turned(
          photo, degrees, cv::Scalar::all(cv::mean(gray, border)[0] < 128 ? 255 : 0));
      cv::imwrite((dir_ / "queries" / name).string(), turned, {cv::IMWRITE_JPEG_QUALITY, 80});
    }
    auto store = Store::Open(dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto summary = ::kagami::testing::RegisterFolder(
        *store_, dir_ / "registered", {"photos", "Photos", "", WorkKind::kOther, {}});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, static_cast<int>(kPhotos.size()));
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SkewedPageMatchTest, PdqAloneFindsTurnedPhotosThroughTheDeskewedView) {
  RobustOptions robust;
  robust.local = LocalStage::kNever;
  const auto by_member = ::kagami::testing::MatchesByMember(*store_, dir_ / "queries", robust);
  const std::set<std::string> found = ::kagami::testing::FoundOwnPages(by_member);
  for (const std::string& name : kPhotos)
    EXPECT_TRUE(found.count(name + ".jpg")) << name << " turned was not found";
  for (const auto& [member, matches] : by_member) {
    for (const pipeline::PageMatchRecord& m : matches) {
      EXPECT_EQ(m.view, "deskewed") << member;
      EXPECT_LE(m.hit.distance, robust.strong_radius) << member;
    }
  }
}

TEST_F(SkewedPageMatchTest, TheDefaultScanFindsEveryTurnedPhotoAndNoOtherPage) {
  const auto by_member =
      ::kagami::testing::MatchesByMember(*store_, dir_ / "queries", RobustOptions{});
  EXPECT_EQ(::kagami::testing::FoundOwnPages(by_member).size(), kPhotos.size());
}

}  // namespace
}  // namespace kagami::index
