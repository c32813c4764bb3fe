// A watermark strip across the blank paper of a page of little content (a
// drawing on a page, as a sticker, icon or spot illustration): the strip
// moves the page's PDQ hash past the radius and leaves the local stage too few
// of the drawing's corners, and the "unbanded" view (fingerprint::
// DetectOverlayBand) finds the page by PDQ within the strong radius. Real
// drawings from openclipart-png; skipped when it is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
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

constexpr char kClipart[] = "/usr/share/openclipart/png/";
const std::map<std::string, std::string> kDrawings = {
    {"cake.jpg", "food/cake_and_candle_anton_fr_01.png"},
    {"fondue.jpg", "food/fondue_uliphant_01.png"},
    {"apples.jpg", "food/candied_apples_ganson.png"},
    {"bowl.jpg", "food/bowl_chaspo_.png"},
    {"armadillo.jpg", "animals/armadillo_architetto_fra_01.png"},
    {"lizard.jpg", "animals/az-lizard_benji_park_01.png"}};

// The drawing (long side 280) near the top of a blank 900x1200 page.
cv::Mat DrawingPage(const fs::path& drawing) {
  const cv::Mat art = LoadOnWhite(drawing, 280);
  cv::Mat page(1200, 900, CV_8UC3, cv::Scalar(255, 255, 255));
  art.copyTo(page(cv::Rect(300, 180, art.cols, art.rows)));
  return page;
}

// A dark strip at 58-66% of the height, 60% opaque, with a line of white type.
cv::Mat WithStrip(const cv::Mat& page) {
  cv::Mat out = page.clone();
  const cv::Rect band(0, page.rows * 58 / 100, page.cols, page.rows * 8 / 100);
  cv::Mat roi = out(band);
  const cv::Mat overlay(roi.size(), roi.type(), cv::Scalar(35, 30, 30));
  cv::addWeighted(roi, 0.4, overlay, 0.6, 0, roi);
  cv::putText(out, "more chapters at scans-example.net",
              cv::Point(40, band.y + band.height * 2 / 3), cv::FONT_HERSHEY_DUPLEX, 1.1,
              cv::Scalar(255, 255, 255), 2, cv::LINE_AA);
  return out;
}

class WatermarkBandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [name, path] : kDrawings) {
      if (!fs::exists(fs::path(kClipart) / path))
        GTEST_SKIP() << path << " missing (openclipart-png)";
    }
    dir_ = fs::path(::testing::TempDir()) /
           ("kagami_watermark_band_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "registered");
    fs::create_directories(dir_ / "queries");
    for (const auto& [name, path] : kDrawings) {
      const cv::Mat page = DrawingPage(fs::path(kClipart) / path);
      cv::imwrite((dir_ / "registered" / name).string(), page, {cv::IMWRITE_JPEG_QUALITY, 95});
      cv::imwrite((dir_ / "queries" / name).string(), WithStrip(page),
                  {cv::IMWRITE_JPEG_QUALITY, 80});
    }
    auto store = Store::Open(dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto summary = ::kagami::testing::RegisterFolder(
        *store_, dir_ / "registered", {"drawings", "Drawings", "", WorkKind::kOther, {}});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, static_cast<int>(kDrawings.size()));
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(WatermarkBandTest, EveryStrippedPageIsFoundAndTheUnbandedViewFindsThem) {
  for (LocalStage local : {LocalStage::kAuto, LocalStage::kNever}) {
    RobustOptions robust;
    robust.local = local;
    const auto by_member = ::kagami::testing::MatchesByMember(*store_, dir_ / "queries", robust);
    EXPECT_EQ(::kagami::testing::FoundOwnPages(by_member).size(), kDrawings.size());
    int unbanded = 0;
    for (const auto& [member, matches] : by_member) {
      for (const pipeline::PageMatchRecord& m : matches) {
        if (m.view != "unbanded") continue;
        ++unbanded;
        EXPECT_LE(m.hit.distance, robust.strong_radius) << member;
      }
    }
    // PDQ alone finds them only through the unbanded view; with the local
    // stage most of them too (the strip takes the drawing's corners).
    if (local == LocalStage::kNever) EXPECT_EQ(unbanded, static_cast<int>(kDrawings.size()));
    if (local == LocalStage::kAuto) EXPECT_GE(unbanded, 1);
  }
}

}  // namespace
}  // namespace kagami::index
