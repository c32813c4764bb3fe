#include "kagami/ingest/image_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "ingest_test_util.h"

namespace kagami::ingest {
namespace {

using testing::Bytes;
using ::testing::HasSubstr;

// A busy 1200x1700 page (BGR): gradients, blocks and lines, so that every
// DCT scale has detail to lose.
cv::Mat BusyPage(int width = 1200, int height = 1700) {
  cv::Mat page(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      page.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>((x * 255) / width), static_cast<uchar>((y * 255) / height),
                    static_cast<uchar>(((x + y) / 7) % 256));
    }
  }
  for (int i = 0; i < 40; ++i) {
    cv::rectangle(page, cv::Rect((i * 97) % (width - 120), (i * 151) % (height - 160), 110, 150),
                  cv::Scalar((i * 31) % 256, (i * 57) % 256, (i * 83) % 256), cv::FILLED);
    cv::line(page, cv::Point(0, i * 40), cv::Point(width - 1, height - 1 - i * 40),
             cv::Scalar(0, 0, 0), 3);
  }
  return page;
}

Result<DecodedImage> Decode(const Bytes& bytes, DecodeMode mode, int min_short_side = 256,
                            const IngestLimits& limits = {}) {
  DecodeOptions options;
  options.mode = mode;
  options.min_short_side = min_short_side;
  return DecodeImage(bytes.data(), bytes.size(), options, limits);
}

TEST(ImageDecoderTest, FastJpegPicksTheSmallestScaleKeepingTheShortSide) {
  Bytes jpeg = testing::Encode(BusyPage(), ".jpg", 90);
  Result<DecodedImage> fast = Decode(jpeg, DecodeMode::kFast, 256);
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  EXPECT_EQ(fast->scale_denom, 4);  // 1200/4 = 300 >= 256 > 150 = 1200/8
  EXPECT_EQ(fast->source_width, 1200);
  EXPECT_EQ(fast->source_height, 1700);
  EXPECT_EQ(fast->pixels.type(), CV_8UC1);
  EXPECT_EQ(fast->pixels.cols, 300);
  EXPECT_EQ(fast->pixels.rows, 425);

  EXPECT_EQ(Decode(jpeg, DecodeMode::kFast, 100)->scale_denom, 8);
  EXPECT_EQ(Decode(jpeg, DecodeMode::kFast, 600)->scale_denom, 2);
  EXPECT_EQ(Decode(jpeg, DecodeMode::kFast, 601)->scale_denom, 1);
  EXPECT_EQ(Decode(jpeg, DecodeMode::kFast, 5000)->scale_denom, 1);
}

TEST(ImageDecoderTest, FastJpegIsTheLuminanceOfTheExactDecodeDownscaled) {
  Bytes jpeg = testing::Encode(BusyPage(), ".jpg", 90);
  Result<DecodedImage> fast = Decode(jpeg, DecodeMode::kFast, 256);
  Result<DecodedImage> exact = Decode(jpeg, DecodeMode::kExact);
  ASSERT_TRUE(fast.ok() && exact.ok());
  ASSERT_EQ(exact->pixels.type(), CV_8UC3);
  EXPECT_EQ(exact->scale_denom, 1);
  ASSERT_EQ(exact->pixels.cols, 1200);
  ASSERT_EQ(exact->pixels.rows, 1700);
  cv::Mat luma, small;
  cv::cvtColor(exact->pixels, luma, cv::COLOR_RGB2GRAY);
  cv::resize(luma, small, fast->pixels.size(), 0, 0, cv::INTER_AREA);
  cv::Mat diff;
  cv::absdiff(small, fast->pixels, diff);
  EXPECT_LT(cv::mean(diff)[0], 2.0);
}

TEST(ImageDecoderTest, ExactJpegMatchesLibjpegDefaultsInRgbOrder) {
  cv::Mat bgr = BusyPage(320, 240);
  Bytes jpeg = testing::Encode(bgr, ".jpg", 85);
  Result<DecodedImage> exact = Decode(jpeg, DecodeMode::kExact);
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  // OpenCV decodes through libjpeg(-turbo) with the same defaults, in B,G,R order.
  cv::Mat reference = cv::imdecode(jpeg, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  cv::cvtColor(reference, reference, cv::COLOR_BGR2RGB);
  cv::Mat diff;
  cv::absdiff(reference, exact->pixels, diff);
  double max_diff = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &max_diff);
  EXPECT_LE(max_diff, 1.0);
}

TEST(ImageDecoderTest, GrayJpegDecodesToOneChannel) {
  cv::Mat gray;
  cv::cvtColor(BusyPage(200, 300), gray, cv::COLOR_BGR2GRAY);
  Bytes jpeg = testing::Encode(gray, ".jpg");
  Result<DecodedImage> exact = Decode(jpeg, DecodeMode::kExact);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->pixels.type(), CV_8UC1);
  EXPECT_EQ(exact->pixels.size(), cv::Size(200, 300));
}

TEST(ImageDecoderTest, CmykJpegDecodesToRgbAndGray) {
  // Pure red as Adobe (inverted) CMYK: C=0% M=100% Y=100% K=0% is stored 255,0,0,255.
  std::vector<unsigned char> cmyk(32 * 32 * 4);
  for (size_t i = 0; i < cmyk.size(); i += 4) {
    cmyk[i] = 255;
    cmyk[i + 1] = 0;
    cmyk[i + 2] = 0;
    cmyk[i + 3] = 255;
  }
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitCompress(), tjDestroy);
  unsigned char* encoded = nullptr;
  unsigned long encoded_size = 0;
  ASSERT_EQ(tjCompress2(tj.get(), cmyk.data(), 32, 0, 32, TJPF_CMYK, &encoded, &encoded_size,
                        TJSAMP_444, 95, 0),
            0);
  Bytes jpeg(encoded, encoded + encoded_size);
  tjFree(encoded);
  Result<DecodedImage> exact = Decode(jpeg, DecodeMode::kExact);
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  ASSERT_EQ(exact->pixels.type(), CV_8UC3);
  cv::Vec3b rgb = exact->pixels.at<cv::Vec3b>(16, 16);
  EXPECT_GT(rgb[0], 240);
  EXPECT_LT(rgb[1], 15);
  EXPECT_LT(rgb[2], 15);
  Result<DecodedImage> fast = Decode(jpeg, DecodeMode::kFast);
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  EXPECT_EQ(fast->pixels.type(), CV_8UC1);
  EXPECT_NEAR(fast->pixels.at<uchar>(16, 16), 76, 6);  // BT.601 luma of pure red
}

TEST(ImageDecoderTest, ExactPngIsRgbWithAlphaDropped) {
  cv::Mat bgra(10, 20, CV_8UC4, cv::Scalar(10, 20, 250, 7));  // B, G, R, A
  Result<DecodedImage> exact = Decode(testing::Encode(bgra, ".png"), DecodeMode::kExact);
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  ASSERT_EQ(exact->pixels.type(), CV_8UC3);
  EXPECT_EQ(exact->pixels.at<cv::Vec3b>(5, 5), cv::Vec3b(250, 20, 10));
  EXPECT_EQ(exact->source_width, 20);
  EXPECT_EQ(exact->source_height, 10);
}

TEST(ImageDecoderTest, SixteenBitPngKeepsTheHighByte) {
  cv::Mat deep(4, 4, CV_16UC1, cv::Scalar(0x12FF));
  Result<DecodedImage> exact = Decode(testing::Encode(deep, ".png"), DecodeMode::kExact);
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  ASSERT_EQ(exact->pixels.type(), CV_8UC1);
  EXPECT_EQ(exact->pixels.at<uchar>(0, 0), 0x12);
}

TEST(ImageDecoderTest, FastNonJpegIsFullSizeGray) {
  cv::Mat bgr = BusyPage(300, 200);
  for (const std::string ext : {".png", ".bmp", ".tiff", ".webp"}) {
    Bytes bytes = testing::Encode(bgr, ext);
    ASSERT_FALSE(bytes.empty()) << ext;
    Result<DecodedImage> fast = Decode(bytes, DecodeMode::kFast);
    ASSERT_TRUE(fast.ok()) << ext << ": " << fast.status().ToString();
    EXPECT_EQ(fast->pixels.type(), CV_8UC1) << ext;
    EXPECT_EQ(fast->pixels.size(), cv::Size(300, 200)) << ext;
    EXPECT_EQ(fast->scale_denom, 1);
  }
}

TEST(ImageDecoderTest, FastColourJpegIsTheExactDecodeDownscaledInRgb) {
  Bytes jpeg = testing::Encode(BusyPage(), ".jpg", 90);
  Result<DecodedImage> colour = Decode(jpeg, DecodeMode::kFastColour, 128);
  Result<DecodedImage> exact = Decode(jpeg, DecodeMode::kExact);
  ASSERT_TRUE(colour.ok() && exact.ok()) << colour.status().ToString();
  EXPECT_EQ(colour->scale_denom, 8);  // 1200/8 = 150 >= 128
  ASSERT_EQ(colour->pixels.type(), CV_8UC3);
  EXPECT_EQ(colour->pixels.size(), cv::Size(150, 213));
  cv::Mat small, diff;
  cv::resize(exact->pixels, small, colour->pixels.size(), 0, 0, cv::INTER_AREA);
  cv::absdiff(small, colour->pixels, diff);
  const cv::Scalar mean = cv::mean(diff);
  // The DCT's reduction of 3-pixel lines differs from area averaging by a
  // few levels; channels in another order would differ by tens.
  for (int c = 0; c < 3; ++c) EXPECT_LT(mean[c], 10.0) << c;
  const cv::Mat red(400, 400, CV_8UC3, cv::Scalar(30, 40, 220));  // B, G, R
  Result<DecodedImage> r = Decode(testing::Encode(red, ".jpg", 90), DecodeMode::kFastColour, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->scale_denom, 4);
  const cv::Vec3b p = r->pixels.at<cv::Vec3b>(50, 50);
  EXPECT_NEAR(p[0], 220, 4);
  EXPECT_NEAR(p[2], 30, 4);

  // A gray JPEG stays one channel; other formats decode as kExact.
  cv::Mat gray;
  cv::cvtColor(BusyPage(200, 300), gray, cv::COLOR_BGR2GRAY);
  Result<DecodedImage> gray_colour =
      Decode(testing::Encode(gray, ".jpg"), DecodeMode::kFastColour, 100);
  ASSERT_TRUE(gray_colour.ok());
  EXPECT_EQ(gray_colour->pixels.type(), CV_8UC1);
  EXPECT_EQ(gray_colour->scale_denom, 2);
  Result<DecodedImage> png =
      Decode(testing::Encode(BusyPage(300, 200), ".png"), DecodeMode::kFastColour, 100);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png->pixels.type(), CV_8UC3);
  EXPECT_EQ(png->pixels.size(), cv::Size(300, 200));
}

TEST(ImageDecoderTest, CorruptJpegIsCorrupt) {
  Bytes bytes = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01};
  bytes.resize(300, 0x5A);
  for (DecodeMode mode : {DecodeMode::kFast, DecodeMode::kExact}) {
    Result<DecodedImage> decoded = Decode(bytes, mode);
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorrupt);
  }
}

TEST(ImageDecoderTest, TruncatedJpegIsAnErrorNotAHalfGreyPage) {
  Bytes jpeg = testing::Encode(BusyPage(400, 600), ".jpg");
  jpeg.resize(jpeg.size() / 2);
  for (DecodeMode mode : {DecodeMode::kFast, DecodeMode::kExact}) {
    Result<DecodedImage> decoded = Decode(jpeg, mode);
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorrupt);
    EXPECT_THAT(decoded.status().message(), HasSubstr("truncated"));
  }
}

TEST(ImageDecoderTest, TruncatedPngIsCorrupt) {
  Bytes png = testing::Encode(BusyPage(400, 600), ".png");
  png.resize(png.size() / 2);
  EXPECT_EQ(Decode(png, DecodeMode::kExact).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(Decode(png, DecodeMode::kFast).status().code(), StatusCode::kCorrupt);
}

// Patches the first SOF0 segment of a JPEG to claim `width` x `height`.
void PatchJpegSize(Bytes* jpeg, int width, int height) {
  for (size_t i = 2; i + 9 < jpeg->size(); ++i) {
    if ((*jpeg)[i] == 0xFF && (*jpeg)[i + 1] == 0xC0) {
      (*jpeg)[i + 5] = static_cast<unsigned char>(height >> 8);
      (*jpeg)[i + 6] = static_cast<unsigned char>(height & 0xFF);
      (*jpeg)[i + 7] = static_cast<unsigned char>(width >> 8);
      (*jpeg)[i + 8] = static_cast<unsigned char>(width & 0xFF);
      return;
    }
  }
  FAIL() << "no SOF0 segment";
}

TEST(ImageDecoderTest, HugeJpegIsRefusedFromItsHeader) {
  Bytes jpeg = testing::Encode(BusyPage(64, 64), ".jpg");
  PatchJpegSize(&jpeg, 60000, 60000);
  for (DecodeMode mode : {DecodeMode::kFast, DecodeMode::kExact}) {
    Result<DecodedImage> decoded = Decode(jpeg, mode);
    EXPECT_EQ(decoded.status().code(), StatusCode::kResourceExhausted);
    EXPECT_THAT(decoded.status().message(), HasSubstr("60000x60000"));
  }
}

Bytes PngHeader(uint32_t width, uint32_t height) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (uint32_t v : {width, height}) {
    for (int shift = 24; shift >= 0; shift -= 8)
      png.push_back(static_cast<unsigned char>(v >> shift));
  }
  Bytes rest = {8, 2, 0, 0, 0, 0, 0, 0, 0};  // depth, colour type, ..., fake CRC
  png.insert(png.end(), rest.begin(), rest.end());
  return png;
}

TEST(ImageDecoderTest, HugeImagesAreRefusedFromTheirHeaders) {
  std::vector<std::pair<std::string, Bytes>> cases;
  cases.emplace_back("png", PngHeader(100000, 100000));
  cases.emplace_back("png under max_dimension", PngHeader(20000, 20000));
  Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0};
  cases.emplace_back("gif", gif);
  Bytes bmp(54, 0);
  bmp[0] = 'B';
  bmp[1] = 'M';
  bmp[14] = 40;
  bmp[18] = 0xA0;
  bmp[19] = 0x86;
  bmp[20] = 0x01;  // width 100000
  bmp[22] = 0xA0;
  bmp[23] = 0x86;
  bmp[24] = 0x01;  // height 100000
  cases.emplace_back("bmp", bmp);
  Bytes webp = {'R', 'I', 'F', 'F', 30, 0, 0, 0, 'W',  'E',  'B', 'P',  'V',  'P', '8', 'X',
                10,  0,   0,   0,   0,  0, 0, 0, 0xFF, 0x3F, 0,   0xFF, 0x3F, 0};  // 16384 x 16384
  cases.emplace_back("webp", webp);
  Bytes tiff = {'I', 'I', 42, 0, 8, 0, 0,    0,    2,    0,    0, 1,
                4,   0,   1,  0, 0, 0, 0x40, 0x9C, 0,    0,           // ImageWidth LONG 40000
                1,   1,   4,  0, 1, 0, 0,    0,    0x40, 0x9C, 0, 0,  // ImageLength LONG 40000
                0,   0,   0,  0};
  cases.emplace_back("tiff", tiff);
  for (const auto& [name, bytes] : cases) {
    for (DecodeMode mode : {DecodeMode::kFast, DecodeMode::kExact}) {
      Result<DecodedImage> decoded = Decode(bytes, mode);
      EXPECT_EQ(decoded.status().code(), StatusCode::kResourceExhausted)
          << name << ": " << decoded.status().ToString();
    }
  }
}

TEST(ImageDecoderTest, LimitsAreTheCallersToSet) {
  Bytes png = testing::Encode(BusyPage(100, 100), ".png");
  IngestLimits limits;
  limits.max_pixels = 9999;
  EXPECT_EQ(Decode(png, DecodeMode::kExact, 256, limits).status().code(),
            StatusCode::kResourceExhausted);
  limits.max_pixels = 10000;
  EXPECT_TRUE(Decode(png, DecodeMode::kExact, 256, limits).ok());
  limits.max_dimension = 99;
  EXPECT_EQ(Decode(png, DecodeMode::kExact, 256, limits).status().code(),
            StatusCode::kResourceExhausted);
}

TEST(ImageDecoderTest, NonImagesAndEmptyInputAreRejected) {
  Bytes text = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(Decode(text, DecodeMode::kFast).status().code(), StatusCode::kUnsupported);
  EXPECT_FALSE(Decode(Bytes{}, DecodeMode::kFast).ok());
  EXPECT_EQ(Decode(PngHeader(10, 10), DecodeMode::kExact).status().code(), StatusCode::kCorrupt);
  Bytes short_png = PngHeader(10, 10);
  short_png.resize(12);
  EXPECT_EQ(Decode(short_png, DecodeMode::kExact).status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace kagami::ingest
