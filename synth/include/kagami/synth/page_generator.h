#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kagami::synth {

// Deterministic synthetic manga-like pages for the demo, tests and benchmarks:
// white paper, black panel borders in a random grid, line-art figures, hatching
// and screentone, speech balloons with glyph-like strokes. Same seed, same page,
// on every machine (own PRNG, no std::random distributions).
//
// Returns CV_8UC3 in OpenCV's B,G,R order (ready for cv::imwrite), width x height pixels
// (each 64..20000, asserted). Paper is a warm off-white (never 255); only balloon
// interiors are pure white (see FindBalloons). About 8 ms for 1200 x 1700.
// Thread-safe (no shared state).
cv::Mat GenerateMangaPage(uint64_t seed, int width = 1200, int height = 1700);

// Pirate-style edits applied to a registered page to make a "found in the wild" copy.
enum class Edit {
  kNone,
  kJpegQ30,         // re-encode at JPEG quality 30
  kRescale50,       // downscale to 50%
  kRescale150,      // upscale to 150%
  kCrop3,           // crop 3% from every side
  kCrop5,           // crop 5% from every side
  kCrop10,          // crop 10% from every side
  kCrop20,          // crop 20% from every side
  kCropRandom,      // crop 5-20% per side, each side drawn independently from the seed
  kMirror,          // horizontal flip
  kWatermarkStrip,  // a site's text banner across the bottom ~8%
  kCreditsStrip,    // a scanlation credits block pasted over 10% of the page
  kGrayscale,       // colour to gray (3 equal channels)
  kPad4x3,          // padded (letterboxed) to 4:3
  kPad16x9,         // padded to 16:9
  kRotate2,         // rotated 2 degrees (white fill)
  kRotate5,         // rotated 5 degrees
  kBalloonText,     // text inside balloons replaced (re-lettered translation)
};
std::string_view EditName(Edit edit);                  // "jpeg_q30", "crop5", ...
std::vector<Edit> AllEdits();                          // every value except kNone
std::optional<Edit> ParseEdit(std::string_view name);  // inverse of EditName ("none" too)

// Applies one edit; `seed` drives any randomness. `page` must be CV_8UC3 (asserted).
// Returns CV_8UC3 BGR. Geometry of the result, for W x H input:
//   crops: CropRectForEdit(); rescale50: W/2 x H/2 (INTER_AREA); rescale150: 3W/2 x 3H/2;
//   pads: the short dimension grows to reach the target aspect (w/h = 4/3 or 16/9), the page
//     centred at PadContentRect(), bars all black or all white (seed);
//   rotations: about the centre, sign from the seed, same size, white (255) fill;
//   watermark_strip: the bottom round(0.08 H) rows darkened (alpha 0.65) with a site URL;
//   credits_strip: a full-width band of round(0.10 H) rows at the top or bottom (seed),
//     replaced by a logo box and three lines of credits;
//   balloon_text: every balloon found by FindBalloons() is blanked and re-lettered with new
//     random glyph strokes. Works on pages straight from GenerateMangaPage() (and on
//     lossless edits of them); elsewhere it may find no balloon and return a plain copy.
//   all others keep W x H.
cv::Mat ApplyEdit(const cv::Mat& page, Edit edit, uint64_t seed);

// The region of a W x H page that a crop edit keeps (full rect for other edits).
cv::Rect CropRectForEdit(cv::Size size, Edit edit, uint64_t seed);
// Where a W x H page lands inside its letterboxed copy padded to `target_aspect` (w/h).
cv::Rect PadContentRect(cv::Size size, double target_aspect);

// Speech balloons of a generated page: the generator fills balloon interiors with pure
// white (255,255,255) and tints everything else, paper included, so balloons are the
// 4-connected pure-white components whose area is 45-82% of their bounding box (an
// ellipse minus its glyphs). Returns their bounding boxes, in no particular order.
std::vector<cv::Rect> FindBalloons(const cv::Mat& page);

// Two pages side by side (right-to-left reading: `right` page on the right), as
// pirate sites merge spreads. Heights are equalised by scaling `left`.
cv::Mat MakeSpread(const cv::Mat& left, const cv::Mat& right);

// Encodes as JPEG at `quality` (1..100) / PNG; thin wrappers used by fixtures.
std::vector<unsigned char> EncodeJpeg(const cv::Mat& bgr, int quality);
std::vector<unsigned char> EncodePng(const cv::Mat& bgr);

}  // namespace kagami::synth
