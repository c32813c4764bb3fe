#include "kagami/index/segment_matcher.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <set>

namespace kagami::index {
namespace {

struct Line {
  double speed = 1, offset = 0;
  int votes = 0;
};

// The (speed, offset) line with the most distinct query frames on it.
Line BestLine(const std::vector<FrameMatch>& m, const SegmentOptions& o) {
  Line best;
  const double step = 0.004;
  int steps = static_cast<int>(std::ceil(o.max_speed_change / step));
  for (int k = -steps; k <= steps; ++k) {
    double speed = 1.0 + k * step;
    // bin -> distinct query times (by rounding to ms)
    std::map<int64_t, std::set<int64_t>> bins;
    for (const FrameMatch& f : m) {
      double b = (f.tr - speed * f.tq) / o.tolerance_s;
      int64_t bin = static_cast<int64_t>(std::floor(b));
      int64_t q = std::llround(f.tq * 1000);
      bins[bin].insert(q);
    }
    for (auto it = bins.begin(); it != bins.end(); ++it) {
      // A bin and its right neighbour together (an offset on a bin edge).
      std::set<int64_t> both = it->second;
      auto next = std::next(it);
      if (next != bins.end() && next->first == it->first + 1)
        both.insert(next->second.begin(), next->second.end());
      int votes = static_cast<int>(both.size());
      if (votes > best.votes ||
          (votes == best.votes && std::fabs(speed - 1) < std::fabs(best.speed - 1))) {
        best.votes = votes;
        best.speed = speed;
        best.offset = (it->first + 1.0) * o.tolerance_s;  // centre of the pair of bins
      }
    }
  }
  return best;
}

std::vector<size_t> Inliers(const std::vector<FrameMatch>& m, double speed, double offset,
                            double tol) {
  std::vector<size_t> in;
  for (size_t i = 0; i < m.size(); ++i) {
    if (std::fabs(m[i].tr - (speed * m[i].tq + offset)) <= tol) in.push_back(i);
  }
  return in;
}

// Least-squares t_ref = speed * t_query + offset over the inliers, speed clamped.
void Refit(const std::vector<FrameMatch>& m, const std::vector<size_t>& in, const SegmentOptions& o,
           double& speed, double& offset) {
  if (in.size() < 3) return;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i : in) {
    sx += m[i].tq;
    sy += m[i].tr;
    sxx += m[i].tq * m[i].tq;
    sxy += m[i].tq * m[i].tr;
  }
  double n = static_cast<double>(in.size());
  double var = sxx - sx * sx / n;
  if (var > 25.0) {  // at least ~5 s of spread to estimate a slope
    speed =
        std::clamp((sxy - sx * sy / n) / var, 1.0 - o.max_speed_change, 1.0 + o.max_speed_change);
  }
  offset = (sy - speed * sx) / n;
}

size_t CountIn(const std::vector<double>& sorted, double a, double b) {
  return static_cast<size_t>(std::upper_bound(sorted.begin(), sorted.end(), b + 1e-6) -
                             std::lower_bound(sorted.begin(), sorted.end(), a - 1e-6));
}

std::vector<Segment> SegmentsForAsset(std::vector<FrameMatch> m, const std::vector<double>& qt,
                                      const SegmentOptions& o) {
  std::vector<Segment> out;
  for (int round = 0; round < o.max_segments_per_asset * 2 && !m.empty(); ++round) {
    Line line = BestLine(m, o);
    if (line.votes < o.min_frames) break;
    double speed = line.speed, offset = line.offset;
    std::vector<size_t> in = Inliers(m, speed, offset, o.tolerance_s);
    Refit(m, in, o, speed, offset);
    in = Inliers(m, speed, offset, o.tolerance_s);
    if (in.empty()) break;
    // Best inlier per query time.
    std::map<int64_t, size_t> per_q;
    for (size_t i : in) {
      int64_t q = std::llround(m[i].tq * 1000);
      auto it = per_q.find(q);
      if (it == per_q.end() || m[i].distance < m[it->second].distance) per_q[q] = i;
    }
    std::vector<size_t> chosen;
    for (auto& [q, i] : per_q) chosen.push_back(i);
    // Split into runs at long gaps.
    size_t a = 0;
    while (a < chosen.size()) {
      size_t b = a;
      while (b + 1 < chosen.size() && m[chosen[b + 1]].tq - m[chosen[b]].tq <= o.max_gap_s) ++b;
      int count = static_cast<int>(b - a + 1);
      double start = m[chosen[a]].tq, end = m[chosen[b]].tq;
      size_t sampled = std::max<size_t>(CountIn(qt, start, end), count);
      double density = static_cast<double>(count) / sampled;
      double dist = 0;
      int mirrored = 0;
      size_t best = chosen[a];
      for (size_t k = a; k <= b; ++k) {
        dist += m[chosen[k]].distance;
        mirrored += m[chosen[k]].mirrored ? 1 : 0;
        if (m[chosen[k]].distance < m[best].distance) best = chosen[k];
      }
      dist /= count;
      if (count >= o.min_frames && end - start >= o.min_span_s && density >= o.min_density &&
          dist <= o.max_mean_distance) {
        Segment s;
        s.asset_id = m[chosen[a]].asset_id;
        s.start = start;
        s.end = end;
        s.speed = speed;
        // The reference range from the run's best match per query frame
        // (median offset): the line fit above uses every inlier within the
        // tolerance, which slow pans and zooms (many near-identical
        // neighbours on one side) bias by up to the tolerance.
        std::vector<double> offsets;
        for (size_t k = a; k <= b; ++k) {
          offsets.push_back(m[chosen[k]].tr - speed * m[chosen[k]].tq);
        }
        std::nth_element(offsets.begin(), offsets.begin() + offsets.size() / 2, offsets.end());
        const double run_offset = offsets[offsets.size() / 2];
        s.ref_start = std::max(0.0, speed * start + run_offset);
        s.ref_end = std::max(0.0, speed * end + run_offset);
        s.matched_frames = count;
        s.query_frames = static_cast<int>(sampled);
        s.mean_distance = dist;
        s.mirrored = mirrored * 2 > count;
        s.score = std::clamp(density * (1.0 - dist / 128.0), 0.0, 1.0);
        s.query_match_t = m[best].tq;
        s.ref_match_t = m[best].tr;
        out.push_back(s);
      }
      a = b + 1;
    }
    // Remove this line's inliers and look for the next one.
    std::vector<bool> drop(m.size(), false);
    for (size_t i : in) drop[i] = true;
    std::vector<FrameMatch> rest;
    for (size_t i = 0; i < m.size(); ++i) {
      if (!drop[i]) rest.push_back(m[i]);
    }
    m.swap(rest);
    if (static_cast<int>(out.size()) >= o.max_segments_per_asset) break;
  }
  return out;
}

bool ByStart(const Segment& a, const Segment& b) {
  return a.start != b.start ? a.start < b.start : a.asset_id < b.asset_id;
}

}  // namespace

std::vector<Segment> FindVideoSegments(std::vector<FrameMatch> matches,
                                       const std::vector<double>& query_times,
                                       const SegmentOptions& options) {
  std::vector<double> qt = query_times;
  std::sort(qt.begin(), qt.end());
  std::map<int64_t, std::vector<FrameMatch>> by_asset;
  for (const FrameMatch& f : matches) by_asset[f.asset_id].push_back(f);
  std::vector<Segment> out;
  for (auto& [asset, m] : by_asset) {
    for (Segment& s : SegmentsForAsset(std::move(m), qt, options)) out.push_back(s);
  }
  std::sort(out.begin(), out.end(), ByStart);
  return out;
}

void AudioIndex::Add(int64_t asset_id, double item_s, double start_s,
                     const std::vector<uint32_t>& values) {
  if (values.empty() || item_s <= 0) return;
  uint32_t track = static_cast<uint32_t>(tracks_.size());
  tracks_.push_back(Track{asset_id, item_s, start_s, values});
  for (uint32_t i = 0; i < values.size(); ++i) postings_[values[i]].emplace_back(track, i);
}

std::vector<Segment> AudioIndex::Match(const std::vector<uint32_t>& query, double item_s,
                                       double start_s, const SegmentOptions& o) const {
  std::vector<Segment> out;
  if (query.empty() || tracks_.empty() || item_s <= 0) return out;
  // Offset votes per track from exact sub-fingerprint hits.
  constexpr size_t kMaxPostings = 200;  // a value this common (silence, a pure tone) says nothing
  std::map<std::pair<uint32_t, int64_t>, int> votes;
  for (size_t i = 0; i < query.size(); ++i) {
    auto it = postings_.find(query[i]);
    if (it == postings_.end() || it->second.size() > kMaxPostings) continue;
    for (auto [track, pos] : it->second) {
      ++votes[{track, static_cast<int64_t>(pos) - static_cast<int64_t>(i)}];
    }
  }
  // Candidate offsets: per track, the best few with at least 3 votes, merging neighbours.
  std::map<uint32_t, std::vector<std::pair<int, int64_t>>> candidates;
  for (const auto& [key, n] : votes) {
    if (n >= 3) candidates[key.first].emplace_back(n, key.second);
  }
  int window = std::max(1, static_cast<int>(std::lround(o.audio_smooth_s / item_s)));
  for (auto& [track_index, list] : candidates) {
    std::sort(list.rbegin(), list.rend());
    const Track& track = tracks_[track_index];
    std::vector<int64_t> tried;
    for (size_t c = 0; c < list.size() && tried.size() < 4; ++c) {
      int64_t d = list[c].second;
      bool near = false;
      for (int64_t t : tried) near |= std::llabs(t - d) <= 2;
      if (near) continue;
      tried.push_back(d);
      // Bit errors along the alignment, smoothed over `window` items.
      int64_t lo = std::max<int64_t>(0, -d);
      int64_t hi = std::min<int64_t>(query.size(), static_cast<int64_t>(track.values.size()) - d);
      if (hi - lo < window) continue;
      std::vector<int> err(hi - lo);
      for (int64_t i = lo; i < hi; ++i) err[i - lo] = std::popcount(query[i] ^ track.values[i + d]);
      std::vector<bool> good(err.size(), false);
      int64_t sum = 0;
      for (size_t i = 0; i < err.size(); ++i) {
        sum += err[i];
        if (i >= static_cast<size_t>(window)) sum -= err[i - window];
        if (i + 1 >= static_cast<size_t>(window) &&
            static_cast<double>(sum) / window <= o.max_audio_bit_error) {
          for (size_t k = i + 1 - window; k <= i; ++k) good[k] = true;
        }
      }
      size_t a = 0;
      while (a < good.size()) {
        if (!good[a]) {
          ++a;
          continue;
        }
        size_t b = a;
        while (b + 1 < good.size() && good[b + 1]) ++b;
        double len = (b - a + 1) * item_s;
        if (len >= o.min_audio_s) {
          double e = 0;
          for (size_t k = a; k <= b; ++k) e += err[k];
          e /= (b - a + 1);
          Segment s;
          s.asset_id = track.asset_id;
          s.modality = "audio";
          s.start = start_s + (lo + a) * item_s;
          s.end = start_s + (lo + b + 1) * item_s;
          s.ref_start = track.start_s + (lo + a + d) * item_s;
          s.ref_end = track.start_s + (lo + b + 1 + d) * item_s;
          s.mean_distance = e;
          s.audio_s = len;
          s.score = std::clamp(1.0 - e / 16.0, 0.0, 1.0);
          out.push_back(s);
        }
        a = b + 1;
      }
    }
  }
  std::sort(out.begin(), out.end(), ByStart);
  return out;
}

std::vector<Segment> MergeModalities(std::vector<Segment> video, std::vector<Segment> audio) {
  std::vector<bool> used(audio.size(), false);
  for (Segment& v : video) {
    for (size_t i = 0; i < audio.size(); ++i) {
      const Segment& a = audio[i];
      if (a.asset_id != v.asset_id) continue;
      double overlap = std::min(v.end, a.end) - std::max(v.start, a.start);
      double v_offset = v.ref_start - v.speed * v.start;
      double a_offset = a.ref_start - a.start;
      if (overlap <= 0 || std::fabs(v_offset - a_offset) > 2.5 + std::fabs(v.speed - 1) * a.end) {
        continue;
      }
      used[i] = true;
      v.modality = "both";
      v.audio_s += a.audio_s;
      v.score = std::max(v.score, std::min(1.0, v.score + 0.5 * a.score * (1 - v.score)));
    }
  }
  for (size_t i = 0; i < audio.size(); ++i) {
    if (!used[i]) video.push_back(audio[i]);
  }
  // Of two segments of the same asset covering mostly the same query time
  // (a repetitive soundtrack or scene aligns at several offsets), keep the
  // better: one confirmed by both modalities first, then the higher score.
  auto rank = [](const Segment& s) {
    return std::make_pair(s.modality == "both" ? 1 : 0, s.score);
  };
  std::vector<bool> drop(video.size(), false);
  for (size_t i = 0; i < video.size(); ++i) {
    for (size_t j = 0; j < video.size(); ++j) {
      if (i == j || drop[j] || video[i].asset_id != video[j].asset_id) continue;
      double overlap =
          std::min(video[i].end, video[j].end) - std::max(video[i].start, video[j].start);
      double shorter = std::min(video[i].end - video[i].start, video[j].end - video[j].start);
      if (overlap > 0.5 * shorter &&
          (rank(video[i]) < rank(video[j]) || (rank(video[i]) == rank(video[j]) && i > j))) {
        drop[i] = true;
        break;
      }
    }
  }
  std::vector<Segment> out;
  for (size_t i = 0; i < video.size(); ++i) {
    if (!drop[i]) out.push_back(video[i]);
  }
  std::sort(out.begin(), out.end(), ByStart);
  return out;
}

}  // namespace kagami::index
