// Two-page spreads of same-font Japanese text pages among many registered
// pages of that font (fonts-noto-cjk). A 1800x1280 spread JPEG decoded for the
// local stage at short side 600 came out 900x640: its pages were described at
// 80% of their registered scale, and with many same-font pages registered the
// gate ranked other pages first (0 of 20 spread pages found against 120 CJK
// pages in bench/e2e/false_match_sweep.cc). A landscape query is now decoded
// at the registered pages' height (RobustMatcher::RunLocalStage).
#include <gtest/gtest.h>

#include <filesystem>
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

TEST(SpreadScaleTest, SpreadsOfSameFontPagesAreFoundAmongManyPagesOfThatFont) {
  if (!fs::exists(::kagami::testing::kNotoSansCjk)) {
    GTEST_SKIP() << ::kagami::testing::kNotoSansCjk << " missing (scripts/bootstrap installs it)";
  }
  const ::kagami::testing::TempDir temp;
  const fs::path dir = temp.path();
  fs::create_directories(dir / "spreads");
  cv::Ptr<cv::freetype::FreeType2> ft = ::kagami::testing::NotoSansCjk();
  const std::vector<cv::Mat> pages =
      ::kagami::testing::WriteCjkPages(*ft, dir / "registered", kRegistered, 9000);
  // Right-to-left reading: the spread shows page i+1 on the left of page i.
  for (int i = 0; i < 8; i += 2) {
    cv::Mat spread;
    cv::hconcat(pages[i + 1], pages[i], spread);
    char name[32];
    std::snprintf(name, sizeof name, "s%03d_%03d.jpg", i + 1, i);
    cv::imwrite((dir / "spreads" / name).string(), spread, {cv::IMWRITE_JPEG_QUALITY, 85});
  }
  std::unique_ptr<Store> store = ::kagami::testing::OpenAndRegister(
      dir / "data", dir / "registered", {"novel", "Novel", "", WorkKind::kManga, {}}, kRegistered);
  ASSERT_NE(store, nullptr);

  auto pages_found = [&](const RobustOptions& robust) {
    std::set<std::string> found;
    for (const auto& [member, matches] :
         ::kagami::testing::MatchesByMember(*store, dir / "spreads", robust)) {
      for (const pipeline::PageMatchRecord& m : matches) {
        // s001_000.jpg shows p001.jpg and p000.jpg.
        const std::string shown_a = "p" + member.substr(1, 3) + ".jpg";
        const std::string shown_b = "p" + member.substr(5, 3) + ".jpg";
        EXPECT_TRUE(m.ref.member == shown_a || m.ref.member == shown_b)
            << member << " matched " << m.ref.member << ", a page it does not show";
        found.insert(member + " " + m.ref.member);
      }
    }
    return found.size();
  };
  RobustOptions short_side_600;  // the decode before: 900x640
  short_side_600.wide_query_min_short_side = 0;
  short_side_600.content_query_max_fraction = 0;  // and no second chance
  short_side_600.crop_zooms = {0.85, 0.7, 0.6};   // nor an enlarged look
  const size_t found_before = pages_found(short_side_600);
  const size_t found = pages_found(RobustOptions{});
  EXPECT_LT(found_before, 6u) << "the spreads no longer reproduce the miss";
  EXPECT_GE(found, 7u) << "of the 8 pages shown in 4 spreads";
}

}  // namespace
}  // namespace kagami::index
