#include "video_report.h"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace kagami::reports::internal {
namespace {

double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

}  // namespace

std::string FormatClock(double seconds) {
  long s = seconds > 0 ? static_cast<long>(std::floor(seconds)) : 0;
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

std::vector<std::string> VideoSegmentJsonLines(const pipeline::VolumeReport& report) {
  std::vector<std::string> lines;
  for (const pipeline::VideoSegmentMatch& m : report.segments) {
    const index::Segment& s = m.segment;
    nlohmann::json j;
    j["type"] = "match";
    j["source"] = report.source;
    j["unit"] = "segment";
    j["start"] = Round3(s.start);
    j["end"] = Round3(s.end);
    j["ref_start"] = Round3(s.ref_start);
    j["ref_end"] = Round3(s.ref_end);
    j["matched_duration"] = Round3(s.end - s.start);
    j["coverage"] = Round3(m.coverage);
    j["ref_coverage"] = Round3(m.ref_coverage);
    j["modality"] = s.modality;
    j["score"] = Round3(s.score);
    j["speed"] = Round3(s.speed);
    j["mirrored"] = s.mirrored;
    j["matched_frames"] = s.matched_frames;
    j["query_frames"] = s.query_frames;
    j["mean_distance"] = Round3(s.mean_distance);
    j["audio_seconds"] = Round3(s.audio_s);
    j["work"] = m.ref.work_id;
    j["title"] = m.ref.title;
    j["ref_asset"] = m.ref.path;
    j["ref_sha256"] = m.ref.sha256;
    if (s.query_match_t >= 0) {
      j["evidence"] = {{"query_t", Round3(s.query_match_t)}, {"ref_t", Round3(s.ref_match_t)}};
    }
    lines.push_back(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return lines;
}

void WriteVideoSegmentsText(const pipeline::VolumeReport& report, std::ostream& out) {
  for (const pipeline::VideoSegmentMatch& m : report.segments) {
    const index::Segment& s = m.segment;
    out << "    " << FormatClock(s.start) << '-' << FormatClock(s.end) << " -> "
        << FormatClock(s.ref_start) << '-' << FormatClock(s.ref_end) << "  work " << m.ref.work_id
        << " \"" << m.ref.title << "\"  " << s.modality;
    char tail[96];
    std::snprintf(tail, sizeof tail, "  score %.2f, %d%% of the upload%s\n", s.score,
                  static_cast<int>(std::lround(m.coverage * 100)), s.mirrored ? ", mirrored" : "");
    out << tail;
  }
}

}  // namespace kagami::reports::internal
