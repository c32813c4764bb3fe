// Same-font Japanese text pages (fonts-noto-cjk) cropped by 15% and 20% per
// side, among many registered pages of that font. The local stage describes
// a query at a fixed size, so the crop shows the page's glyphs at 1.43x and
// 1.67x their registered scale; ORB keeps other corners of the dense text at
// that scale and other pages of the font win the gate. The zoomed-out looks
// (RobustOptions::crop_zooms) describe the query again at fractions of that
// size when nothing was accepted.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/freetype.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cjk_pages.h"
#include "kagami/index/store.h"
#include "kagami/ingest/memory_source.h"
#include "kagami/pipeline/scanner.h"
#include "scan_fixture.h"
#include "temp_dir.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

constexpr int kRegistered = 60;
constexpr int kShown = 8;

class CropZoomTest : public ::kagami::testing::CjkWorkTest {
 protected:
  void SetUp() override {
    RegisterCjkWork(kRegistered, 9100, {"novel", "Novel", "", WorkKind::kManga, {}});
    if (IsSkipped() || HasFatalFailure()) return;
    pages_.resize(kShown);
  }

  static std::string Name(int i) { return ::kagami::testing::CjkPageName(i); }

  // The first kShown registered pages cropped by `per_side` of each side.
  fs::path Cropped(double per_side) {
    const fs::path folder = dir_ / ("crop" + std::to_string(static_cast<int>(per_side * 100)));
    fs::create_directories(folder);
    for (int i = 0; i < kShown; ++i) {
      const cv::Mat& page = pages_[i];
      const int dx = static_cast<int>(page.cols * per_side);
      const int dy = static_cast<int>(page.rows * per_side);
      cv::imwrite((folder / Name(i)).string(),
                  page(cv::Rect(dx, dy, page.cols - 2 * dx, page.rows - 2 * dy)),
                  {cv::IMWRITE_JPEG_QUALITY, 85});
    }
    return folder;
  }

  static std::set<std::string> Found(
      const std::map<std::string, std::vector<pipeline::PageMatchRecord>>& by_member) {
    return ::kagami::testing::FoundOwnPages(by_member);
  }
};

TEST_F(CropZoomTest, CroppedTextPagesAreFoundAmongManyPagesOfTheirFont) {
  RobustOptions first_pass_only;
  first_pass_only.crop_zooms.clear();
  // 8 generated pages, before -> after: 15% per side 3 -> 8, 20% 0 -> 8.
  for (const double per_side : {0.15, 0.2}) {
    const fs::path folder = Cropped(per_side);
    const std::set<std::string> before =
        Found(::kagami::testing::MatchesByMember(*store_, folder, first_pass_only));
    const std::set<std::string> found =
        Found(::kagami::testing::MatchesByMember(*store_, folder, RobustOptions{}));
    SCOPED_TRACE("cropped " + std::to_string(per_side) + " per side");
    EXPECT_LT(before.size(), 5u) << "the crop no longer reproduces the miss";
    EXPECT_GE(found.size(), 7u) << "of the " << kShown << " pages shown";
  }
}

TEST_F(CropZoomTest, AZoomedLookMatchNeedsItsOwnEvidenceBar) {
  // The looks' bar (crop_zoom_min_grid_cells, crop_zoom_min_inliers) out of
  // reach and the photometric check not asked: what only a look found is
  // dropped, and nothing else is reported.
  RobustOptions out_of_reach;
  out_of_reach.crop_zoom_min_grid_cells = 17;
  out_of_reach.crop_zoom_min_inliers = 100000;
  out_of_reach.crop_zoom_appearance = false;
  const fs::path folder = Cropped(0.2);
  EXPECT_GE(Found(::kagami::testing::MatchesByMember(*store_, folder, RobustOptions{})).size(), 7u);
  EXPECT_TRUE(Found(::kagami::testing::MatchesByMember(*store_, folder, out_of_reach)).empty());
}

TEST_F(CropZoomTest, ALookMatchUnderTheBarIsKeptWhenItLooksLikeItsPage) {
  // The bar out of reach: the looks' matches are kept on the photometric
  // check (RobustOptions::crop_zoom_appearance), which each one's evidence
  // names; where the page's thumbnail must match better than any copy can,
  // none is.
  RobustOptions out_of_reach;
  out_of_reach.crop_zoom_min_grid_cells = 17;
  out_of_reach.crop_zoom_min_inliers = 100000;
  const fs::path folder = Cropped(0.2);
  const auto by_member = ::kagami::testing::MatchesByMember(*store_, folder, out_of_reach);
  EXPECT_GE(Found(by_member).size(), 6u) << "of the " << kShown << " pages shown";
  int on_appearance = 0;
  for (const auto& [member, matches] : by_member) {
    for (const pipeline::PageMatchRecord& m : matches) {
      if (!m.verification.by_appearance) continue;
      ++on_appearance;
      EXPECT_GE(m.verification.appearance.correlation, out_of_reach.min_appearance_correlation);
      EXPECT_LE(m.verification.appearance.worst_cell, out_of_reach.max_appearance_worst_cell);
    }
  }
  EXPECT_GE(on_appearance, 6);
  RobustOptions unlike = out_of_reach;
  unlike.max_appearance_worst_cell = 0;
  EXPECT_TRUE(Found(::kagami::testing::MatchesByMember(*store_, folder, unlike)).empty());
}

TEST_F(CropZoomTest, AVolumeWithoutEvidenceTriesOneCropZoomPerSampledPageInTurn) {
  // 37 pages of the font that were never registered: none has a PDQ
  // candidate or a match, so only the volume's sampled pages (0, 12, 36) are
  // described, each with one of the zooms in turn; scanned page by page,
  // one of them tries every zoom, then the low-contrast look (zoom 1).
  const fs::path folder = dir_ / "unrelated";
  fs::create_directories(folder);
  cv::Ptr<cv::freetype::FreeType2> ft = ::kagami::testing::NotoSansCjk();
  for (int i = 0; i < 37; ++i) {
    cv::imwrite((folder / Name(i)).string(), ::kagami::testing::CjkTextPage(*ft, 5300 + i),
                {cv::IMWRITE_JPEG_QUALITY, 85});
  }
  auto zooms_traced = [&](int local_sample, const fs::path& input) {
    const fs::path trace = dir_ / ("trace" + std::to_string(local_sample) + ".jsonl");
    pipeline::ScanOptions scan;
    scan.extract.threads = 2;
    scan.local_sample = local_sample;
    scan.robust.local_trace_path = trace.string();
    scan.robust.crop_zooms = {0.85, 0.7, 0.6};
    Status s = pipeline::Scan(*store_, {input.string()}, scan, [](const pipeline::VolumeReport& r) {
      EXPECT_TRUE(r.matches.empty()) << r.matches.size() << " matches of unrelated pages";
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::multiset<std::vector<double>> per_page;
    std::ifstream in(trace);
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      std::vector<double> zooms;
      if (j.contains("zoomed")) {
        for (const auto& z : j["zoomed"]) zooms.push_back(z["zoom"].get<double>());
      }
      per_page.insert(zooms);
    }
    return per_page;
  };
  EXPECT_EQ(zooms_traced(12, folder), (std::multiset<std::vector<double>>{{0.85}, {0.7}, {0.6}}));
  EXPECT_EQ(zooms_traced(1, folder / Name(3)),
            (std::multiset<std::vector<double>>{{0.85, 0.7, 0.6, 1.0}}));
}

TEST_F(CropZoomTest, AVolumeCroppedAlikeTriesTheZoomItsMatchMeasured) {
  // 8 pages cropped 20% per side, sampled with n = 2: positions 0, 2 and 6
  // try 0.85, 0.7 and 0.6 in turn; a match measures the volume's scale (~0.6)
  // and every other page then tries the nearest look, 0.6, alone.
  const fs::path folder = Cropped(0.2);
  const fs::path trace = dir_ / "volume.jsonl";
  pipeline::ScanOptions scan;
  scan.extract.threads = 1;
  scan.local_sample = 2;
  scan.robust.local_trace_path = trace.string();
  std::set<std::string> found;
  Status s = pipeline::Scan(*store_, {folder.string()}, scan, [&](const pipeline::VolumeReport& r) {
    for (const auto& m : r.matches) {
      EXPECT_EQ(m.ref.member, m.member);
      found.insert(m.member);
    }
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(found.size(), 7u);
  std::ifstream in(trace);
  int only_the_measured = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (!j.contains("zoomed")) continue;
    EXPECT_EQ(j["zoomed"].size(), 1u) << line.substr(0, 200);
    if (j["zoomed"].size() == 1 && j["zoomed"][0]["zoom"].get<double>() == 0.6) {
      ++only_the_measured;
    }
  }
  EXPECT_GE(only_the_measured, 5);
}

TEST_F(CropZoomTest, AScaleHintChoosesTheLook) {
  // A crawled image whose reader page already matched at scale 0.6 carries
  // that scale (ingest::Volume::scale_hint): it tries 0.6 alone; at scale 1
  // (a PDQ match), no look.
  const fs::path folder = Cropped(0.2);
  std::ifstream in(folder / Name(1), std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  auto looks = [&](double hint, const std::string& name) {
    const fs::path trace = dir_ / (name + ".jsonl");
    pipeline::ScanOptions options;
    options.extract.threads = 1;
    options.robust.local_trace_path = trace.string();
    pipeline::Scanner scanner(*store_, options);
    ingest::MemoryAsset asset = ingest::MakeMemoryAsset(bytes, "https://example.test/1.jpg", 0);
    asset.scale_hint = hint;
    int matches = 0;
    scanner.ScanMemory({asset}, [&](const pipeline::VolumeReport& r) {
      for (const auto& m : r.matches) {
        EXPECT_EQ(m.ref.member, Name(1));
        ++matches;
      }
    });
    std::vector<double> zooms;
    std::ifstream t(trace);
    for (std::string line; std::getline(t, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (!j.contains("zoomed")) continue;
      for (const auto& z : j["zoomed"]) zooms.push_back(z["zoom"].get<double>());
    }
    return std::make_pair(matches, zooms);
  };
  const auto [found_at_06, zooms_06] = looks(0.6, "hint06");
  EXPECT_EQ(zooms_06, std::vector<double>{0.6});
  EXPECT_EQ(found_at_06, 1);
  const auto [found_at_1, zooms_1] = looks(1.0, "hint1");
  EXPECT_TRUE(zooms_1.empty());
  EXPECT_EQ(found_at_1, 0) << "a 20% crop is not found without a look";
}

}  // namespace
}  // namespace kagami::index
