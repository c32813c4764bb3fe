#include "kagami/fingerprint/page_normalizer.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <vector>

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

// Number of lines to trim from the start of `profile` (ink counts, outermost first).
int TrimDepth(LazyProfile& profile, const TrimOptions& o) {
  const int n = profile.size();
  const int blank_max = std::max(3, static_cast<int>(o.max_ink_fraction * profile.line_length()));
  const int furniture_max = static_cast<int>(o.max_furniture_fraction * n);
  const int gap_min = std::max(2, static_cast<int>(std::ceil(o.min_gap_fraction * n)));
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
    if (i > furniture_zone) break;
    // The band runs until the first blank gap of gap_min lines (a page number's
    // glyphs leave blank lines between them); it is furniture when short.
    int j = i, run = 0;
    while (j < n && run < gap_min && j - i - run <= furniture_max) {
      run = blank(j) ? run + 1 : 0;
      ++j;
    }
    if (run < gap_min || j >= n) break;  // a real content band (or content to the end)
    i = j;
  }
  if (i >= n) return 0;  // all blank: nothing to trust, trim nothing
  return i >= min_trim ? i : 0;
}

// How many lines to trim from `side` of `rect`.
// After the first round only a bright layer (the page's own paper inside
// letterbox bars) is peeled: a dark strip there is the content's frame.
int TrimSide(const cv::Mat& gray, const cv::Rect& rect, Side side, int round,
             const TrimOptions& o) {
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
  return TrimDepth(profile, o);
}

}  // namespace

cv::Rect TrimUniformBorders(const cv::Mat& gray, const TrimOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  const cv::Rect full(0, 0, gray.cols, gray.rows);
  cv::Rect rect = full;
  for (int round = 0; round < options.max_rounds; ++round) {
    if (rect.width < 8 || rect.height < 8) break;
    const int top = TrimSide(gray, rect, Side::kTop, round, options);
    const int bottom = TrimSide(gray, rect, Side::kBottom, round, options);
    const int left = TrimSide(gray, rect, Side::kLeft, round, options);
    const int right = TrimSide(gray, rect, Side::kRight, round, options);
    if (top + bottom == 0 && left + right == 0) break;
    if (top + bottom >= rect.height || left + right >= rect.width) break;
    rect = cv::Rect(rect.x + left, rect.y + top, rect.width - left - right,
                    rect.height - top - bottom);
  }
  return rect.area() > 0 ? rect : full;
}

std::optional<int> DetectSpread(const cv::Mat& gray) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  if (gray.cols <= kSpreadMinAspect * gray.rows) return std::nullopt;
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

std::vector<View> NormalizedViews(const cv::Mat& gray, const TrimOptions& options) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  std::vector<View> views;
  const cv::Rect full(0, 0, gray.cols, gray.rows);
  views.push_back({gray, "full", full});
  const cv::Rect trimmed = TrimUniformBorders(gray, options);
  if (trimmed != full) views.push_back({gray(trimmed), "trimmed", trimmed});
  const cv::Mat base = gray(trimmed);
  if (const std::optional<int> split = DetectSpread(base)) {
    const cv::Rect halves[2] = {cv::Rect(0, 0, *split, base.rows),
                                cv::Rect(*split, 0, base.cols - *split, base.rows)};
    const char* names[2] = {"left", "right"};
    for (int i = 0; i < 2; ++i) {
      if (halves[i].width < 1) continue;
      const cv::Rect inner = TrimUniformBorders(base(halves[i]), options);
      const cv::Rect in_original(trimmed.x + halves[i].x + inner.x, trimmed.y + inner.y,
                                 inner.width, inner.height);
      views.push_back({gray(in_original), names[i], in_original});
    }
  }
  return views;
}

}  // namespace kagami::fingerprint
