#include "kagami/fingerprint/page_thumbnail.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace kagami::fingerprint {
namespace {

// The warp runs at this multiple of the thumbnail's resolution, then is
// area-reduced to it.
constexpr int kFine = 4;

}  // namespace

std::vector<uint8_t> PageThumbnail::Pack() const {
  assert(static_cast<int>(levels.size()) == width * height);
  std::vector<uint8_t> out((levels.size() + 1) / 2, 0);
  for (size_t i = 0; i < levels.size(); ++i) {
    out[i / 2] |= static_cast<uint8_t>((levels[i] & 0x0F) << (4 * (i % 2)));
  }
  return out;
}

bool PageThumbnail::Unpack(int width, int height, std::span<const uint8_t> packed,
                           PageThumbnail* out) {
  if (width < 1 || height < 1 || width > kThumbnailLongSide || height > kThumbnailLongSide) {
    return false;
  }
  const size_t n = static_cast<size_t>(width) * height;
  if (packed.size() != (n + 1) / 2) return false;
  out->width = width;
  out->height = height;
  out->levels.resize(n);
  for (size_t i = 0; i < n; ++i) out->levels[i] = (packed[i / 2] >> (4 * (i % 2))) & 0x0F;
  return true;
}

PageThumbnail MakePageThumbnail(const cv::Mat& gray) {
  assert(gray.empty() || gray.type() == CV_8UC1);
  PageThumbnail t;
  if (gray.empty() || gray.type() != CV_8UC1) return t;
  const double long_side = std::max(gray.cols, gray.rows);
  t.width = std::clamp(static_cast<int>(std::lround(kThumbnailLongSide * gray.cols / long_side)), 1,
                       kThumbnailLongSide);
  t.height = std::clamp(static_cast<int>(std::lround(kThumbnailLongSide * gray.rows / long_side)),
                        1, kThumbnailLongSide);
  cv::Mat small;
  cv::resize(gray, small, cv::Size(t.width, t.height), 0, 0, cv::INTER_AREA);
  double lo = 0, hi = 0;
  cv::minMaxLoc(small, &lo, &hi);
  t.levels.resize(static_cast<size_t>(t.width) * t.height, 0);
  if (hi > lo) {
    for (int y = 0; y < t.height; ++y) {
      const uint8_t* row = small.ptr<uint8_t>(y);
      for (int x = 0; x < t.width; ++x) {
        t.levels[static_cast<size_t>(y) * t.width + x] =
            static_cast<uint8_t>(std::lround((row[x] - lo) * 15.0 / (hi - lo)));
      }
    }
  }
  return t;
}

Appearance CompareAppearance(const cv::Mat& query_gray, const cv::Matx33d& homography,
                             bool mirrored, const PageThumbnail& thumbnail, cv::Size2f ref_page,
                             int min_pixels) {
  Appearance a;
  if (thumbnail.empty() || query_gray.empty() || query_gray.type() != CV_8UC1 ||
      !(ref_page.width > 0) || !(ref_page.height > 0) ||
      static_cast<int>(thumbnail.levels.size()) != thumbnail.width * thumbnail.height) {
    return a;
  }
  cv::Matx33d h = homography;
  if (!(std::abs(h(2, 2)) > 1e-12)) return a;
  h *= 1.0 / h(2, 2);
  const double scale = std::sqrt(std::abs(h(0, 0) * h(1, 1) - h(0, 1) * h(1, 0)));
  if (!std::isfinite(scale) || scale <= 0) return a;

  cv::Mat query;  // never a header of query_gray when flipped: flip would write into it
  if (mirrored) {
    cv::flip(query_gray, query, 1);
  } else {
    query = query_gray;
  }
  const double long_side = std::max(query.cols, query.rows);
  // About two query pixels per warped pixel: the fine frame has
  // kFine * kThumbnailLongSide pixels per registered unit, a query unit maps
  // to `scale` registered units.
  const double wanted = 2.0 * kFine * kThumbnailLongSide * scale;
  if (wanted < long_side) {
    const double f = wanted / long_side;
    cv::Mat reduced;
    cv::resize(query, reduced,
               cv::Size(std::max(1, static_cast<int>(std::lround(query.cols * f))),
                        std::max(1, static_cast<int>(std::lround(query.rows * f)))),
               0, 0, cv::INTER_AREA);
    query = reduced;
  }
  // Normalised query units -> pixels of `query`; registered units -> fine pixels.
  const double qx = query.cols / (query_gray.cols / long_side);
  const double qy = query.rows / (query_gray.rows / long_side);
  const int fine_w = kFine * thumbnail.width, fine_h = kFine * thumbnail.height;
  const double rx = fine_w / static_cast<double>(ref_page.width);
  const double ry = fine_h / static_cast<double>(ref_page.height);
  const cv::Matx33d to_fine(rx, 0, 0, 0, ry, 0, 0, 0, 1);
  const cv::Matx33d from_query(1 / qx, 0, 0, 0, 1 / qy, 0, 0, 0, 1);
  const cv::Matx33d m = to_fine * h * from_query;

  cv::Mat warped, inside;
  cv::warpPerspective(query, warped, cv::Mat(m), cv::Size(fine_w, fine_h), cv::INTER_LINEAR,
                      cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::warpPerspective(cv::Mat(query.size(), CV_8UC1, cv::Scalar(255)), inside, cv::Mat(m),
                      cv::Size(fine_w, fine_h), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                      cv::Scalar(0));
  cv::Mat warped_f, inside_f, small, small_inside;
  warped.convertTo(warped_f, CV_32F);
  inside.convertTo(inside_f, CV_32F);
  cv::resize(warped_f, small, cv::Size(thumbnail.width, thumbnail.height), 0, 0, cv::INTER_AREA);
  cv::resize(inside_f, small_inside, cv::Size(thumbnail.width, thumbnail.height), 0, 0,
             cv::INTER_AREA);

  double n = 0, sq = 0, sr = 0, sqq = 0, srr = 0, sqr = 0;
  for (int y = 0; y < thumbnail.height; ++y) {
    const float* qrow = small.ptr<float>(y);
    const float* mrow = small_inside.ptr<float>(y);
    for (int x = 0; x < thumbnail.width; ++x) {
      if (mrow[x] < 254.5f) continue;
      const double q = qrow[x];
      const double r = thumbnail.levels[static_cast<size_t>(y) * thumbnail.width + x];
      n += 1;
      sq += q;
      sr += r;
      sqq += q * q;
      srr += r * r;
      sqr += q * r;
    }
  }
  a.compared = n / (static_cast<double>(thumbnail.width) * thumbnail.height);
  if (n < std::max(2, min_pixels)) return a;
  const double var_q = sqq / n - (sq / n) * (sq / n);
  const double var_r = srr / n - (sr / n) * (sr / n);
  a.contrast = std::sqrt(std::max(0.0, var_r));
  // A flat side (under a level of 0..15, or of 0..255 for the query) has
  // nothing to correlate.
  if (var_r < 1e-6 || var_q < 1e-6) return a;
  const double cov = sqr / n - (sq / n) * (sr / n);
  a.correlation = cov / std::sqrt(var_q * var_r);
  const double slope = cov / var_r, offset = sq / n - slope * (sr / n);
  constexpr int kCells = 4;
  for (int cy = 0; cy < kCells; ++cy) {
    const int y0 = cy * thumbnail.height / kCells, y1 = (cy + 1) * thumbnail.height / kCells;
    for (int cx = 0; cx < kCells; ++cx) {
      const int x0 = cx * thumbnail.width / kCells, x1 = (cx + 1) * thumbnail.width / kCells;
      double cell_n = 0, cell_e2 = 0;
      for (int y = y0; y < y1; ++y) {
        const float* qrow = small.ptr<float>(y);
        const float* mrow = small_inside.ptr<float>(y);
        for (int x = x0; x < x1; ++x) {
          if (mrow[x] < 254.5f) continue;
          const double e =
              qrow[x] -
              (slope * thumbnail.levels[static_cast<size_t>(y) * thumbnail.width + x] + offset);
          cell_n += 1;
          cell_e2 += e * e;
        }
      }
      const double cell_pixels = static_cast<double>(y1 - y0) * (x1 - x0);
      if (cell_n < 1 || cell_n < 0.5 * cell_pixels) continue;
      a.worst_cell = std::max(a.worst_cell, std::sqrt(cell_e2 / cell_n / var_q));
    }
  }
  a.measured = true;
  return a;
}

}  // namespace kagami::fingerprint
