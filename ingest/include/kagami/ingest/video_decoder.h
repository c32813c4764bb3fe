#pragma once

#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"

namespace kagami::ingest {

// Decoding of video files and local HLS playlists with FFmpeg (libavformat,
// libavcodec, libswscale, libswresample): every container and codec the
// system's FFmpeg reads (MP4/MOV, MKV/WebM, AVI, MPEG-TS, FLV, ...).
//
// Only FFmpeg's "file" protocol is allowed (protocol whitelist), so a local
// .m3u8 playlist reads only local segments and nothing here opens a socket.
// http(s) inputs are refused with kUnsupported: they must come through the
// crawler's fetcher (not wired yet).

struct VideoDecodeOptions {
  // Sampled frames per second (on a fixed time grid from the first frame), plus
  // one frame at each detected scene cut. 0 samples no frames.
  double frame_rate = 1.0;
  bool scene_cuts = true;
  // Sampled frames are scaled (inside the decode loop, straight from the
  // decoder's planes) so that neither side exceeds this many pixels.
  int max_side = 512;
  // Decode and deliver the audio track (mono, `audio_sample_rate` Hz, s16).
  bool audio = true;
  int audio_sample_rate = 11025;
  // Ask the decoder to skip non-reference frames (AVDISCARD_NONREF): about
  // 1.3-1.6x faster for H.264 with B-frames; sampling and scene cuts then see
  // only reference frames.
  bool skip_nonref = true;
  // Decoder threads (frame + slice threading); 0 = one per core.
  int threads = 0;
  // Wall-clock bound for one file (seconds); exceeding it ends with kResourceExhausted.
  double max_decode_seconds = 900.0;
  // Media time decoded at most (seconds); beyond it decoding stops and
  // VideoInfo::truncated is set (a partial result, not an error).
  double max_media_seconds = 4.0 * 3600.0;
};

// One sampled frame: luminance, scaled to fit max_side, pixel aspect corrected.
struct VideoFrame {
  double t = 0;            // seconds from the start of the stream
  cv::Mat gray;            // CV_8UC1, owned
  bool scene_cut = false;  // sampled because the picture changed abruptly
};

struct VideoInfo {
  std::string container;    // FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string video_codec;  // "" when there is no video stream
  std::string audio_codec;  // "" when there is no audio stream (or audio is off)
  int width = 0;            // coded size of the video stream (pixels)
  int height = 0;
  double duration_s = 0;       // media time actually decoded (seconds)
  int64_t frames_decoded = 0;  // video frames out of the decoder
  int64_t frames_sampled = 0;
  int64_t audio_samples = 0;  // delivered, at audio_sample_rate
  double audio_start_s = 0;   // stream time of the first delivered audio sample (seconds)
  bool truncated = false;     // stopped at max_media_seconds
  int decode_errors = 0;      // packets the decoder rejected (damaged data skipped)
};

// Receives what the decoder produces, in stream order, on the calling thread.
class VideoSink {
 public:
  virtual ~VideoSink() = default;
  virtual void OnFrame(VideoFrame frame) = 0;
  // Mono signed 16-bit samples at VideoDecodeOptions::audio_sample_rate, contiguous.
  virtual void OnAudio(const int16_t* samples, size_t count) = 0;
};

// True when `path` names something DecodeVideo should read: an http(s) URL or
// a file whose extension or first bytes say video or HLS (.m3u8, .mp4, .mkv, .webm,
// .avi, .ts, .flv, .mov, ...). Reads at most 64 bytes of a local file.
bool LooksLikeVideo(const std::string& path);

// Limits FFmpeg's own logging (process-wide, stderr) to errors, or silences it:
// for programs, called once from main(); libraries never change it.
void SetFfmpegLogging(bool errors_only);

// Decodes `path` and feeds `sink`. Errors: kNotFound (missing file),
// kUnsupported (http(s) URL, no video and no audio stream, unknown codec),
// kCorrupt (not a media file, zero-length, no frame decodable),
// kResourceExhausted (file larger than limits.max_file_bytes, frame larger
// than limits.max_dimension / max_pixels, decode time over
// max_decode_seconds). A stream damaged midway yields the frames before and
// after the damage (decode_errors counts the rejected packets). Never blocks
// on the network. Thread-safe: no shared state (FFmpeg's log level is left as is).
Result<VideoInfo> DecodeVideo(const std::string& path, const VideoDecodeOptions& options,
                              const IngestLimits& limits, VideoSink& sink);

}  // namespace kagami::ingest
