// Issue 7's spreads of two pages in one style: two pages of vertical CJK text
// (fonts-noto-cjk, random kana and kanji, as bench/e2e/real_calibration.cc
// sets them) side by side with no gutter. Both pages share the font's glyphs,
// so half the correspondences of either page come from the other page and
// the cheap RANSAC of the second page stays under its escalation threshold:
// only one page was found. RobustOptions::verify_beside_accepted matches the
// query keypoints outside the accepted page's region afresh against the
// rejected candidates and verifies them with the full RANSAC.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <opencv2/freetype.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cjk_pages.h"
#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"
#include "scan_fixture.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

using ::kagami::testing::CjkTextPage;
using ::kagami::testing::kNotoSansCjk;

class SpreadSecondPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kNotoSansCjk)) GTEST_SKIP() << kNotoSansCjk << " missing (fonts-noto-cjk)";
    // One directory per process: ctest runs this fixture's tests at once.
    dir_ = fs::path(::testing::TempDir()) /
           ("kagami_spread_second_page_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "registered");
    fs::create_directories(dir_ / "spreads");
    cv::Ptr<cv::freetype::FreeType2> ft = ::kagami::testing::NotoSansCjk();
    std::vector<cv::Mat> pages;
    for (uint32_t seed : {41u, 42u, 43u, 44u, 45u, 46u}) {
      pages.push_back(CjkTextPage(*ft, seed));
      cv::imwrite((dir_ / "registered" / ("p" + std::to_string(seed) + ".jpg")).string(),
                  pages.back(), {cv::IMWRITE_JPEG_QUALITY, 90});
    }
    // Right-to-left reading order: the later page on the left.
    for (size_t i = 0; i + 1 < pages.size(); i += 2) {
      cv::Mat spread;
      cv::hconcat(pages[i + 1], pages[i], spread);
      cv::imwrite((dir_ / "spreads" / ("s" + std::to_string(i) + ".jpg")).string(), spread,
                  {cv::IMWRITE_JPEG_QUALITY, 85});
    }
    auto store = Store::Open(dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto summary = ::kagami::testing::RegisterFolder(*store_, dir_ / "registered",
                                                     {"novel", "Novel", "", WorkKind::kOther, {}});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, 6);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // spread -> registered members it matched (every match checked to be one of
  // its own two pages).
  std::map<std::string, std::set<std::string>> Scan(const RobustOptions& robust) {
    const std::map<std::string, std::set<std::string>> own = {{"s0.jpg", {"p41.jpg", "p42.jpg"}},
                                                              {"s2.jpg", {"p43.jpg", "p44.jpg"}},
                                                              {"s4.jpg", {"p45.jpg", "p46.jpg"}}};
    std::map<std::string, std::set<std::string>> found;
    for (const auto& [member, matches] :
         ::kagami::testing::MatchesByMember(*store_, dir_ / "spreads", robust)) {
      for (const auto& m : matches) {
        EXPECT_TRUE(own.at(member).count(m.ref.member)) << member << " matched " << m.ref.member;
        found[member].insert(m.ref.member);
      }
    }
    return found;
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SpreadSecondPageTest, BothPagesOfASameStyleSpreadAreFound) {
  int pages = 0;
  for (const auto& [spread, refs] : Scan(RobustOptions{})) pages += static_cast<int>(refs.size());
  EXPECT_EQ(pages, 6);
}

TEST_F(SpreadSecondPageTest, EachLookFindsTheSecondPagesTheFirstPassMisses) {
  // Without the looks the pattern must reproduce (fewer than all six pages),
  // or this test proves nothing about them.
  // (At short side 600: the spreads decoded at 600 px, their pages below
  // their registered scale. Decoded at the registered height,
  // RobustOptions::wide_query_min_short_side, all six pages are found.)
  // The other-page look (RobustOptions::other_page_min_width) and the
  // photometric check (RobustOptions::appearance_min_inliers: the second
  // page's inliers cluster on its half) find these second pages too: all are
  // off here, and each is measured alone below.
  // Since registered pages keep 463 keypoints beside their thumbnail (509
  // before), the first pass finds every second page of these spreads, and
  // the pattern does not reproduce here (bench/RESULTS.md section 11,
  // "Appearance"); the looks stay measured by the calibration bench.
  RobustOptions without;
  without.appearance_min_inliers = 0;
  without.verify_beside_accepted = false;
  without.other_page_min_width = 0;
  without.wide_query_min_short_side = 0;
  int pages_without = 0;
  for (const auto& [spread, refs] : Scan(without)) pages_without += static_cast<int>(refs.size());
  if (pages_without == 6) GTEST_SKIP() << "the first pass finds all six pages: nothing to show";

  // Since a page's trimmed view skips one band of furniture per side (the
  // running head, the page number; page_normalizer.h), the first pass misses
  // s2's left page (the gate's first candidate, 9 inliers). The other-page
  // look describes that page afresh and finds it (182 inliers); the second
  // look (verify_beside_accepted) re-verifies it at 12 inliers, one under the
  // floor. Each look must never lose a page, and the looks find what the
  // first pass misses (all six with the defaults: the test above).
  RobustOptions second_look_only = without;
  second_look_only.verify_beside_accepted = true;
  int pages_second_look = 0;
  for (const auto& [spread, refs] : Scan(second_look_only))
    pages_second_look += static_cast<int>(refs.size());
  EXPECT_GE(pages_second_look, pages_without);

  RobustOptions other_page_only = without;
  other_page_only.other_page_min_width = RobustOptions{}.other_page_min_width;
  int pages_other_page = 0;
  for (const auto& [spread, refs] : Scan(other_page_only))
    pages_other_page += static_cast<int>(refs.size());
  EXPECT_GE(pages_other_page, pages_without);
  EXPECT_GT(std::max(pages_second_look, pages_other_page), pages_without);
}

}  // namespace
}  // namespace kagami::index
