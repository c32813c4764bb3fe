// Watermark bands (fingerprint::DetectOverlayBand, FillOverlayBand and the
// "unbanded" view) on real pictures: openclipart-png drawings on a blank page
// and plasma-workspace-wallpapers photos. Skipped when the packages are
// missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/synth/page_generator.h"
#include "page_fixtures.h"
#include "real_images.h"

namespace kagami::fingerprint {
namespace {

namespace fs = std::filesystem;

using ::kagami::testing::Gray;
using ::kagami::testing::LoadOnWhite;
using ::kagami::testing::Wallpaper;

constexpr char kClipart[] = "/usr/share/openclipart/png/";
const std::vector<std::string> kDrawings = {
    "food/apple_bitten_dan_gerhard_01.png", "food/champignon_01.png",
    "food/grapes_leif_lodahl_02.png", "animals/bat_orlando_karam_.png",
    "animals/bison_leif_lodahl_01.png"};
// Textured photos (no flat sky or paper around a strip across them).
const std::vector<std::string> kPhotos = {"Path",        "Autumn",     "BytheWater",  "EveningGlow",
                                          "PastelHills", "summer_1am", "OneStandsOut"};

// A 900x1200 blank page with the drawing (long side 360) near its top left:
// little content on paper, as a sticker, an icon or a spot illustration.
cv::Mat DrawingPage(const std::string& drawing) {
  const cv::Mat art = LoadOnWhite(fs::path(kClipart) / drawing, 360);
  if (art.empty()) return {};
  cv::Mat page(1200, 900, CV_8UC3, cv::Scalar(255, 255, 255));
  art.copyTo(page(cv::Rect(120, 140, art.cols, art.rows)));
  return page;
}

cv::Mat Photo(const std::string& name) { return LoadOnWhite(Wallpaper(name), 1280); }

// A strip across the whole width, rows [top, top + height) of the image's
// height, blended with `tone` at `opacity`, with a line of white or black type.
cv::Mat WithBand(const cv::Mat& bgr, double top, double height, int tone, double opacity) {
  cv::Mat out = bgr.clone();
  const cv::Rect band(0, static_cast<int>(top * bgr.rows), bgr.cols,
                      static_cast<int>(height * bgr.rows));
  cv::Mat roi = out(band);
  const cv::Mat overlay(roi.size(), roi.type(), cv::Scalar(tone, tone, tone));
  cv::addWeighted(roi, 1.0 - opacity, overlay, opacity, 0, roi);
  const cv::Scalar ink = tone < 128 ? cv::Scalar(255, 255, 255) : cv::Scalar(0, 0, 0);
  // Type about half the strip's height (a Hershey capital is ~22 px at scale 1).
  cv::putText(out, "read it first at pirate-reader.example  /  join us",
              cv::Point(bgr.cols / 15, band.y + band.height * 3 / 4), cv::FONT_HERSHEY_DUPLEX,
              0.5 * band.height / 22.0, ink, 2, cv::LINE_AA);
  return out;
}

// The band's rows are inside the detected range, which adds at most 3% of
// the height on either side (the soft edges).
void ExpectCovers(const std::optional<cv::Range>& got, int rows, double top, double height) {
  ASSERT_TRUE(got.has_value()) << "no band found";
  const int start = static_cast<int>(top * rows), end = start + static_cast<int>(height * rows);
  EXPECT_LE(got->start, start);
  EXPECT_GE(got->start, start - 0.03 * rows);
  EXPECT_GE(got->end, end);
  EXPECT_LE(got->end, end + 0.03 * rows);
}

// Runs `check` on each drawing page (traced with its drawing's name); skips
// the calling test when openclipart-png is missing.
template <typename Check>
void ForEachDrawingPage(Check check) {
  int pages = 0;
  for (const std::string& drawing : kDrawings) {
    const cv::Mat page = DrawingPage(drawing);
    if (page.empty()) continue;
    ++pages;
    SCOPED_TRACE(drawing);
    check(page);
  }
  if (pages == 0) GTEST_SKIP() << "openclipart-png missing";
}

const View* Find(const std::vector<View>& views, const std::string& name) {
  for (const View& v : views)
    if (v.name == name) return &v;
  return nullptr;
}

TEST(OverlayBand, FoundAcrossTheBlankPaperOfDrawingPages) {
  ForEachDrawingPage([](const cv::Mat& page) {
    ExpectCovers(DetectOverlayBand(Gray(WithBand(page, 0.62, 0.07, 25, 0.6))), page.rows, 0.62,
                 0.07);
    // A light strip over white paper only shows where it crosses the type:
    // there is no band to fill.
    EXPECT_FALSE(DetectOverlayBand(Gray(WithBand(page, 0.62, 0.07, 250, 0.6))).has_value());
  });
}

// A flat sky is paper too: ColdRipple's fog above a pier.
TEST(OverlayBand, FoundAcrossAFlatSky) {
  const cv::Mat photo = Photo("ColdRipple");
  if (photo.empty()) GTEST_SKIP() << Wallpaper("ColdRipple") << " missing";
  ExpectCovers(DetectOverlayBand(Gray(WithBand(photo, 0.2, 0.08, 25, 0.6))), photo.rows, 0.2, 0.08);
}

// Over a textured photo the local stage keeps enough of the picture (the
// strip is not looked for there), and a horizon's dark far shore between sky
// and water (BytheWater, summer_1am) is not a strip.
TEST(OverlayBand, NotLookedForOverTexturedPhotos) {
  int photos = 0;
  for (const std::string& name : kPhotos) {
    const cv::Mat photo = Photo(name);
    if (photo.empty()) continue;
    ++photos;
    const int tone = cv::mean(Gray(photo))[0] < 110 ? 235 : 25;
    EXPECT_FALSE(DetectOverlayBand(Gray(WithBand(photo, 0.3, 0.09, tone, 0.65))).has_value())
        << name;
  }
  if (photos == 0) GTEST_SKIP() << "plasma-workspace-wallpapers missing";
}

TEST(OverlayBand, NotFoundOnPagesWithoutOne) {
  std::vector<std::pair<std::string, cv::Mat>> images;
  for (const std::string& drawing : kDrawings) images.emplace_back(drawing, DrawingPage(drawing));
  for (const std::string& name : kPhotos) images.emplace_back(name, Photo(name));
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    images.emplace_back("manga page " + std::to_string(seed),
                        synth::GenerateMangaPage(seed, 900, 1280));
  }
  for (const auto& [name, image] : images) {
    if (image.empty()) continue;
    EXPECT_FALSE(DetectOverlayBand(Gray(image)).has_value()) << name;
    for (const View& v : NormalizedViews(Gray(image))) EXPECT_NE(v.name, "unbanded") << name;
  }
}

// What the view is for: a drawing page registered by its trimmed hash (the
// index keeps only that below quality 50) is found within the strong radius
// through the "unbanded" view, while the banded page's own views are far.
TEST(OverlayBand, UnbandedViewHashesLikeThePageWithoutTheBand) {
  PdqHasher hasher;
  ForEachDrawingPage([&](const cv::Mat& page) {
    const cv::Mat gray = Gray(page);
    const PdqHash registered = hasher.Hash(gray(TrimUniformBorders(gray)));
    const cv::Mat copy = Gray(WithBand(page, 0.55, 0.08, 30, 0.55));
    const std::vector<View> views = NormalizedViews(copy);
    const View* unbanded = Find(views, "unbanded");
    ASSERT_NE(unbanded, nullptr);
    EXPECT_LE(HammingDistance(hasher.Hash(unbanded->image).hash, registered.hash), 24);
    for (const View& v : views) {
      if (v.name != "unbanded") {
        EXPECT_GT(HammingDistance(hasher.Hash(v.image).hash, registered.hash), 31) << v.name;
      }
    }
  });
}

TEST(OverlayBand, FillBlendsTheRowsAroundTheBand) {
  cv::Mat gray(100, 40, CV_8UC1, cv::Scalar(0));
  gray.rowRange(0, 30).setTo(cv::Scalar(200));
  gray.rowRange(30, 70).setTo(cv::Scalar(90));  // the band
  gray.rowRange(70, 100).setTo(cv::Scalar(100));
  const cv::Mat filled = FillOverlayBand(gray, cv::Range(30, 70));
  EXPECT_EQ(filled.at<uint8_t>(29, 5), 200);
  EXPECT_EQ(filled.at<uint8_t>(70, 5), 100);
  EXPECT_NEAR(filled.at<uint8_t>(30, 5), 198, 1);
  EXPECT_NEAR(filled.at<uint8_t>(50, 5), 150, 2);
  EXPECT_NEAR(filled.at<uint8_t>(69, 5), 102, 1);
  EXPECT_EQ(gray.at<uint8_t>(50, 5), 90) << "the input is not modified";
  // At the image's edge the one row beside the band fills it.
  const cv::Mat top = FillOverlayBand(gray, cv::Range(0, 30));
  EXPECT_EQ(top.at<uint8_t>(0, 5), 90);
  EXPECT_EQ(top.at<uint8_t>(29, 5), 90);
}

}  // namespace
}  // namespace kagami::fingerprint
