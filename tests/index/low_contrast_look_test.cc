// A faint photo registered at the adaptive FAST threshold's lowest step,
// scanned with a banner of strong white type on a dark band across it: the band's corners fill the
// query's description at the first step, and none of the page's faint ones are kept. The
// low-contrast look (RobustOptions::low_contrast_look_threshold) describes the query at the
// threshold the registration reached.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/index/store.h"
#include "real_images.h"
#include "scan_fixture.h"
#include "temp_dir.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

// `page` with a dark band of white type across it at `y` (a fraction of the
// height), a tenth of the page high.
cv::Mat WithBanner(const cv::Mat& page, double y) {
  cv::Mat out = page.clone();
  const int h = out.rows / 10;
  const int top = static_cast<int>(out.rows * y);
  cv::rectangle(out, cv::Rect(0, top, out.cols, h), cv::Scalar(40, 40, 40), cv::FILLED);
  cv::putText(out, "SCANS BY PIRATE-GROUP  discord.gg/xyz",
              cv::Point(out.cols / 20, top + h * 2 / 3), cv::FONT_HERSHEY_SIMPLEX, h / 40.0,
              cv::Scalar(255, 255, 255), 2, cv::LINE_AA);
  return out;
}

TEST(LowContrastLookTest, AFaintPhotoUnderABannerIsFoundAtItsRegisteredThreshold) {
  // plasma-workspace-wallpapers: DarkestHour (fog over water, one thin tree
  // line) among other wallpapers; the banner covers the lake below the trees.
  const std::vector<std::string> names = {"DarkestHour", "Autumn",      "BytheWater",
                                          "ColdRipple",  "EveningGlow", "PastelHills"};
  const ::kagami::testing::TempDir temp;
  const fs::path dir = temp.path();
  fs::create_directories(dir / "banner");
  const fs::path missing = ::kagami::testing::CopyWallpapers(names, dir / "registered");
  if (!missing.empty()) GTEST_SKIP() << missing << " missing (scripts/bootstrap installs it)";
  const cv::Mat faint = cv::imread((dir / "registered" / "DarkestHour.jpg").string());
  ASSERT_FALSE(faint.empty());
  cv::imwrite((dir / "banner" / "DarkestHour.jpg").string(), WithBanner(faint, 0.3),
              {cv::IMWRITE_JPEG_QUALITY, 85});
  std::unique_ptr<Store> store = ::kagami::testing::OpenAndRegister(
      dir / "data", dir / "registered", {"walls", "Walls", "", WorkKind::kManga, {}},
      static_cast<int>(names.size()));
  ASSERT_NE(store, nullptr);

  RobustOptions without;
  without.low_contrast_look_threshold = 0;
  EXPECT_TRUE(::kagami::testing::FoundOwnPages(
                  ::kagami::testing::MatchesByMember(*store, dir / "banner", without))
                  .empty())
      << "the banner no longer hides the faint photo";
  EXPECT_EQ(::kagami::testing::FoundOwnPages(
                ::kagami::testing::MatchesByMember(*store, dir / "banner", RobustOptions{})),
            std::set<std::string>{"DarkestHour.jpg"});
}

}  // namespace
}  // namespace kagami::index
