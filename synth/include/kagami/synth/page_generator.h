#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

namespace kagami::synth {

// Deterministic synthetic manga-like pages for the demo, tests and benchmarks:
// white paper, black panel borders in a random grid, line-art figures, hatching
// and screentone, speech balloons with glyph-like strokes. Same seed, same page,
// on every machine (own PRNG, no std::random distributions).
//
// Returns CV_8UC3 in OpenCV's B,G,R order (ready for cv::imwrite), width x height pixels.
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
std::string_view EditName(Edit edit);          // "jpeg_q30", "crop5", ...
std::vector<Edit> AllEdits();                  // every value except kNone

// Applies one edit; `seed` drives any randomness. Returns CV_8UC3 BGR.
cv::Mat ApplyEdit(const cv::Mat& page, Edit edit, uint64_t seed);

// Two pages side by side (right-to-left reading: `right` page on the right), as
// pirate sites merge spreads. Heights are equalised by scaling `left`.
cv::Mat MakeSpread(const cv::Mat& left, const cv::Mat& right);

// Encodes as JPEG at `quality` (1..100) / PNG; thin wrappers used by fixtures.
std::vector<unsigned char> EncodeJpeg(const cv::Mat& bgr, int quality);
std::vector<unsigned char> EncodePng(const cv::Mat& bgr);

}  // namespace kagami::synth
