#include "kagami/fingerprint/video_fingerprint.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "kagami/fingerprint/page_normalizer.h"
#include "temp_dir.h"

namespace kagami::fingerprint {
namespace {

// A letterboxed stream whose first 6 s are a dark, flat scene: each of those
// frames alone is uniform from edge to edge (a per-frame trim cannot find its
// bars), but the bars stay still while the picture after it moves, so every
// frame gets the same content rect, and its core view lies inside it.
TEST(VideoFingerprintTest, BarsThatStayStillAreTrimmedEvenOnDarkFlatFrames) {
  testing::TempDir dir;
  const std::string clip = (dir / "dark_letterbox.mp4").string();
  const std::string cmd =
      "ffmpeg -nostdin -v error -y -f lavfi -i color=c=0x141414:s=320x136:r=25:d=6 -f lavfi -i "
      "testsrc2=s=320x136:r=25:d=6 -filter_complex \"[0][1]concat=n=2:v=1,pad=320:180:0:22:black\" "
      "-c:v libx264 -preset ultrafast -crf 18 -pix_fmt yuv420p " +
      clip + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  VideoFingerprintOptions options;
  options.decode.frame_rate = 1.0;
  std::vector<cv::Mat> gray;
  auto fp = FingerprintVideo(clip, options, ingest::IngestLimits{}, &gray);
  ASSERT_TRUE(fp.ok()) << fp.status().ToString();
  ASSERT_GE(fp->frames.size(), 10u);
  int dark_frames = 0;
  for (size_t i = 0; i < fp->frames.size(); ++i) {
    const FrameFingerprint& f = fp->frames[i];
    ASSERT_EQ(f.frame_width, 320);
    ASSERT_EQ(f.frame_height, 180);
    EXPECT_TRUE(f.trimmed.has_value()) << "t=" << f.t;
    EXPECT_EQ(f.content.x, 0) << "t=" << f.t;
    EXPECT_EQ(f.content.width, 320) << "t=" << f.t;
    EXPECT_NEAR(f.content.y, 22, 2) << "t=" << f.t;
    EXPECT_NEAR(f.content.height, 136, 4) << "t=" << f.t;
    const cv::Rect core = CoreRect(f.content);
    EXPECT_EQ(core & f.content, core);
    EXPECT_NEAR(core.width, 0.6 * f.content.width, 2);
    if (f.t < 5.5) {
      ++dark_frames;
      // What this frame alone says: no bars (it is uniform), or a wrong rect.
      EXPECT_NE(TrimUniformBorders(gray[i]), f.content) << "t=" << f.t;
    }
  }
  EXPECT_GE(dark_frames, 5);
}

}  // namespace
}  // namespace kagami::fingerprint
