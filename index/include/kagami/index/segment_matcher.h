#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace kagami::index {

// Time-aligned segment matching for video: frame hits and audio hits are
// turned into aligned segments "query [start, end] is reference asset A at
// [ref_start, ref_end]".
//
// Method (the Hough-style temporal voting of video copy detection, e.g. Douze,
// Jegou & Schmid, "An image-based approach to video copy detection with
// spatio-temporal post-filtering", IEEE Trans. Multimedia 12(4), 2010, and
// the offset histograms of Wang's "An Industrial-Strength Audio Search
// Algorithm", ISMIR 2003): every frame hit (t_query, t_ref) votes, per
// reference asset, for the line t_ref = speed * t_query + offset, with speed
// on a grid within +-max_speed_change (23.976 vs 25 fps is 4.3%) and offset in
// bins of `tolerance_s`; the best line's inliers are refitted by least
// squares, split where the query has gaps longer than max_gap_s, and each run
// that is long enough, dense enough (matched / sampled query frames in the
// span) and close enough becomes a segment; its inliers are removed and the
// next line is sought. Frame evidence alone must clear every threshold, so a
// handful of coincidental near-duplicate frames (black, titles) cannot make a
// segment.
//
// Pure functions, thread-safe.

struct FrameMatch {
  int64_t asset_id = 0;
  double tq = 0;          // query time (seconds)
  double tr = 0;          // reference time (seconds)
  int distance = 0;       // PDQ bits
  bool mirrored = false;  // the query frame's mirror image matched
};

struct SegmentOptions {
  int min_frames = 5;         // distinct matched query frames
  double min_span_s = 4.0;    // query seconds from first to last matched frame
  double max_gap_s = 12.0;    // a longer run of unmatched query time splits a segment
  double tolerance_s = 1.5;   // |t_ref - (speed * t_query + offset)| for an inlier
  double min_density = 0.35;  // matched / sampled query frames within the segment
  double max_speed_change = 0.06;
  int max_mean_distance = 40;  // mean PDQ bits over the segment's matched frames
  int max_segments_per_asset = 8;
  // Audio (Chromaprint raw values): a segment needs this many seconds where the
  // smoothed bit error stays at or below max_audio_bit_error (of 32 bits;
  // unrelated audio sits near 16).
  double min_audio_s = 8.0;
  double max_audio_bit_error = 9.0;
  double audio_smooth_s = 2.0;
};

struct Segment {
  int64_t asset_id = 0;
  double start = 0, end = 0;          // query seconds
  double ref_start = 0, ref_end = 0;  // reference seconds
  double speed = 1.0;                 // d t_ref / d t_query
  int matched_frames = 0;             // video: matched query frames; audio: 0
  int query_frames = 0;               // video: sampled query frames within [start, end]
  double mean_distance = 0;           // video: PDQ bits; audio: bits of 32
  double audio_s = 0;                 // seconds of matching audio inside the segment
  double score = 0;                   // 0..1
  bool mirrored = false;              // most matched frames were mirror images
  std::string modality = "video";     // "video", "audio" or "both"
  double query_match_t = -1;          // a matched frame pair (evidence): query time
  double ref_match_t = -1;            //   and its reference time
};

// Segments from frame hits. `query_times`: every sampled query frame's time
// (density). Segments come back sorted by query start.
std::vector<Segment> FindVideoSegments(std::vector<FrameMatch> matches,
                                       const std::vector<double>& query_times,
                                       const SegmentOptions& options = {});

// In-memory inverted index of registered Chromaprint raw fingerprints.
class AudioIndex {
 public:
  void Add(int64_t asset_id, double item_s, double start_s, const std::vector<uint32_t>& values);
  bool empty() const { return tracks_.empty(); }
  // Audio segments of the query against every registered track (speed 1).
  std::vector<Segment> Match(const std::vector<uint32_t>& query, double item_s, double start_s,
                             const SegmentOptions& options = {}) const;

 private:
  struct Track {
    int64_t asset_id;
    double item_s, start_s;
    std::vector<uint32_t> values;
  };
  std::vector<Track> tracks_;
  // value -> (track, position); values that recur too often (silence) are dropped at query time.
  std::unordered_map<uint32_t, std::vector<std::pair<uint32_t, uint32_t>>> postings_;
};

// Joins audio segments to the video segments they confirm (same asset,
// overlapping query time, offsets within 2.5 s): those become "both"; audio
// segments that confirm nothing stay "audio". Sorted by query start.
std::vector<Segment> MergeModalities(std::vector<Segment> video, std::vector<Segment> audio);

}  // namespace kagami::index
