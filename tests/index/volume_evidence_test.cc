// Volume-level evidence for the local-feature stage (pipeline::ScanOptions::
// local_sample): in a volume where no page has matched, only pages 0, N, 3N, 7N, ...
// without a PDQ candidate is described with local features at once; the rest
// wait for the volume's end and are described only if a page of it matched.
// Registered: pages of Japanese text (fonts-noto-cjk); copies: the pages
// cropped 10% per side (no PDQ candidate, so only the local stage finds them);
// unrelated: typeset pages of gnuplot's manual (tests/data/real).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
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

class VolumeEvidenceTest : public ::kagami::testing::CjkWorkTest {
 protected:
  void SetUp() override { RegisterCjkWork(4, 7100, {"cjk", "CJK", "", WorkKind::kManga, {}}); }

  // Writes a folder volume whose files sort in the order given: "crop:N" is
  // registered page N cropped 10% per side, "copy:N" page N re-encoded,
  // "other:N" an unrelated typeset page (manual-05N.jpg).
  fs::path Volume(const std::string& name, const std::vector<std::string>& items) {
    const fs::path folder = dir_ / name;
    fs::create_directories(folder);
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string kind = items[i].substr(0, items[i].find(':'));
      const int n = std::stoi(items[i].substr(items[i].find(':') + 1));
      cv::Mat image;
      if (kind == "other") {
        image = cv::imread(std::string(KAGAMI_TEST_DATA_DIR) + "/real/manual-05" +
                           std::to_string(n) + ".jpg");
      } else if (kind == "crop") {
        const cv::Mat& page = pages_.at(n);
        const int dx = page.cols / 10, dy = page.rows / 10;
        image = page(cv::Rect(dx, dy, page.cols - 2 * dx, page.rows - 2 * dy)).clone();
      } else {
        image = pages_.at(n);
      }
      EXPECT_FALSE(image.empty()) << items[i];
      cv::imwrite((folder / ("p" + std::to_string(i) + "_" + kind + ".jpg")).string(), image,
                  {cv::IMWRITE_JPEG_QUALITY, 85});
    }
    return folder;
  }

  pipeline::VolumeReport ScanVolume(const fs::path& folder, int local_sample) {
    pipeline::ScanOptions options;
    options.extract.threads = 2;
    options.local_sample = local_sample;
    std::vector<pipeline::VolumeReport> reports;
    Status s = pipeline::Scan(*store_, {folder.string()}, options,
                              [&](const pipeline::VolumeReport& r) { reports.push_back(r); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(reports.size(), 1u);
    return reports.empty() ? pipeline::VolumeReport{} : reports.front();
  }

  // "member -> registered member", in report order.
  static std::vector<std::string> Pairs(const pipeline::VolumeReport& report) {
    std::vector<std::string> out;
    for (const pipeline::PageMatchRecord& m : report.matches) {
      out.push_back(m.member + " -> " + m.ref.member + " " + m.method);
    }
    return out;
  }
};

TEST_F(VolumeEvidenceTest, ACropHasNoPdqCandidateSoOnlyTheLocalStageFindsIt) {
  // The premise of the tests below: without the local stage nothing matches.
  const fs::path folder = Volume("crops", {"crop:0", "crop:1"});
  pipeline::ScanOptions options;
  options.extract.threads = 2;
  options.robust.local = LocalStage::kNever;
  int matches = 0;
  Status s = pipeline::Scan(*store_, {folder.string()}, options,
                            [&](const pipeline::VolumeReport& r) { matches += r.matches.size(); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(matches, 0);
}

TEST_F(VolumeEvidenceTest, ASampledMatchBringsTheRestOfTheVolumeToTheLocalStage) {
  // Sample every 3rd page: p0 and p3 are described at once, p1, p2 and p4
  // wait; p0 matches, so they are described at the volume's end.
  const fs::path folder = Volume("chapter", {"crop:0", "crop:1", "other:0", "crop:2", "crop:3"});
  const pipeline::VolumeReport sampled = ScanVolume(folder, 3);
  const pipeline::VolumeReport every = ScanVolume(folder, 1);
  const std::vector<std::string> expected = {
      "p0_crop.jpg -> p000.jpg local", "p1_crop.jpg -> p001.jpg local",
      "p3_crop.jpg -> p002.jpg local", "p4_crop.jpg -> p003.jpg local"};
  EXPECT_EQ(Pairs(every), expected);
  EXPECT_EQ(Pairs(sampled), expected) << "page order, the deferred pages included";
  EXPECT_EQ(sampled.pages_local_skipped, 0);
  ASSERT_EQ(sampled.matches.size(), every.matches.size());
  for (size_t i = 0; i < every.matches.size(); ++i) {
    // A deferred page is verified from the same pixels as an immediate one.
    EXPECT_EQ(sampled.matches[i].inliers, every.matches[i].inliers) << i;
    EXPECT_DOUBLE_EQ(sampled.matches[i].coverage, every.matches[i].coverage) << i;
  }
  EXPECT_EQ(sampled.verdict, pipeline::Verdict::kMatch);
}

TEST_F(VolumeEvidenceTest, APdqMatchAnywhereInTheVolumeIsEvidence) {
  // p0 (sampled) is unrelated; p1 is a re-encoded copy PDQ finds; p2, a crop
  // with no PDQ candidate, waits and is described because p1 matched.
  const fs::path folder = Volume("mixed", {"other:1", "copy:1", "crop:2"});
  const pipeline::VolumeReport report = ScanVolume(folder, 4);
  const std::vector<std::string> expected = {"p1_copy.jpg -> p001.jpg pdq",
                                             "p2_crop.jpg -> p002.jpg local"};
  EXPECT_EQ(Pairs(report), expected);
  EXPECT_EQ(report.pages_local_skipped, 0);
}

TEST_F(VolumeEvidenceTest, AnUnsampledCopyInAVolumeWithNoOtherMatchIsSkippedAndCounted) {
  // The trade-off: a crop alone among unrelated pages, at an unsampled
  // position, is not described unless every page is (local_sample 1).
  const fs::path folder = Volume("lone", {"other:0", "crop:1", "other:2", "other:3"});
  const pipeline::VolumeReport sampled = ScanVolume(folder, 4);
  EXPECT_TRUE(sampled.matches.empty());
  EXPECT_EQ(sampled.pages_local_skipped, 3) << "p1, p2 and p3 were not described";
  EXPECT_EQ(sampled.verdict, pipeline::Verdict::kNoMatch);

  const pipeline::VolumeReport every = ScanVolume(folder, 1);
  EXPECT_EQ(Pairs(every), std::vector<std::string>{"p1_crop.jpg -> p001.jpg local"});
  EXPECT_EQ(every.pages_local_skipped, 0);
}

TEST(VolumeSamplingTest, SampledPositionsDoubleTheirGaps) {
  std::vector<int64_t> sampled;
  for (int64_t p = 0; p < 400; ++p) {
    if (pipeline::IsSampledPosition(p, 12)) sampled.push_back(p);
  }
  EXPECT_EQ(sampled, (std::vector<int64_t>{0, 12, 36, 84, 180, 372}));
  EXPECT_EQ(pipeline::SampleNumber(0, 12), 0);
  EXPECT_EQ(pipeline::SampleNumber(11, 12), 0);
  EXPECT_EQ(pipeline::SampleNumber(12, 12), 1);
  EXPECT_EQ(pipeline::SampleNumber(35, 12), 1);
  EXPECT_EQ(pipeline::SampleNumber(36, 12), 2);
  EXPECT_EQ(pipeline::SampleNumber(372, 12), 5);
  for (int64_t p = 0; p < 20; ++p) EXPECT_TRUE(pipeline::IsSampledPosition(p, 1)) << p;
  EXPECT_TRUE(pipeline::IsSampledPosition(int64_t{12} * ((int64_t{1} << 40) - 1), 12));
}

TEST_F(VolumeEvidenceTest, AnUnrelatedVolumeIsDescribedOnlyAtTheSampledPositions) {
  // 8 unrelated pages sampled with n = 2: positions 0, 2 and 6 are described,
  // the other 5 wait and, with no match in the volume, are never described.
  const fs::path folder = Volume("unrelated", {"other:0", "other:1", "other:2", "other:3",
                                               "other:0", "other:1", "other:2", "other:3"});
  const pipeline::VolumeReport report = ScanVolume(folder, 2);
  EXPECT_TRUE(report.matches.empty());
  EXPECT_EQ(report.pages_local_skipped, 5);
}

TEST_F(VolumeEvidenceTest, AVolumeOfOnePageIsAlwaysDescribed) {
  const fs::path folder = Volume("single", {"crop:3"});
  const pipeline::VolumeReport report = ScanVolume(folder, pipeline::ScanOptions{}.local_sample);
  EXPECT_EQ(Pairs(report), std::vector<std::string>{"p0_crop.jpg -> p003.jpg local"});
}

TEST_F(VolumeEvidenceTest, TheLocalStageNeverAndAlwaysModesIgnoreSampling) {
  // kAlways verifies every page at once, whatever the sample.
  const fs::path folder = Volume("always", {"other:0", "crop:1"});
  pipeline::ScanOptions options;
  options.extract.threads = 2;
  options.local_sample = 8;
  options.robust.local = LocalStage::kAlways;
  std::vector<pipeline::VolumeReport> reports;
  Status s = pipeline::Scan(*store_, {folder.string()}, options,
                            [&](const pipeline::VolumeReport& r) { reports.push_back(r); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(Pairs(reports[0]), std::vector<std::string>{"p1_crop.jpg -> p001.jpg local"});
  EXPECT_EQ(reports[0].pages_local_skipped, 0);
}

}  // namespace
}  // namespace kagami::index
