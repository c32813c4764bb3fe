// FFmpeg decoding: sampling, audio, bounds and refusals.

#include "kagami/ingest/video_decoder.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace kagami::ingest {
namespace {

class Collect : public VideoSink {
 public:
  void OnFrame(VideoFrame frame) override { frames.push_back(std::move(frame)); }
  void OnAudio(const int16_t*, size_t count) override { samples += count; }
  std::vector<VideoFrame> frames;
  size_t samples = 0;
};

class VideoDecoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    clip_ = (*dir_ / "clip.mkv").string();
    std::string cmd =
        "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=640x360:rate=25 -f lavfi -i "
        "sine=f=440:sample_rate=48000 -t 10 -c:v libx264 -preset ultrafast -c:a libvorbis " +
        clip_ + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static void TearDownTestSuite() { dir_.reset(); }
  static std::unique_ptr<testing::TempDir> dir_;
  static std::string clip_;
};
std::unique_ptr<testing::TempDir> VideoDecoderTest::dir_;
std::string VideoDecoderTest::clip_;

TEST_F(VideoDecoderTest, SamplesAboutOneFramePerSecondScaledDownWithAudio) {
  Collect sink;
  VideoDecodeOptions options;
  options.max_side = 256;
  auto info = DecodeVideo(clip_, options, IngestLimits{}, sink);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->width, 640);
  EXPECT_EQ(info->video_codec, "h264");
  EXPECT_EQ(info->audio_codec, "vorbis");
  EXPECT_NEAR(info->duration_s, 10.0, 0.5);
  EXPECT_GE(sink.frames.size(), 10u);
  EXPECT_LE(sink.frames.size(), 14u);
  for (const VideoFrame& f : sink.frames) {
    EXPECT_EQ(f.gray.cols, 256);
    EXPECT_EQ(f.gray.rows, 144);
  }
  EXPECT_NEAR(static_cast<double>(sink.samples) / options.audio_sample_rate, 10.0, 0.3);
}

TEST_F(VideoDecoderTest, OversizedFramesAreRefused) {
  Collect sink;
  IngestLimits limits;
  limits.max_dimension = 320;
  auto info = DecodeVideo(clip_, VideoDecodeOptions{}, limits, sink);
  EXPECT_EQ(info.status().code(), StatusCode::kResourceExhausted);
}

TEST_F(VideoDecoderTest, DecodeTimeIsBounded) {
  Collect sink;
  VideoDecodeOptions options;
  options.max_decode_seconds = 0;
  auto info = DecodeVideo(clip_, options, IngestLimits{}, sink);
  EXPECT_EQ(info.status().code(), StatusCode::kResourceExhausted);
}

TEST_F(VideoDecoderTest, MediaDurationLimitGivesAPartialResult) {
  Collect sink;
  VideoDecodeOptions options;
  options.max_media_seconds = 3;
  auto info = DecodeVideo(clip_, options, IngestLimits{}, sink);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->truncated);
  EXPECT_LE(info->duration_s, 3.01);
  EXPECT_LE(sink.frames.size(), 5u);
}

TEST_F(VideoDecoderTest, FileSizeLimitIsChecked) {
  Collect sink;
  IngestLimits limits;
  limits.max_file_bytes = 1000;
  EXPECT_EQ(DecodeVideo(clip_, VideoDecodeOptions{}, limits, sink).status().code(),
            StatusCode::kResourceExhausted);
}

TEST_F(VideoDecoderTest, MissingEmptyAndRemoteInputsAreRefused) {
  Collect sink;
  EXPECT_EQ(DecodeVideo((*dir_ / "nope.mp4").string(), {}, {}, sink).status().code(),
            StatusCode::kNotFound);
  testing::WriteFile(*dir_ / "empty.mp4", std::string());
  EXPECT_EQ(DecodeVideo((*dir_ / "empty.mp4").string(), {}, {}, sink).status().code(),
            StatusCode::kCorrupt);
  testing::WriteFile(*dir_ / "text.mp4", std::string(5000, 'x'));
  EXPECT_EQ(DecodeVideo((*dir_ / "text.mp4").string(), {}, {}, sink).status().code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(DecodeVideo("https://example.com/a.m3u8", {}, {}, sink).status().code(),
            StatusCode::kUnsupported);
}

TEST_F(VideoDecoderTest, PlaylistCannotReachOutsideTheFileProtocol) {
  // A local playlist naming an http segment: FFmpeg's protocol whitelist
  // ("file") refuses it, so nothing is fetched.
  testing::WriteFile(*dir_ / "remote.m3u8",
                     std::string("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n"
                                 "http://127.0.0.1:9/seg0.ts\n#EXT-X-ENDLIST\n"));
  Collect sink;
  auto info = DecodeVideo((*dir_ / "remote.m3u8").string(), {}, {}, sink);
  EXPECT_FALSE(info.ok());
  EXPECT_TRUE(sink.frames.empty());
}

TEST(LooksLikeVideoTest, ByExtensionAndMagic) {
  EXPECT_TRUE(LooksLikeVideo("a/b/episode.MKV"));
  EXPECT_TRUE(LooksLikeVideo("x.m3u8"));
  EXPECT_TRUE(LooksLikeVideo("https://cdn.example/x"));
  EXPECT_FALSE(LooksLikeVideo("page.jpg"));
}

}  // namespace
}  // namespace kagami::ingest
