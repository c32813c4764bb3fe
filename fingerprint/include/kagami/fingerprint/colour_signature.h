#pragma once

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <span>

namespace kagami::fingerprint {

// A page's colours as a hue histogram, and the check that a match does not
// pair pictures coloured differently: the same drawing in another colour (an
// icon set's blue and purple buttons, a folder in green and in red) has the
// luminance structure PDQ and the local features see, and nothing else tells
// the two apart.
//
// The signature: the page area-reduced to at most kColourLongSide pixels on
// its long side, each pixel's chroma (Cb, Cr of ITU-R BT.601 / JFIF, centred
// on 0) taken as a vector; a pixel is chromatic when the vector is at least
// kMinChroma long (white, black, greys and a paper's tint are not), and counts
// in the hue sector of its angle (kHueSectors of 30 degrees). Hue histograms
// are the classic colour index (Swain & Ballard, "Color indexing", IJCV 1991);
// hue alone, not saturation or lightness, because re-encoding, gamma and
// saturation filters change those and keep the hue.
//
// The comparison is a veto, not a score: it measures how much of each side's
// colour lies in hues the other side lacks (a sector counts as present when
// it or a neighbour holds at least kPresentFraction of the chromatic pixels,
// so a shift of up to 30-60 degrees of hue stays present), and takes the
// smaller of the two. A copy keeps its hues (shifts, desaturation and a
// colour temperature change leave most of them present); a greyscale copy
// has no chromatic pixels and is not compared. Measured on real images and
// the bench's colour edits (bench/RESULTS.md, "Colour").
//
// Thread-safe: pure functions.
inline constexpr int kHueSectors = 12;
inline constexpr int kColourLongSide = 256;
inline constexpr double kMinChroma = 16.0;  // levels of 8-bit Cb/Cr
inline constexpr double kPresentFraction = 0.02;
inline constexpr size_t kColourSignatureBytes = 4;

struct ColourSignature {
  bool measured = false;  // false: none stored (an older blob) or no pixels
  double chromatic = 0;   // chromatic pixels / pixels, 0..1
  // Chromatic pixels per hue sector / chromatic pixels (all 0 when none);
  // an unpacked signature holds its levels' typical values instead, which
  // need not sum to 1 (comparisons renormalise). Sector k holds hues
  // atan2(Cr, Cb) in [-180 + 30k, -150 + 30k) degrees.
  std::array<double, kHueSectors> hue{};

  // 4 bytes, so that the quantised blob keeps every keypoint (its 4 spare
  // bytes): the chromatic fraction in 1/255 steps, then each sector's share
  // as 2 bits, 0: below kPresentFraction, 1: below 0.1, 2: below 0.3, 3:
  // above. Unpack restores a sector's presence exactly and its share as the
  // level's typical value (0, 0.05, 0.18, 0.5). Unpack gives
  // false (and leaves `out` untouched) on another size.
  std::array<uint8_t, kColourSignatureBytes> Pack() const;
  static bool Unpack(std::span<const uint8_t> packed, ColourSignature* out);
};

// The signature of `rgb` (CV_8UC3 in R,G,B order, as ingest decodes; CV_8UC1
// gives a measured signature with no chromatic pixels) within `region`
// (pixels, clipped to the image). Not measured for an empty image or region.
ColourSignature MakeColourSignature(const cv::Mat& rgb, const cv::Rect& region);
ColourSignature MakeColourSignature(const cv::Mat& rgb);

struct ColourComparison {
  // Both sides measured with at least `min_chromatic` chromatic pixels.
  bool measured = false;
  // The smaller of the query's share of colour in hues the registered page
  // lacks and the registered page's in hues the query lacks, 0..1.
  double disagreement = 0;
};

ColourComparison CompareColour(const ColourSignature& query, const ColourSignature& registered,
                               double min_chromatic);

// Tinted paper: a copy under another colour temperature, or scanned from
// yellowed paper, has a tinted paper where its original has white, and every
// hue of the picture moves with it (a blue drawing turns grey under a warm
// cast). The paper is the most common colour of `region` (each channel in
// steps of 8 levels, the pixels within kPaperTolerance of that step's mean),
// taken as paper when it covers at least kMinPaperFraction of the region, is
// bright (BT.601 luma at least kMinPaperLuma) and chromatic (kMinChroma).
// Returns the region (area-reduced as MakeColourSignature does) white-balanced
// on it, each channel scaled so that the paper becomes neutral (von Kries
// adaptation: gains max(paper) / paper per channel, clipped at 255), or
// std::nullopt when the region has no tinted paper (white paper included).
// `rgb` as MakeColourSignature takes it.
inline constexpr double kMinPaperFraction = 0.3;
inline constexpr double kMinPaperLuma = 150.0;
inline constexpr int kPaperTolerance = 12;
std::optional<cv::Mat> BalancedOnPaper(const cv::Mat& rgb, const cv::Rect& region);

}  // namespace kagami::fingerprint
