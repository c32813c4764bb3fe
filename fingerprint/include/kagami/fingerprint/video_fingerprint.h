#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "kagami/base/status.h"
#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/video_decoder.h"

namespace kagami::fingerprint {

// Fingerprint of one sampled video frame.
//
// PDQ (see pdq_hasher.h) of the frame as decoded ("full") and of its content
// with letterbox / pillarbox bars trimmed, each also as its left-right mirror
// image (from the same DCT, Dihedral kFlipY), so that a mirrored copy matches
// without re-decoding. The bars are those that stay still over the stream
// (flat, at one level, in every sampled frame: a dark scene's edge moves at
// some point, bars never do); a stream without such bars falls back to each
// frame's own uniform borders (TrimUniformBorders, page_normalizer.h), which
// finds a letterboxed excerpt inside other footage. Frames are held back (at
// most 24) until the bars have been seen over the stream's first frames.
struct FrameFingerprint {
  double t = 0;  // seconds from the start of the stream
  bool scene_cut = false;
  PdqHash full;
  Hash256 full_mirror;
  // Set when trimming removed bars; otherwise the trimmed view is the full one.
  std::optional<PdqHash> trimmed;
  std::optional<Hash256> trimmed_mirror;
  cv::Rect content;  // the trimmed rect in the sampled frame's pixels
  // The central 90% (each side) of the content: what a copy cropped by up to
  // ~10% shows. Registered and indexed, so cropped copies match; not needed
  // for queries.
  PdqHash center;
  // The core of the content, clear of the places where pirate overlays sit:
  // x in [20%, 80%], y in [22%, 74%] of the content inside stable bars
  // (CoreRect; corner logos within the outer 20% of the width or the top 22%,
  // subtitles in the bottom 26%). On smooth photographs a 140x50 logo whose
  // box reaches 17% of the height moved a core from 15% by p50/p95 18/50 bits,
  // one from 20-22% by 6/12 (bench/RESULTS.md section 9). Hashed at
  // registration and at scan time and matched core to core, with its mirror
  // image for flipped copies.
  PdqHash core;
  Hash256 core_mirror;
  int frame_width = 0, frame_height = 0;  // the sampled (scaled) frame
  int64_t byte_pos = -1;                  // ingest::VideoFrame::byte_pos
};

// Chromaprint's raw fingerprint of the audio track: one 32-bit sub-fingerprint
// per item_s seconds (Chromaprint 1.5 default algorithm: 11025 Hz mono, frames
// of 4096 samples with overlap 2/3, 12 chroma bands, 16 classifiers of 2 bits;
// Lukas Lalinsky, https://oxygene.sk/2011/01/how-does-chromaprint-work/ and
// the acoustid/chromaprint sources). values[i] covers the audio starting at
// start_s + i * item_s.
struct AudioFingerprint {
  std::vector<uint32_t> values;
  double item_s = 0;
  double start_s = 0;
};

struct VideoFingerprint {
  ingest::VideoInfo info;
  std::vector<FrameFingerprint> frames;
  AudioFingerprint audio;  // empty without an audio track
};

struct VideoFingerprintOptions {
  ingest::VideoDecodeOptions decode;
  // Keep (a copy of) each sampled gray frame, e.g. for evidence exhibits.
  bool keep_frames = false;
  // Reads http(s) URLs (HLS or a video file) through this fetcher
  // (ingest::DecodeVideoUrl); null refuses URLs. Not owned.
  ingest::ByteFetcher* fetcher = nullptr;
  // Called with each sampled frame (on the decoding thread, before it is
  // hashed), e.g. to keep evidence images of a stream that cannot be re-read.
  std::function<void(const ingest::VideoFrame&)> on_frame;
};

// The core view's rect inside `content` (see FrameFingerprint::core).
cv::Rect CoreRect(const cv::Rect& content);

// Decodes `path` (ingest::DecodeVideo) and fingerprints every sampled frame and
// the audio track on the calling thread. Frames are hashed as they are
// decoded, so memory does not grow with the video's resolution. Errors are
// DecodeVideo's. Thread-safe (no shared state).
Result<VideoFingerprint> FingerprintVideo(const std::string& path,
                                          const VideoFingerprintOptions& options,
                                          const ingest::IngestLimits& limits,
                                          std::vector<cv::Mat>* kept_frames = nullptr);

}  // namespace kagami::fingerprint
