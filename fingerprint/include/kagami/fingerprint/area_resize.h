#pragma once

#include <opencv2/core.hpp>

namespace kagami::fingerprint {

// Area-weighted downscale of a CV_8UC1 image to `size` (each side at least 1
// and at most the input's): every output pixel is the mean of the input area
// it covers, partly covered input pixels weighted by their covered fraction,
// rounded to nearest. This is what cv::resize(..., cv::INTER_AREA) computes;
// the result is within 1 gray level of OpenCV 4.6's (float sums in a different
// order), and is the same image at any thread count.
//
// Why not cv::resize: for a non-integer factor OpenCV's area path walks its
// whole horizontal weight table once per output row that a source row
// touches, ~5 ns per input pixel here; this one filters each source row once
// (separable, at most ceil(factor) + 1 taps per output) and sums rows
// column-wise, 4-5x faster on the page views' working copies
// (bench/kernels/page_views_bench.cc). Thread-safe; allocates the output and
// one float buffer of input rows x output columns.
cv::Mat AreaDownscale(const cv::Mat& gray, cv::Size size);

}  // namespace kagami::fingerprint
