// Same-font Japanese text pages (fonts-noto-cjk) pasted on a larger white
// canvas, among many registered pages of that font. The page at 80% of the
// image is described at 80% of its registered scale, and the gate and the
// verification then favour other pages of the font (11 of 20 white-margin CJK
// pages found on bench/e2e/false_match_sweep.cc's 379 registered items). The
// second chance (RobustOptions::content_query_max_fraction) describes the
// trimmed content alone at the registered scale when nothing was accepted.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/freetype.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cjk_pages.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/scanner.h"
#include "scan_fixture.h"
#include "temp_dir.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

constexpr int kRegistered = 60;
constexpr int kShown = 8;

TEST(WhiteMarginScaleTest, SameFontPagesOnAWhiteCanvasAreFoundAmongManyPagesOfThatFont) {
  if (!fs::exists(::kagami::testing::kNotoSansCjk)) {
    GTEST_SKIP() << ::kagami::testing::kNotoSansCjk << " missing (scripts/bootstrap installs it)";
  }
  const ::kagami::testing::TempDir temp;
  const fs::path dir = temp.path();
  fs::create_directories(dir / "margins");
  cv::Ptr<cv::freetype::FreeType2> ft = ::kagami::testing::NotoSansCjk();
  const std::vector<cv::Mat> pages =
      ::kagami::testing::WriteCjkPages(*ft, dir / "registered", kRegistered, 7000);
  for (int i = 0; i < kShown; ++i) {
    // The page at 80% of each side of a white canvas: 1125x1600.
    const cv::Mat& page = pages[i];
    cv::Mat pasted;
    cv::copyMakeBorder(page, pasted, page.rows / 8, page.rows / 8, page.cols / 8, page.cols / 8,
                       cv::BORDER_CONSTANT, cv::Scalar(255, 255, 255));
    cv::imwrite((dir / "margins" / ::kagami::testing::CjkPageName(i)).string(), pasted,
                {cv::IMWRITE_JPEG_QUALITY, 85});
  }
  std::unique_ptr<Store> store = ::kagami::testing::OpenAndRegister(
      dir / "data", dir / "registered", {"novel", "Novel", "", WorkKind::kManga, {}}, kRegistered);
  ASSERT_NE(store, nullptr);

  auto found_in = ::kagami::testing::FoundOwnPages;
  // Without the enlarged look (a zoom above 1 in crop_zooms), which finds
  // some of these pages too: this is the second chance's test.
  RobustOptions second_chance;
  second_chance.crop_zooms = {0.85, 0.7, 0.6};
  // The trimmed view's blurred hash (fingerprint/blurred_pdq.h) finds most of
  // these pages without the local stage: off, for the local stage's test.
  second_chance.blurred_views = false;
  RobustOptions first_pass_only = second_chance;
  first_pass_only.content_query_max_fraction = 0;
  const std::set<std::string> found_before =
      found_in(::kagami::testing::MatchesByMember(*store, dir / "margins", first_pass_only));
  const std::set<std::string> found =
      found_in(::kagami::testing::MatchesByMember(*store, dir / "margins", second_chance));
  EXPECT_LT(found_before.size(), 6u) << "the white margins no longer reproduce the miss";
  EXPECT_GE(found.size(), 7u) << "of the " << kShown << " pages shown";

  // Volume evidence (ScanOptions::local_sample): the folder's pages have no
  // PDQ candidate, and those not sampled wait for a match in the folder; the
  // second chance finds the same pages for them (RobustMatcher::RunDeferred).
  std::map<std::string, std::vector<pipeline::PageMatchRecord>> deferred_scan;
  pipeline::ScanOptions scan;
  scan.extract.threads = 2;
  scan.local_sample = 12;
  scan.robust = second_chance;
  Status s = pipeline::Scan(*store, {(dir / "margins").string()}, scan,
                            [&](const pipeline::VolumeReport& r) {
                              for (const auto& m : r.matches) deferred_scan[m.member].push_back(m);
                            });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(found_in(deferred_scan), found);
}

}  // namespace
}  // namespace kagami::index
