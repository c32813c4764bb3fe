#include "kagami/fingerprint/blurred_pdq.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace kagami::fingerprint {

PdqHash BlurredPdq(PdqHasher& hasher, const cv::Mat& gray) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  // The blur's cost grows with the page's area times sigma: a larger page is
  // first reduced to kBlurredPdqMaxSide on its long side.
  cv::Mat page = gray;
  const int long_side = std::max(gray.cols, gray.rows);
  if (long_side > kBlurredPdqMaxSide) {
    const double scale = static_cast<double>(kBlurredPdqMaxSide) / long_side;
    cv::resize(gray, page,
               cv::Size(std::max(1, static_cast<int>(std::lround(gray.cols * scale))),
                        std::max(1, static_cast<int>(std::lround(gray.rows * scale)))),
               0, 0, cv::INTER_AREA);
  }
  cv::Mat blurred;
  cv::GaussianBlur(page, blurred, cv::Size(), kBlurredPdqSigma * page.cols / 64.0,
                   kBlurredPdqSigma * page.rows / 64.0);
  return hasher.Hash(blurred);
}

}  // namespace kagami::fingerprint
