#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "kagami/pipeline/scanner.h"

namespace kagami::reports::internal {

// "mm:ss" (or "h:mm:ss" from one hour), seconds rounded down.
std::string FormatClock(double seconds);

// jsonl lines for a video volume's segments, one per segment:
// {"type":"match","source","unit":"segment","start","end","ref_start","ref_end"
// (seconds, 3 decimals),"matched_duration","coverage" (of the query),
// "ref_coverage","modality":"video"|"audio"|"both","score","speed","mirrored",
// "matched_frames","query_frames","mean_distance","audio_seconds","work",
// "title","ref_asset","ref_sha256","evidence":{"query_t","ref_t"}}.
std::vector<std::string> VideoSegmentJsonLines(const pipeline::VolumeReport& report);

// Text rows "    mm:ss-mm:ss -> mm:ss-mm:ss  work "title"  modality  score".
void WriteVideoSegmentsText(const pipeline::VolumeReport& report, std::ostream& out);

}  // namespace kagami::reports::internal
