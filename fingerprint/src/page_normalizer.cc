#include "kagami/fingerprint/page_normalizer.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <opencv2/imgproc.hpp>
#include <vector>
#ifdef KAGAMI_BOX_DEBUG
#include <cstdio>
#endif

#include "kagami/fingerprint/area_resize.h"

namespace kagami::fingerprint {
namespace {

enum class Side { kTop, kBottom, kLeft, kRight };

constexpr int kMinPaperLevel = 160;

// Median of a CV_8UC1 region by histogram.
int MedianLevel(const cv::Mat& region) {
  int hist[256] = {};
  for (int y = 0; y < region.rows; ++y) {
    const uint8_t* row = region.ptr<uint8_t>(y);
    for (int x = 0; x < region.cols; ++x) ++hist[row[x]];
  }
  const int64_t half = (static_cast<int64_t>(region.total()) + 1) / 2;
  int64_t seen = 0;
  for (int v = 0; v < 256; ++v) {
    seen += hist[v];
    if (seen >= half) return v;
  }
  return 255;
}

// Ink counts per line of `region` (rows when `rows`, else columns) relative to `bg`.
std::vector<int> InkProfile(const cv::Mat& region, int bg, int tolerance, bool rows) {
  cv::Mat diff;
  cv::absdiff(region, cv::Scalar(bg), diff);
  cv::Mat ink = diff > tolerance;  // 255 where ink
  cv::Mat sums;
  cv::reduce(ink / 255, sums, rows ? 1 : 0, cv::REDUCE_SUM, CV_32S);
  std::vector<int> profile(sums.total());
  for (size_t i = 0; i < profile.size(); ++i) profile[i] = sums.at<int>(static_cast<int>(i));
  return profile;
}

// Ink counts of the lines of `rect`, from `side` inwards, computed in growing
// blocks on demand: trimming usually stops within the outer few percent.
class LazyProfile {
 public:
  LazyProfile(const cv::Mat& gray, const cv::Rect& rect, Side side, int bg, int tolerance)
      : gray_(gray), rect_(rect), side_(side), bg_(bg), tolerance_(tolerance) {}

  int size() const { return Horizontal() ? rect_.height : rect_.width; }
  int line_length() const { return Horizontal() ? rect_.width : rect_.height; }

  int operator[](int i) {
    assert(i >= 0 && i < size());
    while (i >= static_cast<int>(values_.size())) Extend();
    return values_[i];
  }

 private:
  bool Horizontal() const { return side_ == Side::kTop || side_ == Side::kBottom; }

  void Extend() {
    const int start = static_cast<int>(values_.size());
    const int count = std::min(block_, size() - start);
    block_ *= 2;
    cv::Rect lines;
    switch (side_) {
      case Side::kTop:
        lines = cv::Rect(rect_.x, rect_.y + start, rect_.width, count);
        break;
      case Side::kBottom:
        lines = cv::Rect(rect_.x, rect_.br().y - start - count, rect_.width, count);
        break;
      case Side::kLeft:
        lines = cv::Rect(rect_.x + start, rect_.y, count, rect_.height);
        break;
      case Side::kRight:
        lines = cv::Rect(rect_.br().x - start - count, rect_.y, count, rect_.height);
        break;
    }
    std::vector<int> block = InkProfile(gray_(lines), bg_, tolerance_, Horizontal());
    if (side_ == Side::kBottom || side_ == Side::kRight) std::reverse(block.begin(), block.end());
    values_.insert(values_.end(), block.begin(), block.end());
  }

  const cv::Mat& gray_;
  cv::Rect rect_;
  Side side_;
  int bg_;
  int tolerance_;
  int block_ = 32;
  std::vector<int> values_;
};

// Number of lines to trim from the start of `profile` (ink counts, outermost
// first). `furniture` says whether one band of furniture may still be skipped
// on this side, and is cleared when one is. `later`: a round after the first.
int TrimDepth(LazyProfile& profile, const TrimOptions& o, bool later, bool& furniture) {
  const int n = profile.size();
  const int blank_max = std::max(3, static_cast<int>(o.max_ink_fraction * profile.line_length()));
  const int furniture_max = static_cast<int>(o.max_furniture_fraction * n);
  const int gap_min =
      std::max(later ? o.later_gap_floor : 3, static_cast<int>(std::ceil(o.min_gap_fraction * n)));
  const int furniture_zone = n / 10;  // furniture must start in the outer 10%
  // A margin thinner than this is left alone: it cannot be told from a thick
  // frame line at the edge of the content, and keeping it costs nothing.
  const int min_trim = std::max(4, n / 100);
  auto blank = [&](int i) { return profile[i] <= blank_max; };
  int i = 0;
  while (i < n) {
    if (blank(i)) {
      ++i;
      continue;
    }
    if (!furniture || i > furniture_zone || (later && o.edge_is_content && i == 0)) break;
    // The band runs until the first blank gap of gap_min lines (a page number's
    // glyphs leave blank lines between them); it is furniture when short.
    int j = i, run = 0;
    while (j < n && run < gap_min && j - i - run <= furniture_max) {
      run = blank(j) ? run + 1 : 0;
      ++j;
    }
    if (run < gap_min || j >= n) break;  // a real content band (or content to the end)
    furniture = false;
    i = j;
  }
  if (i >= n) return 0;  // all blank: nothing to trust, trim nothing
  return i >= min_trim ? i : 0;
}

// How many lines to trim from `side` of `rect`.
// After the first round only a bright layer (the page's own paper inside
// letterbox bars) is peeled: a dark strip there is the content's frame.
int TrimSide(const cv::Mat& gray, const cv::Rect& rect, Side side, int round, const TrimOptions& o,
             bool& furniture) {
  const bool horizontal_lines = side == Side::kTop || side == Side::kBottom;
  const int extent = horizontal_lines ? rect.height : rect.width;
  const int strip = std::min(extent, 4);
  cv::Rect outer;
  switch (side) {
    case Side::kTop:
      outer = cv::Rect(rect.x, rect.y, rect.width, strip);
      break;
    case Side::kBottom:
      outer = cv::Rect(rect.x, rect.br().y - strip, rect.width, strip);
      break;
    case Side::kLeft:
      outer = cv::Rect(rect.x, rect.y, strip, rect.height);
      break;
    case Side::kRight:
      outer = cv::Rect(rect.br().x - strip, rect.y, strip, rect.height);
      break;
  }
  const int bg = MedianLevel(gray(outer));
  if (round > 0 && bg < kMinPaperLevel) return 0;
  LazyProfile profile(gray, rect, side, bg, o.tolerance);
  return TrimDepth(profile, o, round > 0, furniture);
}

}  // namespace

cv::Rect TrimUniformBorders(const cv::Mat& gray, const TrimOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  const cv::Rect full(0, 0, gray.cols, gray.rows);
  cv::Rect rect = full;
  // One band of furniture per side over all rounds: a later round starts at
  // the content's edge, where a short line of text followed by the line
  // spacing would look like furniture, and peeling line after line there
  // depends on the image's scale and extent.
  bool furniture[4] = {true, true, true, true};
  for (int round = 0; round < options.max_rounds; ++round) {
    if (rect.width < 8 || rect.height < 8) break;
    const int top = TrimSide(gray, rect, Side::kTop, round, options, furniture[0]);
    const int bottom = TrimSide(gray, rect, Side::kBottom, round, options, furniture[1]);
    const int left = TrimSide(gray, rect, Side::kLeft, round, options, furniture[2]);
    const int right = TrimSide(gray, rect, Side::kRight, round, options, furniture[3]);
    if (top + bottom == 0 && left + right == 0) break;
    if (top + bottom >= rect.height || left + right >= rect.width) break;
    rect = cv::Rect(rect.x + left, rect.y + top, rect.width - left - right,
                    rect.height - top - bottom);
  }
  return rect.area() > 0 ? rect : full;
}

std::vector<cv::Rect> TrimVariantRects(const cv::Mat& gray, const cv::Rect& trimmed,
                                       const TrimOptions& options) {
  const cv::Rect full(0, 0, gray.cols, gray.rows);
  // The variants differ from the default only in rounds after the first, and
  // a first round that trims nothing ends the trimming.
  if (trimmed == full) return {};
  TrimOptions content = options;
  content.edge_is_content = true;
  TrimOptions any_gap = options;
  any_gap.later_gap_floor = 1;
  std::vector<cv::Rect> rects;
  for (const TrimOptions& variant : {content, any_gap}) {
    const cv::Rect r = TrimUniformBorders(gray, variant);
    if (r == trimmed || r == full || r.width < 16 || r.height < 16) continue;
    if (std::find(rects.begin(), rects.end(), r) == rects.end()) rects.push_back(r);
  }
  return rects;
}

namespace {

// A 3x3-blurred copy of `gray` at most `max_long_side` px long; `scale` is
// input pixels per working pixel (>= 1).
cv::Mat Working(const cv::Mat& gray, int max_long_side, double& scale) {
  const int long_side = std::max(gray.cols, gray.rows);
  scale = 1.0;
  cv::Mat small = gray;
  if (long_side > max_long_side) {
    scale = static_cast<double>(long_side) / max_long_side;
    // Halvings first (pyrDown is several times cheaper than an area resize
    // by a non-integer factor), then the rest.
    while (std::max(small.cols, small.rows) >= 2 * max_long_side) {
      cv::Mat half;
      cv::pyrDown(small, half);
      small = half;
    }
    small = AreaDownscale(
        small,
        cv::Size(std::clamp(static_cast<int>(std::lround(gray.cols / scale)), 1, small.cols),
                 std::clamp(static_cast<int>(std::lround(gray.rows / scale)), 1, small.rows)));
  }
  cv::Mat blurred;
  cv::blur(small, blurred, cv::Size(3, 3), cv::Point(-1, -1), cv::BORDER_REPLICATE);
  return blurred;
}

// A working copy made once for several detectors of one image (page box and
// strip both work at 384 px).
struct WorkingCopy {
  int max_long_side = 0;
  cv::Mat w;
  double scale = 1.0;
};

// `shared`'s copy when it was made at `max_long_side`, else a new one.
cv::Mat WorkingOf(const cv::Mat& gray, int max_long_side, const WorkingCopy* shared,
                  double& scale) {
  if (shared && shared->max_long_side == max_long_side) {
    scale = shared->scale;
    return shared->w;
  }
  return Working(gray, max_long_side, scale);
}

// Step maps of a working image: steps(y, x) = 1 where the image changes by at
// least `min_step` across 4 px (the working copy is blurred twice: by the
// downscale and by the 3x3 box), placed at the middle line. `across_rows`:
// between rows y-2 and y+2 (a horizontal side); else between columns.
// 1 where |a - b| >= min_step (1..255), in 8-bit arithmetic (vectorises).
inline uint8_t StepOf(uint8_t a, uint8_t b, uint8_t min_step) {
  const uint8_t d = a > b ? static_cast<uint8_t>(a - b) : static_cast<uint8_t>(b - a);
  return d >= min_step;
}

cv::Mat StepMap(const cv::Mat& w, int min_step, bool across_rows) {
  assert(min_step >= 1 && min_step <= 255);
  const uint8_t step = static_cast<uint8_t>(min_step);
  const int cols = w.cols, rows = w.rows;
  cv::Mat steps = cv::Mat::zeros(w.size(), CV_8UC1);
  if (across_rows) {
    for (int y = 2; y + 2 < rows; ++y) {
      const uint8_t* __restrict a = w.ptr<uint8_t>(y - 2);
      const uint8_t* __restrict b = w.ptr<uint8_t>(y + 2);
      uint8_t* __restrict out = steps.ptr<uint8_t>(y);
      for (int x = 0; x < cols; ++x) out[x] = StepOf(a[x], b[x], step);
    }
  } else {
    for (int y = 0; y < rows; ++y) {
      const uint8_t* __restrict row = w.ptr<uint8_t>(y);
      uint8_t* __restrict out = steps.ptr<uint8_t>(y);
      for (int x = 2; x + 2 < cols; ++x) out[x] = StepOf(row[x - 2], row[x + 2], step);
    }
  }
  return steps;
}

// Seam column of a working image (see DetectSpread), or -1.
int FindSeam(const cv::Mat& w, const SeamOptions& o) {
  const cv::Mat steps = StepMap(w, o.min_step, /*across_rows=*/false);
  cv::Mat sums;
  cv::reduce(steps, sums, 0, cv::REDUCE_SUM, CV_32S);
  std::vector<double> fraction(w.cols);
  for (int x = 0; x < w.cols; ++x) fraction[x] = sums.at<int>(x) / static_cast<double>(w.rows);
  const int min_page = static_cast<int>(std::ceil(o.min_page_aspect * w.rows));
  const int lo = std::max({16, static_cast<int>(w.cols * 0.2), min_page});
  const int hi = std::min({w.cols - 16, static_cast<int>(w.cols * 0.8), w.cols - min_page});
  int best = -1;
  double best_contrast = 0;
  for (int x = lo; x < hi; ++x) {
    if (fraction[x] < o.min_row_fraction) continue;
    double around = 0;
    int n = 0;
    for (int d = 4; d <= 15; ++d) {
      around += fraction[x - d] + fraction[x + d];
      n += 2;
    }
    const double contrast = fraction[x] - around / n;
    if (contrast >= o.min_contrast && contrast > best_contrast) {
      best_contrast = contrast;
      best = x;
    }
  }
  return best;
}

// Fraction of the pixels of `band` further than `tolerance` from its median.
double BandInk(const cv::Mat& band, int tolerance) {
  const int median = MedianLevel(band);
  cv::Mat diff;
  cv::absdiff(band, cv::Scalar(median), diff);
  return cv::countNonZero(diff > tolerance) / static_cast<double>(band.total());
}

// A box side found on the working copy, placed at full resolution: the
// line p within `reach` of `pos` whose pixels differ most from those of line
// p - 1, over [from, to) along the side (`vertical`: columns), among the p
// where the line outside the box (p - 1 for a top or left side, p for a
// bottom or right one, `outside_before`) is the exterior band's flat level
// `level` (90% of it within `tolerance`). The side is the first line of the
// box, or the first past it. std::nullopt when no line qualifies. PDQ of a
// page of type moves by ~10 bits for a 3 px shift (bench/RESULTS.md section
// 11, "Screenshots no threshold was chosen on").
std::optional<int> RefineSide(const cv::Mat& gray, bool vertical, bool outside_before, int pos,
                              int from, int to, int reach, int level, int tolerance) {
  const int extent = vertical ? gray.cols : gray.rows;
  const int step = std::max(1, (to - from) / 512);
  auto at = [&](int line, int t) {
    return static_cast<int>(vertical ? gray.at<uint8_t>(t, line) : gray.at<uint8_t>(line, t));
  };
  std::optional<int> best;
  long best_diff = -1;
  for (int p = std::max(1, pos - reach); p <= std::min(extent - 1, pos + reach); ++p) {
    const int outside = outside_before ? p - 1 : p;
    long diff = 0;
    int flat = 0, n = 0;
    for (int t = from; t < to; t += step, ++n) {
      diff += std::abs(at(p, t) - at(p - 1, t));
      flat += std::abs(at(outside, t) - level) <= tolerance;
    }
    if (n == 0 || flat < 0.9 * n) continue;
    if (diff > best_diff) {
      best_diff = diff;
      best = p;
    }
  }
  return best;
}

// Candidate side positions: rows of `dilated` (a step map; transpose it for
// columns) with a run of steps (gaps up to 3 px) at least `min_run` long, one
// per neighbourhood, at most `max_lines` longest.
std::vector<int> CandidateLines(const cv::Mat& dilated, int min_run, int max_lines) {
  const int n = dilated.rows;
  const int len = dilated.cols;
  std::vector<int> longest(n, 0);
  // A run of k steps spans at most 4k - 3 px (gaps of up to 3): lines with
  // too few steps cannot reach min_run, and a line below min_run is never a
  // candidate nor beats one, so it may stay 0.
  cv::Mat counts;
  cv::reduce(dilated, counts, 1, cv::REDUCE_SUM, CV_32S);
  for (int i = 1; i + 1 < n; ++i) {
    if (4 * counts.at<int>(i) - 3 < min_run) continue;
    int run = 0, gap = 0, best = 0;
    const uint8_t* line = dilated.ptr<uint8_t>(i);
    for (int j = 0; j < len; ++j) {
      const bool on = line[j] != 0;
      if (on) {
        run += gap + 1;
        gap = 0;
        best = std::max(best, run);
      } else if (run > 0 && ++gap > 3) {
        run = gap = 0;
      }
    }
    longest[i] = best;
  }
  // A side's steps cover a few adjacent lines (blur, dilation): the middle
  // line of each plateau of local maxima stands for it.
  std::vector<std::pair<int, int>> lines;  // (run, position)
  for (int i = 1; i + 1 < n;) {
    auto local_max = [&](int k) {
      if (longest[k] < min_run) return false;
      for (int d = -3; d <= 3; ++d) {
        if (k + d >= 0 && k + d < n && longest[k + d] > longest[k]) return false;
      }
      return true;
    };
    if (!local_max(i)) {
      ++i;
      continue;
    }
    int j = i;
    while (j + 1 < n - 1 && local_max(j + 1) && longest[j + 1] == longest[i]) ++j;
    lines.emplace_back(longest[i], (i + j) / 2);
    i = j + 1;
  }
  std::sort(lines.begin(), lines.end(), std::greater<>());
  if (static_cast<int>(lines.size()) > max_lines) lines.resize(max_lines);
  std::vector<int> positions;
  for (const auto& [run, pos] : lines) positions.push_back(pos);
  std::sort(positions.begin(), positions.end());
  return positions;
}

}  // namespace

std::optional<int> DetectSpread(const cv::Mat& gray, const SeamOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  if (gray.cols <= kSpreadMinAspect * gray.rows) return std::nullopt;
  if (gray.rows >= 16) {
    double scale = 1.0;
    const cv::Mat w = Working(gray, 512, scale);
    const int seam = FindSeam(w, options);
    if (seam >= 0) return std::clamp(static_cast<int>(std::lround(seam * scale)), 1, gray.cols - 1);
  }
  const int bg = MedianLevel(gray);
  const std::vector<int> profile = InkProfile(gray, bg, 48, /*rows=*/false);
  const int blank_max = std::max(3, gray.rows / 100);
  const int lo = static_cast<int>(gray.cols * 0.35), hi = static_cast<int>(gray.cols * 0.65);
  int best_start = -1, best_len = 0;
  for (int x = lo; x < hi;) {
    if (profile[x] > blank_max) {
      ++x;
      continue;
    }
    int end = x;
    while (end < hi && profile[end] <= blank_max) ++end;
    // Prefer the longer gutter; on ties the one nearer the centre.
    const int len = end - x;
    const auto centre_dist = [&](int start, int l) {
      return std::abs(start + l / 2 - gray.cols / 2);
    };
    if (len > best_len || (len == best_len && best_len > 0 &&
                           centre_dist(x, len) < centre_dist(best_start, best_len))) {
      best_start = x;
      best_len = len;
    }
    x = end;
  }
  if (best_len >= std::max(2, gray.cols / 200)) return best_start + best_len / 2;
  return gray.cols / 2;
}

namespace {

// The largest page box of `gray` (DetectPageBox without its comparison with
// the trimmed image).
std::optional<cv::Rect> LargestPageBox(const cv::Mat& gray, const PageBoxOptions& o,
                                       const WorkingCopy* shared) {
  if (gray.cols < 64 || gray.rows < 64) return std::nullopt;
  double scale = 1.0;
  const cv::Mat w = WorkingOf(gray, o.working_long_side, shared, scale);
  const int W = w.cols, H = w.rows;
  // Steps across rows (horizontal sides) and columns (vertical sides), each
  // widened by a line either side so that a side may wander by one pixel.
  cv::Mat h_steps, v_steps;
  cv::dilate(StepMap(w, o.min_step, true), h_steps, cv::Mat::ones(3, 1, CV_8UC1));
  cv::dilate(StepMap(w, o.min_step, false), v_steps, cv::Mat::ones(1, 3, CV_8UC1));
  const int min_w =
      std::max(static_cast<int>(o.min_side_fraction * W), static_cast<int>(std::ceil(32 / scale)));
  const int min_h =
      std::max(static_cast<int>(o.min_side_fraction * H), static_cast<int>(std::ceil(32 / scale)));
  const int run_w = static_cast<int>(o.min_side_coverage * min_w);
  const int run_h = static_cast<int>(o.min_side_coverage * min_h);
  constexpr int kMaxLines = 32;
  std::vector<int> ys = CandidateLines(h_steps, run_w, kMaxLines);
  std::vector<int> xs = CandidateLines(v_steps.t(), run_h, kMaxLines);
  // The image's own edges are sides too: a page fitted to a phone's width
  // (or a window's height) has no step there. Such a box needs flat bands
  // beyond its other two sides, as the bands beyond an edge lie outside.
  // A line within 2 px of an edge (the blur's reach) is that edge.
  auto add_edges = [](std::vector<int>& lines, int last) {
    std::erase_if(lines, [&](int l) { return l <= 2 || l >= last - 2; });
    lines.push_back(0);
    lines.push_back(last);
    std::sort(lines.begin(), lines.end());
  };
  add_edges(ys, H - 1);
  add_edges(xs, W - 1);
  auto edge_x = [&](int x) { return x == 0 || x == W - 1; };
  auto edge_y = [&](int y) { return y == 0 || y == H - 1; };
#ifdef KAGAMI_BOX_DEBUG
  fprintf(stderr, "W %d H %d ys:", W, H);
  for (int y : ys) fprintf(stderr, " %d", y);
  fprintf(stderr, "\nxs:");
  for (int x : xs) fprintf(stderr, " %d", x);
  fprintf(stderr, "\n");
#endif
  if (ys.size() < 2 || xs.size() < 2) return std::nullopt;
  // Prefix sums along each line: coverage of a side in O(1).
  cv::Mat h_sum, v_sum;  // integral images (CV_32S, (H + 1) x (W + 1))
  cv::integral(h_steps, h_sum, CV_32S);
  cv::integral(v_steps, v_sum, CV_32S);
  // Steps of row y over columns [x0, x1): integral rows y..y+1.
  auto row_steps = [&](int y, int x0, int x1) {
    return h_sum.at<int>(y + 1, x1) - h_sum.at<int>(y, x1) - h_sum.at<int>(y + 1, x0) +
           h_sum.at<int>(y, x0);
  };
  auto col_steps = [&](int x, int y0, int y1) {
    return v_sum.at<int>(y1, x + 1) - v_sum.at<int>(y1, x) - v_sum.at<int>(y0, x + 1) +
           v_sum.at<int>(y0, x);
  };
  const double image_area = static_cast<double>(W) * H;
  struct Candidate {
    cv::Rect rect;  // working pixels, sides on the step lines
    long area;
  };
  std::vector<Candidate> candidates;
  std::vector<int> sides;  // candidate columns that are a side over [y0, y1]
  for (size_t a = 0; a < ys.size(); ++a) {
    for (size_t b = a + 1; b < ys.size(); ++b) {
      const int y0 = ys[a], y1 = ys[b];
      const int bh = y1 - y0;
      if (bh < min_h) continue;
      const double need_h = o.min_side_coverage * (bh + 1);
      const int end_h = std::max(4, bh * 3 / 100);
      const double need_end_h = o.min_side_coverage * end_h;
      sides.clear();
      for (int x : xs) {
        // Both ends of every side too: a side that continues into another
        // line (a page's edge running on into a tool bar's) is not a corner.
        if (edge_x(x) ||
            (col_steps(x, y0, y1 + 1) >= need_h && col_steps(x, y0, y0 + end_h) >= need_end_h &&
             col_steps(x, y1 + 1 - end_h, y1 + 1) >= need_end_h)) {
          sides.push_back(x);
        }
      }
      for (size_t c = 0; c < sides.size(); ++c) {
        for (size_t d = c + 1; d < sides.size(); ++d) {
          const int x0 = sides[c], x1 = sides[d];
          const int bw = x1 - x0;
          if (bw < min_w) continue;
          const double area = static_cast<double>(bw) * bh;
          const double aspect = static_cast<double>(bw) / bh;
          if (area < o.min_area_fraction * image_area || area > o.max_area_fraction * image_area ||
              aspect < o.min_aspect || aspect > o.max_aspect) {
            continue;
          }
          const double need_w = o.min_side_coverage * (bw + 1);
          const int end_w = std::max(4, bw * 3 / 100);
          const double need_end_w = o.min_side_coverage * end_w;
          bool ok = true;
          for (int y : {y0, y1}) {
            if (edge_y(y)) continue;
            ok = ok && row_steps(y, x0, x1 + 1) >= need_w &&
                 row_steps(y, x0, x0 + end_w) >= need_end_w &&
                 row_steps(y, x1 + 1 - end_w, x1 + 1) >= need_end_w;
          }
          if (ok) candidates.push_back({cv::Rect(x0, y0, bw, bh), static_cast<long>(area)});
        }
      }
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& p, const Candidate& q) { return p.area > q.area; });
  // The viewer background: a flat band outside both of two opposite sides.
  const int band_x = std::max(4, static_cast<int>(std::lround(o.band_fraction * W)));
  const int band_y = std::max(4, static_cast<int>(std::lround(o.band_fraction * H)));
  const cv::Rect image(0, 0, W, H);
  auto flat = [&](const cv::Rect& band) {
    return (band & image) == band && band.area() > 0 &&
           BandInk(w(band), o.band_tolerance) <= o.max_band_ink;
  };
  constexpr int kMaxChecked = 64;
  constexpr int kGap = 4;  // between a side and its exterior band (blur, +-1 px)
#ifdef KAGAMI_BOX_DEBUG
  fprintf(stderr, "candidates %zu\n", candidates.size());
  for (size_t i = 0; i < candidates.size() && i < 5; ++i)
    fprintf(stderr, "  %d %d %d %d\n", candidates[i].rect.x, candidates[i].rect.y,
            candidates[i].rect.width, candidates[i].rect.height);
#endif
  for (size_t i = 0; i < candidates.size() && i < kMaxChecked; ++i) {
    const cv::Rect& r = candidates[i].rect;
    // The exterior bands beyond each side.
    const cv::Rect left(r.x - kGap - band_x, r.y, band_x, r.height);
    const cv::Rect right(r.br().x + kGap + 1, r.y, band_x, r.height);
    const cv::Rect top(r.x, r.y - kGap - band_y, r.width, band_y);
    const cv::Rect bottom(r.x, r.br().y + kGap + 1, r.width, band_y);
    const bool flat_sides = flat(left) && flat(right);
    const bool flat_ends = flat(top) && flat(bottom);
#ifdef KAGAMI_BOX_DEBUG
    fprintf(stderr, "  check %d %d %d %d flat %d %d\n", r.x, r.y, r.width, r.height, flat_sides,
            flat_ends);
#endif
    if (!flat_sides && !flat_ends) continue;
    // A box with the image's edges for two sides lies on one background: the
    // bands beyond its other two are one level (a tool bar's edge and the
    // page's far edge are not a page).
    const bool edge_box = r.x == 0 || r.br().x == W - 1 || r.y == 0 || r.br().y == H - 1;
    if (edge_box) {
      const cv::Rect& a = flat_ends ? top : left;
      const cv::Rect& b = flat_ends ? bottom : right;
      if (std::abs(MedianLevel(w(a)) - MedianLevel(w(b))) > o.band_tolerance) continue;
    }
    // Back to input pixels: the step lines lie on the boundary (+-1 px).
    // The image's edges stay its edges.
    const int x0 =
        r.x == 0 ? 0
                 : std::clamp(static_cast<int>(std::lround((r.x + 0.5) * scale)), 0, gray.cols - 1);
    const int y0 =
        r.y == 0 ? 0
                 : std::clamp(static_cast<int>(std::lround((r.y + 0.5) * scale)), 0, gray.rows - 1);
    const int x1 = r.br().x == W - 1
                       ? gray.cols
                       : std::clamp(static_cast<int>(std::lround((r.br().x + 0.5) * scale)), x0 + 1,
                                    gray.cols);
    const int y1 = r.br().y == H - 1
                       ? gray.rows
                       : std::clamp(static_cast<int>(std::lround((r.br().y + 0.5) * scale)), y0 + 1,
                                    gray.rows);
    // The sides beyond which the band is flat, each within a working pixel
    // (and the blur's) of its place, along the middle 80% of the side (clear
    // of the corners); the others as found.
    const int reach = static_cast<int>(std::ceil(scale)) + 2;
    const int mx = (x1 - x0) / 10, my = (y1 - y0) / 10;
    int rx0 = x0, rx1 = x1, ry0 = y0, ry1 = y1;
    auto refine = [&](bool vertical, bool before, int pos, const cv::Rect& band, int from, int to) {
      return RefineSide(gray, vertical, before, pos, from, to, reach, MedianLevel(w(band)),
                        o.band_tolerance)
          .value_or(pos);
    };
    if (flat_sides) {
      rx0 = refine(true, true, x0, left, y0 + my, y1 - my);
      rx1 = refine(true, false, x1, right, y0 + my, y1 - my);
    }
    if (flat_ends) {
      ry0 = refine(false, true, y0, top, x0 + mx, x1 - mx);
      ry1 = refine(false, false, y1, bottom, x0 + mx, x1 - mx);
    }
    if (rx1 - rx0 < 16 || ry1 - ry0 < 16) continue;
    return cv::Rect(rx0, ry0, rx1 - rx0, ry1 - ry0);
  }
  return std::nullopt;
}

}  // namespace

namespace {

// DetectPageBox given the image's TrimUniformBorders.
std::optional<cv::Rect> PageBoxBesidesTrimmed(const cv::Mat& gray, const cv::Rect& trimmed,
                                              const PageBoxOptions& options,
                                              const WorkingCopy* shared = nullptr) {
  const std::optional<cv::Rect> box = LargestPageBox(gray, options, shared);
  if (!box) return std::nullopt;
  // A page on uniform margins (paper, letterbox bars) is the trimmed view.
  const double overlap = (*box & trimmed).area();
  if (overlap >= 0.85 * static_cast<double>((*box | trimmed).area())) return std::nullopt;
  return box;
}

}  // namespace

std::optional<cv::Rect> DetectPageBox(const cv::Mat& gray, const PageBoxOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  return PageBoxBesidesTrimmed(gray, TrimUniformBorders(gray), options);
}

namespace {

// Whether the rows between the edges at working rows `top` and `bottom` are
// a uniform strip on uniform paper: the rows 3 px outside each edge (past
// the blur) are flat at one level, the rows 3 px inside flat at another,
// min_step or more apart (OverlayBandOptions). Photos, comic panels and
// typeset pages crossed by text are not flat there.
bool IsStripOnPaper(const cv::Mat& w, int top, int bottom, const OverlayBandOptions& o) {
  constexpr int kProbe = 3;
  if (bottom - top < 2 * kProbe + 1 || top - kProbe < 0 || bottom + kProbe >= w.rows) return false;
  int level[4];  // outside top, inside top, inside bottom, outside bottom
  const int rows[4] = {top - kProbe, top + kProbe, bottom - kProbe, bottom + kProbe};
  for (int i = 0; i < 4; ++i) {
    const cv::Mat row = w.row(rows[i]);
    level[i] = MedianLevel(row);
    int near = 0;
    const uint8_t* p = row.ptr<uint8_t>(0);
    for (int x = 0; x < w.cols; ++x) near += std::abs(p[x] - level[i]) <= o.max_flat_deviation;
    if (near < o.min_flat_fraction * w.cols) return false;
  }
  const int tolerance = o.max_flat_deviation;
  return std::abs(level[0] - level[3]) <= tolerance && std::abs(level[1] - level[2]) <= tolerance &&
         std::abs(level[0] - level[1]) >= o.min_step;
}

// DetectOverlayBand, from `shared`'s working copy when it fits.
std::optional<cv::Range> OverlayBandOf(const cv::Mat& gray, const OverlayBandOptions& options,
                                       const WorkingCopy* shared) {
  double scale = 1.0;
  const cv::Mat w = WorkingOf(gray, options.working_long_side, shared, scale);
  const int rows = w.rows, cols = w.cols;
  if (rows < 32 || cols < 32) return std::nullopt;
  // Per row, columns that step darker (0) or brighter (1) going down.
  std::vector<int> count[2] = {std::vector<int>(rows, 0), std::vector<int>(rows, 0)};
  for (int y = 2; y + 2 < rows; ++y) {
    const uint8_t* a = w.ptr<uint8_t>(y - 2);
    const uint8_t* b = w.ptr<uint8_t>(y + 2);
    int darker = 0, brighter = 0;
    for (int x = 0; x < cols; ++x) {
      const int d = static_cast<int>(b[x]) - static_cast<int>(a[x]);
      darker += d <= -options.min_step;
      brighter += d >= options.min_step;
    }
    count[0][y] = darker;
    count[1][y] = brighter;
  }
  const int need = static_cast<int>(std::ceil(options.min_column_fraction * cols));
  const int edge_margin = std::max(3, static_cast<int>(std::lround(0.02 * rows)));
  struct Edge {
    int y;
    int sign;  // 0 darker below, 1 brighter below
    int columns;
  };
  // The middle row of each run of qualifying rows of one sign (a sharp edge
  // qualifies on ~5 rows of the blurred working copy, symmetrically) and the
  // run's largest count.
  std::vector<Edge> edges;
  for (int y = edge_margin; y < rows - edge_margin; ++y) {
    for (int sign = 0; sign < 2; ++sign) {
      if (count[sign][y] < need || (y > 0 && count[sign][y - 1] >= need)) continue;
      int last = y, columns = count[sign][y];
      while (last + 1 < rows - edge_margin && count[sign][last + 1] >= need) {
        ++last;
        columns = std::max(columns, count[sign][last]);
      }
      edges.push_back({(y + last) / 2, sign, columns});
    }
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.y < b.y; });
  const double min_height = options.min_height_fraction * rows;
  const double max_height = options.max_height_fraction * rows;
  // Any two edges of opposite sign may bound the strip: its own type can
  // step across most of the width at its cap and base lines in between.
  int best_top = -1, best_bottom = -1, best_columns = 0;
  for (size_t i = 0; i < edges.size(); ++i) {
    for (size_t j = i + 1; j < edges.size() && edges[j].y - edges[i].y <= max_height; ++j) {
      const Edge& top = edges[i];
      const Edge& bottom = edges[j];
      if (top.sign == bottom.sign || bottom.y - top.y < min_height) continue;
      const int columns = std::min(top.columns, bottom.columns);
      if (columns > best_columns && IsStripOnPaper(w, top.y, bottom.y, options)) {
        best_top = top.y;
        best_bottom = bottom.y;
        best_columns = columns;
      }
    }
  }
  if (best_top < 0) return std::nullopt;
  // The step lines lie 2 px inside either side of the change, and the
  // downscale and blur soften it by about as much again.
  const int top = best_top - 3, bottom = best_bottom + 3;
  const int start = std::clamp(static_cast<int>(std::floor(top * scale)), 0, gray.rows - 1);
  const int end =
      std::clamp(static_cast<int>(std::ceil((bottom + 1) * scale)), start + 1, gray.rows);
  return cv::Range(start, end);
}

// The minimum-area rectangle around the pixels of `image` further than
// `tolerance` from `canvas`, from each row's and each column's outermost such
// pixels (the same hull as every pixel's, at a fraction of the points), with
// its angle brought into (-45, 45] and its sides grown by the pixel's width.
// nullopt when there are fewer than 3 such points.
std::optional<cv::RotatedRect> PageRectangle(const cv::Mat& image, int canvas, int tolerance) {
  std::vector<cv::Point> points;
  std::vector<int> top(image.cols, -1), bottom(image.cols, -1);
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* row = image.ptr<uint8_t>(y);
    int first = -1, last = -1;
    for (int x = 0; x < image.cols; ++x) {
      if (std::abs(row[x] - canvas) <= tolerance) continue;
      if (first < 0) first = x;
      last = x;
      if (top[x] < 0) top[x] = y;
      bottom[x] = y;
    }
    if (first >= 0) {
      points.emplace_back(first, y);
      if (last != first) points.emplace_back(last, y);
    }
  }
  for (int x = 0; x < image.cols; ++x) {
    if (top[x] < 0) continue;
    points.emplace_back(x, top[x]);
    if (bottom[x] != top[x]) points.emplace_back(x, bottom[x]);
  }
  if (points.size() < 3) return std::nullopt;
  cv::RotatedRect r = cv::minAreaRect(points);
  // minAreaRect's angle is in [-90, 0) or (0, 90] depending on the OpenCV
  // version; bring it into (-45, 45] by swapping the sides.
  while (r.angle > 45) {
    r.angle -= 90;
    std::swap(r.size.width, r.size.height);
  }
  while (r.angle <= -45) {
    r.angle += 90;
    std::swap(r.size.width, r.size.height);
  }
  r.size.width += 1;
  r.size.height += 1;
  return r;
}

// The working copy of `gray` (WorkingOf, `long_side`) and the level of the
// canvas or paper around its content: the mean of the four pixels one in from
// its corners, when they lie within `tolerance` gray levels of each other.
// Nullopt when they do not, or when the copy is under 16 px either way.
struct LevelCanvas {
  cv::Mat w;
  double scale = 1.0;  // input pixels per working pixel
  int level = 0;
};
std::optional<LevelCanvas> OnLevelCanvas(const cv::Mat& gray, int long_side, int tolerance,
                                         const WorkingCopy* shared) {
  LevelCanvas c;
  c.w = WorkingOf(gray, long_side, shared, c.scale);
  const cv::Mat& w = c.w;
  if (w.cols < 16 || w.rows < 16) return std::nullopt;
  const int corners[4] = {w.at<uint8_t>(1, 1), w.at<uint8_t>(1, w.cols - 2),
                          w.at<uint8_t>(w.rows - 2, 1), w.at<uint8_t>(w.rows - 2, w.cols - 2)};
  const auto [lo, hi] = std::minmax_element(std::begin(corners), std::end(corners));
  if (*hi - *lo > tolerance) return std::nullopt;
  c.level = (corners[0] + corners[1] + corners[2] + corners[3] + 2) / 4;
  return c;
}

std::optional<cv::RotatedRect> SkewedPageOf(const cv::Mat& gray, const SkewOptions& options,
                                            const WorkingCopy* shared) {
  const std::optional<LevelCanvas> on_canvas =
      OnLevelCanvas(gray, options.working_long_side, options.corner_tolerance, shared);
  if (!on_canvas) return std::nullopt;
  const cv::Mat& w = on_canvas->w;
  const double scale = on_canvas->scale;
  const int canvas = on_canvas->level;
  const double image_area = static_cast<double>(w.cols) * w.rows;
  // The page's pixels, counted vectorised: too few for any rectangle that
  // could pass (type or a drawing on paper of the canvas's level) stop here.
  cv::Mat difference;
  cv::absdiff(w, cv::Scalar(canvas), difference);
  const int count = cv::countNonZero(difference > options.page_tolerance);
  if (count < options.min_area_fraction * options.min_fill * image_area) return std::nullopt;
  std::optional<cv::RotatedRect> r = PageRectangle(w, canvas, options.page_tolerance);
  if (!r) return std::nullopt;
  const double angle = std::abs(r->angle);
  if (angle < options.min_angle_deg || angle > options.max_angle_deg) return std::nullopt;
  const double area = static_cast<double>(r->size.width) * r->size.height;
  if (area < options.min_area_fraction * image_area) return std::nullopt;
  if (count < options.min_fill * area) return std::nullopt;
  // A page's corners lie inside the image (a region whose own corners are the
  // canvas's level, a window's rounded corners, gives a tilted rectangle
  // whose corners leave it).
  cv::Point2f vertices[4];
  r->points(vertices);
  for (const cv::Point2f& v : vertices) {
    if (v.x < -4 || v.y < -4 || v.x > w.cols + 3 || v.y > w.rows + 3) return std::nullopt;
  }
  // Its sides are edges: page 3 px inside along each side, canvas 3 px
  // outside wherever that lies inside the image.
  int inside = 0, inside_page = 0, outside = 0, outside_canvas = 0;
  for (int side = 0; side < 4; ++side) {
    const cv::Point2f a = vertices[side], b = vertices[(side + 1) % 4];
    const cv::Point2f mid = (a + b) * 0.5f;
    cv::Point2f normal = r->center - mid;
    normal *= 1.0f / std::max(1e-3f, std::hypot(normal.x, normal.y));
    for (int k = 1; k < 16; ++k) {
      const cv::Point2f on = a + (b - a) * (k / 16.0f);
      for (int dir = -1; dir <= 1; dir += 2) {
        const cv::Point2f probe = on + normal * (3.0f * dir);
        const int px = static_cast<int>(std::lround(probe.x));
        const int py = static_cast<int>(std::lround(probe.y));
        if (px < 0 || py < 0 || px >= w.cols || py >= w.rows) continue;
        const bool is_page = std::abs(w.at<uint8_t>(py, px) - canvas) > options.page_tolerance;
        if (dir > 0) {
          ++inside;
          inside_page += is_page;
        } else {
          ++outside;
          outside_canvas += !is_page;
        }
      }
    }
  }
  if (inside_page < 0.8 * inside || outside < 8 || outside_canvas < 0.8 * outside)
    return std::nullopt;
  if (scale <= 1.0) return r;
  // The rectangle again at full resolution (3x3 blur against JPEG noise):
  // the working copy's pixel is `scale` input pixels, and a page shifted by
  // 1% of its size is already some 10 PDQ bits further from itself.
  cv::Mat blurred;
  cv::blur(gray, blurred, cv::Size(3, 3), cv::Point(-1, -1), cv::BORDER_REPLICATE);
  std::optional<cv::RotatedRect> fine = PageRectangle(blurred, canvas, options.page_tolerance);
  if (fine && std::abs(fine->angle - r->angle) < 1.0) return fine;
  const float s = static_cast<float>(scale);
  r->center = cv::Point2f((r->center.x + 0.5f) * s - 0.5f, (r->center.y + 0.5f) * s - 0.5f);
  r->size = cv::Size2f(r->size.width * s, r->size.height * s);
  return r;
}

// Sum of squared counts of `points` (relative to the image's centre)
// projected across lines turned by `deg` (rows; or across columns turned by
// as much: vertical type), in 1 px bins; `histogram` is scratch of at least
// 2 * reach + 2 bins, where reach bounds every |projection|.
double ProfileScore(const std::vector<cv::Point2f>& points, double deg, bool columns, float reach,
                    std::vector<int>& histogram) {
  const double a = deg * CV_PI / 180.0;
  const float s = static_cast<float>(std::sin(a)), c = static_cast<float>(std::cos(a));
  std::fill(histogram.begin(), histogram.end(), 0);
  if (columns) {
    for (const cv::Point2f& p : points) ++histogram[static_cast<int>(p.x * c + p.y * s + reach)];
  } else {
    for (const cv::Point2f& p : points) ++histogram[static_cast<int>(p.y * c - p.x * s + reach)];
  }
  double score = 0;
  for (int count : histogram) score += static_cast<double>(count) * count;
  return score;
}

// DetectSkewedLines's rule: the angle far enough from level and within
// range, the gain high enough.
bool LevelsPage(const LineSkew& skew, const LineSkewOptions& options) {
  const double angle = std::abs(skew.angle_deg);
  return angle >= options.min_angle_deg && angle <= options.max_angle_deg &&
         skew.gain >= options.min_gain;
}

std::optional<LineSkew> LineSkewOf(const cv::Mat& gray, const LineSkewOptions& options,
                                   const WorkingCopy* shared) {
  const std::optional<LevelCanvas> on_paper =
      OnLevelCanvas(gray, options.working_long_side, options.corner_tolerance, shared);
  if (!on_paper) return std::nullopt;
  const cv::Mat& w = on_paper->w;
  const double scale = on_paper->scale;
  const int paper = on_paper->level;
  cv::Mat difference;
  cv::absdiff(w, cv::Scalar(paper), difference);
  const cv::Mat ink = difference > options.ink_tolerance;
  const int count = cv::countNonZero(ink);
  const double image_area = static_cast<double>(w.cols) * w.rows;
  if (count < options.min_ink_fraction * image_area ||
      count > options.max_ink_fraction * image_area || count < 16)
    return std::nullopt;
  const float cx = (w.cols - 1) / 2.0f, cy = (w.rows - 1) / 2.0f;
  std::vector<cv::Point> nonzero;
  cv::findNonZero(ink, nonzero);
  std::vector<cv::Point2f> all;
  all.reserve(nonzero.size());
  for (const cv::Point& p : nonzero) all.emplace_back(p.x - cx, p.y - cy);
  std::vector<cv::Point2f> sample;
  const std::vector<cv::Point2f>* coarse = &all;
  if (static_cast<int>(all.size()) > options.max_points) {
    sample.reserve(options.max_points);
    const double stride = static_cast<double>(all.size()) / options.max_points;
    for (int i = 0; i < options.max_points; ++i)
      sample.push_back(all[static_cast<size_t>(i * stride)]);
    coarse = &sample;
  }
  const float reach = std::hypot(cx, cy) + 2.0f;
  std::vector<int> histogram(static_cast<size_t>(2 * reach) + 2);
  const int steps =
      std::max(1, static_cast<int>(std::lround(options.max_angle_deg / options.step_deg)));
  // Lines of type (rows) and columns of vertical type, each against its own
  // level profile; the direction that gains more is refined.
  double best_deg = 0, best_score = -1, level_score = 0, best_gain = -1;
  bool columns = false;
  for (const bool along_columns : {false, true}) {
    const double level = ProfileScore(*coarse, 0, along_columns, reach, histogram);
    double deg_here = 0, score_here = level;
    for (int i = -steps; i <= steps; ++i) {
      if (i == 0) continue;
      const double deg = i * options.step_deg;
      const double score = ProfileScore(*coarse, deg, along_columns, reach, histogram);
      if (score > score_here) {
        score_here = score;
        deg_here = deg;
      }
    }
    if (level > 0 && score_here / level > best_gain) {
      best_gain = score_here / level;
      best_deg = deg_here;
      level_score = level;
      columns = along_columns;
    }
  }
  best_score = -1;
  const double fine = options.step_deg / 10;
  const double centre = best_deg;
  for (int i = -10; i <= 10; ++i) {
    const double deg = centre + i * fine;
    const double score = ProfileScore(*coarse, deg, columns, reach, histogram);
    if (score > best_score) {
      best_score = score;
      best_deg = deg;
    }
  }
  LineSkew skew;
  skew.angle_deg = best_deg;
  skew.gain = level_score > 0 ? best_score / level_score : 0;
  if (!LevelsPage(skew, options)) return skew;
  // The ink's extent in the levelled frame (u along the lines, v across).
  const double a = best_deg * CV_PI / 180.0;
  const float s = static_cast<float>(std::sin(a)), c = static_cast<float>(std::cos(a));
  float u_min = 1e9f, u_max = -1e9f, v_min = 1e9f, v_max = -1e9f;
  for (const cv::Point2f& p : all) {
    const float u = p.x * c + p.y * s, v = p.y * c - p.x * s;
    u_min = std::min(u_min, u);
    u_max = std::max(u_max, u);
    v_min = std::min(v_min, v);
    v_max = std::max(v_max, v);
  }
  // The page turned on a canvas just large enough to hold it: W = w cos + h
  // sin, H = w sin + h cos, solved for the page's w and h.
  const double ca = std::cos(std::abs(a)), sa = std::sin(std::abs(a));
  const double det = ca * ca - sa * sa;
  const double page_w = (gray.cols * ca - gray.rows * sa) / det;
  const double page_h = (gray.rows * ca - gray.cols * sa) / det;
  // In working pixels, the ink must lie inside that page (2 px of slack).
  const double half_w = page_w / scale / 2 + 2, half_h = page_h / scale / 2 + 2;
  if (page_w >= 16 && page_h >= 16 && u_min >= -half_w && u_max <= half_w && v_min >= -half_h &&
      v_max <= half_h) {
    skew.frame = cv::RotatedRect(cv::Point2f((gray.cols - 1) / 2.0f, (gray.rows - 1) / 2.0f),
                                 cv::Size2f(static_cast<float>(page_w), static_cast<float>(page_h)),
                                 static_cast<float>(best_deg));
  }
  return skew;
}

std::optional<LineSkew> SkewedLinesOf(const cv::Mat& gray, const LineSkewOptions& options,
                                      const WorkingCopy* shared) {
  std::optional<LineSkew> skew = LineSkewOf(gray, options, shared);
  if (!skew || !LevelsPage(*skew, options)) return std::nullopt;
  return skew;
}

}  // namespace

std::optional<cv::Range> DetectOverlayBand(const cv::Mat& gray, const OverlayBandOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  return OverlayBandOf(gray, options, nullptr);
}

cv::Mat FillOverlayBand(const cv::Mat& gray, cv::Range band) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  assert(band.start >= 0 && band.start < band.end && band.end <= gray.rows);
  cv::Mat out = gray.clone();
  const int above = band.start - 1, below = band.end;
  const bool has_above = above >= 0, has_below = below < gray.rows;
  if (!has_above && !has_below) return out;
  const uint8_t* a = out.ptr<uint8_t>(has_above ? above : below);
  const uint8_t* b = out.ptr<uint8_t>(has_below ? below : above);
  const int span = band.end - band.start + 1;
  for (int y = band.start; y < band.end; ++y) {
    const int t = y - band.start + 1;  // 1..span-1 of the way from `above` to `below`
    uint8_t* row = out.ptr<uint8_t>(y);
    for (int x = 0; x < out.cols; ++x) {
      row[x] = static_cast<uint8_t>((a[x] * (span - t) + b[x] * t + span / 2) / span);
    }
  }
  return out;
}

std::optional<cv::RotatedRect> DetectSkewedPage(const cv::Mat& gray, const SkewOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  return SkewedPageOf(gray, options, nullptr);
}

std::optional<LineSkew> DetectSkewedLines(const cv::Mat& gray, const LineSkewOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  return SkewedLinesOf(gray, options, nullptr);
}

std::optional<LineSkew> MeasureLineSkew(const cv::Mat& gray, const LineSkewOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  return LineSkewOf(gray, options, nullptr);
}

cv::Mat DeskewPage(const cv::Mat& gray, const cv::RotatedRect& page) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  const cv::Size size(std::max(1, static_cast<int>(std::lround(page.size.width))),
                      std::max(1, static_cast<int>(std::lround(page.size.height))));
  // Turning by +angle (counter-clockwise on screen) undoes the rectangle's
  // clockwise turn; then the rectangle's centre goes to the output's centre.
  cv::Mat m = cv::getRotationMatrix2D(page.center, page.angle, 1.0);
  m.at<double>(0, 2) += size.width / 2.0 - page.center.x;
  m.at<double>(1, 2) += size.height / 2.0 - page.center.y;
  cv::Mat out;
  cv::warpAffine(gray, out, m, size, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

std::vector<cv::Rect> BodyRects(const cv::Mat& gray, const cv::Rect& trimmed,
                                const TrimOptions& trim, const BodyOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  std::vector<cv::Rect> out;
  if (trimmed.width < 16 || trimmed.height < 16) return out;
  // The background: the margin above the content, else the one below.
  cv::Rect margin;
  if (trimmed.y >= 4) {
    margin = cv::Rect(trimmed.x, trimmed.y - 4, trimmed.width, 4);
  } else if (gray.rows - trimmed.br().y >= 4) {
    margin = cv::Rect(trimmed.x, trimmed.br().y, trimmed.width, 4);
  } else {
    return out;
  }
  const int bg = MedianLevel(gray(margin));
  const std::vector<int> ink = InkProfile(gray(trimmed), bg, trim.tolerance, /*rows=*/true);
  const int n = trimmed.height;
  const int blank_max = std::max(3, static_cast<int>(trim.max_ink_fraction * trimmed.width));
  const int gap_min = std::max(4, static_cast<int>(std::ceil(options.min_gap_fraction * n)));
  std::vector<std::pair<int, int>> gaps;  // [first blank row, first row after)
  for (int y = 0; y < n;) {
    if (ink[y] > blank_max) {
      ++y;
      continue;
    }
    const int start = y;
    while (y < n && ink[y] <= blank_max) ++y;
    if (y - start >= gap_min && start > 0 && y < n) gaps.push_back({start, y});
  }
  std::vector<int> tops = {0}, bottoms = {n};
  const double cut_max = options.max_cut_fraction * n;
  const cv::Rect image(0, 0, gray.cols, gray.rows);
  TrimOptions no_furniture = trim;
  no_furniture.max_furniture_fraction = 0;
  for (size_t i = 0; i < gaps.size() && static_cast<int>(tops.size()) <= options.max_cut_blocks;
       ++i) {
    if (gaps[i].second <= cut_max) tops.push_back(gaps[i].second);
  }
  for (size_t i = gaps.size();
       i-- > 0 && static_cast<int>(bottoms.size()) <= options.max_cut_blocks;) {
    if (gaps[i].first >= n - cut_max) bottoms.push_back(gaps[i].first);
  }
  for (int top : tops) {
    for (int bottom : bottoms) {
      if (top == 0 && bottom == n) continue;
      if (bottom - top < options.min_body_fraction * n) continue;
      // The rows between the cuts, their ink's columns (no furniture rule)
      // widened by a page's side margins, then trimmed as registration
      // trimmed the page: the furniture rule is relative to the extent, and
      // the post's width (avatar, caption) would take a narrow column at the
      // page's edge for furniture where the page's own width does not.
      const cv::Rect cut(trimmed.x, trimmed.y + top, trimmed.width, bottom - top);
      const cv::Rect ink = TrimUniformBorders(gray(cut), no_furniture) + cut.tl();
      const int pad = static_cast<int>(options.side_margin_fraction * ink.width);
      const cv::Rect page = cv::Rect(ink.x - pad, cut.y, ink.width + 2 * pad, cut.height) & image;
      const cv::Rect body = TrimUniformBorders(gray(page), trim) + page.tl();
      if (body.width >= 16 && body.height >= 16 && body != trimmed &&
          std::find(out.begin(), out.end(), body) == out.end()) {
        out.push_back(body);
      }
    }
  }
  return out;
}

std::vector<View> NormalizedViews(const cv::Mat& gray, const TrimOptions& options,
                                  const ViewOptions& which) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  std::vector<View> views;
  const cv::Rect full(0, 0, gray.cols, gray.rows);
  views.push_back({gray, "full", full});
  const cv::Rect trimmed = TrimUniformBorders(gray, options);
  if (trimmed != full) views.push_back({gray(trimmed), "trimmed", trimmed});
  if (which.bodies) {
    for (const cv::Rect& body : BodyRects(gray, trimmed, options))
      views.push_back({gray(body), "body", body});
  }
  // A page inside a larger image (a screenshot of a reader). The halves stay
  // those of the trimmed image: a wide box's own halves (a spread shown in a
  // reader) would drop the screenshot halves that index/half_view tests pin.
  const cv::Rect base_rect = trimmed;
  const PageBoxOptions box_options;
  const OverlayBandOptions band_options;
  WorkingCopy working;  // shared by the page box and the strip when they work alike
  working.max_long_side = box_options.working_long_side;
  working.w = Working(gray, working.max_long_side, working.scale);
  if (const std::optional<cv::Rect> box =
          PageBoxBesidesTrimmed(gray, trimmed, box_options, &working)) {
    if (box->width >= 16 && box->height >= 16) views.push_back({gray(*box), "box", *box});
  }
  if (const std::optional<cv::RotatedRect> page = SkewedPageOf(gray, SkewOptions{}, &working)) {
    const cv::Rect bound = page->boundingRect() & full;
    View view{DeskewPage(gray, *page), "deskewed", bound};
    view.turned_deg = page->angle;
    if (view.image.cols >= 16 && view.image.rows >= 16) views.push_back(std::move(view));
  } else if (const std::optional<LineSkew> lines =
                 SkewedLinesOf(gray, LineSkewOptions{}, &working)) {
    // The page's own frame, as its full hash was registered, where the image
    // is a canvas just holding it. (The ink turned level and trimmed, to meet
    // the registered trimmed hash, was measured and dropped: a faint header
    // rule the turn blurs moves the trim, and 2 of 32 came within 31 bits.)
    if (lines->frame) {
      View view{DeskewPage(gray, *lines->frame), "levelled", full};
      view.turned_deg = lines->angle_deg;
      if (view.image.cols >= 16 && view.image.rows >= 16) views.push_back(std::move(view));
    }
  }
  const cv::Mat base = gray(base_rect);
  // Views split at a seam only where it runs (nearly) the full height: a
  // screenshot's page edge (80-90% of the rows) is not a spread's seam.
  SeamOptions seam;
  seam.min_row_fraction = 0.9;
  if (const std::optional<int> split = DetectSpread(base, seam)) {
    const cv::Rect halves[2] = {cv::Rect(0, 0, *split, base.rows),
                                cv::Rect(*split, 0, base.cols - *split, base.rows)};
    const char* names[2] = {"left", "right"};
    for (int i = 0; i < 2; ++i) {
      if (halves[i].width < 1) continue;
      const cv::Rect inner = TrimUniformBorders(base(halves[i]), options);
      const cv::Rect in_original(base_rect.x + halves[i].x + inner.x, base_rect.y + inner.y,
                                 inner.width, inner.height);
      views.push_back({gray(in_original), names[i], in_original});
    }
  }
  if (const std::optional<cv::Range> band = OverlayBandOf(gray, band_options, &working)) {
    // Trimmed: on blank paper the band is what kept the margins from being
    // trimmed, and a page of little content is indexed by its trimmed hash.
    const cv::Mat filled = FillOverlayBand(gray, *band);
    const cv::Rect inner = TrimUniformBorders(filled, options);
    views.push_back({filled(inner), "unbanded", inner, *band});
  }
  return views;
}

}  // namespace kagami::fingerprint
