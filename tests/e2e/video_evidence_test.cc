// Videos inside folders and video evidence (issue 10): a registered or scanned
// folder's videos go to the video pipeline, and a recorded video finding is
// exported with a frame-pair exhibit per segment carrying its time ranges.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "json_lines.h"
#include "kagami/pipeline/video_pipeline.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

CommandResult Kagami(const std::vector<std::string>& args) {
  return testing::RunKagami(args, testing::Stderr::kMerge, "KAGAMI_OPERATOR=tester ");
}

void Touch(const fs::path& path, const std::string& content = "x") {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

TEST(FolderVideosTest, VideosInsideFoldersAreListedAfterTheirFolder) {
  testing::TempDir dir;
  const fs::path mixed = dir / "mixed", only = dir / "only";
  std::ofstream(dir / "page.png", std::ios::binary) << "\x89PNG\r\n\x1a\n";
  Touch(mixed / "p1.png", "\x89PNG\r\n\x1a\n0000000000000000");
  Touch(mixed / "sub/ep10.mp4");
  Touch(mixed / "sub/ep2.mkv");
  Touch(mixed / ".hidden.mp4");
  Touch(only / "ep1.webm");
  Touch(only / "ep1.srt", "1\n00:00:01,000 --> 00:00:02,000\nhello\n");
  std::vector<std::string> paths =
      pipeline::WithFolderVideos({mixed.string(), only.string(), "clip.mp4"}, {});
  EXPECT_THAT(paths, ElementsAre(mixed.string(), (mixed / "sub/ep2.mkv").string(),
                                 (mixed / "sub/ep10.mp4").string(), (only / "ep1.webm").string(),
                                 "clip.mp4"));
}

// One short clip, registered from inside a folder and scanned from another.
class VideoEvidenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    const std::string work = Path("reg/season1/ep01.mp4");
    fs::create_directories(fs::path(work).parent_path());
    fs::create_directories(Path("suspect"));
    CommandResult made = testing::RunShell(
        "ffmpeg -nostdin -v error -y -f lavfi -i mandelbrot=s=256x144:rate=25:end_pts=6000:"
        "start_x=-0.743643887037151:start_y=0.13182590420533:start_scale=2 -t 20 "
        "-c:v libx264 -preset ultrafast -crf 24 -pix_fmt yuv420p " +
        testing::ShellQuote(work) + " && ffmpeg -nostdin -v error -y -i " +
        testing::ShellQuote(work) +
        " -vf scale=192:108 -c:v libx264 -preset ultrafast -crf 30 -pix_fmt yuv420p " +
        testing::ShellQuote(Path("suspect/upload.mp4")));
    ASSERT_EQ(made.exit_code, 0) << made.out;
    data_ = Path("data");
    log_ += Kagami({"--data", data_, "register", "--work", "anime1", "--title", "Anime One",
                    Path("reg")})
                .out;
    CommandResult scan = testing::RunKagami(
        {"--data", data_, "scan", "--record", "--format", "jsonl", Path("suspect")},
        testing::Stderr::kDiscard, "KAGAMI_OPERATOR=tester ");
    log_ += scan.out;
    scan_lines_ = testing::JsonLines(scan.out);
    log_ += Kagami({"--data", data_, "keys", "init"}).out;
    CommandResult exported =
        Kagami({"--data", data_, "export", "--out", Path("bundle"), "--case", "V-1"});
    log_ += exported.out;
    export_exit_ = exported.exit_code;
  }
  static void TearDownTestSuite() { dir_.reset(); }
  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }

  static std::unique_ptr<testing::TempDir> dir_;
  static std::string data_, log_;
  static std::vector<nlohmann::json> scan_lines_;
  static int export_exit_;
};

std::unique_ptr<testing::TempDir> VideoEvidenceTest::dir_;
std::string VideoEvidenceTest::data_, VideoEvidenceTest::log_;
std::vector<nlohmann::json> VideoEvidenceTest::scan_lines_;
int VideoEvidenceTest::export_exit_ = -1;

TEST_F(VideoEvidenceTest, AVideoInAScannedFolderIsMatchedAsSegments) {
  int segments = 0;
  for (const auto& j : scan_lines_) {
    if (j.value("unit", "") != "segment") continue;
    ++segments;
    EXPECT_EQ(j.value("work", ""), "anime1") << j.dump();
    EXPECT_NEAR(j["start"].get<double>(), j["ref_start"].get<double>(), 2.0) << j.dump();
  }
  EXPECT_GE(segments, 1) << log_;
}

TEST_F(VideoEvidenceTest, ExportedVideoFindingHasAFramePairExhibitWithTimeRanges) {
  ASSERT_EQ(export_exit_, 0) << log_;
  const fs::path findings = fs::path(Path("bundle")) / "findings";
  ASSERT_TRUE(fs::is_directory(findings)) << log_;
  int exhibits = 0;
  for (const auto& entry : fs::directory_iterator(findings)) {
    std::ifstream in(entry.path() / "finding.json");
    nlohmann::json record = nlohmann::json::parse(in);
    const nlohmann::json& units = record["finding"]["units"];
    ASSERT_FALSE(units.empty());
    EXPECT_FALSE(units[0]["time"].is_null()) << record.dump();
    EXPECT_FALSE(units[0]["ref_time"].is_null()) << record.dump();
    for (const auto& exhibit : record["exhibits"]) {
      ++exhibits;
      ASSERT_TRUE(exhibit.contains("frame_pair")) << exhibit.dump();
      const double q = exhibit["frame_pair"]["query_t"], r = exhibit["frame_pair"]["ref_t"];
      EXPECT_NEAR(q, r, 2.0);  // the upload is the whole episode, re-encoded
      cv::Mat png =
          cv::imread((fs::path(Path("bundle")) / exhibit["file"].get<std::string>()).string(),
                     cv::IMREAD_GRAYSCALE);
      ASSERT_FALSE(png.empty());
      // Both panels hold a picture, not the blank panel background.
      const auto& reg = exhibit["registered_box"];
      const auto& found = exhibit["found_box"];
      for (const auto* box : {&reg, &found}) {
        cv::Rect rect((*box)[0], (*box)[1], (*box)[2], (*box)[3]);
        ASSERT_GT(rect.area(), 0);
        cv::Scalar mean, stddev;
        cv::meanStdDev(png(rect), mean, stddev);
        EXPECT_GT(stddev[0], 10.0) << exhibit.dump();
      }
    }
  }
  EXPECT_GE(exhibits, 1) << log_;
}

}  // namespace
}  // namespace kagami
