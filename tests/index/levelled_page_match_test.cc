// Pages of type registered upright and scanned turned by a few degrees on
// paper of their own level (a page scanned or pasted askew whose paper shows
// no edge): PDQ alone finds them through the "levelled" view, and nothing
// matches a page it does not show. Real typeset pages from gnuplot-doc's
// manual (tests/data/real/), registered beside pages of its table of contents.
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

const std::vector<std::string> kTurned = {"manual-050.jpg", "manual-051.jpg", "manual-052.jpg",
                                          "manual-053.jpg"};
const std::vector<std::string> kOthers = {"gnuplot-contents-009.png", "gnuplot-contents-011.png",
                                          "gnuplot-contents-013.png"};

class LevelledPageMatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path real = fs::path(KAGAMI_TEST_DATA_DIR) / "real";
    dir_ = fs::path(::testing::TempDir()) / ("kagami_levelled_page_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "registered");
    fs::create_directories(dir_ / "queries");
    for (const std::string& name : kOthers) fs::copy_file(real / name, dir_ / "registered" / name);
    for (size_t i = 0; i < kTurned.size(); ++i) {
      fs::copy_file(real / kTurned[i], dir_ / "registered" / kTurned[i]);
      const cv::Mat page = cv::imread((real / kTurned[i]).string(), cv::IMREAD_COLOR);
      ASSERT_FALSE(page.empty()) << kTurned[i];
      // Turned 1.5-4 degrees either way on white, re-encoded.
      const double degrees = (i % 2 ? -1.0 : 1.0) * (1.5 + 0.8 * static_cast<double>(i));
      const cv::Mat turned = ::kagami::testing::Turned(page, degrees, cv::Scalar::all(255));
      cv::imwrite((dir_ / "queries" / kTurned[i]).string(), turned, {cv::IMWRITE_JPEG_QUALITY, 85});
    }
    auto store = Store::Open(dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto summary = ::kagami::testing::RegisterFolder(
        *store_, dir_ / "registered", {"manual", "Manual", "", WorkKind::kOther, {}});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, static_cast<int>(kTurned.size() + kOthers.size()));
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(LevelledPageMatchTest, PdqAloneFindsTurnedTypesetPagesThroughTheLevelledView) {
  RobustOptions robust;
  robust.local = LocalStage::kNever;
  const auto by_member = ::kagami::testing::MatchesByMember(*store_, dir_ / "queries", robust);
  const std::set<std::string> found = ::kagami::testing::FoundOwnPages(by_member);
  for (const std::string& name : kTurned)
    EXPECT_TRUE(found.count(name)) << name << " turned was not found";
  for (const auto& [member, matches] : by_member) {
    for (const pipeline::PageMatchRecord& m : matches) {
      EXPECT_EQ(m.view, "levelled") << member;
      EXPECT_LE(m.hit.distance, robust.strong_radius) << member;
    }
  }
}

TEST_F(LevelledPageMatchTest, TheDefaultScanFindsEveryTurnedPageAndNoOtherPage) {
  const auto by_member =
      ::kagami::testing::MatchesByMember(*store_, dir_ / "queries", RobustOptions{});
  EXPECT_EQ(::kagami::testing::FoundOwnPages(by_member).size(), kTurned.size());
}

}  // namespace
}  // namespace kagami::index
