#pragma once

#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kagami::fingerprint {

// Geometric normalisation of a page before global hashing (PDQ), so that the
// commonest pirate edits (different margins, letterboxing to a site's aspect
// ratio, two pages merged into one spread) do not change the hashed content.
// Registration hashes the trimmed page as well as the full one; a query hashes
// every view from NormalizedViews().
//
// All functions take CV_8UC1 (asserted), any size >= 1x1, and are thread-safe
// (no shared state).

// Tunables, exposed for tests and calibration; the defaults are what Kagami uses.
struct TrimOptions {
  // A pixel is "ink" when it differs from the side's background level by more
  // than this (JPEG q30 noise on flat paper stays well below 30).
  int tolerance = 48;
  // A row/column is blank when at most this fraction of it (and at least 3
  // pixels) is ink: specks, dust and a crossing thin scanner line are blank.
  double max_ink_fraction = 0.004;
  // Furniture skipped while trimming: a non-blank band at most this fraction of
  // the page's extent (page numbers, running heads, thin scanner lines along the
  // edge), followed by a blank gap of at least `min_gap_fraction`, is trimmed.
  double max_furniture_fraction = 0.025;
  double min_gap_fraction = 0.005;
  // Margins are trimmed in rounds: first any uniform colour (letterbox bars, or
  // paper), then only bright layers (gray >= 160: the page's own paper inside
  // dark bars), so that a dark frame around the content is never peeled off.
  // A margin thinner than max(4 px, 1% of the extent) is kept.
  int max_rounds = 3;
};

// The bounding rectangle of the page's content after removing near-uniform
// margins on each side: white or off-white paper, black or white letterbox bars,
// any uniform colour. A side whose outermost strip is not uniform is not
// trimmed. Never trims into content: trimming stops at the first non-blank band
// that is not furniture (see TrimOptions). Returns the full rect when there is
// nothing to trim, and never an empty rect (a blank page returns the full rect).
cv::Rect TrimUniformBorders(const cv::Mat& gray, const TrimOptions& options = {});

// For a wide image (width / height > kSpreadMinAspect), the column at which to
// split it into two pages: the centre of the widest blank vertical gutter in the
// middle 30% of the width (the two pages' inner margins), or width / 2 when
// there is no gutter (pages scanned edge to edge). std::nullopt for images that
// are not wide. Run it on the trimmed image: padding makes pages look wide.
inline constexpr double kSpreadMinAspect = 1.2;
std::optional<int> DetectSpread(const cv::Mat& gray);

// One image to hash for a query page.
struct View {
  cv::Mat image;              // CV_8UC1, shares memory with the input (a ROI)
  std::string name;           // "full", "trimmed", "left" or "right"
  cv::Rect rect_in_original;  // where `image` lies in the input
};

// The views a query page should be hashed as: "full" (always, first), "trimmed"
// (when trimming removed anything), and for a wide trimmed image its two halves
// "left" and "right", each trimmed of its own margins. Left/right are in image
// order; with right-to-left manga the "right" half is the earlier page.
std::vector<View> NormalizedViews(const cv::Mat& gray, const TrimOptions& options = {});

}  // namespace kagami::fingerprint
