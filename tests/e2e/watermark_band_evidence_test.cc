// A copy of a drawing page with a watermark strip across its blank paper,
// from the command line: `kagami scan` finds it through the "unbanded" view,
// the finding records that view, and the exported bundle's report says what
// the view is. A real drawing from openclipart-png; skipped when it is missing.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "json_lines.h"
#include "real_images.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kDrawing[] = "/usr/share/openclipart/png/food/fondue_uliphant_01.png";

TEST(WatermarkBandEvidenceTest, ScanFindsTheStrippedCopyAndTheReportNamesTheView) {
  if (!fs::exists(kDrawing)) GTEST_SKIP() << kDrawing << " missing (openclipart-png)";
  testing::TempDir dir;
  const std::string data = (dir / "data").string();
  // The drawing on a blank page; the copy has a dark strip with a URL across
  // the paper below it.
  const cv::Mat art = testing::LoadOnWhite(kDrawing, 300);
  cv::Mat page(1100, 800, CV_8UC3, cv::Scalar(255, 255, 255));
  art.copyTo(page(cv::Rect(250, 150, art.cols, art.rows)));
  cv::Mat copy = page.clone();
  cv::Mat strip = copy(cv::Rect(0, 640, copy.cols, 80));
  strip = strip * 0.35 + cv::Scalar(20, 20, 20) * 0.65;
  cv::putText(copy, "read more at scans-example.net", cv::Point(30, 695), cv::FONT_HERSHEY_DUPLEX,
              1.0, cv::Scalar(255, 255, 255), 2, cv::LINE_AA);
  fs::create_directories(dir / "reg");
  fs::create_directories(dir / "suspect");
  cv::imwrite((dir / "reg/fondue.png").string(), page);
  cv::imwrite((dir / "suspect/fondue-copy.jpg").string(), copy, {cv::IMWRITE_JPEG_QUALITY, 80});

  const testing::CommandResult r = testing::RegisterAndScanRecorded(
      data, "art-1", "Fondue", (dir / "reg").string(), (dir / "suspect").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  int matches = 0;
  for (const json& j : testing::JsonLines(r.out, true)) {
    if (j.value("type", "") != "match") continue;
    ++matches;
    EXPECT_EQ(j["ref_member"], "fondue.png") << j.dump();
    EXPECT_EQ(j["view"], "unbanded") << j.dump();
    EXPECT_LE(j["distance"].get<int>(), 24) << j.dump();
  }
  EXPECT_EQ(matches, 1) << r.out;

  std::string failure;
  const std::string report =
      testing::ExportVerifiedReport(data, (dir / "bundle").string(), &failure);
  ASSERT_FALSE(report.empty()) << failure;
  EXPECT_NE(report.find("view unbanded (a strip laid across the page"), std::string::npos);
}

}  // namespace
}  // namespace kagami
