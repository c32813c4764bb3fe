// Video registration and scanning end to end: clips generated with the ffmpeg
// command (lavfi sources), pirate transformations applied with FFmpeg filters,
// spliced into longer uploads, scanned with `kagami scan --format jsonl`.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "build_cache.h"
#include "json_lines.h"
#include "shell.h"
#include "temp_dir.h"

namespace kagami {
namespace {

using testing::CommandResult;
CommandResult Run(const std::string& cmd) { return testing::RunShell(cmd); }
CommandResult Kagami(const std::vector<std::string>& args) { return testing::RunKagami(args); }
std::string Quote(const std::string& s) { return testing::ShellQuote(s); }

// Runs ffmpeg quietly; fails the test if it fails.
void Ffmpeg(const std::string& args) {
  CommandResult r = Run("ffmpeg -nostdin -v error -y " + args);
  ASSERT_EQ(r.exit_code, 0) << "ffmpeg " << args;
}

using testing::JsonLines;

std::vector<nlohmann::json> Segments(const std::vector<nlohmann::json>& lines) {
  std::vector<nlohmann::json> out;
  for (const auto& j : lines) {
    if (j.value("unit", "") == "segment") out.push_back(j);
  }
  return out;
}

const char* kFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
constexpr const char* kEncode =
    " -c:v libx264 -preset ultrafast -crf 26 -pix_fmt yuv420p -c:a aac ";

// The suite's source clips: two "works" and unrelated footage.
struct ClipSpec {
  const char* name;
  std::string ffmpeg_args;  // without the output path
};

std::vector<ClipSpec> SourceClips() {
  return {
      // Work A: a slow Mandelbrot zoom with a coloured interior, with a gliding tone.
      {"workA.mp4",
       "-f lavfi -i mandelbrot=s=320x180:rate=25:end_pts=6000:inner=mincol:"
       "start_x=-0.743643887037151:start_y=0.13182590420533:start_scale=2 "
       "-f lavfi -i aevalsrc='0.3*sin(2*PI*t*(300+200*sin(0.37*t)*sin(0.11*t+1)))':s=22050 "
       "-t 60" +
           std::string(kEncode) + "-shortest "},
      // Work B: a cellular automaton (Game of Life, 4 generations/s) with pink noise.
      {"workB.mp4",
       "-f lavfi -i life=s=320x180:rate=4:mold=10:ratio=0.1:seed=7:"
       "death_color=#C83232:life_color=#00ff00,fps=25 "
       "-f lavfi -i anoisesrc=c=pink:seed=3:a=0.2 -t 40" +
           std::string(kEncode) + "-shortest "},
      // Unrelated footage: another Mandelbrot region and another automaton.
      {"other.mp4",
       "-f lavfi -i mandelbrot=s=320x180:rate=25:end_pts=6000:inner=mincol:"
       "start_x=0.2549870375144766:start_y=-0.0005679790528465:start_scale=1.5 "
       "-f lavfi -i anoisesrc=c=brown:seed=11:a=0.2 -t 40" +
           std::string(kEncode) + "-shortest "},
  };
}

// The suite's inputs, made once per build tree (testing::CachedDir): the
// clips, keyed by the ffmpeg version and commands; the data directory with
// works A and B registered, keyed by the clips and the kagami binary under
// test (any rebuild registers anew). Each test process copies the data
// directory into its own temp dir.
class VideoSegmentsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    namespace fs = std::filesystem;
    dir_ = std::make_unique<testing::TempDir>();
    testing::CacheKey clip_key;
    clip_key.Add(kagami::Run("ffmpeg -version 2>&1 | head -n 1").out);
    for (const ClipSpec& c : SourceClips()) clip_key.Add(c.name).Add(c.ffmpeg_args);
    clips_ = testing::CachedDir("video-segments-clips", clip_key, [](const fs::path& out) {
      for (const ClipSpec& c : SourceClips()) {
        CommandResult r = kagami::Run("ffmpeg -nostdin -v error -y " + c.ffmpeg_args +
                                      Quote((out / c.name).string()) + " 2>&1");
        if (r.exit_code != 0) {
          ADD_FAILURE() << "ffmpeg " << c.ffmpeg_args << ": " << r.out;
          return false;
        }
      }
      return true;
    });
    ASSERT_FALSE(clips_.empty());
    testing::CacheKey data_key = clip_key;
    data_key.Add(clips_.string()).AddProgram(KAGAMI_BINARY);
    fs::path registered =
        testing::CachedDir("video-segments-data", data_key, [](const fs::path& out) {
          const std::string data = (out / "data").string();
          CommandResult a = Kagami({"--data", data, "register", "--work", "workA", "--title",
                                    "Work A", "--kind", "anime", Clip("workA.mp4")});
          EXPECT_EQ(a.exit_code, 0) << a.out;
          CommandResult b = Kagami({"--data", data, "register", "--work", "workB", "--title",
                                    "Work B", "--kind", "film", Clip("workB.mp4")});
          EXPECT_EQ(b.exit_code, 0) << b.out;
          return a.exit_code == 0 && b.exit_code == 0;
        });
    ASSERT_FALSE(registered.empty());
    data_ = Path("data");
    std::error_code ec;
    fs::copy(registered / "data", data_, fs::copy_options::recursive, ec);
    ASSERT_FALSE(ec) << ec.message();
  }
  static void TearDownTestSuite() { dir_.reset(); }

  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }
  // A source clip (read only: shared by every test process).
  static std::string Clip(const std::string& name) { return (clips_ / name).string(); }

  // Scans one file and returns its jsonl lines.
  static std::vector<nlohmann::json> Scan(const std::string& path) {
    CommandResult r = Kagami({"--data", data_, "scan", "--format", "jsonl", path});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    return JsonLines(r.out);
  }

  // `other` [0, pre) + `excerpt` + `other` [pre, pre + post), all at 320x240.
  static void Splice(const std::string& excerpt, double pre, double post, const std::string& out) {
    std::ostringstream f;
    f << "-i " << Clip("other.mp4") << " -i " << excerpt << " -filter_complex \""
      << "[0:v]trim=0:" << pre << ",setpts=PTS-STARTPTS,scale=320:240,setsar=1,fps=25[a];"
      << "[0:a]atrim=0:" << pre << ",asetpts=PTS-STARTPTS,aresample=44100[aa];"
      << "[1:v]setpts=PTS-STARTPTS,scale=320:240,setsar=1,fps=25[b];"
      << "[1:a]asetpts=PTS-STARTPTS,aresample=44100[ba];"
      << "[0:v]trim=" << pre << ":" << pre + post
      << ",setpts=PTS-STARTPTS,scale=320:240,setsar=1,fps=25[c];"
      << "[0:a]atrim=" << pre << ":" << pre + post << ",asetpts=PTS-STARTPTS,aresample=44100[ca];"
      << "[a][aa][b][ba][c][ca]concat=n=3:v=1:a=1[v][au]\" -map \"[v]\" -map \"[au]\"" << kEncode
      << out;
    Ffmpeg(f.str());
  }

  static void ExpectSegment(const std::vector<nlohmann::json>& segments, const std::string& work,
                            double start, double end, double ref_start, double ref_end) {
    bool found = false;
    for (const auto& s : segments) {
      if (s["work"] != work) continue;
      found = true;
      EXPECT_NEAR(s["start"].get<double>(), start, 2.0) << s.dump();
      EXPECT_NEAR(s["end"].get<double>(), end, 2.0) << s.dump();
      EXPECT_NEAR(s["ref_start"].get<double>(), ref_start, 2.0) << s.dump();
      EXPECT_NEAR(s["ref_end"].get<double>(), ref_end, 2.0) << s.dump();
      EXPECT_GT(s["coverage"].get<double>(), 0.0);
      EXPECT_GT(s["ref_coverage"].get<double>(), 0.0);
      EXPECT_THAT(s["modality"].get<std::string>(), ::testing::AnyOf("video", "audio", "both"));
    }
    EXPECT_TRUE(found) << "no segment of " << work;
  }

  static std::unique_ptr<testing::TempDir> dir_;
  static std::filesystem::path clips_;
  static std::string data_;
};

std::unique_ptr<testing::TempDir> VideoSegmentsTest::dir_;
std::filesystem::path VideoSegmentsTest::clips_;
std::string VideoSegmentsTest::data_;

TEST_F(VideoSegmentsTest, ExcerptInsideUnrelatedVideoIsFoundDespiteLetterboxLogoAndSubtitles) {
  // 30 s of work A from 20.3 s: downscaled, letterboxed, a corner logo,
  // burned-in subtitles, low bitrate.
  std::string excerpt = Path("excerpt.mp4");
  Ffmpeg("-ss 20.3 -t 30 -i " + Clip("workA.mp4") +
         " -vf \"scale=214:120,pad=320:240:53:60,drawbox=x=230:y=66:w=34:h=14:color=white@0.85:"
         "t=fill,drawtext=fontfile=" +
         kFont +
         ":text='I will never forgive you':x=70:y=150:fontsize=13:fontcolor=white:borderw=1\" "
         "-c:v libx264 -preset ultrafast -crf 36 -c:a aac -b:a 48k " +
         excerpt);
  std::string upload = Path("upload_letterbox.mp4");
  Splice(excerpt, 20, 20, upload);
  auto lines = Scan(upload);
  auto segments = Segments(lines);
  ASSERT_FALSE(segments.empty());
  ExpectSegment(segments, "workA", 20, 50, 20.3, 50.3);
  for (const auto& s : segments) EXPECT_NE(s["work"], "workB") << s.dump();
  EXPECT_EQ(lines.back()["verdict"], "match");
}

TEST_F(VideoSegmentsTest, TwoWorksSplicedGiveTwoSegments) {
  std::string upload = Path("two_works.mp4");
  Ffmpeg("-ss 5 -t 20 -i " + Clip("workA.mp4") + " -ss 10 -t 20 -i " + Clip("workB.mp4") +
         " -filter_complex \"[0:v]setpts=PTS-STARTPTS,setsar=1[a];[0:a]asetpts=PTS-STARTPTS,"
         "aresample=44100[aa];[1:v]setpts=PTS-STARTPTS,setsar=1[b];[1:a]asetpts=PTS-STARTPTS,"
         "aresample=44100[ba];[a][aa][b][ba]concat=n=2:v=1:a=1[v][au]\" -map \"[v]\" -map "
         "\"[au]\"" +
         std::string(kEncode) + upload);
  auto segments = Segments(Scan(upload));
  ExpectSegment(segments, "workA", 0, 20, 5, 25);
  ExpectSegment(segments, "workB", 20, 40, 10, 30);
}

TEST_F(VideoSegmentsTest, MirroredDownscaledCopyMatches) {
  std::string upload = Path("mirror.mp4");
  Ffmpeg("-ss 10 -t 25 -i " + Clip("workA.mp4") +
         " -vf \"hflip,scale=192:108\" -c:v libx264 -preset ultrafast -crf 32 -c:a aac -b:a 64k " +
         upload);
  auto segments = Segments(Scan(upload));
  ExpectSegment(segments, "workA", 0, 25, 10, 35);
  ASSERT_FALSE(segments.empty());
  EXPECT_TRUE(segments[0]["mirrored"].get<bool>());
}

TEST_F(VideoSegmentsTest, CroppedCopyMatches) {
  // Work A is a zoom, which a crop imitates; work B (an automaton) is not.
  std::string upload = Path("crop.mp4");
  Ffmpeg("-ss 8 -t 25 -i " + Clip("workB.mp4") +
         " -vf \"crop=iw*0.92:ih*0.92,scale=240:136\" -c:v libx264 -preset ultrafast -crf 30 -an " +
         upload);
  auto segments = Segments(Scan(upload));
  ExpectSegment(segments, "workB", 0, 25, 8, 33);
}

TEST_F(VideoSegmentsTest, FrameRateChangeMatches) {
  // 25 fps slowed to 23.976 fps (every frame kept, 4.3% longer), pillarboxed.
  std::string upload = Path("framerate.mp4");
  Ffmpeg("-ss 10 -t 30 -i " + Clip("workA.mp4") +
         " -vf \"setpts=PTS*25/23.976,fps=24000/1001,scale=240:180,pad=320:180:40:0\" "
         "-af atempo=0.95904 -c:v libx264 -preset ultrafast -crf 30 -c:a aac " +
         upload);
  auto segments = Segments(Scan(upload));
  ExpectSegment(segments, "workA", 0, 30 * 25 / 23.976, 10, 40);
}

TEST_F(VideoSegmentsTest, UnrelatedVideoDoesNotMatch) {
  std::string unrelated = Path("unrelated.mp4");
  Ffmpeg(
      "-f lavfi -i life=s=320x240:rate=25:mold=5:ratio=0.2:seed=99 "
      "-f lavfi -i mandelbrot=s=320x240:rate=25:end_pts=3000:inner=mincol:start_scale=2.5 "
      "-f lavfi -i anoisesrc=c=white:seed=5:a=0.1 -filter_complex "
      "\"[0:v][1:v]concat=n=2:v=1:a=0,trim=0:40[v]\" -map \"[v]\" -map 2:a -t 40" +
      std::string(kEncode) + Path("unrelated.mp4"));
  auto lines = Scan(unrelated);
  EXPECT_TRUE(Segments(lines).empty()) << lines.front().dump();
  EXPECT_EQ(lines.back()["verdict"], "no_match");
  // The registered work's unrelated cousin (other Mandelbrot region) does not match either.
  auto other = Scan(Clip("other.mp4"));
  EXPECT_TRUE(Segments(other).empty()) << other.front().dump();
}

TEST_F(VideoSegmentsTest, LocalHlsPlaylistIsScanned) {
  std::string dir = Path("hls");
  std::filesystem::create_directories(dir);
  Ffmpeg("-ss 15 -t 24 -i " + Clip("workA.mp4") +
         " -c:v libx264 -preset ultrafast -crf 30 -c:a aac -f hls -hls_time 4 "
         "-hls_playlist_type vod " +
         dir + "/index.m3u8");
  auto segments = Segments(Scan(dir + "/index.m3u8"));
  ExpectSegment(segments, "workA", 0, 24, 15, 39);
}

// HLS over http(s) goes through the crawler's safe fetcher, whose address
// policy refuses loopback unless --allow-address says otherwise (the fetch
// and match itself is tested against a fixture site in tests/crawler).
TEST_F(VideoSegmentsTest, HlsOverHttpGoesThroughTheSafeFetcherWhichRefusesLoopback) {
  CommandResult r =
      Kagami({"--data", data_, "scan", "--format", "jsonl", "http://127.0.0.1:9/x.m3u8"});
  auto lines = JsonLines(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["verdict"], "error");
  EXPECT_THAT(lines.back()["error"].get<std::string>(), ::testing::HasSubstr("loopback"));
}

TEST_F(VideoSegmentsTest, TextReportShowsTimeRanges) {
  std::string upload = Path("text.mp4");
  Ffmpeg("-ss 30 -t 20 -i " + Clip("workA.mp4") + std::string(kEncode) + upload);
  CommandResult r = Kagami({"--data", data_, "scan", upload});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out,
              ::testing::ContainsRegex("00:0[0-2]-00:[12][0-9] -> 00:[23][0-9]-00:[45][0-9]"));
}

TEST_F(VideoSegmentsTest, HashPrintsOneLinePerSampledFrame) {
  CommandResult r = Kagami({"hash", Clip("workB.mp4")});
  ASSERT_EQ(r.exit_code, 0);
  auto lines = JsonLines(r.out);
  int frames = 0;
  double last_t = -1;
  for (const auto& j : lines) {
    if (j.value("unit", "") != "frame") continue;
    ++frames;
    EXPECT_GT(j["t"].get<double>(), last_t);
    last_t = j["t"].get<double>();
    EXPECT_EQ(j["pdq"].get<std::string>().size(), 64u);
  }
  EXPECT_GE(frames, 38);  // ~1 per second of 40 s, plus scene cuts
  EXPECT_LE(frames, 80);
  EXPECT_EQ(lines.back()["unit"], "video");
}

TEST_F(VideoSegmentsTest, DamagedInputsGiveClearErrorsAndNeverAbortTheBatch) {
  std::string empty = Path("empty.mp4");
  std::ofstream(empty).close();
  std::string garbage = Path("garbage.mkv");
  {
    std::ofstream out(garbage, std::ios::binary);
    for (int i = 0; i < 100000; ++i) out.put(static_cast<char>((i * 7919) ^ (i >> 3)));
  }
  // Truncated: the first 40% of a Matroska file.
  std::string truncated = Path("truncated.mkv");
  {
    Ffmpeg("-i " + Clip("workB.mp4") + " -c copy " + Path("workB.mkv"));
    std::ifstream mk(Path("workB.mkv"), std::ios::binary);
    std::string mkv((std::istreambuf_iterator<char>(mk)), std::istreambuf_iterator<char>());
    std::ofstream(truncated, std::ios::binary).write(mkv.data(), mkv.size() * 4 / 10);
  }
  std::string audio_only = Path("audio_only.mp4");
  Ffmpeg("-ss 20 -t 20 -i " + Clip("workA.mp4") + " -vn -c:a aac " + audio_only);
  std::string missing = Path("missing.mp4");

  CommandResult r = Kagami({"--data", data_, "scan", "--format", "jsonl", empty, garbage, truncated,
                            audio_only, missing});
  EXPECT_EQ(r.exit_code, 0);  // not every input failed
  std::vector<nlohmann::json> summaries;
  for (const auto& j : JsonLines(r.out)) {
    if (j["type"] == "summary") summaries.push_back(j);
  }
  ASSERT_EQ(summaries.size(), 5u);
  EXPECT_EQ(summaries[0]["verdict"], "error");
  EXPECT_THAT(summaries[0]["error"].get<std::string>(), ::testing::HasSubstr("zero-length"));
  EXPECT_EQ(summaries[1]["verdict"], "error");
  // The truncated file still yields its first frames; it must not match work A.
  EXPECT_NE(summaries[2]["verdict"], "error") << summaries[2].dump();
  // Audio only: matched by its soundtrack.
  EXPECT_EQ(summaries[3]["verdict"], "match") << summaries[3].dump();
  EXPECT_EQ(summaries[4]["verdict"], "error");
  EXPECT_THAT(summaries[4]["error"].get<std::string>(), ::testing::HasSubstr("no such file"));
}

}  // namespace
}  // namespace kagami
