// HLS over HTTP end to end (issue 10): `kagami scan --record URL.m3u8` against
// a real HTTP server (Python's http.server on 127.0.0.1) keeps, for each
// matched segment, the query frame decoded from the fetched media segment, and
// the exported evidence shows it beside the registered frame, naming that
// segment's URL and SHA-256. A live playlist that grows while it is read is
// followed to its #EXT-X-ENDLIST.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "json_lines.h"
#include "kagami/reports/findings_ledger.h"
#include "process.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using ::testing::HasSubstr;

CommandResult Kagami(const std::vector<std::string>& args) {
  return testing::RunKagami(args, testing::Stderr::kDiscard, "KAGAMI_OPERATOR=tester ");
}

class VideoHlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    const std::string work = Path("work.mp4");
    fs::create_directories(Path("www/vod"));
    fs::create_directories(Path("www/live"));
    // The registered episode (24 s), and the pirate stream: re-encoded
    // smaller, 2 s MPEG-TS segments (VOD) and 1 s segments (for the live test).
    CommandResult made = testing::RunShell(
        "ffmpeg -nostdin -v error -y -f lavfi -i mandelbrot=s=320x180:rate=25:end_pts=6000:"
        "inner=mincol:start_x=-0.743643887037151:start_y=0.13182590420533:start_scale=2 -t 24 "
        "-c:v libx264 -preset ultrafast -crf 24 -pix_fmt yuv420p " +
            testing::ShellQuote(work) + " && ffmpeg -nostdin -v error -y -i " +
            testing::ShellQuote(work) +
            " -vf scale=256:144 -c:v libx264 -preset ultrafast -crf 30 -g 50 -f hls -hls_time 2 "
            "-hls_list_size 0 -hls_segment_filename " +
            testing::ShellQuote(Path("www/vod/ep-%03d.ts")) + " " +
            testing::ShellQuote(Path("www/vod/ep.m3u8")) + " && ffmpeg -nostdin -v error -y -i " +
            testing::ShellQuote(work) +
            " -vf scale=256:144 -c:v libx264 -preset ultrafast -crf 30 -g 25 -f hls -hls_time 1 "
            "-hls_list_size 0 -hls_segment_filename " +
            testing::ShellQuote(Path("www/live/seg-%03d.ts")) + " " +
            testing::ShellQuote(Path("www/live/all.m3u8")),
        testing::Stderr::kMerge);
    ASSERT_EQ(made.exit_code, 0) << made.out;
    data_ = Path("data");
    CommandResult reg = Kagami({"--data", data_, "register", "--work", "anime1", "--title",
                                "Anime One", "--kind", "anime", work});
    ASSERT_EQ(reg.exit_code, 0) << reg.out;
    // python3 -m http.server on a free port (it prints the port it bound).
    server_log_ = Path("server.log");
    server_ = testing::Spawn({"python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                              "--directory", Path("www")},
                             server_log_);
    std::regex port_re("port ([0-9]+)");
    for (int i = 0; i < 200 && port_.empty(); ++i) {
      std::smatch m;
      std::string log = testing::ReadText(server_log_);
      if (std::regex_search(log, m, port_re)) port_ = m[1];
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_FALSE(port_.empty()) << testing::ReadText(server_log_);
  }
  static void TearDownTestSuite() {
    testing::Stop(server_);
    dir_.reset();
  }
  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }
  static std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + port_ + "/" + path;
  }

  static std::unique_ptr<testing::TempDir> dir_;
  static std::string data_, server_log_, port_;
  // Checks every segment line of a scan's jsonl: work anime1, query and reference both 0-24 s
  // (the whole registered episode, within 2 s); returns how many there are.
  static int CheckWholeEpisodeSegments(const std::string& jsonl) {
    int segments = 0;
    for (const auto& j : testing::JsonLines(jsonl)) {
      if (j.value("unit", "") != "segment") continue;
      ++segments;
      EXPECT_EQ(j.value("work", ""), "anime1");
      EXPECT_NEAR(j["start"].get<double>(), 0, 2) << j.dump();
      EXPECT_NEAR(j["end"].get<double>(), 24, 2) << j.dump();
      EXPECT_NEAR(j["ref_start"].get<double>(), 0, 2) << j.dump();
      EXPECT_NEAR(j["ref_end"].get<double>(), 24, 2) << j.dump();
    }
    return segments;
  }

  static pid_t server_;
};
std::unique_ptr<testing::TempDir> VideoHlsTest::dir_;
std::string VideoHlsTest::data_, VideoHlsTest::server_log_, VideoHlsTest::port_;
pid_t VideoHlsTest::server_ = -1;

TEST_F(VideoHlsTest, RecordedHlsFindingExportsAFramePairFromTheFetchedSegment) {
  const std::string playlist = Url("vod/ep.m3u8");
  CommandResult scan = Kagami({"--data", data_, "scan", "--record", "--format", "jsonl",
                               "--allow-address", "127.0.0.1", playlist});
  ASSERT_EQ(scan.exit_code, 0) << scan.out;
  ASSERT_EQ(CheckWholeEpisodeSegments(scan.out), 1) << scan.out;

  // The ledger finding names the stream and carries the kept query frame.
  CommandResult listed = Kagami({"--data", data_, "findings", "--format", "jsonl"});
  ASSERT_EQ(listed.exit_code, 0) << listed.out;
  std::vector<nlohmann::json> findings = testing::JsonLines(listed.out);
  ASSERT_EQ(findings.size(), 1u) << listed.out;
  EXPECT_EQ(findings[0]["source"], playlist);
  EXPECT_EQ(findings[0]["source_kind"], "url");
  EXPECT_EQ(findings[0]["content_sha256"].get<std::string>().size(), 64u);
  ASSERT_EQ(findings[0]["units"].size(), 1u);
  ASSERT_TRUE(findings[0]["units"][0].contains("query_frame")) << findings[0].dump();

  ASSERT_EQ(Kagami({"--data", data_, "keys", "init"}).exit_code, 0);
  CommandResult exported =
      Kagami({"--data", data_, "export", "--out", Path("bundle"), "--case", "HLS-1"});
  ASSERT_EQ(exported.exit_code, 0) << exported.out;
  int exhibits = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(Path("bundle")) / "findings")) {
    std::ifstream in(entry.path() / "finding.json");
    nlohmann::json record = nlohmann::json::parse(in);
    for (const auto& exhibit : record["exhibits"]) {
      ++exhibits;
      const nlohmann::json& pair = exhibit["frame_pair"];
      const double q = pair["query_t"], r = pair["ref_t"];
      EXPECT_NEAR(q, r, 2.0) << exhibit.dump();  // the stream is the whole episode
      // The query frame came from the media segment named, whose bytes (as
      // served) hash to the recorded SHA-256, and which covers query_t.
      const std::string seg_url = pair["segment_url"];
      ASSERT_EQ(seg_url.rfind(Url("vod/ep-"), 0), 0u) << exhibit.dump();
      const std::string name = seg_url.substr(seg_url.rfind('/') + 1);
      auto sha = kagami::Sha256HexFile(Path("www/vod/" + name));
      ASSERT_TRUE(sha.ok());
      EXPECT_EQ(pair["segment_sha256"], *sha);
      const int seq = pair["segment_sequence"];
      EXPECT_EQ(name, "ep-" + std::string(seq < 10 ? "00" : "0") + std::to_string(seq) + ".ts");
      EXPECT_GE(q, seq * 2.0 - 0.5) << exhibit.dump();
      EXPECT_LE(q, seq * 2.0 + 2.5) << exhibit.dump();
      cv::Mat png =
          cv::imread((fs::path(Path("bundle")) / exhibit["file"].get<std::string>()).string(),
                     cv::IMREAD_GRAYSCALE);
      ASSERT_FALSE(png.empty());
      for (const char* box : {"registered_box", "found_box"}) {
        const auto& b = exhibit[box];
        cv::Rect rect(b[0], b[1], b[2], b[3]);
        ASSERT_GT(rect.area(), 0);
        cv::Scalar mean, stddev;
        cv::meanStdDev(png(rect), mean, stddev);
        EXPECT_GT(stddev[0], 10.0) << box << " " << exhibit.dump();  // a picture, not blank
      }
    }
  }
  EXPECT_EQ(exhibits, 1) << exported.out;
}

// The fixture publishes the 1 s segments as a live playlist (a sliding window
// of 4, growing by one segment every 0.6 s) and finally adds #EXT-X-ENDLIST:
// the scan follows it, reads every segment, and finds the whole episode.
TEST_F(VideoHlsTest, LivePlaylistIsFollowedWhileSegmentsAreAppended) {
  std::vector<std::string> names;
  for (int i = 0;; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "seg-%03d.ts", i);
    if (!fs::exists(Path("www/live/") + name)) break;
    names.push_back(name);
  }
  ASSERT_GE(names.size(), 20u);
  auto write = [&](size_t n, bool ended) {
    size_t first = n > 4 ? n - 4 : 0;
    std::string s = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:" +
                    std::to_string(first) + "\n";
    for (size_t i = first; i < n; ++i) s += "#EXTINF:1.000000,\n" + names[i] + "\n";
    if (ended) s += "#EXT-X-ENDLIST\n";
    const std::string tmp = Path("www/live/live.m3u8.tmp");
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << s;
    fs::rename(tmp, Path("www/live/live.m3u8"));  // atomic for the server
  };
  write(3, false);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    // The window slides only once the scanner has read the playlist: a
    // process that starts slowly (a loaded machine) must still see segment 0.
    for (int waited = 0; waited < 600 && !stop; ++waited) {
      if (testing::ReadText(server_log_).find("GET /live/live.m3u8") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (size_t n = 4; n <= names.size() && !stop; ++n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      write(n, n == names.size());
    }
  });
  CommandResult scan = Kagami({"--data", data_, "scan", "--format", "jsonl", "--allow-address",
                               "127.0.0.1", Url("live/live.m3u8")});
  stop = true;
  writer.join();
  ASSERT_EQ(scan.exit_code, 0) << scan.out;
  EXPECT_EQ(CheckWholeEpisodeSegments(scan.out), 1) << scan.out;
  // Every segment was fetched exactly once, and the playlist more than once.
  const std::string log = testing::ReadText(server_log_);
  for (const std::string& name : names) {
    size_t count = 0;
    for (size_t at = log.find("GET /live/" + name); at != std::string::npos;
         at = log.find("GET /live/" + name, at + 1)) {
      ++count;
    }
    EXPECT_EQ(count, 1u) << name;
  }
  size_t reloads = 0;
  for (size_t at = log.find("GET /live/live.m3u8"); at != std::string::npos;
       at = log.find("GET /live/live.m3u8", at + 1)) {
    ++reloads;
  }
  EXPECT_GE(reloads, 5u);
}

}  // namespace
}  // namespace kagami
