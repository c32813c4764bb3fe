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

// The drawing (long side `size`) on a blank 900x1200 page, its top at `top`.
cv::Mat DrawingPage(const fs::path& drawing, int top = 180, int size = 280) {
  const cv::Mat art = LoadOnWhite(drawing, size);
  cv::Mat page(1200, 900, CV_8UC3, cv::Scalar(255, 255, 255));
  art.copyTo(page(cv::Rect(300, top, art.cols, art.rows)));
  return page;
}

// A dark strip at 58-66% of the height, 60% opaque, with a line of white type
// (`heavy`: across the whole width).
cv::Mat WithStrip(const cv::Mat& page, bool heavy = false) {
  cv::Mat out = page.clone();
  const cv::Rect band(0, page.rows * 58 / 100, page.cols, page.rows * 8 / 100);
  cv::Mat roi = out(band);
  const cv::Mat overlay(roi.size(), roi.type(), cv::Scalar(35, 30, 30));
  cv::addWeighted(roi, 0.4, overlay, 0.6, 0, roi);
  cv::putText(
      out,
      heavy ? "SCANS BY EXAMPLE-GROUP  scans-example.net" : "more chapters at scans-example.net",
      cv::Point(heavy ? 15 : 40, band.y + band.height * 2 / 3), cv::FONT_HERSHEY_DUPLEX,
      heavy ? 1.05 : 1.1, cv::Scalar(255, 255, 255), 2, cv::LINE_AA);
  return out;
}

// A smaller drawing whose lower 40 px the strip covers.
constexpr int kCrossingSize = 200;
constexpr int kCrossingTop = 1200 * 58 / 100 + 40 - kCrossingSize;

class WatermarkBandTest : public ::testing::Test {
 protected:
  // The copies' strips cross the drawings' lower part when `crossing`.
  void SetUpPages(bool crossing) {
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
      const cv::Mat page = crossing
                               ? DrawingPage(fs::path(kClipart) / path, kCrossingTop, kCrossingSize)
                               : DrawingPage(fs::path(kClipart) / path);
      cv::imwrite((dir_ / "registered" / name).string(), page, {cv::IMWRITE_JPEG_QUALITY, 95});
      cv::imwrite((dir_ / "queries" / name).string(), WithStrip(page, crossing),
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
  void SetUp() override { SetUpPages(/*crossing=*/false); }
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
    if (local == LocalStage::kNever) {
      EXPECT_EQ(unbanded, static_cast<int>(kDrawings.size()));
    }
    if (local == LocalStage::kAuto) {
      EXPECT_GE(unbanded, 1);
    }
  }
}

// A strip that also covers the drawing's lower part: the filled page is no
// longer the registered one for PDQ, but the drawing's upper part is. The
// first description spent its keypoints on the strip's type; the unbanded
// look (RobustOptions::unbanded_look) describes the page without it.
class WatermarkBandCrossingTest : public WatermarkBandTest {
 protected:
  void SetUp() override { SetUpPages(/*crossing=*/true); }

  std::map<std::string, std::string> Found(bool look) {
    RobustOptions robust;
    robust.unbanded_look = look;
    std::map<std::string, std::string> found;
    for (const auto& [member, matches] :
         ::kagami::testing::MatchesByMember(*store_, dir_ / "queries", robust)) {
      for (const pipeline::PageMatchRecord& m : matches) {
        EXPECT_EQ(m.ref.member, member) << "a stripped page matched a page it does not show";
        found[member] = m.view + "/" + m.method;
      }
    }
    return found;
  }
};

TEST_F(WatermarkBandCrossingTest, TheUnbandedLookFindsPagesTheStripTookTheKeypointsOf) {
  const auto without = Found(false);
  const auto with = Found(true);
  EXPECT_LT(without.size(), kDrawings.size()) << "every page is found without the look";
  EXPECT_EQ(with.size(), kDrawings.size());
  int by_look = 0;
  for (const auto& [member, how] : with) {
    if (!without.count(member)) {
      EXPECT_EQ(how, "unbanded/local") << member;
      ++by_look;
    }
  }
  EXPECT_EQ(by_look + static_cast<int>(without.size()), static_cast<int>(with.size()));
}

}  // namespace
}  // namespace kagami::index
