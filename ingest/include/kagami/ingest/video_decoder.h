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
  // After the last sample of a GOP, drop video packets up to the next
  // keyframe when no sample time falls before it (keyframe times from the
  // container's index, MP4/MKV, else predicted from the longest of the last
  // three keyframe intervals seen). Sampled frames stay bit-identical to a full
  // decode; scene cuts inside dropped spans are not seen. Helps short GOPs
  // (streaming encodes, 1-2 s); a 10 s GOP sampled at 1/s drops nothing.
  bool skip_to_keyframes = true;
  // Skip the in-loop deblocking filter on every frame (AVCodecContext
  // skip_loop_filter = AVDISCARD_ALL). Faster H.264 decoding, but reference
  // frames drift from the encoder's, so hashes move a few bits: off by
  // default (measured in bench/e2e/video_throughput.cc).
  bool skip_loop_filter = false;
  // Decoder threads (frame + slice threading); 0 = one per core.
  int threads = 0;
  // Wall-clock bound for one file (seconds); exceeding it ends with kResourceExhausted.
  double max_decode_seconds = 900.0;
  // Media time decoded at most (seconds); beyond it decoding stops and
  // VideoInfo::truncated is set (a partial result, not an error).
  double max_media_seconds = 4.0 * 3600.0;
  // Live HLS media playlists (no #EXT-X-ENDLIST): the playlist is re-read
  // every target duration (half of it after a reload that brought nothing
  // new, RFC 8216 6.3.4) and new media segments are decoded as they appear,
  // until the playlist ends or one of these bounds is reached (a clean stop:
  // VideoInfo::live_stop says why, truncated is set for a bound).
  struct Live {
    double max_media_seconds = 600;  // EXTINF seconds taken from a live playlist
    size_t max_segments = 600;       // media segments taken
    double max_wall_seconds = 660;   // from the first playlist fetch
    // Stop when no new segment appeared for this long (0: three target durations).
    double max_stall_seconds = 0;
  } live;
};

// One sampled frame: luminance, scaled to fit max_side, pixel aspect corrected.
struct VideoFrame {
  double t = 0;            // seconds from the start of the stream
  cv::Mat gray;            // CV_8UC1, owned
  bool scene_cut = false;  // sampled because the picture changed abruptly
  // Byte offset in the input of the packet the frame was decoded from (-1
  // unknown); for URLs, in the concatenation of the fetched pieces
  // (VideoInfo::pieces, see PieceAt).
  int64_t byte_pos = -1;
};

// One fetched resource of a stream read by DecodeVideoUrl (an HLS init or
// media segment, or the whole file): where its bytes lie in the concatenated
// input, and their SHA-256, so a frame can be tied to the bytes it came from
// (and to their WARC record).
struct StreamPiece {
  std::string url;        // as fetched (final URL after redirects)
  int64_t offset = 0;     // first byte in the concatenated input
  int64_t size = 0;       // bytes
  std::string sha256;     // lowercase hex of the bytes
  int64_t sequence = -1;  // HLS media sequence number (-1: init segment or plain file)
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
  int64_t audio_samples = 0;    // delivered, at audio_sample_rate
  double audio_start_s = 0;     // stream time of the first delivered audio sample (seconds)
  bool truncated = false;       // stopped at max_media_seconds
  int decode_errors = 0;        // packets the decoder rejected (damaged data skipped)
  int64_t packets_skipped = 0;  // video packets dropped before a keyframe (skip_to_keyframes)
  // DecodeVideoUrl only: the fetched pieces in input order.
  std::vector<StreamPiece> pieces;
  std::string content_sha256;  // of the pieces' bytes concatenated (not the playlists)
  // Live HLS: set when the media playlist had no #EXT-X-ENDLIST.
  bool live = false;
  int live_reloads = 0;              // playlist re-reads
  int64_t live_segments_missed = 0;  // segments that left the playlist before being read
  // Why reading a live playlist stopped: "endlist", "max_segments",
  // "max_media_seconds", "max_wall_seconds", "stalled", or a fetch error.
  std::string live_stop;
};

// The piece holding byte `pos` of the input (nullptr when none).
const StreamPiece* PieceAt(const std::vector<StreamPiece>& pieces, int64_t pos);

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
// when frames were decoded). A media playlist without #EXT-X-ENDLIST is live:
// it is re-read as VideoDecodeOptions::live describes, sleeping on the
// calling thread between reloads. VideoInfo::pieces lists every fetched
// piece with its SHA-256.
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
  int64_t media_sequence = 0;         // EXT-X-MEDIA-SEQUENCE: the first segment's number
  double target_duration = 0;         // EXT-X-TARGETDURATION seconds (0 if absent)
  bool ended = false;  // EXT-X-ENDLIST, or EXT-X-PLAYLIST-TYPE:VOD (no segment will be added)
};
// Parses playlist text fetched from `url` (relative URIs resolved against it).
Result<HlsPlaylist> ParseHlsPlaylist(const std::string& text, const std::string& url);

}  // namespace kagami::ingest
