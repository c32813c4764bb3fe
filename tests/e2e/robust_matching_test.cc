// Issue 3's edits end to end through register + scan with the robust stages
// (trimmed views, spread halves, local features + geometric verification):
// each edited page must map to the page it was made from, and unrelated pages
// of the same style must not match anything. The larger run with recall
// numbers side by side with PDQ alone is bench/e2e/robust_validation.cc.

#include <gtest/gtest.h>
#include <memory>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"
#include "kagami/synth/page_generator.h"
#include "temp_dir.h"

namespace kagami {
namespace {

using synth::Edit;

constexpr int kPages = 24;
constexpr int kQueriesPerEdit = 8;
constexpr int kWidth = 900;
constexpr int kHeight = 1260;

std::string Name(const char* prefix, int i) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%03d.jpg", prefix, i);
  return name;
}

class RobustMatchingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    for (int i = 0; i < kPages; ++i) {
      pages_.push_back(synth::GenerateMangaPage(4000 + i, kWidth, kHeight));
      testing::WriteFile(*dir_ / "work" / Name("p", i), synth::EncodeJpeg(pages_.back(), 90));
    }
    spread_ = synth::MakeSpread(synth::GenerateMangaPage(8001, kWidth, kHeight),
                                synth::GenerateMangaPage(8000, kWidth, kHeight));
    testing::WriteFile(*dir_ / "spreads" / "s000.jpg", synth::EncodeJpeg(spread_, 90));
    auto store = index::Store::Open(*dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    index::Work work{"w", "Robust", "", index::WorkKind::kManga, {}};
    auto summary = pipeline::RegisterWork(
        **store, work, {(*dir_ / "work").string(), (*dir_ / "spreads").string()}, {});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, kPages + 1);
    ASSERT_TRUE(summary->errors.empty()) << summary->errors.front().status.ToString();
  }
  static void TearDownTestSuite() {
    dir_.reset();
    pages_.clear();
  }

  // Scans a folder; returns member -> set of "asset-folder/page_index" matched.
  static std::map<std::string, std::set<std::string>> ScanFolder(const std::string& folder,
                                                                 index::LocalStage local) {
    auto store = index::Store::Open(*dir_ / "data");
    EXPECT_TRUE(store.ok());
    pipeline::ScanOptions options;
    options.robust.local = local;
    std::map<std::string, std::set<std::string>> found;
    Status s = pipeline::Scan(**store, {folder}, options, [&](const pipeline::VolumeReport& r) {
      for (const auto& m : r.matches) {
        std::string where =
            m.ref.asset_path.find("spreads") != std::string::npos ? "spread/" : "page/";
        found[m.member].insert(where + std::to_string(m.ref.page_index));
      }
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return found;
  }

  static inline std::unique_ptr<testing::TempDir> dir_;
  static std::vector<cv::Mat> pages_;
  static cv::Mat spread_;
};

std::vector<cv::Mat> RobustMatchingTest::pages_;
cv::Mat RobustMatchingTest::spread_;

class RobustEditTest : public RobustMatchingTest, public ::testing::WithParamInterface<Edit> {};

TEST_P(RobustEditTest, EditedPagesMapToTheirOriginals) {
  Edit edit = GetParam();
  std::string folder = (*dir_ / ("q-" + std::string(synth::EditName(edit)))).string();
  for (int q = 0; q < kQueriesPerEdit; ++q) {
    int i = (q * 5 + 3) % kPages;
    testing::WriteFile(std::filesystem::path(folder) / Name("r", i),
                       synth::EncodeJpeg(synth::ApplyEdit(pages_[i], edit, 99 + q), 80));
  }
  auto found = ScanFolder(folder, index::LocalStage::kAuto);
  int correct = 0;
  int wrong = 0;
  for (const auto& [member, refs] : found) {
    int i = std::atoi(member.c_str() + 1);
    for (const std::string& ref : refs) (ref == "page/" + std::to_string(i) ? correct : wrong)++;
  }
  std::printf("edit %-14s %d/%d found, %d wrong\n", std::string(synth::EditName(edit)).c_str(),
              correct, kQueriesPerEdit, wrong);
  EXPECT_GE(correct, kQueriesPerEdit - 1);
  EXPECT_EQ(wrong, 0);
}

INSTANTIATE_TEST_SUITE_P(Issue3, RobustEditTest,
                         ::testing::Values(Edit::kCrop5, Edit::kCrop10, Edit::kCropRandom,
                                           Edit::kPad4x3, Edit::kPad16x9, Edit::kRotate2,
                                           Edit::kRotate5, Edit::kCreditsStrip, Edit::kBalloonText),
                         [](const auto& info) {
                           std::string name(synth::EditName(info.param));
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST_F(RobustMatchingTest, TwoPageSpreadMatchesBothPages) {
  std::string folder = (*dir_ / "q-spread").string();
  testing::WriteFile(std::filesystem::path(folder) / "x.jpg",
                     synth::EncodeJpeg(synth::MakeSpread(pages_[6], pages_[5]), 85));
  auto found = ScanFolder(folder, index::LocalStage::kAuto);
  EXPECT_EQ(found["x.jpg"], (std::set<std::string>{"page/5", "page/6"}));
}

TEST_F(RobustMatchingTest, HalfOfARegisteredSpreadMatchesTheSpread) {
  std::string folder = (*dir_ / "q-split").string();
  int half = spread_.cols / 2;
  testing::WriteFile(std::filesystem::path(folder) / "left.jpg",
                     synth::EncodeJpeg(spread_(cv::Rect(0, 0, half, spread_.rows)).clone(), 85));
  testing::WriteFile(
      std::filesystem::path(folder) / "right.jpg",
      synth::EncodeJpeg(spread_(cv::Rect(half, 0, spread_.cols - half, spread_.rows)).clone(), 85));
  auto found = ScanFolder(folder, index::LocalStage::kAuto);
  EXPECT_EQ(found["left.jpg"], (std::set<std::string>{"spread/0"}));
  EXPECT_EQ(found["right.jpg"], (std::set<std::string>{"spread/0"}));
}

TEST_F(RobustMatchingTest, UnrelatedPagesOfTheSameStyleMatchNothingEvenWithLocalAlways) {
  std::string folder = (*dir_ / "q-unrelated").string();
  for (int i = 0; i < 30; ++i) {
    testing::WriteFile(std::filesystem::path(folder) / Name("u", i),
                       synth::EncodeJpeg(synth::GenerateMangaPage(70000 + i, kWidth, kHeight), 80));
  }
  auto found = ScanFolder(folder, index::LocalStage::kAlways);
  EXPECT_TRUE(found.empty()) << found.begin()->first << " matched "
                             << *found.begin()->second.begin();
}

TEST_F(RobustMatchingTest, WithoutTheLocalStageCropsIntoContentAreMissed) {
  // The local stage is what finds heavy crops: with it off, a 20% crop of every
  // side is not found by PDQ (not even on the trimmed view).
  std::string folder = (*dir_ / "q-crop20-pdq").string();
  for (int q = 0; q < 4; ++q) {
    testing::WriteFile(std::filesystem::path(folder) / Name("r", q),
                       synth::EncodeJpeg(synth::ApplyEdit(pages_[q], Edit::kCrop20, q), 85));
  }
  EXPECT_TRUE(ScanFolder(folder, index::LocalStage::kNever).empty());
  EXPECT_GE(ScanFolder(folder, index::LocalStage::kAuto).size(), 3u);
}

}  // namespace
}  // namespace kagami
