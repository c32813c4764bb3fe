// End to end through the libraries: register generated manga pages, scan
// pirate-style copies and unrelated pages.

#include <gtest/gtest.h>
#include <memory>

#include <cstdio>
#include <map>
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

constexpr int kPages = 10;
constexpr int kWidth = 1000;
constexpr int kHeight = 1400;

std::string PageName(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "p%d.jpg", i + 1);  // p1..p10: natural order matters
  return name;
}

class RegisterScanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    for (int i = 0; i < kPages; ++i) {
      pages_.push_back(synth::GenerateMangaPage(1000 + i, kWidth, kHeight));
      testing::WriteFile(*dir_ / ("work/" + PageName(i)), synth::EncodeJpeg(pages_.back(), 90));
    }
    auto store = index::Store::Open(*dir_ / "data");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    index::Work work{"w1", "Test Work", "Test Holder", index::WorkKind::kManga, {{"isbn", "123"}}};
    auto summary = pipeline::RegisterWork(**store, work, {(*dir_ / "work").string()}, {});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_EQ(summary->units_added, kPages);
    ASSERT_TRUE(summary->errors.empty());
  }
  static void TearDownTestSuite() {
    dir_.reset();
    pages_.clear();
  }

  // Writes edited copies of all registered pages into a folder and scans it.
  static pipeline::VolumeReport ScanEdited(Edit edit) {
    std::string folder = (*dir_ / ("suspect-" + std::string(synth::EditName(edit)))).string();
    for (int i = 0; i < kPages; ++i) {
      cv::Mat edited = synth::ApplyEdit(pages_[i], edit, 77 + i);
      int quality = edit == Edit::kJpegQ30 ? 30 : 85;
      testing::WriteFile(std::filesystem::path(folder) / PageName(i),
                         synth::EncodeJpeg(edited, quality));
    }
    return ScanOne(folder);
  }

  static pipeline::VolumeReport ScanOne(const std::string& path) {
    auto store = index::Store::Open(*dir_ / "data");
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    std::vector<pipeline::VolumeReport> reports;
    Status status = pipeline::Scan(**store, {path}, {},
                                   [&](const pipeline::VolumeReport& r) { reports.push_back(r); });
    EXPECT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(reports.size(), 1u);
    return reports.empty() ? pipeline::VolumeReport{} : reports.front();
  }

  static inline std::unique_ptr<testing::TempDir> dir_;
  static std::vector<cv::Mat> pages_;
};

std::vector<cv::Mat> RegisterScanTest::pages_;

class PirateEditTest : public RegisterScanTest, public ::testing::WithParamInterface<Edit> {};

TEST_P(PirateEditTest, EditedVolumeMatchesWorkPageForPage) {
  pipeline::VolumeReport report = ScanEdited(GetParam());
  EXPECT_EQ(report.verdict, pipeline::Verdict::kMatch);
  EXPECT_EQ(report.pages, kPages);
  ASSERT_FALSE(report.works.empty());
  EXPECT_EQ(report.works.front().tally.work_id, "w1");
  EXPECT_EQ(report.works.front().title, "Test Work");
  int correct = 0;
  for (const auto& m : report.matches) {
    EXPECT_EQ(m.ref.work_id, "w1");
    // Page i of the suspect maps to registered page i.
    if (m.ref.page_index == m.page_index) ++correct;
  }
  std::printf("edit %-16s pages matched %zu/%d, mapped to the right page %d\n",
              std::string(synth::EditName(GetParam())).c_str(), report.matches.size(), kPages,
              correct);
  EXPECT_GE(correct, kPages * 8 / 10);
  EXPECT_EQ(correct, static_cast<int>(report.matches.size()));
}

INSTANTIATE_TEST_SUITE_P(Foundation, PirateEditTest,
                         ::testing::Values(Edit::kJpegQ30, Edit::kRescale50, Edit::kCrop3,
                                           Edit::kMirror, Edit::kWatermarkStrip, Edit::kGrayscale),
                         [](const auto& info) {
                           std::string name(synth::EditName(info.param));
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST_F(RegisterScanTest, UnrelatedPagesOfTheSameStyleDoNotMatch) {
  std::string folder = (*dir_ / "unrelated").string();
  for (int i = 0; i < 30; ++i) {
    testing::WriteFile(std::filesystem::path(folder) / PageName(i),
                       synth::EncodeJpeg(synth::GenerateMangaPage(50000 + i, kWidth, kHeight), 85));
  }
  pipeline::VolumeReport report = ScanOne(folder);
  EXPECT_EQ(report.verdict, pipeline::Verdict::kNoMatch);
  EXPECT_TRUE(report.matches.empty());
  EXPECT_EQ(report.pages, 30);
}

TEST_F(RegisterScanTest, RegisteringTheSameFilesAgainAddsNothing) {
  auto store = index::Store::Open(*dir_ / "data");
  ASSERT_TRUE(store.ok());
  index::Work work{"w1", "Test Work", "Test Holder", index::WorkKind::kManga, {}};
  auto summary = pipeline::RegisterWork(**store, work, {(*dir_ / "work").string()}, {});
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->units_added, 0);
  EXPECT_EQ(summary->assets_skipped, kPages);
  EXPECT_EQ((*store)->catalog().UnitCount(), kPages);
}

TEST_F(RegisterScanTest, CorruptFileInABatchIsReportedAndTheRestStillMatch) {
  std::string folder = (*dir_ / "mixed").string();
  testing::WriteFile(std::filesystem::path(folder) / "p1.jpg", synth::EncodeJpeg(pages_[0], 70));
  std::vector<unsigned char> truncated = synth::EncodeJpeg(pages_[1], 70);
  truncated.resize(truncated.size() / 3);
  testing::WriteFile(std::filesystem::path(folder) / "p2.jpg", truncated);
  testing::WriteFile(std::filesystem::path(folder) / "p3.jpg", std::string("not an image at all"));
  testing::WriteFile(std::filesystem::path(folder) / "p4.jpg", synth::EncodeJpeg(pages_[3], 70));
  pipeline::VolumeReport report = ScanOne(folder);
  EXPECT_EQ(report.verdict, pipeline::Verdict::kMatch);
  EXPECT_EQ(report.matches.size(), 2u);
  EXPECT_GE(report.errors.size(),
            1u);  // the truncated JPEG; the text file may be skipped as non-image
}

TEST_F(RegisterScanTest, MissingInputIsAnErrorVerdict) {
  pipeline::VolumeReport report = ScanOne((*dir_ / "does-not-exist").string());
  EXPECT_EQ(report.verdict, pipeline::Verdict::kError);
  EXPECT_FALSE(report.status.ok());
}

}  // namespace
}  // namespace kagami
