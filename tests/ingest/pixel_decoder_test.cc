// The OpenCV-free decoding core (pixel_decoder.h) against the cv::Mat API and
// OpenCV itself: same pixels, so kagami-hash and kagami-core agree.

#include "kagami/ingest/pixel_decoder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "ingest_test_util.h"
#include "kagami/ingest/image_decoder.h"

namespace kagami::ingest {
namespace {

using testing::Bytes;

TEST(PixelDecoderTest, RgbToGrayEqualsOpenCvBitForBit) {
  cv::Mat rgb(37, 101, CV_8UC3);
  cv::RNG rng(5);
  rng.fill(rgb, cv::RNG::UNIFORM, 0, 256);
  cv::Mat expected;
  cv::cvtColor(rgb, expected, cv::COLOR_RGB2GRAY);
  cv::Mat gray(rgb.size(), CV_8UC1);
  RgbToGray(PixelView{rgb.data, rgb.cols, rgb.rows, 3, rgb.step[0]},
            PixelView{gray.data, gray.cols, gray.rows, 1, gray.step[0]});
  EXPECT_EQ(cv::countNonZero(gray != expected), 0);
}

TEST(PixelDecoderTest, SamePixelsAsDecodeImageForEveryFormatItHandles) {
  cv::Mat page = testing::LabelledPage("core", 200, 150);
  std::vector<std::pair<std::string, Bytes>> inputs = {
      {"jpeg", testing::Encode(page, ".jpg")},
      {"png", testing::Encode(page, ".png")},
  };
  cv::Mat gray;
  cv::cvtColor(page, gray, cv::COLOR_BGR2GRAY);
  inputs.push_back({"gray jpeg", testing::Encode(gray, ".jpg")});
  for (const auto& [name, bytes] : inputs) {
    for (DecodeMode mode : {DecodeMode::kExact, DecodeMode::kFast}) {
      DecodeOptions options;
      options.mode = mode;
      options.min_short_side = 64;  // lets the fast path scale down
      VectorPixelStore store;
      Result<DecodeInfo> core = DecodePixels(bytes.data(), bytes.size(), options, {}, store, {});
      ASSERT_TRUE(core.ok()) << name << ": " << core.status().ToString();
      Result<DecodedImage> mat = DecodeImage(bytes.data(), bytes.size(), options, {});
      ASSERT_TRUE(mat.ok()) << name;
      const PixelView& v = store.view();
      ASSERT_EQ(v.width, mat->pixels.cols) << name;
      ASSERT_EQ(v.height, mat->pixels.rows) << name;
      ASSERT_EQ(v.channels, mat->pixels.channels()) << name;
      EXPECT_EQ(core->scale_denom, mat->scale_denom) << name;
      for (int y = 0; y < v.height; ++y) {
        ASSERT_EQ(
            std::memcmp(v.row(y), mat->pixels.ptr(y), static_cast<size_t>(v.width) * v.channels), 0)
            << name << " row " << y;
      }
    }
  }
}

TEST(PixelDecoderTest, FormatsNeedingOpenCvAreUnsupportedWithoutAFallback) {
  Bytes webp = testing::Encode(testing::LabelledPage("webp"), ".webp");
  VectorPixelStore store;
  Result<DecodeInfo> r = DecodePixels(webp.data(), webp.size(), {}, {}, store, {});
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported) << r.status().ToString();
  EXPECT_NE(r.status().message().find("image/webp"), std::string::npos);
}

}  // namespace
}  // namespace kagami::ingest
