// A page's colour signature and the colour comparison
// (fingerprint/colour_signature.h), on drawn discs and on real photos from
// plasma-workspace-wallpapers; the signature's place in the quantised blob
// (quantised_features.h, version 3). The photo test is skipped when the
// package is missing.
#include "kagami/fingerprint/colour_signature.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/quantised_features.h"
#include "real_images.h"

namespace kagami::fingerprint {
namespace {

namespace fs = std::filesystem;

using ::kagami::testing::LoadOnWhite;
using ::kagami::testing::Wallpaper;

constexpr double kMinChromatic = 0.02;
constexpr double kMaxDisagreement = 0.5;

// A white page (R,G,B) with a disc of `rgb` and a black ring around it.
cv::Mat Disc(const cv::Scalar& rgb) {
  cv::Mat page(400, 300, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::circle(page, cv::Point(150, 200), 100, rgb, cv::FILLED);
  cv::circle(page, cv::Point(150, 200), 104, cv::Scalar(0, 0, 0), 6);
  return page;
}

// R,G,B with hue turned by `degrees` (OpenCV's HSV on R,G,B order).
cv::Mat HueTurned(const cv::Mat& rgb, int degrees) {
  cv::Mat hsv;
  cv::cvtColor(rgb, hsv, cv::COLOR_RGB2HSV);
  for (int y = 0; y < hsv.rows; ++y) {
    for (int x = 0; x < hsv.cols; ++x) {
      uchar& h = hsv.at<cv::Vec3b>(y, x)[0];
      h = static_cast<uchar>((h + degrees / 2 + 180) % 180);
    }
  }
  cv::Mat out;
  cv::cvtColor(hsv, out, cv::COLOR_HSV2RGB);
  return out;
}

TEST(ColourSignatureTest, PackedSignatureKeepsEverySectorsPresence) {
  ColourSignature s;
  s.measured = true;
  s.chromatic = 0.4;
  s.hue = {0.0, 0.019, 0.021, 0.05, 0.099, 0.1, 0.29, 0.31, 0.0, 0.0, 0.012, 0.0};
  const std::array<uint8_t, kColourSignatureBytes> packed = s.Pack();
  ColourSignature back;
  ASSERT_TRUE(ColourSignature::Unpack(packed, &back));
  EXPECT_TRUE(back.measured);
  EXPECT_NEAR(back.chromatic, s.chromatic, 0.5 / 255 + 1e-9);
  const double typical[kHueSectors] = {0, 0, 0.05, 0.05, 0.05, 0.18, 0.18, 0.5, 0, 0, 0, 0};
  for (int k = 0; k < kHueSectors; ++k) {
    EXPECT_EQ(back.hue[k] >= kPresentFraction, s.hue[k] >= kPresentFraction) << k;
    EXPECT_DOUBLE_EQ(back.hue[k], typical[k]) << k;
  }
  // The comparison renormalises: a packed page compares with itself at 0,
  // and a drawn page's comparison moves little through packing.
  EXPECT_EQ(CompareColour(back, back, 0.02).disagreement, 0.0);
  const ColourSignature blue = MakeColourSignature(Disc(cv::Scalar(40, 60, 220)));
  const ColourSignature magenta = MakeColourSignature(Disc(cv::Scalar(200, 40, 160)));
  ColourSignature packed_blue;
  ASSERT_TRUE(ColourSignature::Unpack(blue.Pack(), &packed_blue));
  EXPECT_NEAR(CompareColour(magenta, packed_blue, 0.02).disagreement,
              CompareColour(magenta, blue, 0.02).disagreement, 0.05);
  EXPECT_FALSE(ColourSignature::Unpack(std::vector<uint8_t>(5), &back));
}

TEST(ColourSignatureTest, GreyAndWhiteHaveNoColourAndAreNotCompared) {
  const cv::Mat grey_disc = Disc(cv::Scalar(120, 120, 120));
  const ColourSignature grey = MakeColourSignature(grey_disc);
  ASSERT_TRUE(grey.measured);
  EXPECT_EQ(grey.chromatic, 0.0);
  cv::Mat gray_channel;
  cv::cvtColor(Disc(cv::Scalar(40, 60, 220)), gray_channel, cv::COLOR_RGB2GRAY);
  EXPECT_EQ(MakeColourSignature(gray_channel).chromatic, 0.0);
  const ColourSignature blue = MakeColourSignature(Disc(cv::Scalar(40, 60, 220)));
  EXPECT_GT(blue.chromatic, 0.2);
  EXPECT_FALSE(CompareColour(grey, blue, kMinChromatic).measured);
  EXPECT_FALSE(CompareColour(blue, ColourSignature{}, kMinChromatic).measured);
  EXPECT_FALSE(MakeColourSignature(cv::Mat()).measured);
}

TEST(ColourSignatureTest, RecolouredDiscDisagreesAndShiftedHueAgrees) {
  const cv::Mat blue = Disc(cv::Scalar(40, 60, 220));
  const ColourSignature registered = MakeColourSignature(blue);
  for (const cv::Scalar& other : {cv::Scalar(200, 40, 160), cv::Scalar(220, 200, 30),
                                  cv::Scalar(40, 180, 60), cv::Scalar(220, 50, 40)}) {
    const ColourComparison c =
        CompareColour(MakeColourSignature(Disc(other)), registered, kMinChromatic);
    ASSERT_TRUE(c.measured);
    EXPECT_GT(c.disagreement, kMaxDisagreement) << other;
  }
  for (int degrees : {-20, 20}) {
    const ColourComparison c =
        CompareColour(MakeColourSignature(HueTurned(blue, degrees)), registered, kMinChromatic);
    ASSERT_TRUE(c.measured);
    EXPECT_LE(c.disagreement, kMaxDisagreement) << degrees;
  }
}

TEST(ColourSignatureTest, RegionLimitsTheSignatureToItsPixels) {
  // A blue page beside a red one (a spread): each half is compared alone.
  cv::Mat spread;
  cv::hconcat(Disc(cv::Scalar(40, 60, 220)), Disc(cv::Scalar(220, 50, 40)), spread);
  const ColourSignature blue = MakeColourSignature(Disc(cv::Scalar(40, 60, 220)));
  const ColourSignature left = MakeColourSignature(spread, cv::Rect(0, 0, 300, 400));
  const ColourSignature right = MakeColourSignature(spread, cv::Rect(300, 0, 300, 400));
  EXPECT_LE(CompareColour(left, blue, kMinChromatic).disagreement, 0.05);
  EXPECT_GT(CompareColour(right, blue, kMinChromatic).disagreement, kMaxDisagreement);
  // Clipped to the image; nothing left is not measured.
  EXPECT_TRUE(MakeColourSignature(spread, cv::Rect(500, -50, 400, 200)).measured);
  EXPECT_FALSE(MakeColourSignature(spread, cv::Rect(700, 0, 10, 10)).measured);
}

TEST(ColourSignatureTest, PhotosAgreeWithTheirCopiesInOtherColourSettings) {
  const std::vector<std::string> photos = {"Autumn",      "Kite", "EveningGlow",
                                           "PastelHills", "Path", "BytheWater"};
  for (const std::string& name : photos) {
    if (!fs::exists(Wallpaper(name))) GTEST_SKIP() << Wallpaper(name) << " missing";
    cv::Mat rgb;
    cv::cvtColor(LoadOnWhite(Wallpaper(name), 800), rgb, cv::COLOR_BGR2RGB);
    const ColourSignature registered = MakeColourSignature(rgb);
    cv::Mat cooler, warmer, desaturated, hsv;
    cv::multiply(rgb, cv::Scalar(0.86, 1.0, 1.12), cooler);
    cv::multiply(rgb, cv::Scalar(1.12, 1.0, 0.86), warmer);
    cv::cvtColor(rgb, hsv, cv::COLOR_RGB2HSV);
    cv::multiply(hsv, cv::Scalar(1.0, 0.6, 1.0), hsv);
    cv::cvtColor(hsv, desaturated, cv::COLOR_HSV2RGB);
    const cv::Rect crop(rgb.cols / 5, rgb.rows / 5, rgb.cols * 4 / 5, rgb.rows * 4 / 5);
    for (const auto& [edit, copy] :
         std::vector<std::pair<std::string, cv::Mat>>{{"cooler", cooler},
                                                      {"warmer", warmer},
                                                      {"desaturated", desaturated},
                                                      {"hue +20", HueTurned(rgb, 20)},
                                                      {"crop20", rgb(crop).clone()}}) {
      const ColourComparison c =
          CompareColour(MakeColourSignature(copy), registered, kMinChromatic);
      if (c.measured) {
        EXPECT_LE(c.disagreement, kMaxDisagreement) << name << " " << edit;
      }
    }
  }
}

// A drawing under a warm cast (a colour temperature filter, a yellowed
// scan): its white paper turns peach and its pale blue turns grey, so its
// colours disagree with the registered ones; balanced on its paper they
// agree again. White paper, a recoloured drawing on white and photos without
// a paper are not balanced (the check stands as it was).
TEST(ColourSignatureTest, ACopyOnTintedPaperAgreesOnceBalancedOnItsPaper) {
  const cv::Mat pale_blue = Disc(cv::Scalar(130, 150, 190));
  const cv::Rect whole(0, 0, pale_blue.cols, pale_blue.rows);
  const ColourSignature registered = MakeColourSignature(pale_blue);
  cv::Mat warm;
  cv::multiply(pale_blue, cv::Scalar(1.0, 0.8, 0.62), warm);
  const ColourComparison raw = CompareColour(MakeColourSignature(warm), registered, kMinChromatic);
  ASSERT_TRUE(raw.measured);
  EXPECT_GT(raw.disagreement, kMaxDisagreement);
  const std::optional<cv::Mat> balanced = BalancedOnPaper(warm, whole);
  ASSERT_TRUE(balanced.has_value());
  const ColourComparison after =
      CompareColour(MakeColourSignature(*balanced), registered, kMinChromatic);
  ASSERT_TRUE(after.measured);
  EXPECT_LE(after.disagreement, 0.1);

  EXPECT_FALSE(BalancedOnPaper(pale_blue, whole).has_value());
  EXPECT_FALSE(BalancedOnPaper(Disc(cv::Scalar(160, 40, 200)), whole).has_value());
  for (const char* name : {"Autumn", "Kite", "EveningGlow", "Path"}) {
    if (!fs::exists(Wallpaper(name))) continue;
    cv::Mat rgb;
    cv::cvtColor(LoadOnWhite(Wallpaper(name), 800), rgb, cv::COLOR_BGR2RGB);
    EXPECT_FALSE(BalancedOnPaper(rgb, cv::Rect(0, 0, rgb.cols, rgb.rows)).has_value()) << name;
  }
}

TEST(ColourSignatureTest, QuantisedBlobVersion3CarriesTheSignature) {
  PageThumbnail t;
  t.width = 24;
  t.height = 32;
  t.levels.assign(24 * 32, 7);
  QuantisedFeatures q;
  q.vocabulary_id = 5;
  q.page_width = 0.75f;
  q.thumbnail = t;
  q.colour = MakeColourSignature(Disc(cv::Scalar(40, 60, 220)));
  // The signature takes the blob's spare bytes: no keypoint fewer.
  const int n = MaxQuantisedKeypoints(t, true);
  EXPECT_EQ(n, MaxQuantisedKeypoints(t));
  for (int i = 0; i < n; ++i) {
    q.words.push_back(static_cast<uint16_t>(i));
    q.signatures.push_back(static_cast<uint32_t>(i * 7) & 0xFFFFFF);
    q.points.emplace_back((i % 20) / 30.0f, (i % 17) / 17.0f);
  }
  const std::vector<uint8_t> blob = q.Serialize();
  EXPECT_EQ(blob[3], 3);
  EXPECT_LE(blob.size(), kMaxQuantisedBytes);
  Result<QuantisedFeatures> back = QuantisedFeatures::Deserialize(blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->size(), n);
  EXPECT_EQ(back->thumbnail.levels, t.levels);
  // A square page's thumbnail leaves the blob exactly full.
  EXPECT_EQ(
      20 + 8 * MaxQuantisedKeypoints(PageThumbnail{32, 32, {}}, true) + 512 + kColourSignatureBytes,
      kMaxQuantisedBytes);
  ASSERT_TRUE(back->colour.measured);
  EXPECT_EQ(back->colour.Pack(), q.colour.Pack());
  std::vector<uint8_t> damaged = blob;
  damaged.pop_back();
  EXPECT_EQ(QuantisedFeatures::Deserialize(damaged).status().code(), StatusCode::kCorrupt);

  // Without a measured signature the blob stays version 2, as registered
  // before, and reads back without one.
  q.colour = ColourSignature{};
  const std::vector<uint8_t> v2 = q.Serialize();
  EXPECT_EQ(v2[3], 2);
  Result<QuantisedFeatures> older = QuantisedFeatures::Deserialize(v2);
  ASSERT_TRUE(older.ok());
  EXPECT_FALSE(older->colour.measured);
}

// A page registered before the colour check (a version 2 blob) is given its
// signature later: the blob becomes exactly what registration writes today
// (every keypoint and the thumbnail kept, the signature appended); other
// blobs and unmeasured signatures are refused.
TEST(ColourSignatureTest, AColourlessBlobGainsTheSignatureAndKeepsItsKeypoints) {
  const ColourSignature colour = MakeColourSignature(Disc(cv::Scalar(220, 60, 40)));
  ASSERT_TRUE(colour.measured);
  for (const int height : {32, 23, 9, 1}) {
    PageThumbnail t;
    t.width = 32;
    t.height = height;
    for (int i = 0; i < 32 * height; ++i) t.levels.push_back(static_cast<uint8_t>(i % 16));
    QuantisedFeatures q;
    q.vocabulary_id = 9;
    q.page_height = height / 32.0f;
    q.thumbnail = t;
    for (int i = 0; i < MaxQuantisedKeypoints(t, true); ++i) {
      q.words.push_back(static_cast<uint16_t>(i * 3));
      q.signatures.push_back(static_cast<uint32_t>(i * 11) & 0xFFFFFF);
      q.points.emplace_back((i % 29) / 29.0f, q.page_height * (i % 13) / 13.0f);
    }
    const std::vector<uint8_t> v2 = q.Serialize();
    ASSERT_TRUE(LacksColourSignature(v2)) << height;
    EXPECT_TRUE(std::equal(v2.begin(), v2.begin() + 4, ColourlessBlobPrefix().begin()));
    Result<std::vector<uint8_t>> v3 = WithColourSignature(v2, colour);
    ASSERT_TRUE(v3.ok()) << v3.status().ToString();
    q.colour = colour;
    EXPECT_EQ(*v3, q.Serialize()) << height;
    EXPECT_FALSE(LacksColourSignature(*v3));
    Result<QuantisedFeatures> back = QuantisedFeatures::Deserialize(*v3);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->size(), q.size());
    EXPECT_EQ(back->words, q.words);
    EXPECT_EQ(back->thumbnail.levels, t.levels);
    EXPECT_EQ(back->colour.Pack(), colour.Pack());

    EXPECT_EQ(WithColourSignature(*v3, colour).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(WithColourSignature(v2, ColourSignature{}).status().code(),
              StatusCode::kInvalidArgument);
  }
  // A blob without a thumbnail (version 1) has nowhere to keep one.
  QuantisedFeatures plain;
  plain.words = {1, 2};
  plain.signatures = {3, 4};
  plain.points = {{0.1f, 0.2f}, {0.3f, 0.4f}};
  const std::vector<uint8_t> v1 = plain.Serialize();
  EXPECT_FALSE(LacksColourSignature(v1));
  EXPECT_EQ(WithColourSignature(v1, colour).status().code(), StatusCode::kInvalidArgument);
  // A truncated version 2 blob is reported as corrupt, not extended.
  PageThumbnail t{32, 8, std::vector<uint8_t>(256, 3)};
  plain.thumbnail = t;
  std::vector<uint8_t> damaged = plain.Serialize();
  ASSERT_TRUE(LacksColourSignature(damaged));
  damaged.pop_back();
  EXPECT_EQ(WithColourSignature(damaged, colour).status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace kagami::fingerprint
