// The registered page's thumbnail and the photometric check
// (fingerprint/page_thumbnail.h) on real photos from
// plasma-workspace-wallpapers; their blob format in quantised_features.h.
// The photo tests are skipped when the package is missing.
#include "kagami/fingerprint/page_thumbnail.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/quantised_features.h"
#include "page_fixtures.h"
#include "real_images.h"

namespace kagami::fingerprint {
namespace {

namespace fs = std::filesystem;

using ::kagami::testing::Gray;
using ::kagami::testing::LoadOnWhite;
using ::kagami::testing::Wallpaper;

const std::vector<std::string> kPhotos = {"Path",        "Autumn", "BytheWater",  "EveningGlow",
                                          "PastelHills", "Kite",   "OneStandsOut"};

TEST(PageThumbnailTest, PackedLevelsUnpackUnchanged) {
  PageThumbnail t;
  t.width = 7;
  t.height = 5;  // an odd count: the last byte holds one pixel
  for (int i = 0; i < 35; ++i) t.levels.push_back(static_cast<uint8_t>((i * 7) % 16));
  const std::vector<uint8_t> packed = t.Pack();
  ASSERT_EQ(packed.size(), 18u);
  PageThumbnail back;
  ASSERT_TRUE(PageThumbnail::Unpack(7, 5, packed, &back));
  EXPECT_EQ(back.levels, t.levels);
  EXPECT_FALSE(PageThumbnail::Unpack(7, 5, std::vector<uint8_t>(17), &back));
  EXPECT_FALSE(PageThumbnail::Unpack(33, 5, std::vector<uint8_t>(83), &back));
}

TEST(PageThumbnailTest, ThumbnailKeepsTheAspectAndStretchesTheLevels) {
  cv::Mat page(800, 500, CV_8UC1);
  for (int y = 0; y < page.rows; ++y) page.row(y).setTo(60 + y * 100 / page.rows);
  const PageThumbnail t = MakePageThumbnail(page);
  EXPECT_EQ(t.height, 32);
  EXPECT_EQ(t.width, 20);
  EXPECT_EQ(t.levels.front(), 0);
  EXPECT_EQ(t.levels.back(), 15);
  EXPECT_TRUE(MakePageThumbnail(cv::Mat()).empty());
}

TEST(PageThumbnailTest, QuantisedBlobCarriesTheThumbnailWithin4KB) {
  PageThumbnail t;
  t.width = 32;
  t.height = 32;
  t.levels.assign(1024, 9);
  t.levels[5] = 3;
  QuantisedFeatures q;
  q.vocabulary_id = 77;
  q.page_width = 1.0f;
  q.page_height = 1.0f;
  q.thumbnail = t;
  const int n = MaxQuantisedKeypoints(t);
  EXPECT_LT(n, kMaxQuantisedKeypoints);
  for (int i = 0; i < n; ++i) {
    q.words.push_back(static_cast<uint16_t>(i));
    q.signatures.push_back(static_cast<uint32_t>(i * 13) & 0xFFFFFF);
    q.points.emplace_back((i % 30) / 30.0f, (i % 17) / 17.0f);
  }
  const std::vector<uint8_t> blob = q.Serialize();
  EXPECT_LE(blob.size(), kMaxQuantisedBytes);
  Result<QuantisedFeatures> back = QuantisedFeatures::Deserialize(blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->size(), n);
  EXPECT_EQ(back->words, q.words);
  EXPECT_EQ(back->thumbnail.width, 32);
  EXPECT_EQ(back->thumbnail.levels, t.levels);

  std::vector<uint8_t> damaged = blob;
  damaged[6] = 40;  // thumbnail width
  EXPECT_EQ(QuantisedFeatures::Deserialize(damaged).status().code(), StatusCode::kCorrupt);
  damaged = blob;
  damaged.pop_back();
  EXPECT_EQ(QuantisedFeatures::Deserialize(damaged).status().code(), StatusCode::kCorrupt);

  // Without a thumbnail the blob stays version 1, as registered before.
  q.thumbnail = PageThumbnail{};
  const std::vector<uint8_t> v1 = q.Serialize();
  EXPECT_EQ(v1[3], 1);
  EXPECT_EQ(v1.size(), 20u + 8u * n);
  Result<QuantisedFeatures> plain = QuantisedFeatures::Deserialize(v1);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->thumbnail.empty());
}

// A copy cut from `page` (gray, long side 1 in its normalised frame): the
// rectangle `crop` (pixels) resized by `factor`, and the homography from the
// copy's normalised frame to the page's.
struct Copy {
  cv::Mat gray;
  cv::Matx33d homography;
};

Copy CutCopy(const cv::Mat& page, const cv::Rect& crop, double factor) {
  Copy c;
  cv::resize(page(crop), c.gray, cv::Size(), factor, factor, cv::INTER_AREA);
  const double lq = std::max(c.gray.cols, c.gray.rows);
  const double lr = std::max(page.cols, page.rows);
  const double k = lq / (factor * lr);
  c.homography = cv::Matx33d(k, 0, crop.x / lr, 0, k, crop.y / lr, 0, 0, 1);
  return c;
}

cv::Size2f PageSize(const cv::Mat& page) {
  const float l = static_cast<float>(std::max(page.cols, page.rows));
  return cv::Size2f(page.cols / l, page.rows / l);
}

TEST(PageThumbnailTest, CroppedCopyLooksLikeItsPageAndNotLikeAnother) {
  std::vector<cv::Mat> pages;
  for (const std::string& name : kPhotos) {
    if (!fs::exists(Wallpaper(name))) GTEST_SKIP() << Wallpaper(name) << " missing";
    pages.push_back(Gray(LoadOnWhite(Wallpaper(name), 800)));
  }
  for (size_t i = 0; i < pages.size(); ++i) {
    SCOPED_TRACE(kPhotos[i]);
    const cv::Mat& page = pages[i];
    const PageThumbnail t = MakePageThumbnail(page);
    // 10% off every side, then resized to 85%; 20% off the top-left corner.
    for (const Copy& copy :
         {CutCopy(page,
                  cv::Rect(page.cols / 10, page.rows / 10, page.cols * 8 / 10, page.rows * 8 / 10),
                  0.85),
          CutCopy(page,
                  cv::Rect(page.cols / 5, page.rows / 5, page.cols * 4 / 5, page.rows * 4 / 5),
                  1.2)}) {
      const Appearance same =
          CompareAppearance(copy.gray, copy.homography, false, t, PageSize(page));
      ASSERT_TRUE(same.measured);
      EXPECT_GT(same.correlation, 0.95);
      EXPECT_GT(same.compared, 0.45);
      EXPECT_LT(same.compared, 0.7);
      // The same placement of another photo.
      const cv::Mat& other = pages[(i + 1) % pages.size()];
      const Copy unrelated = CutCopy(
          other,
          cv::Rect(other.cols / 10, other.rows / 10, other.cols * 8 / 10, other.rows * 8 / 10),
          0.85);
      const Appearance different =
          CompareAppearance(unrelated.gray, copy.homography, false, t, PageSize(page));
      ASSERT_TRUE(different.measured);  // a photo in the same place is compared, and differs
      EXPECT_LT(different.correlation, 0.7);
    }
  }
}

TEST(PageThumbnailTest, MirroredCopyIsComparedFlippedBack) {
  // Kite: the kite on the left, sky on the right (Path is nearly symmetric).
  if (!fs::exists(Wallpaper("Kite"))) GTEST_SKIP() << Wallpaper("Kite") << " missing";
  const cv::Mat page = Gray(LoadOnWhite(Wallpaper("Kite"), 800));
  const PageThumbnail t = MakePageThumbnail(page);
  const Copy copy = CutCopy(page, cv::Rect(80, 50, 640, 400), 1.0);
  cv::Mat flipped;
  cv::flip(copy.gray, flipped, 1);
  // The mirrored verification's homography maps the flipped-back copy.
  const Appearance back = CompareAppearance(flipped, copy.homography, true, t, PageSize(page));
  ASSERT_TRUE(back.measured);
  EXPECT_GT(back.correlation, 0.95);
  const Appearance as_is = CompareAppearance(flipped, copy.homography, false, t, PageSize(page));
  EXPECT_LT(as_is.correlation, back.correlation - 0.2);
}

TEST(PageThumbnailTest, FlatOrDisjointQueryIsNotMeasured) {
  cv::Mat page(600, 800, CV_8UC1);
  cv::randu(page, 0, 255);
  cv::GaussianBlur(page, page, cv::Size(0, 0), 8);
  const PageThumbnail t = MakePageThumbnail(page);
  const cv::Mat white(300, 400, CV_8UC1, cv::Scalar(255));
  const cv::Matx33d half(0.5, 0, 0, 0, 0.5, 0, 0, 0, 1);
  const Appearance flat = CompareAppearance(white, half, false, t, PageSize(page));
  EXPECT_FALSE(flat.measured);
  EXPECT_GT(flat.compared, 0.15);
  // Placed entirely off the registered page.
  const cv::Matx33d away(0.5, 0, 2, 0, 0.5, 2, 0, 0, 1);
  const Appearance off = CompareAppearance(page, away, false, t, PageSize(page));
  EXPECT_FALSE(off.measured);
  EXPECT_EQ(off.compared, 0);
}

}  // namespace
}  // namespace kagami::fingerprint
