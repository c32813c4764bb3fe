// The colour check (RobustOptions::colour_check): openclipart's glossy button
// drawn in purple, blue, yellow and green is one drawing recoloured; PDQ puts
// the blue and yellow ones 2-22 bits from the registered purple one, and the
// local features see the same shapes. The check keeps them apart, while
// copies of the registered pages (re-encoded, greyscale, hue shifted, in
// another colour temperature, on a green frame) are still found and carry the
// measurement. Real images from openclipart-png and
// plasma-workspace-wallpapers; skipped when they are missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "real_images.h"
#include "scan_fixture.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;

using ::kagami::testing::LoadOnWhite;
using ::kagami::testing::Wallpaper;

const fs::path kButtons = "/usr/share/openclipart/png/shapes";

fs::path Button(const std::string& colour) {
  return kButtons / ("button-" + colour + "_benji_park_01.png");
}

// `bgr` with every hue turned by `degrees` (OpenCV's 8-bit HSV: 2 degrees a
// step).
cv::Mat HueTurned(const cv::Mat& bgr, int degrees) {
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  for (int y = 0; y < hsv.rows; ++y) {
    for (int x = 0; x < hsv.cols; ++x) {
      uchar& h = hsv.at<cv::Vec3b>(y, x)[0];
      h = static_cast<uchar>((h + degrees / 2 + 180) % 180);
    }
  }
  cv::Mat out;
  cv::cvtColor(hsv, out, cv::COLOR_HSV2BGR);
  return out;
}

// A cooler white balance: blue gained, red cut (about 6500 K to 9000 K).
cv::Mat Cooler(const cv::Mat& bgr) {
  cv::Mat out;
  cv::multiply(bgr, cv::Scalar(1.12, 1.0, 0.86), out);
  return out;
}

cv::Mat Greyscale(const cv::Mat& bgr) {
  cv::Mat gray, out;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(gray, out, cv::COLOR_GRAY2BGR);
  return out;
}

// The page on a saturated green frame a tenth of its size wide (a site's
// colours around the page): only the page is compared.
cv::Mat Framed(const cv::Mat& bgr) {
  cv::Mat out;
  const int w = std::max(bgr.cols, bgr.rows) / 10;
  cv::copyMakeBorder(bgr, out, w, w, w, w, cv::BORDER_CONSTANT, cv::Scalar(60, 160, 30));
  return out;
}

class ColourCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const fs::path& p : {Button("purple"), Button("blue"), Button("yellow"), Button("green"),
                              Wallpaper("Autumn")}) {
      if (!fs::exists(p)) GTEST_SKIP() << p << " missing";
    }
    dir_ = fs::path(::testing::TempDir()) / ("kagami_colour_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "registered");
    button_ = LoadOnWhite(Button("purple"), 800);
    photo_ = LoadOnWhite(Wallpaper("Autumn"), 1000);
    Write("registered", button_, photo_, 92);
    store_ = ::kagami::testing::OpenAndRegister(
        dir_ / "data", dir_ / "registered", {"real", "Real images", "", WorkKind::kOther, {}}, 2);
    ASSERT_NE(store_, nullptr);
    // The other colours of the button, each named after the registered page
    // so that FoundOwnPages would count them.
    for (const std::string colour : {"blue", "yellow", "green"}) {
      const fs::path folder = dir_ / ("recoloured_" + colour);
      fs::create_directories(folder);
      cv::imwrite((folder / "button.jpg").string(), LoadOnWhite(Button(colour), 800),
                  {cv::IMWRITE_JPEG_QUALITY, 85});
    }
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void Write(const std::string& folder, const cv::Mat& button, const cv::Mat& photo, int quality) {
    fs::create_directories(dir_ / folder);
    cv::imwrite((dir_ / folder / "button.jpg").string(), button,
                {cv::IMWRITE_JPEG_QUALITY, quality});
    cv::imwrite((dir_ / folder / "Autumn.jpg").string(), photo,
                {cv::IMWRITE_JPEG_QUALITY, quality});
  }

  fs::path dir_;
  cv::Mat button_, photo_;
  std::unique_ptr<Store> store_;
};

TEST_F(ColourCheckTest, RecolouredDrawingsAreNotMatched) {
  for (const std::string colour : {"blue", "yellow", "green"}) {
    const auto by_member = ::kagami::testing::MatchesByMember(
        *store_, dir_ / ("recoloured_" + colour), RobustOptions{});
    for (const auto& [member, matches] : by_member)
      EXPECT_TRUE(matches.empty()) << colour << " " << member << " matched " << matches.size();
  }
}

TEST_F(ColourCheckTest, WithoutTheCheckARecolouredDrawingMatches) {
  RobustOptions off;
  off.colour_check = false;
  int matched = 0;
  for (const std::string colour : {"blue", "yellow", "green"}) {
    const auto by_member =
        ::kagami::testing::MatchesByMember(*store_, dir_ / ("recoloured_" + colour), off);
    matched += static_cast<int>(::kagami::testing::FoundOwnPages(by_member).size());
  }
  // The blue and yellow buttons are within PDQ's radius of the purple one.
  EXPECT_GE(matched, 2);
}

TEST_F(ColourCheckTest, CopiesInOtherColourSettingsAreFoundWithTheMeasurement) {
  struct Edit {
    std::string name;
    std::function<cv::Mat(const cv::Mat&)> apply;
    bool coloured;  // both sides in colour: the measurement is reported
  };
  const std::vector<Edit> edits = {
      {"reencoded", [](const cv::Mat& m) { return m.clone(); }, true},
      {"greyscale", Greyscale, false},
      {"hue_plus_20", [](const cv::Mat& m) { return HueTurned(m, 20); }, true},
      {"hue_minus_20", [](const cv::Mat& m) { return HueTurned(m, -20); }, true},
      {"cooler", Cooler, true},
      {"framed", Framed, true},
  };
  for (const Edit& e : edits) Write(e.name, e.apply(button_), e.apply(photo_), 70);
  for (const Edit& e : edits) {
    const auto by_member =
        ::kagami::testing::MatchesByMember(*store_, dir_ / e.name, RobustOptions{});
    EXPECT_EQ(::kagami::testing::FoundOwnPages(by_member),
              (std::set<std::string>{"button.jpg", "Autumn.jpg"}))
        << e.name;
    for (const auto& [member, matches] : by_member) {
      for (const pipeline::PageMatchRecord& m : matches) {
        if (e.coloured) {
          EXPECT_GE(m.colour_disagreement, 0.0) << e.name << " " << member;
          EXPECT_LE(m.colour_disagreement, RobustOptions{}.colour_max_disagreement)
              << e.name << " " << member;
        } else {
          EXPECT_EQ(m.colour_disagreement, -1.0) << e.name << " " << member;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kagami::index
