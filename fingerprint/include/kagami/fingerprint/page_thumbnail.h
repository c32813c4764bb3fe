#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <vector>

namespace kagami::fingerprint {

// A registered page's appearance at 32 pixels on its long side, 4 bits per
// pixel (at most 512 bytes, stored in the page's quantised-features blob), and
// the photometric check of a geometric match against it: the query warped onto
// the registered page by the verified homography and compared pixel by pixel.
//
// Geometric verification counts keypoint correspondences and judges where they
// lie (geometric_verifier.h); on a small drawing, a smooth photo or a sparse
// page a copy's inliers can fail the coverage and spread rules that keep
// chance consensus out. Whether the whole overlap looks alike is independent
// evidence: zero-mean normalised cross-correlation (ZNCC; Lewis, "Fast
// normalized cross-correlation", Vision Interface 1995) of the query, resampled
// through the homography, with the thumbnail over every thumbnail pixel that
// falls inside the query. It is invariant to brightness and contrast changes
// (re-encoding, gamma), not to content changes. The acceptance thresholds live
// with the caller (index::RobustOptions), measured on real images.
//
// Thread-safe: pure functions.
inline constexpr int kThumbnailLongSide = 32;
inline constexpr size_t kMaxThumbnailBytes = kThumbnailLongSide * kThumbnailLongSide / 2;

struct PageThumbnail {
  int width = 0;  // pixels; 0 x 0 when there is none
  int height = 0;
  std::vector<uint8_t> levels;  // width * height, row-major, 0..15 (min..max of the page)

  bool empty() const { return width <= 0 || height <= 0; }
  // Two pixels per byte (low nibble first); (width * height + 1) / 2 bytes.
  std::vector<uint8_t> Pack() const;
  // False (and `out` untouched) when `packed` is not (width * height + 1) / 2
  // bytes or the size is outside 1..kThumbnailLongSide.
  static bool Unpack(int width, int height, std::span<const uint8_t> packed, PageThumbnail* out);
};

// The thumbnail of a page described for local features: `gray` (8-bit, one
// channel) is the page whose long side is 1 in the normalised frame. Area
// averaging to 32 pixels on the long side (the other side in proportion, at
// least 1), then the page's darkest..brightest stretched to 0..15. Empty for an
// empty image.
PageThumbnail MakePageThumbnail(const cv::Mat& gray);

struct Appearance {
  bool measured = false;   // enough compared pixels with contrast on both sides
  double correlation = 0;  // ZNCC over the compared pixels, -1..1
  double compared = 0;     // compared pixels / thumbnail pixels, 0..1
  // Standard deviation of the compared thumbnail pixels, in levels of 0..15:
  // how much there is to compare (a blank region has none).
  double contrast = 0;
  // The query's residual after the best linear fit of its levels to the
  // thumbnail's (least squares over the compared pixels), root mean square
  // per cell of a 4x4 grid over the thumbnail (cells at least half
  // compared), relative to the query's standard deviation; the largest cell.
  // sqrt(1 - correlation^2) for an even residual; a local difference (a mouth
  // redrawn on a shared face, a caption) shows in its cell. 0..
  double worst_cell = 0;
};

// Compares the query with a registered page's thumbnail through `homography`
// (query -> registered, normalised units: long side 1, as in Verification).
// `query_gray` is the query image whose long side is 1 in the query's
// normalised frame (8-bit, one channel), `ref_page` the registered page's
// normalised size (QuantisedFeatures::page_width/height). With `mirrored`, the
// homography maps the horizontally flipped query (a mirrored verification).
// The query is area-reduced to about twice the thumbnail's resolution at the
// match's scale, warped (bilinear) onto the registered page at 4x the
// thumbnail, and area-reduced to the thumbnail; a thumbnail pixel is compared
// when its whole footprint lies inside the query. Not measured (measured =
// false) with fewer than `min_pixels` compared pixels or a flat side.
Appearance CompareAppearance(const cv::Mat& query_gray, const cv::Matx33d& homography,
                             bool mirrored, const PageThumbnail& thumbnail, cv::Size2f ref_page,
                             int min_pixels = 64);

}  // namespace kagami::fingerprint
