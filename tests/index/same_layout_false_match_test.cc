// A false match found by the false-match sweep on real images
// (bench/e2e/false_match_sweep.cc, bench/RESULTS.md section 11): different
// pages of one manual's table of contents match each other by local features.
// Every page shares the running header ("gnuplot 5.4", the rule under it) and
// the layout's columns (the entries' first letters at the left margin, the
// right-aligned page numbers, the leader dots on TeX's grid) at the same
// place, so a query page and another registered page agree at the identity
// transform on 13-31 inliers that span 13-63% of the page over 5-10 grid
// cells: every acceptance threshold of the verifier holds.
//
// Fixed by positional stop words (index/include/kagami/index/boilerplate.h):
// an accepted candidate is verified again without the keypoints it shares at
// the same place with its neighbours in registration order and the query's
// other candidates (here pages 10 and 12 with each other), and only the
// page's own content can carry the match. Rules on the inliers' geometry
// alone (inliers off the densest row and column bands, distinct columns,
// inlier ratio, a second consensus) did not separate these from true copies
// of such pages in the sweep; see bench/RESULTS.md.
// CopiesOfTheRegisteredPagesStillMatch is the other side: any rule must keep
// it; OtherPagesMatchOnTheirLayoutWithoutTheRule shows the failure the rule removes.
//
// Inputs (tests/data/real/): gnuplot-contents-0NN.png are gnuplot-doc's
// gnuplot.pdf pages 9-15 at 80 dpi, gray (pdftoppm).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
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

cv::Mat Page(const std::string& number) {
  return cv::imread((RealData() / ("gnuplot-contents-" + number + ".png")).string(),
                    cv::IMREAD_COLOR);
}

class SameLayoutFalseMatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kagami_same_layout_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    for (const char* d : {"registered", "other_pages", "copies"}) fs::create_directories(dir_ / d);
    // Registered and scanned as the sweep writes them: JPEG q90 and q85.
    for (const char* n : {"010", "012"}) {
      cv::Mat page = Page(n);
      ASSERT_FALSE(page.empty()) << n;
      cv::imwrite((dir_ / "registered" / (std::string("p") + n + ".jpg")).string(), page,
                  {cv::IMWRITE_JPEG_QUALITY, 90});
    }
    for (const char* n : {"009", "011", "013", "015"}) {
      cv::Mat page = Page(n);
      ASSERT_FALSE(page.empty()) << n;
      cv::imwrite((dir_ / "other_pages" / (std::string("p") + n + ".jpg")).string(), page,
                  {cv::IMWRITE_JPEG_QUALITY, 85});
    }
    // Copies of the registered pages: re-encoded at 90% size and JPEG q60, and
    // with a white margin.
    for (const char* n : {"010", "012"}) {
      cv::Mat page = Page(n), small, margin;
      cv::resize(page, small, cv::Size(), 0.9, 0.9, cv::INTER_AREA);
      cv::imwrite((dir_ / "copies" / (std::string("p") + n + "_small.jpg")).string(), small,
                  {cv::IMWRITE_JPEG_QUALITY, 60});
      cv::copyMakeBorder(page, margin, page.rows / 12, page.rows / 12, page.cols / 12,
                         page.cols / 12, cv::BORDER_CONSTANT, cv::Scalar(255, 255, 255));
      cv::imwrite((dir_ / "copies" / (std::string("p") + n + "_margin.jpg")).string(), margin,
                  {cv::IMWRITE_JPEG_QUALITY, 85});
    }
    auto store = Store::Open(dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto summary = ::kagami::testing::RegisterFolder(
        *store_, dir_ / "registered", {"manual", "Manual", "", WorkKind::kOther, {}});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, 2);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  // member -> registered file names it matched, with the evidence.
  std::map<std::string, std::vector<pipeline::PageMatchRecord>> ScanFolder(
      const std::string& folder, const RobustOptions& robust) {
    return ::kagami::testing::MatchesByMember(*store_, dir_ / folder, robust);
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SameLayoutFalseMatchTest, OtherPagesOfTheSameLayoutNeverMatch) {
  for (const auto& [member, matches] : ScanFolder("other_pages", RobustOptions{})) {
    for (const auto& m : matches) {
      ADD_FAILURE() << member << " matched " << m.ref.asset_path << ": " << m.method << ", "
                    << m.inliers << " inliers, coverage " << m.coverage << ", overlap coverage "
                    << m.verification.overlap_coverage << ", cells " << m.verification.grid_cells;
    }
  }
}

// The reproduction stays honest: without positional stop words the other
// pages do match (on their layout), so the test above fails if the rule goes.
TEST_F(SameLayoutFalseMatchTest, OtherPagesMatchOnTheirLayoutWithoutTheRule) {
  RobustOptions without;
  without.boilerplate.enabled = false;
  int matched = 0;
  for (const auto& [member, matches] : ScanFolder("other_pages", without)) {
    matched += matches.empty() ? 0 : 1;
  }
  EXPECT_GE(matched, 2);
}

TEST_F(SameLayoutFalseMatchTest, CopiesOfTheRegisteredPagesStillMatch) {
  const auto by_member = ScanFolder("copies", RobustOptions{});
  for (const char* n : {"010", "012"}) {
    for (const char* edit : {"small", "margin"}) {
      const std::string member = std::string("p") + n + "_" + edit + ".jpg";
      auto it = by_member.find(member);
      ASSERT_TRUE(it != by_member.end() && !it->second.empty()) << member << " not matched";
      EXPECT_EQ(fs::path(it->second.front().ref.asset_path).filename().string(),
                std::string("p") + n + ".jpg")
          << member;
    }
  }
}

// A page registered twice (here re-encoded, so that the catalog keeps both)
// shares everything with its twin: the twin is a duplicate, not a page of the
// same layout, and copies still match one of the two.
TEST_F(SameLayoutFalseMatchTest, CopiesOfAPageRegisteredTwiceStillMatch) {
  fs::create_directories(dir_ / "twice");
  cv::imwrite((dir_ / "twice" / "p010_again.jpg").string(), Page("010"),
              {cv::IMWRITE_JPEG_QUALITY, 75});
  auto summary = ::kagami::testing::RegisterFolder(*store_, dir_ / "twice",
                                                   {"manual", "Manual", "", WorkKind::kOther, {}});
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  ASSERT_EQ(summary->units_added, 1);
  const auto by_member = ScanFolder("copies", RobustOptions{});
  for (const char* edit : {"small", "margin"}) {
    const std::string member = std::string("p010_") + edit + ".jpg";
    auto it = by_member.find(member);
    ASSERT_TRUE(it != by_member.end() && !it->second.empty()) << member << " not matched";
    const std::string name = fs::path(it->second.front().ref.asset_path).filename().string();
    EXPECT_TRUE(name == "p010.jpg" || name == "p010_again.jpg") << member << " -> " << name;
  }
}

// Nothing is stored at registration: pages of the layout registered later
// (a second `register` of the same work) count at once. With one page of a
// layout registered there is nothing to tell layout from content, and the
// other page matches on the layout (a known limit, the state before the rule).
TEST(SameLayoutIncrementalTest, PagesRegisteredLaterCountAtOnce) {
  const fs::path dir = fs::path(::testing::TempDir()) / "kagami_same_layout_incremental";
  fs::remove_all(dir);
  for (const char* d : {"first", "later", "query"}) fs::create_directories(dir / d);
  auto write = [&](const char* n, const char* folder, int quality) {
    cv::imwrite((dir / folder / (std::string("p") + n + ".jpg")).string(), Page(n),
                {cv::IMWRITE_JPEG_QUALITY, quality});
  };
  write("012", "first", 90);
  write("010", "later", 90);
  write("011", "query", 85);
  auto store = Store::Open(dir / "data");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const Work work{"manual", "Manual", "", WorkKind::kOther, {}};
  ASSERT_TRUE(::kagami::testing::RegisterFolder(**store, dir / "first", work).ok());
  const auto before = ::kagami::testing::MatchesByMember(**store, dir / "query", RobustOptions{});
  ASSERT_TRUE(::kagami::testing::RegisterFolder(**store, dir / "later", work).ok());
  const auto after = ::kagami::testing::MatchesByMember(**store, dir / "query", RobustOptions{});
  EXPECT_EQ(before.count("p011.jpg"), 1u) << "one registered page of the layout: no rule";
  for (const auto& [member, matches] : after) {
    for (const auto& m : matches) ADD_FAILURE() << member << " matched " << m.ref.asset_path;
  }
  store->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kagami::index
