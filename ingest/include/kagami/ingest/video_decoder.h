#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "kagami/base/status.h"
#include "kagami/ingest/byte_fetcher.h"
#include "kagami/ingest/limits.h"

namespace kagami::ingest {

// Decoding of video files and local HLS playlists with FFmpeg (libavformat,
// libavcodec, libswscale, libswresample): every container and codec the
// system's FFmpeg reads (MP4/MOV, MKV/WebM, AVI, MPEG-TS, FLV, ...).
//
// Only FFmpeg's "file" protocol is allowed (protocol whitelist), so a local
// .m3u8 playlist reads only local segments and nothing here opens a socket.
// http(s) inputs are read by DecodeVideoUrl through a ByteFetcher (the
// crawler's safe fetcher), never by FFmpeg's network stack.

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

// Decodes an HLS stream (RFC 8216) or a single video file at an http(s) URL,
// every byte fetched through `fetcher`: a master playlist's variant (the
// lowest bandwidth at least 360 lines high, else the lowest), then its media
// segments in order, concatenated into one demuxer through a custom
// AVIOContext (MPEG-TS, or fragmented MP4 after its EXT-X-MAP init segment).
// Segments are fetched as the demuxer reads them, so one segment at a time is
// in memory. Limits: playlists at most 4 MiB, 20000 segments, all bytes
// together at most limits.max_file_bytes, max_decode_seconds wall clock.
// Errors as DecodeVideo, plus kUnsupported for encrypted streams
// (EXT-X-KEY other than NONE) and byte-range segments, and the fetcher's
// errors (a segment failing midway ends the stream there: a partial result
// when frames were decoded).
Result<VideoInfo> DecodeVideoUrl(const std::string& url, ByteFetcher& fetcher,
                                 const VideoDecodeOptions& options, const IngestLimits& limits,
                                 VideoSink& sink);

// One media playlist of an HLS stream, as parsed (exposed for tests).
struct HlsPlaylist {
  bool master = false;
  std::string variant_url;            // master: the chosen variant (absolute)
  std::string init_url;               // EXT-X-MAP URI ("" if none)
  std::vector<std::string> segments;  // absolute URLs, in order
  std::vector<double> durations;      // EXTINF seconds, per segment
};
// Parses playlist text fetched from `url` (relative URIs resolved against it).
Result<HlsPlaylist> ParseHlsPlaylist(const std::string& text, const std::string& url);

}  // namespace kagami::ingest
