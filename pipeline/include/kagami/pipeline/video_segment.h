#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "kagami/index/segment_matcher.h"
#include "kagami/index/video_store.h"

namespace kagami::pipeline {

// The query side of a segment's frame pair for a stream read over http(s),
// which cannot be re-read later: the sampled frame as fingerprinted (decoded
// from the fetched bytes), and the fetched piece (HLS media segment) whose
// bytes it was decoded from, so it can be checked against the WARC record.
struct VideoEvidenceFrame {
  double t = -1;      // query seconds
  double ref_t = -1;  // the reference time paired with it (seconds)
  cv::Mat gray;       // CV_8UC1, at most VideoDecodeOptions::max_side a side
  std::string piece_url;
  std::string piece_sha256;     // "" when the frame's bytes could not be located
  int64_t piece_sequence = -1;  // HLS media sequence number (-1 unknown)
};

// One aligned segment of a scanned video: query [start, end] is the registered
// video `ref` at [ref_start, ref_end] (segment_matcher.h), with the evidence.
struct VideoSegmentMatch {
  index::Segment segment;
  index::VideoAssetRef ref;
  double coverage = 0;                            // segment length / query duration
  double ref_coverage = 0;                        // reference length / registered video's duration
  std::optional<VideoEvidenceFrame> query_frame;  // http(s) sources only
};

}  // namespace kagami::pipeline
