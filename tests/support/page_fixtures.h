#pragma once

#include <gtest/gtest.h>

#include <utility>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/local_features.h"

namespace kagami::testing {

// Gray view of a generated page (synth pages are B,G,R).
inline cv::Mat Gray(const cv::Mat& bgr) {
  cv::Mat g;
  cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
  return g;
}

// Local features of a gray page; a failed extraction fails the calling test
// and yields empty features.
inline fingerprint::LocalFeatures Extract(const cv::Mat& gray, bool mirrored = false,
                                          const fingerprint::LocalFeatureOptions& options = {}) {
  Result<fingerprint::LocalFeatures> r = fingerprint::ExtractLocalFeatures(gray, mirrored, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : fingerprint::LocalFeatures{};
}

}  // namespace kagami::testing
