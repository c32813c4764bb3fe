// A page shown inside a reader's window (a screenshot) is found by `kagami
// scan` through the "box" view (fingerprint::DetectPageBox) with PDQ alone:
// neither the whole screenshot nor its halves resemble the page, and the
// local stage is switched off, so only the box can match.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "json_lines.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

using testing::CommandResult;
using testing::JsonLines;
using testing::RunKagami;

const std::filesystem::path kReal = std::filesystem::path(KAGAMI_TEST_DATA_DIR) / "real";

std::vector<unsigned char> Jpeg(const cv::Mat& m, int quality) {
  std::vector<unsigned char> bytes;
  cv::imencode(".jpg", m, bytes, {cv::IMWRITE_JPEG_QUALITY, quality});
  return bytes;
}

// A dark reader window: tool bar, a sidebar of thumbnails of the other pages,
// the page at 85% of the viewer's height, right of centre.
cv::Mat ReaderScreenshot(const cv::Mat& page, const std::vector<cv::Mat>& others) {
  cv::Mat m(1080, 1920, CV_8UC3, cv::Scalar(34, 32, 30));
  cv::rectangle(m, cv::Rect(0, 0, 1920, 56), cv::Scalar(60, 58, 56), cv::FILLED);
  cv::putText(m, "Reader  -  Volume 2, page 51", cv::Point(20, 36), cv::FONT_HERSHEY_SIMPLEX, 0.8,
              cv::Scalar(230, 230, 230), 1, cv::LINE_AA);
  cv::rectangle(m, cv::Rect(0, 56, 240, 1024), cv::Scalar(48, 46, 44), cv::FILLED);
  for (size_t k = 0; k < others.size(); ++k) {
    cv::Mat thumb;
    cv::resize(others[k], thumb, cv::Size(150, 194), 0, 0, cv::INTER_AREA);
    thumb.copyTo(m(cv::Rect(45, 80 + 230 * static_cast<int>(k), 150, 194)));
  }
  const int h = static_cast<int>(0.85 * (1080 - 56));
  cv::Mat scaled;
  cv::resize(page, scaled, cv::Size(page.cols * h / page.rows, h), 0, 0, cv::INTER_AREA);
  scaled.copyTo(m(cv::Rect(900, 56 + (1024 - h) / 2, scaled.cols, scaled.rows)));
  return m;
}

TEST(ScreenshotScan, APageInAReaderWindowMatchesThroughTheBoxView) {
  testing::TempDir dir;
  std::vector<cv::Mat> pages;
  for (const char* name :
       {"manual-050.jpg", "manual-051.jpg", "manual-052.jpg", "manual-053.jpg"}) {
    pages.push_back(cv::imread((kReal / name).string(), cv::IMREAD_COLOR));
    ASSERT_FALSE(pages.back().empty()) << name;
    testing::WriteFile(dir / "vol" / name, Jpeg(pages.back(), 92));
  }
  const std::string data = (dir / "data").string();
  CommandResult reg = RunKagami({"--data", data, "register", "--work", "manual", "--title",
                                 "Manual", "--json", (dir / "vol").string()});
  ASSERT_EQ(reg.exit_code, 0) << reg.out;

  const cv::Mat shot = ReaderScreenshot(pages[1], {pages[0], pages[2], pages[3]});
  testing::WriteFile(dir / "suspect" / "screenshot.jpg", Jpeg(shot, 85));
  CommandResult scan = RunKagami({"--data", data, "scan", "--local", "never", "--format", "jsonl",
                                  (dir / "suspect").string()});
  ASSERT_EQ(scan.exit_code, 0) << scan.out;
  int matches = 0;
  for (const nlohmann::json& j : JsonLines(scan.out)) {
    if (j["type"] != "match") continue;
    ++matches;
    EXPECT_EQ(j["view"], "box") << j.dump();
    EXPECT_EQ(j["ref_member"], "manual-051.jpg") << j.dump();
    EXPECT_LE(j["distance"].get<int>(), 31) << j.dump();
  }
  EXPECT_EQ(matches, 1) << scan.out;
}

}  // namespace
}  // namespace kagami
