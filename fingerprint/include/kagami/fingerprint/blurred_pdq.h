#pragma once

#include <opencv2/core.hpp>

#include "kagami/fingerprint/pdq_hasher.h"

namespace kagami::fingerprint {

// PDQ of a page blurred first: a Gaussian with sigma = kBlurredPdqSigma x
// (side / 64) along each axis, half of the distance between two of PDQ's
// 64x64 samples.
//
// Why: PDQ (pdq_hasher.h) reduces an image to 64x64 with two passes of a box
// filter about side/128 wide, which barely attenuates the frequency of lines
// of type (a line every ~12 px on a page 440 px tall, a sample every ~7 px):
// the lines alias, and a copy at another scale aliases differently, its hash
// 32-80 bits from the registered one. Blurred first, the hashes of a page's
// copies at 0.6-1.3x its scale are about half as far (bench/RESULTS.md section
// 11, "PDQ of a page blurred before hashing"), while unrelated pages stay as
// far. Not a PDQ hash (the reference tools do not compute it): Kagami matches
// it only against the blurred hashes it registered.
//
// `gray`: CV_8UC1, at least 1x1. Thread-compatible as `hasher`.
inline constexpr double kBlurredPdqSigma = 0.5;
// Pages larger than this (pixels, long side) are reduced to it first (area
// averaging): the blur removes what the reduction would, and costs a tenth
// (~0.3 ms a view instead of 2-5 ms at 512-700 px).
inline constexpr int kBlurredPdqMaxSide = 256;
PdqHash BlurredPdq(PdqHasher& hasher, const cv::Mat& gray);

}  // namespace kagami::fingerprint
