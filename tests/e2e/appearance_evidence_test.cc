// A photo whose cropped copy is accepted on appearance (the inliers cluster
// on the kite; index::RobustOptions::appearance_min_inliers), from the command
// line: `kagami scan` reports the match with what accepted it, the finding
// keeps those measurements, and the exported bundle's report states them. A
// real photo from plasma-workspace-wallpapers; skipped when it is missing.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "json_lines.h"
#include "real_images.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(AppearanceEvidenceTest, CroppedPhotoIsReportedWithTheAppearanceThatAcceptedIt) {
  const fs::path photo_path = testing::Wallpaper("Kite");
  if (!fs::exists(photo_path)) GTEST_SKIP() << photo_path << " missing";
  testing::TempDir dir;
  const std::string data = (dir / "data").string();
  const cv::Mat photo = testing::LoadOnWhite(photo_path, 1000);
  const cv::Rect inner(photo.cols / 10, photo.rows / 10, photo.cols * 8 / 10, photo.rows * 8 / 10);
  fs::create_directories(dir / "reg");
  fs::create_directories(dir / "suspect");
  cv::imwrite((dir / "reg/kite.jpg").string(), photo, {cv::IMWRITE_JPEG_QUALITY, 92});
  cv::imwrite((dir / "suspect/kite-cropped.jpg").string(), photo(inner).clone(),
              {cv::IMWRITE_JPEG_QUALITY, 85});

  const testing::CommandResult r = testing::RegisterAndScanRecorded(
      data, "photo-1", "Kite", (dir / "reg").string(), (dir / "suspect").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  int matches = 0;
  for (const json& j : testing::JsonLines(r.out, true)) {
    if (j.value("type", "") != "match") continue;
    ++matches;
    EXPECT_EQ(j["ref_member"], "kite.jpg") << j.dump();
    EXPECT_EQ(j["method"], "local") << j.dump();
    const json& v = j["verification"];
    EXPECT_EQ(v["accepted_by"], "appearance") << j.dump();
    EXPECT_GE(v["appearance"].get<double>(), 0.95) << j.dump();
    EXPECT_GT(v["appearance_compared"].get<double>(), 0.4) << j.dump();
    EXPECT_LT(v["appearance_compared"].get<double>(), 0.8) << j.dump();
  }
  EXPECT_EQ(matches, 1) << r.out;

  std::string failure;
  const std::string report =
      testing::ExportVerifiedReport(data, (dir / "bundle").string(), &failure);
  ASSERT_FALSE(report.empty()) << failure;
  EXPECT_NE(report.find("accepted on appearance: the suspect page warped onto the registered one "
                        "correlates 0.9"),
            std::string::npos)
      << report;
}

}  // namespace
}  // namespace kagami
