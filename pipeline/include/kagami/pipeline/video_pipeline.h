#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/video_fingerprint.h"
#include "kagami/index/segment_matcher.h"
#include "kagami/index/store.h"
#include "kagami/index/video_store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"

namespace kagami::pipeline {

// Registration and scanning of videos and HLS playlists (ingest/video_decoder.h),
// called by RegisterWork and Scan for inputs that IsVideoInput() accepts.

// A video file or local .m3u8 playlist (by extension or magic bytes), or an
// http(s) URL (read through VideoOptions::fetcher; refused without one).
bool IsVideoInput(const std::string& path);

// `paths` with the videos inside each folder listed right after it, so that
// register, scan and hash send them to the video pipeline (ExpandInputs
// skips them). A folder is kept for its images, archives, PDFs and EPUBs
// unless videos (and files of no page format, such as subtitles) are all it
// holds. Videos are found as ExpandInputs finds pages: recursively, in natural
// order of the relative path, skipping hidden entries, __MACOSX and symlinked
// folders, at most limits.max_folder_depth levels and limits.max_folder_files
// files looked at. Other paths are unchanged; nothing is reported here (an
// unreadable folder is ExpandInputs' error).
std::vector<std::string> WithFolderVideos(const std::vector<std::string>& paths,
                                          const ingest::IngestLimits& limits);

struct VideoOptions {
  // Registration samples more densely than scanning, so that a query frame
  // always lies within 0.25 s of a registered one.
  double register_frame_rate = 2.0;
  double scan_frame_rate = 1.0;
  // Frame hits within this many PDQ bits vote. Above 31 the index scans all
  // frame codes (exact; ~1k queries/s per 100k codes on one core), but
  // downscaled, cropped, subtitled copies sit at 24-46 bits from their
  // registered frames (measured on the e2e clips) while unrelated frames sit
  // near 128; temporal voting (segment_matcher.h) rejects chance hits.
  int frame_radius = 40;
  int min_query_quality = 30;  // query frames below this PDQ quality are not searched
  // Also search each query frame's core view (fingerprint::CoreRect: clear of
  // corner logos and subtitles) and its mirror image.
  bool core_view = true;
  size_t max_hits_per_frame = 64;
  index::SegmentOptions segments;
  int decoder_threads = 0;  // 0 = one per core
  // Scanning reads http(s) URLs (HLS playlists, video files) through this
  // fetcher (the crawler's safe fetcher); null refuses them. Not owned.
  ingest::ByteFetcher* fetcher = nullptr;
  // Streams read over http(s) keep their sampled frames (in memory) so
  // that each segment's frame pair can be shown later
  // (VideoSegmentMatch::query_frame); above this many bytes every other kept
  // frame is dropped, and then only every 2nd, 4th, ... new one kept.
  size_t evidence_frames_max_bytes = 256u << 20;
  // Live HLS playlists (no #EXT-X-ENDLIST): how long to follow them.
  ingest::VideoDecodeOptions::Live live;
};

// Defaults, with the decoder threads of `extract`.
inline VideoOptions VideoOptionsFor(const ExtractOptions& extract) {
  VideoOptions v;
  v.decoder_threads = extract.threads;
  return v;
}

// Registers each video as one asset of `work` (already upserted), appending
// to `summary`; frames count as units. Idempotent by content SHA-256.
// Returns a non-ok Status only when the store fails.
Status RegisterVideos(index::Store& store, const index::Work& work,
                      const std::vector<std::string>& paths, const VideoOptions& options,
                      const ingest::IngestLimits& limits, RegisterSummary& summary);

// Scans videos one by one (calling on_volume once each, in order). A video
// matches when at least one aligned segment is found.
Status ScanVideos(index::Store& store, const std::vector<std::string>& paths,
                  const VideoOptions& options, const ingest::IngestLimits& limits,
                  const std::function<void(const VolumeReport&)>& on_volume);

}  // namespace kagami::pipeline
