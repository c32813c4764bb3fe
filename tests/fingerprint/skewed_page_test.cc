// Pages turned by a few degrees on a plain canvas (fingerprint::
// DetectSkewedPage, DeskewPage and the "deskewed" view) on real photos from
// plasma-workspace-wallpapers and drawings from openclipart-png. Skipped when
// the packages are missing.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "page_fixtures.h"
#include "real_images.h"

namespace kagami::fingerprint {
namespace {

namespace fs = std::filesystem;

using ::kagami::testing::Gray;
using ::kagami::testing::LoadOnWhite;
using ::kagami::testing::Wallpaper;

const std::vector<std::string> kPhotos = {"Path",        "Autumn",     "BytheWater",  "EveningGlow",
                                          "PastelHills", "summer_1am", "OneStandsOut"};

cv::Mat Turned(const cv::Mat& image, double degrees, int canvas) {
  return ::kagami::testing::Turned(image, degrees, cv::Scalar::all(canvas));
}

// The mean level of the outermost 8 px of `gray`.
double BorderLevel(const cv::Mat& gray) {
  cv::Mat mask(gray.size(), CV_8UC1, cv::Scalar(255));
  mask(cv::Rect(8, 8, gray.cols - 16, gray.rows - 16)).setTo(0);
  return cv::mean(gray, mask)[0];
}

std::vector<cv::Mat> LoadPhotos() {
  std::vector<cv::Mat> photos;
  for (const std::string& name : kPhotos) {
    if (!fs::exists(Wallpaper(name))) return {};
    photos.push_back(Gray(LoadOnWhite(Wallpaper(name), 1000)));
  }
  return photos;
}

TEST(SkewedPageTest, TurnedPhotosAreTurnedBackToWithinTheStrongRadius) {
  const std::vector<cv::Mat> photos = LoadPhotos();
  if (photos.empty()) GTEST_SKIP() << "plasma-workspace-wallpapers missing";
  PdqHasher hasher;
  for (size_t i = 0; i < photos.size(); ++i) {
    const Hash256 original = hasher.Hash(photos[i]).hash;
    for (double degrees : {-6.0, -2.5, 1.5, 4.0}) {
      // The canvas must differ from the page's border: a dark photo on black
      // (or a bright one on white) shows no edge to turn back by.
      const int canvas = BorderLevel(photos[i]) < 128 ? 255 : 0;
      {
        const cv::Mat turned = Turned(photos[i], degrees, canvas);
        SCOPED_TRACE(kPhotos[i] + " turned " + std::to_string(degrees) + " on " +
                     std::to_string(canvas));
        EXPECT_GT(HammingDistance(hasher.Hash(turned).hash, original), 31);
        const std::optional<cv::RotatedRect> page = DetectSkewedPage(turned);
        if (!page) {
          ADD_FAILURE() << "not found";
          continue;
        }
        EXPECT_NEAR(std::abs(page->angle), std::abs(degrees), 0.3);
        const cv::Mat upright = DeskewPage(turned, *page);
        EXPECT_NEAR(upright.cols, photos[i].cols, photos[i].cols * 0.01);
        EXPECT_NEAR(upright.rows, photos[i].rows, photos[i].rows * 0.01);
        EXPECT_LE(HammingDistance(hasher.Hash(upright).hash, original), 24);
      }
    }
  }
}

TEST(SkewedPageTest, UprightPagesAndDrawingsOnPaperAreNotSkewedPages) {
  const std::vector<cv::Mat> photos = LoadPhotos();
  if (photos.empty()) GTEST_SKIP() << "plasma-workspace-wallpapers missing";
  for (size_t i = 0; i < photos.size(); ++i) {
    SCOPED_TRACE(kPhotos[i]);
    EXPECT_FALSE(DetectSkewedPage(photos[i]).has_value());
    cv::Mat margin;
    cv::copyMakeBorder(photos[i], margin, 60, 60, 40, 40, cv::BORDER_CONSTANT, cv::Scalar(255));
    EXPECT_FALSE(DetectSkewedPage(margin).has_value());
  }
  // A drawing on a blank page turned on a canvas of the paper's level: no
  // page edge to turn back by (the drawing's own outline is not one).
  const fs::path clipart = "/usr/share/openclipart/png/";
  for (const char* drawing : {"food/apple_bitten_dan_gerhard_01.png", "food/champignon_01.png",
                              "animals/bat_orlando_karam_.png"}) {
    const cv::Mat art = LoadOnWhite(clipart / drawing, 360);
    if (art.empty()) GTEST_SKIP() << drawing << " missing (openclipart-png)";
    cv::Mat page(1200, 900, CV_8UC3, cv::Scalar(255, 255, 255));
    art.copyTo(page(cv::Rect(200, 300, art.cols, art.rows)));
    for (double degrees : {-4.0, 3.0}) {
      SCOPED_TRACE(std::string(drawing) + " turned " + std::to_string(degrees));
      EXPECT_FALSE(DetectSkewedPage(Turned(Gray(page), degrees, 255)).has_value());
    }
  }
}

TEST(SkewedPageTest, OnlyATurnedPageGetsADeskewedView) {
  const std::vector<cv::Mat> photos = LoadPhotos();
  if (photos.empty()) GTEST_SKIP() << "plasma-workspace-wallpapers missing";
  auto deskewed = [](const cv::Mat& gray) -> std::optional<View> {
    for (View& v : NormalizedViews(gray))
      if (v.name == "deskewed") return std::move(v);
    return std::nullopt;
  };
  EXPECT_FALSE(deskewed(photos[0]).has_value());
  const cv::Mat turned = Turned(photos[0], 3.0, 255);
  const std::optional<View> view = deskewed(turned);
  ASSERT_TRUE(view.has_value());
  EXPECT_NEAR(std::abs(view->turned_deg), 3.0, 0.3);
  EXPECT_EQ(view->rect_in_original & cv::Rect(0, 0, turned.cols, turned.rows),
            view->rect_in_original);
}

}  // namespace
}  // namespace kagami::fingerprint
