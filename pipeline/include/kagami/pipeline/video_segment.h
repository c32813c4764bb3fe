#pragma once

#include <string>

#include "kagami/index/segment_matcher.h"
#include "kagami/index/video_store.h"

namespace kagami::pipeline {

// One aligned segment of a scanned video: query [start, end] is the registered
// video `ref` at [ref_start, ref_end] (segment_matcher.h), with the evidence.
struct VideoSegmentMatch {
  index::Segment segment;
  index::VideoAssetRef ref;
  double coverage = 0;      // segment length / query duration
  double ref_coverage = 0;  // reference length / registered video's duration
};

}  // namespace kagami::pipeline
