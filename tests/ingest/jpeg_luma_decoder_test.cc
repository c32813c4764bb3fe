#include "../../ingest/src/jpeg_luma_decoder.h"

#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kagami/ingest/image_decoder.h"
#include "kagami/synth/page_generator.h"

namespace kagami::ingest::internal {
namespace {

using Bytes = std::vector<unsigned char>;

struct TjDestroy {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDestroy>;

// Sets an environment variable for the lifetime of the object (TurboJPEG's
// compressor reads TJ_RESTART, TJ_OPTIMIZE, TJ_ARITHMETIC; the decoder wiring
// reads KAGAMI_JPEG). Tests run on one thread.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// `image` is CV_8UC1 (compressed as gray unless subsamp says otherwise) or BGR.
Bytes TjCompress(const cv::Mat& image, int subsamp, int quality, int flags = 0) {
  TjHandle tj(tjInitCompress());
  unsigned char* encoded = nullptr;
  unsigned long encoded_size = 0;
  int format = image.channels() == 1 ? TJPF_GRAY : TJPF_BGR;
  int rc = tjCompress2(tj.get(), image.data, image.cols, static_cast<int>(image.step), image.rows,
                       format, &encoded, &encoded_size, subsamp, quality, flags);
  EXPECT_EQ(rc, 0) << tjGetErrorStr2(tj.get());
  Bytes out(encoded, encoded + encoded_size);
  tjFree(encoded);
  return out;
}

// TurboJPEG's TJPF_GRAY decode at 1/denom, or an empty Mat when it reports
// an error (or any warning, unless `allow_warnings`).
cv::Mat TurboGray(const Bytes& jpeg, int denom, bool allow_warnings = false) {
  TjHandle tj(tjInitDecompress());
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), jpeg.data(), jpeg.size(), &width, &height, &subsamp,
                          &colorspace) != 0) {
    return {};
  }
  tjscalingfactor factor{1, denom};
  cv::Mat out(TJSCALED(height, factor), TJSCALED(width, factor), CV_8UC1);
  if (tjDecompress2(tj.get(), jpeg.data(), jpeg.size(), out.data, out.cols,
                    static_cast<int>(out.step), out.rows, TJPF_GRAY, 0) != 0) {
    if (!allow_warnings || tjGetErrorCode(tj.get()) != TJERR_WARNING) return {};
  }
  return out;
}

Result<cv::Mat> LumaDecode(const Bytes& jpeg, int denom, const IngestLimits& limits = {}) {
  JpegLumaDecoder decoder;
  KAGAMI_RETURN_IF_ERROR(decoder.ReadHeader(jpeg.data(), jpeg.size()));
  VectorPixelStore store;
  KAGAMI_RETURN_IF_ERROR(decoder.DecodeLuma(denom, limits, store));
  const PixelView& v = store.view();
  return cv::Mat(v.height, v.width, CV_8UC1, v.data, v.stride).clone();
}

// Uniform noise blended with blocks and edges, so every coefficient category
// (and long Huffman codes) shows up.
cv::Mat RandomImage(int width, int height, int channels, uint64_t seed) {
  cv::Mat image(height, width, CV_8UC(channels));
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  cv::Mat smooth;
  cv::GaussianBlur(image, smooth, cv::Size(0, 0), 1 + static_cast<double>(seed % 4));
  for (int i = 0; i < 6; ++i) {
    cv::Point a(rng.uniform(0, width), rng.uniform(0, height));
    cv::Point b(rng.uniform(0, width), rng.uniform(0, height));
    cv::rectangle(smooth, a, b, cv::Scalar::all(rng.uniform(0, 256)), i % 2 ? cv::FILLED : 2);
  }
  cv::Mat mixed;
  cv::addWeighted(smooth, 0.7, image, 0.3, 0, mixed);
  return mixed;
}

cv::Mat MangaImage(int width, int height, uint64_t seed) {
  return synth::GenerateMangaPage(seed, width, height);
}

constexpr int kColourSubsamplings[] = {TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_440, TJSAMP_411};

std::string Describe(const cv::Mat& image, int subsamp, int quality) {
  return std::to_string(image.cols) + "x" + std::to_string(image.rows) + " subsamp " +
         std::to_string(subsamp) + " q" + std::to_string(quality);
}

// Decodes at 1/2, 1/4 and 1/8 with both decoders and expects identical planes.
void ExpectMatchesTurbo(const Bytes& jpeg, const std::string& what, bool allow_warnings = false) {
  for (int denom : {2, 4, 8}) {
    cv::Mat expected = TurboGray(jpeg, denom, allow_warnings);
    ASSERT_FALSE(expected.empty()) << what << ": TurboJPEG failed";
    Result<cv::Mat> actual = LumaDecode(jpeg, denom);
    ASSERT_TRUE(actual.ok()) << what << " 1/" << denom << ": " << actual.status().ToString();
    ASSERT_EQ(actual->size(), expected.size()) << what << " 1/" << denom;
    ASSERT_EQ(actual->type(), CV_8UC1);
    ASSERT_TRUE(actual->isContinuous());
    EXPECT_EQ(cv::countNonZero(*actual != expected), 0) << what << " 1/" << denom;
  }
}

TEST(JpegLumaDecoderTest, MatchesTurboJpegOnOddSizesAllSubsamplingsAndQualities) {
  const cv::Size sizes[] = {{1, 1}, {7, 5}, {8, 8}, {17, 9}, {16, 33}, {333, 517}};
  uint64_t seed = 1;
  for (cv::Size size : sizes) {
    for (int quality : {10, 50, 85, 100}) {
      cv::Mat gray = RandomImage(size.width, size.height, 1, seed++);
      ExpectMatchesTurbo(TjCompress(gray, TJSAMP_GRAY, quality), Describe(gray, -1, quality));
      cv::Mat bgr = RandomImage(size.width, size.height, 3, seed++);
      for (int subsamp : kColourSubsamplings) {
        ExpectMatchesTurbo(TjCompress(bgr, subsamp, quality), Describe(bgr, subsamp, quality));
      }
    }
  }
}

TEST(JpegLumaDecoderTest, MatchesTurboJpegOnFullMangaPages) {
  cv::Mat page = MangaImage(1201, 1699, 7);
  cv::Mat gray;
  cv::cvtColor(page, gray, cv::COLOR_BGR2GRAY);
  ExpectMatchesTurbo(TjCompress(gray, TJSAMP_GRAY, 90), "manga gray q90");
  for (int subsamp : kColourSubsamplings) {
    ExpectMatchesTurbo(TjCompress(page, subsamp, 85), Describe(page, subsamp, 85));
  }
  // OpenCV's libjpeg encoder (4:2:0), different table choices and markers.
  std::vector<unsigned char> cv_jpeg;
  cv::imencode(".jpg", MangaImage(640, 960, 8), cv_jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
  ExpectMatchesTurbo(cv_jpeg, "opencv q95");
}

TEST(JpegLumaDecoderTest, MatchesTurboJpegWithRestartIntervals) {
  cv::Mat bgr = RandomImage(203, 141, 3, 99);
  cv::Mat gray = RandomImage(203, 141, 1, 98);
  for (const char* restart : {"1B", "3B", "7B", "1", "2"}) {
    ScopedEnv env("TJ_RESTART", restart);
    std::string what = std::string("TJ_RESTART=") + restart;
    Bytes jpeg = TjCompress(gray, TJSAMP_GRAY, 75);
    const unsigned char dri[] = {0xFF, 0xDD};
    ASSERT_NE(std::search(jpeg.begin(), jpeg.end(), std::begin(dri), std::end(dri)), jpeg.end());
    ExpectMatchesTurbo(jpeg, what + " gray");
    for (int subsamp : kColourSubsamplings) {
      ExpectMatchesTurbo(TjCompress(bgr, subsamp, 75),
                         what + " subsamp " + std::to_string(subsamp));
    }
  }
  for (int interval : {1, 5, 64}) {
    std::vector<unsigned char> jpeg;
    cv::imencode(".jpg", MangaImage(300, 200, 3), jpeg,
                 {cv::IMWRITE_JPEG_QUALITY, 80, cv::IMWRITE_JPEG_RST_INTERVAL, interval});
    ExpectMatchesTurbo(jpeg, "opencv rst " + std::to_string(interval));
  }
}

TEST(JpegLumaDecoderTest, MatchesTurboJpegWithOptimisedHuffmanTables) {
  ScopedEnv env("TJ_OPTIMIZE", "1");
  for (int quality : {20, 95, 100}) {
    cv::Mat bgr = RandomImage(257, 190, 3, 40 + quality);
    for (int subsamp : {TJSAMP_444, TJSAMP_420}) {
      ExpectMatchesTurbo(TjCompress(bgr, subsamp, quality),
                         "optimised " + Describe(bgr, subsamp, quality));
    }
  }
}

// Rewrites every 8-bit DQT table as a 16-bit one and multiplies its entries
// by `scale` (clamped to 65535), and relabels SOF0 as SOF1.
Bytes WidenQuantTables(const Bytes& jpeg, int scale) {
  Bytes out(jpeg.begin(), jpeg.begin() + 2);
  size_t p = 2;
  while (p + 4 <= jpeg.size()) {
    unsigned char marker = jpeg[p + 1];
    size_t length = (size_t{jpeg[p + 2]} << 8) | jpeg[p + 3];
    if (marker == 0xDA) break;
    if (marker == 0xDB) {
      Bytes segment;
      size_t q = p + 4;
      while (q < p + 2 + length) {
        int id = jpeg[q] & 15;
        segment.push_back(static_cast<unsigned char>(0x10 | id));
        for (int i = 0; i < 64; ++i) {
          int value = std::min(65535, jpeg[q + 1 + i] * scale);
          segment.push_back(static_cast<unsigned char>(value >> 8));
          segment.push_back(static_cast<unsigned char>(value & 0xFF));
        }
        q += 65;
      }
      size_t new_length = segment.size() + 2;
      Bytes head = {0xFF, 0xDB, static_cast<unsigned char>(new_length >> 8),
                    static_cast<unsigned char>(new_length & 0xFF)};
      out.insert(out.end(), head.begin(), head.end());
      out.insert(out.end(), segment.begin(), segment.end());
    } else {
      size_t start = out.size();
      out.insert(out.end(), jpeg.begin() + p, jpeg.begin() + p + 2 + length);
      if (marker == 0xC0) out[start + 1] = 0xC1;
    }
    p += 2 + length;
  }
  out.insert(out.end(), jpeg.begin() + p, jpeg.end());
  return out;
}

TEST(JpegLumaDecoderTest, MatchesTurboJpegWithSixteenBitQuantTablesAndSof1) {
  cv::Mat bgr = RandomImage(120, 88, 3, 5);
  Bytes jpeg = TjCompress(bgr, TJSAMP_420, 90);
  for (int scale : {1, 7, 300, 4000}) {  // 4000: products overflow 16 bits, values > 32767
    Bytes wide = WidenQuantTables(jpeg, scale);
    ASSERT_NE(wide, jpeg);
    ExpectMatchesTurbo(wide, "16-bit DQT x" + std::to_string(scale));
  }
}

TEST(JpegLumaDecoderTest, ProgressiveArithmeticAndCmykAreUnsupportedButDecodeImageFallsBack) {
  cv::Mat page = MangaImage(1100, 1500, 11);
  std::vector<Bytes> files;
  files.push_back(TjCompress(page, TJSAMP_420, 85, TJFLAG_PROGRESSIVE));
  {
    ScopedEnv env("TJ_ARITHMETIC", "1");
    files.push_back(TjCompress(page, TJSAMP_420, 85));
  }
  for (const Bytes& jpeg : files) {
    JpegLumaDecoder decoder;
    EXPECT_EQ(decoder.ReadHeader(jpeg.data(), jpeg.size()).code(), StatusCode::kUnsupported);
    DecodeOptions options;
    Result<DecodedImage> decoded = DecodeImage(jpeg.data(), jpeg.size(), options, {});
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->scale_denom, 4);
    cv::Mat expected = TurboGray(jpeg, 4);
    EXPECT_EQ(cv::countNonZero(decoded->pixels != expected), 0);
  }
  std::vector<unsigned char> cmyk(16 * 16 * 4, 128);
  TjHandle tj(tjInitCompress());
  unsigned char* encoded = nullptr;
  unsigned long encoded_size = 0;
  ASSERT_EQ(tjCompress2(tj.get(), cmyk.data(), 16, 0, 16, TJPF_CMYK, &encoded, &encoded_size,
                        TJSAMP_444, 90, 0),
            0);
  Bytes jpeg(encoded, encoded + encoded_size);
  tjFree(encoded);
  JpegLumaDecoder decoder;
  EXPECT_EQ(decoder.ReadHeader(jpeg.data(), jpeg.size()).code(), StatusCode::kUnsupported);
}

TEST(JpegLumaDecoderTest, RgbJpegsAreUnsupported) {
  Bytes jpeg = TjCompress(RandomImage(32, 32, 3, 3), TJSAMP_444, 90);
  // Drop the JFIF APP0 segment and name the components 'R', 'G', 'B'.
  ASSERT_EQ(jpeg[3], 0xE0);
  size_t app0 = 2 + 2 + ((size_t{jpeg[4]} << 8) | jpeg[5]);
  Bytes rgb(jpeg.begin(), jpeg.begin() + 2);
  rgb.insert(rgb.end(), jpeg.begin() + app0, jpeg.end());
  for (size_t p = 2; p + 1 < rgb.size(); ++p) {
    if (rgb[p] == 0xFF && rgb[p + 1] == 0xC0) {
      rgb[p + 10] = 'R';
      rgb[p + 13] = 'G';
      rgb[p + 16] = 'B';
      for (size_t s = p; s + 1 < rgb.size(); ++s) {
        if (rgb[s] == 0xFF && rgb[s + 1] == 0xDA) {
          rgb[s + 5] = 'R';
          rgb[s + 7] = 'G';
          rgb[s + 9] = 'B';
          break;
        }
      }
      break;
    }
  }
  JpegLumaDecoder decoder;
  EXPECT_EQ(decoder.ReadHeader(rgb.data(), rgb.size()).code(), StatusCode::kUnsupported);
  // Same file with the standard ids is YCbCr and decodes.
  Bytes no_jfif(jpeg.begin(), jpeg.begin() + 2);
  no_jfif.insert(no_jfif.end(), jpeg.begin() + app0, jpeg.end());
  ExpectMatchesTurbo(no_jfif, "no JFIF marker");
}

TEST(JpegLumaDecoderTest, TruncatedFilesAreErrorsAtEveryOffset) {
  Bytes jpeg = TjCompress(RandomImage(96, 80, 3, 21), TJSAMP_420, 80);
  for (size_t size = 0; size < jpeg.size(); ++size) {
    Bytes cut(jpeg.begin(), jpeg.begin() + size);
    for (int denom : {2, 4, 8}) {
      Result<cv::Mat> decoded = LumaDecode(cut, denom);
      ASSERT_FALSE(decoded.ok()) << "cut at " << size;
      StatusCode code = decoded.status().code();
      EXPECT_TRUE(code == StatusCode::kCorrupt || code == StatusCode::kUnsupported)
          << "cut at " << size << ": " << decoded.status().ToString();
    }
  }
  // Through DecodeImage a truncated large page is corrupt, whichever decoder runs.
  Bytes page = TjCompress(MangaImage(1100, 1500, 4), TJSAMP_420, 85);
  for (double fraction : {0.2, 0.5, 0.9, 0.999}) {
    Bytes cut(page.begin(), page.begin() + static_cast<long>(page.size() * fraction));
    Result<DecodedImage> decoded = DecodeImage(cut.data(), cut.size(), {}, {});
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorrupt) << fraction;
  }
  Bytes no_eoi(page.begin(), page.end() - 2);
  EXPECT_EQ(LumaDecode(no_eoi, 4).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(DecodeImage(no_eoi.data(), no_eoi.size(), {}, {}).status().code(),
            StatusCode::kCorrupt);
}

TEST(JpegLumaDecoderTest, RandomCorruptionNeverCrashes) {
  std::mt19937_64 rng(1234);
  std::vector<Bytes> originals;
  originals.push_back(TjCompress(RandomImage(64, 48, 3, 1), TJSAMP_420, 70));
  originals.push_back(TjCompress(RandomImage(40, 72, 1, 2), TJSAMP_GRAY, 95));
  {
    ScopedEnv env("TJ_RESTART", "2B");
    originals.push_back(TjCompress(RandomImage(50, 50, 3, 3), TJSAMP_422, 60));
  }
  int decoded_ok = 0;
  int errors = 0;
  for (const Bytes& original : originals) {
    for (int trial = 0; trial < 400; ++trial) {
      Bytes bad = original;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips; ++i) {
        bad[rng() % bad.size()] = static_cast<unsigned char>(rng());
      }
      int denom = 2 << (trial % 3);
      JpegLumaDecoder decoder;
      if (!decoder.ReadHeader(bad.data(), bad.size()).ok()) {
        ++errors;
        continue;
      }
      VectorPixelStore store;
      if (decoder.DecodeLuma(denom, {}, store).ok()) {
        ++decoded_ok;
        EXPECT_EQ(store.view().width, (decoder.width() + denom - 1) / denom);
        EXPECT_EQ(store.view().height, (decoder.height() + denom - 1) / denom);
      } else {
        ++errors;
      }
    }
  }
  EXPECT_GT(decoded_ok, 0);
  EXPECT_GT(errors, 0);
}

TEST(JpegLumaDecoderTest, ExtraneousBytesBeforeMarkersAreTolerated) {
  ScopedEnv env("TJ_RESTART", "4B");
  Bytes jpeg = TjCompress(RandomImage(90, 70, 3, 8), TJSAMP_420, 85);
  // Garbage before each RST marker and before EOI (libjpeg warns, loses nothing).
  Bytes padded;
  for (size_t p = 0; p < jpeg.size(); ++p) {
    bool marker_next = p + 1 < jpeg.size() && jpeg[p] == 0xFF &&
                       ((jpeg[p + 1] >= 0xD0 && jpeg[p + 1] <= 0xD7) || jpeg[p + 1] == 0xD9);
    if (marker_next) {
      for (unsigned char b : {0x12, 0xFF, 0x00, 0x34}) padded.push_back(b);
    }
    padded.push_back(jpeg[p]);
  }
  // libjpeg warns "extraneous bytes before marker", which loses nothing.
  ExpectMatchesTurbo(padded, "garbage before markers", /*allow_warnings=*/true);
}

TEST(JpegLumaDecoderTest, WrongRestartMarkerIsCorrupt) {
  ScopedEnv env("TJ_RESTART", "1B");
  Bytes jpeg = TjCompress(RandomImage(64, 64, 3, 9), TJSAMP_420, 85);
  for (size_t p = 2; p + 1 < jpeg.size(); ++p) {
    if (jpeg[p] == 0xFF && jpeg[p + 1] == 0xD3) {
      jpeg[p + 1] = 0xD5;
      break;
    }
  }
  EXPECT_EQ(LumaDecode(jpeg, 4).status().code(), StatusCode::kCorrupt);
}

TEST(JpegLumaDecoderTest, SizeIsCheckedAgainstTheLimitsBeforeDecoding) {
  Bytes jpeg = TjCompress(RandomImage(100, 60, 3, 4), TJSAMP_420, 85);
  IngestLimits limits;
  limits.max_pixels = 5999;
  EXPECT_EQ(LumaDecode(jpeg, 4, limits).status().code(), StatusCode::kResourceExhausted);
  limits.max_pixels = 6000;
  EXPECT_TRUE(LumaDecode(jpeg, 4, limits).ok());
  limits.max_dimension = 99;
  EXPECT_EQ(LumaDecode(jpeg, 4, limits).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(LumaDecode(jpeg, 1).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(LumaDecode(jpeg, 16).status().code(), StatusCode::kUnsupported);
}

// Random blocks, including magnitudes no encoder produces, where 16-bit
// wrap-around and saturation decide the result.
TEST(JpegLumaDecoderTest, FastIdctsMatchTheScalarEmulation) {
  std::mt19937 rng(77);
  alignas(16) int16_t coef[56];
  alignas(16) int16_t quant[56];
  for (int trial = 0; trial < 40000; ++trial) {
    int range = trial % 4 == 0 ? 32768 : trial % 4 == 1 ? 2048 : trial % 4 == 2 ? 64 : 4;
    for (int i = 0; i < 56; ++i) {
      coef[i] = static_cast<int16_t>(static_cast<int>(rng() % (2 * range)) - range);
      quant[i] = static_cast<int16_t>(trial % 3 == 0 ? rng() : 1 + rng() % 255);
      if (trial % 5 == 0 && i != 0) coef[i] = 0;                // DC-only blocks
      if (trial % 7 == 0 && i >= 8 && i % 8 != 4) coef[i] = 0;  // only column 4 in rows 1..7
    }
    uint8_t fast[16];
    uint8_t reference[16];
    Idct2x2Fast(coef, quant, fast);
    Idct2x2Reference(coef, quant, reference);
    ASSERT_EQ(std::vector<uint8_t>(fast, fast + 4), std::vector<uint8_t>(reference, reference + 4))
        << "2x2 trial " << trial;
    Idct4x4Fast(coef, quant, fast);
    Idct4x4Reference(coef, quant, reference);
    ASSERT_EQ(std::vector<uint8_t>(fast, fast + 16),
              std::vector<uint8_t>(reference, reference + 16))
        << "4x4 trial " << trial;
  }
}

TEST(JpegLumaDecoderTest, DecodeImageFastPathMatchesTurboJpegAndCanBeForcedToTurbo) {
  Bytes jpeg = TjCompress(MangaImage(1200, 1700, 12), TJSAMP_420, 85);
  cv::Mat expected = TurboGray(jpeg, 4);
  Result<DecodedImage> fast = DecodeImage(jpeg.data(), jpeg.size(), {}, {});
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  EXPECT_EQ(fast->scale_denom, 4);
  EXPECT_EQ(cv::countNonZero(fast->pixels != expected), 0);
  {
    ScopedEnv env("KAGAMI_JPEG", "turbo");
    Result<DecodedImage> turbo = DecodeImage(jpeg.data(), jpeg.size(), {}, {});
    ASSERT_TRUE(turbo.ok());
    EXPECT_EQ(cv::countNonZero(turbo->pixels != expected), 0);
  }
  for (auto [min_short_side, denom] : {std::pair{100, 8}, {600, 2}}) {
    DecodeOptions options;
    options.min_short_side = min_short_side;
    Result<DecodedImage> decoded = DecodeImage(jpeg.data(), jpeg.size(), options, {});
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->scale_denom, denom);
    EXPECT_EQ(cv::countNonZero(decoded->pixels != TurboGray(jpeg, denom)), 0) << denom;
  }
}

}  // namespace
}  // namespace kagami::ingest::internal
