// Keyframe skipping, HLS pieces (which fetched bytes each frame came from) and
// live playlists that grow while they are read.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kagami/base/sha256.h"
#include "kagami/ingest/memory_source.h"
#include "kagami/ingest/video_decoder.h"
#include "temp_dir.h"

namespace kagami::ingest {
namespace {

namespace fs = std::filesystem;

class Collect : public VideoSink {
 public:
  void OnFrame(VideoFrame frame) override { frames.push_back(std::move(frame)); }
  void OnAudio(const int16_t*, size_t) override {}
  std::vector<VideoFrame> frames;
};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Serves http://fixture.test/<name> from a local folder (the seam DecodeVideoUrl
// reads through; the crawler's safe fetcher is the production one). Counts
// playlist fetches.
class FolderFetcher : public ByteFetcher {
 public:
  explicit FolderFetcher(fs::path dir) : dir_(std::move(dir)) {}
  Result<FetchedBytes> Fetch(const std::string& url, uint64_t max_bytes) override {
    const std::string prefix = "http://fixture.test/";
    if (url.rfind(prefix, 0) != 0) return Status::Unsupported(url + ": outside the fixture");
    fs::path p = dir_ / url.substr(prefix.size());
    if (url.size() > 5 && url.substr(url.size() - 5) == ".m3u8") ++playlist_fetches;
    std::lock_guard<std::mutex> lock(*mu);
    if (!fs::exists(p)) return Status::IoError(url + ": HTTP 404");
    std::string bytes = ReadAll(p);
    if (bytes.size() > max_bytes) return Status::ResourceExhausted(url + ": too large");
    return FetchedBytes{url, std::move(bytes), ""};
  }
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  std::atomic<int> playlist_fetches{0};

 private:
  fs::path dir_;
};

class VideoStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    // 12 s, 24 fps, a keyframe every 12 frames (0.5 s GOP, as streaming
    // encoders use), no scene-cut keyframes; cut into 1 s MPEG-TS segments.
    short_gop_ = (*dir_ / "short_gop.mp4").string();
    ASSERT_EQ(std::system(("ffmpeg -nostdin -v error -y -f lavfi -i "
                           "testsrc2=s=320x180:rate=24 -t 12 -c:v libx264 -preset ultrafast "
                           "-x264-params keyint=12:min-keyint=12:scenecut=0 -pix_fmt yuv420p " +
                           short_gop_)
                              .c_str()),
              0);
    long_gop_ = (*dir_ / "long_gop.mp4").string();
    ASSERT_EQ(std::system(("ffmpeg -nostdin -v error -y -f lavfi -i "
                           "testsrc2=s=320x180:rate=24 -t 12 -c:v libx264 -preset ultrafast "
                           "-x264-params keyint=600:scenecut=0 -pix_fmt yuv420p " +
                           long_gop_)
                              .c_str()),
              0);
    fs::create_directories(*dir_ / "hls");
    ASSERT_EQ(std::system(("ffmpeg -nostdin -v error -y -i " + short_gop_ +
                           " -c copy -f hls -hls_time 1 -hls_list_size 0 -hls_segment_filename '" +
                           (*dir_ / "hls/seg-%03d.ts").string() + "' '" +
                           (*dir_ / "hls/vod.m3u8").string() + "'")
                              .c_str()),
              0);
    for (int i = 0;; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "seg-%03d.ts", i);
      if (!fs::exists(*dir_ / "hls" / name)) break;
      segments_.push_back(name);
    }
    ASSERT_GE(segments_.size(), 10u);
  }
  static void TearDownTestSuite() { dir_.reset(); }

  // A live media playlist of segments [first, first + count), target 1 s.
  static std::string LivePlaylist(size_t first, size_t count, bool ended) {
    std::string s = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:" +
                    std::to_string(first) + "\n";
    for (size_t i = first; i < first + count && i < segments_.size(); ++i) {
      s += "#EXTINF:1.000000,\n" + segments_[i] + "\n";
    }
    if (ended) s += "#EXT-X-ENDLIST\n";
    return s;
  }
  static void WritePlaylist(FolderFetcher& fetcher, const std::string& text) {
    std::lock_guard<std::mutex> lock(*fetcher.mu);
    std::ofstream(*dir_ / "hls/live.m3u8", std::ios::binary | std::ios::trunc) << text;
  }

  // Rewrites the live playlist every 0.9 s with playlist(n) for n = first..last, as a live
  // server appends segments, until Stop() (or destruction) joins the writer thread.
  class PlaylistGrower {
   public:
    PlaylistGrower(FolderFetcher& fetcher, size_t first, size_t last,
                   std::function<std::string(size_t)> playlist)
        : writer_([this, &fetcher, first, last, playlist = std::move(playlist)] {
            for (size_t n = first; n <= last && !stop_; ++n) {
              std::this_thread::sleep_for(std::chrono::milliseconds(900));
              WritePlaylist(fetcher, playlist(n));
            }
          }) {}
    ~PlaylistGrower() { Stop(); }
    void Stop() {
      stop_ = true;
      if (writer_.joinable()) writer_.join();
    }

   private:
    std::atomic<bool> stop_{false};
    std::thread writer_;
  };

  static std::unique_ptr<testing::TempDir> dir_;
  static std::string short_gop_, long_gop_;
  static std::vector<std::string> segments_;
};
std::unique_ptr<testing::TempDir> VideoStreamTest::dir_;
std::string VideoStreamTest::short_gop_, VideoStreamTest::long_gop_;
std::vector<std::string> VideoStreamTest::segments_;

TEST_F(VideoStreamTest, KeyframeSkippingDropsPacketsButSamplesTheSameFrames) {
  VideoDecodeOptions options;
  options.scene_cuts = false;  // cuts inside dropped spans are not seen
  options.audio = false;
  options.threads = 2;
  Collect skipped, full;
  auto a = DecodeVideo(short_gop_, options, IngestLimits{}, skipped);
  options.skip_to_keyframes = false;
  auto b = DecodeVideo(short_gop_, options, IngestLimits{}, full);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_GT(a->packets_skipped, 100);  // 288 frames, about 12 sampled
  EXPECT_EQ(b->packets_skipped, 0);
  EXPECT_LT(a->frames_decoded, b->frames_decoded / 2);
  ASSERT_EQ(skipped.frames.size(), full.frames.size());
  for (size_t i = 0; i < full.frames.size(); ++i) {
    EXPECT_DOUBLE_EQ(skipped.frames[i].t, full.frames[i].t);
    EXPECT_EQ(cv::norm(skipped.frames[i].gray, full.frames[i].gray, cv::NORM_INF), 0) << i;
  }
}

TEST_F(VideoStreamTest, AGopLongerThanTheSamplingIntervalIsDecodedWhole) {
  VideoDecodeOptions options;
  options.audio = false;
  Collect sink;
  auto info = DecodeVideo(long_gop_, options, IngestLimits{}, sink);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->packets_skipped, 0);
  EXPECT_GE(sink.frames.size(), 12u);
}

TEST_F(VideoStreamTest, KeyframesArePredictedWithoutAContainerIndex) {
  // MPEG-TS over the custom AVIO has no index: the next keyframe is predicted
  // from the intervals seen.
  FolderFetcher fetcher(*dir_ / "hls");
  VideoDecodeOptions options;
  options.audio = false;
  options.scene_cuts = false;
  Collect sink;
  auto info =
      DecodeVideoUrl("http://fixture.test/vod.m3u8", fetcher, options, IngestLimits{}, sink);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_GT(info->packets_skipped, 100);
  EXPECT_GE(sink.frames.size(), 11u);
}

TEST_F(VideoStreamTest, EveryFrameIsTiedToTheFetchedSegmentItCameFrom) {
  FolderFetcher fetcher(*dir_ / "hls");
  VideoDecodeOptions options;
  options.audio = false;
  Collect sink;
  auto info =
      DecodeVideoUrl("http://fixture.test/vod.m3u8", fetcher, options, IngestLimits{}, sink);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_FALSE(info->live);
  ASSERT_EQ(info->pieces.size(), segments_.size());
  std::string all;
  for (size_t i = 0; i < segments_.size(); ++i) {
    const StreamPiece& p = info->pieces[i];
    std::string bytes = ReadAll(*dir_ / "hls" / segments_[i]);
    all += bytes;
    EXPECT_EQ(p.url, "http://fixture.test/" + segments_[i]);
    EXPECT_EQ(p.sequence, static_cast<int64_t>(i));
    EXPECT_EQ(p.size, static_cast<int64_t>(bytes.size()));
    EXPECT_EQ(p.sha256,
              Sha256Hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
  }
  EXPECT_EQ(info->content_sha256,
            Sha256Hex(reinterpret_cast<const unsigned char*>(all.data()), all.size()));
  ASSERT_FALSE(sink.frames.empty());
  for (const VideoFrame& f : sink.frames) {
    const StreamPiece* p = PieceAt(info->pieces, f.byte_pos);
    ASSERT_NE(p, nullptr) << f.t;
    // 1 s segments: the frame at t lies in segment floor(t) (EXTINF of the
    // muxer's cuts may be off by a frame).
    EXPECT_NEAR(static_cast<double>(p->sequence), std::floor(f.t), 1.0) << f.t;
  }
  EXPECT_EQ(PieceAt(info->pieces, -1), nullptr);
  EXPECT_EQ(PieceAt(info->pieces, info->pieces.back().offset + info->pieces.back().size), nullptr);
}

TEST_F(VideoStreamTest, PlaylistFieldsForLiveReading) {
  auto p = ParseHlsPlaylist(LivePlaylist(3, 2, false), "http://fixture.test/live.m3u8");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->media_sequence, 3);
  EXPECT_EQ(p->target_duration, 1.0);
  EXPECT_FALSE(p->ended);
  EXPECT_EQ(p->segments.front(), "http://fixture.test/" + segments_[3]);
  auto q = ParseHlsPlaylist(LivePlaylist(0, 2, true), "http://fixture.test/live.m3u8");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->ended);
  auto vod = ParseHlsPlaylist("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:1,\na.ts\n", "http://x/");
  ASSERT_TRUE(vod.ok());
  EXPECT_TRUE(vod->ended);
}

// The fixture appends one segment per second (sliding a 3-segment window, as
// live servers do) and finally writes #EXT-X-ENDLIST; the reader follows it to
// the end and decodes every segment once.
TEST_F(VideoStreamTest, LivePlaylistIsFollowedAsSegmentsAreAppendedUntilEndlist) {
  FolderFetcher fetcher(*dir_ / "hls");
  const size_t total = 8;
  WritePlaylist(fetcher, LivePlaylist(0, 2, false));
  PlaylistGrower grower(fetcher, 3, total, [](size_t n) {
    size_t first = n > 3 ? n - 3 : 0;
    return LivePlaylist(first, n - first, n == total);
  });
  VideoDecodeOptions options;
  options.audio = false;
  Collect sink;
  auto info =
      DecodeVideoUrl("http://fixture.test/live.m3u8", fetcher, options, IngestLimits{}, sink);
  grower.Stop();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->live);
  EXPECT_EQ(info->live_stop, "endlist");
  EXPECT_FALSE(info->truncated);
  EXPECT_GE(info->live_reloads, 3);
  EXPECT_EQ(info->live_segments_missed, 0);
  ASSERT_EQ(info->pieces.size(), total);
  for (size_t i = 0; i < total; ++i) {
    EXPECT_EQ(info->pieces[i].url, "http://fixture.test/" + segments_[i]);
    EXPECT_EQ(info->pieces[i].sequence, static_cast<int64_t>(i));
  }
  EXPECT_NEAR(info->duration_s, static_cast<double>(total), 1.0);
  EXPECT_GE(sink.frames.size(), total - 1);
}

TEST_F(VideoStreamTest, LivePlaylistStopsCleanlyAtTheSegmentBound) {
  FolderFetcher fetcher(*dir_ / "hls");
  WritePlaylist(fetcher, LivePlaylist(0, 2, false));
  PlaylistGrower grower(fetcher, 3, segments_.size(),
                        [](size_t n) { return LivePlaylist(0, n, false); });
  VideoDecodeOptions options;
  options.audio = false;
  options.live.max_segments = 4;
  Collect sink;
  auto info =
      DecodeVideoUrl("http://fixture.test/live.m3u8", fetcher, options, IngestLimits{}, sink);
  grower.Stop();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->live_stop, "max_segments");
  EXPECT_TRUE(info->truncated);
  EXPECT_EQ(info->pieces.size(), 4u);
  EXPECT_NEAR(info->duration_s, 4.0, 1.0);
}

TEST_F(VideoStreamTest, StalledLivePlaylistStopsAfterTheStallTime) {
  FolderFetcher fetcher(*dir_ / "hls");
  WritePlaylist(fetcher, LivePlaylist(0, 3, false));  // never grows
  VideoDecodeOptions options;
  options.audio = false;
  options.live.max_stall_seconds = 2;
  Collect sink;
  auto started = std::chrono::steady_clock::now();
  auto info =
      DecodeVideoUrl("http://fixture.test/live.m3u8", fetcher, options, IngestLimits{}, sink);
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->live_stop, "stalled");
  EXPECT_FALSE(info->truncated);
  EXPECT_EQ(info->pieces.size(), 3u);
  EXPECT_GE(fetcher.playlist_fetches.load(), 3);  // reloaded at half the target duration
  EXPECT_LT(waited, 60.0);                        // a bound, not a timing assert
}

TEST_F(VideoStreamTest, LiveReadingIsBoundedByWallTime) {
  FolderFetcher fetcher(*dir_ / "hls");
  WritePlaylist(fetcher, LivePlaylist(0, 1, false));
  PlaylistGrower grower(fetcher, 2, segments_.size(),  // keeps growing, never ends
                        [](size_t n) { return LivePlaylist(0, n, false); });
  VideoDecodeOptions options;
  options.audio = false;
  options.live.max_wall_seconds = 3;
  Collect sink;
  auto info =
      DecodeVideoUrl("http://fixture.test/live.m3u8", fetcher, options, IngestLimits{}, sink);
  grower.Stop();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->live_stop, "max_wall_seconds");
  EXPECT_TRUE(info->truncated);
  EXPECT_LT(info->pieces.size(), segments_.size());
}

}  // namespace
}  // namespace kagami::ingest
