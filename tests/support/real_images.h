#pragma once

// Real images from Debian packages (openclipart-png, wallpapers) for the
// matching tests: loaded as the calibration bench loads them.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "temp_dir.h"

namespace kagami::testing {

// The image at `path` as 8-bit BGR, transparent parts composited over white,
// resized to long side `long_side`. Empty when unreadable.
inline cv::Mat LoadOnWhite(const std::filesystem::path& path, int long_side) {
  cv::Mat image = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  if (image.empty()) return image;
  if (image.channels() == 4) {
    std::vector<cv::Mat> c;
    cv::split(image, c);
    cv::Mat alpha, bgr, a3;
    c[3].convertTo(alpha, CV_32F, 1.0 / 255);
    cv::merge(std::vector<cv::Mat>{c[0], c[1], c[2]}, bgr);
    bgr.convertTo(bgr, CV_32FC3);
    cv::merge(std::vector<cv::Mat>{alpha, alpha, alpha}, a3);
    const cv::Mat white(bgr.size(), CV_32FC3, cv::Scalar(255, 255, 255));
    const cv::Mat out = bgr.mul(a3) + white.mul(cv::Scalar(1, 1, 1) - a3);
    out.convertTo(image, CV_8UC3);
  } else if (image.channels() == 1) {
    cv::cvtColor(image, image, cv::COLOR_GRAY2BGR);
  }
  const double s = static_cast<double>(long_side) / std::max(image.cols, image.rows);
  cv::resize(image, image, cv::Size(), s, s, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return image;
}

// `image` turned by `degrees` (counter-clockwise on screen when positive)
// around its centre on a canvas of `canvas` just large enough to hold it (a
// page scanned or pasted askew); bilinear.
inline cv::Mat Turned(const cv::Mat& image, double degrees, const cv::Scalar& canvas) {
  const cv::Point2f c(image.cols / 2.0f, image.rows / 2.0f);
  cv::Mat m = cv::getRotationMatrix2D(c, degrees, 1.0);
  const cv::Rect2f box =
      cv::RotatedRect(cv::Point2f(), image.size(), static_cast<float>(degrees)).boundingRect2f();
  m.at<double>(0, 2) += box.width / 2.0 - c.x;
  m.at<double>(1, 2) += box.height / 2.0 - c.y;
  cv::Mat out;
  cv::warpAffine(image, out, m, box.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, canvas);
  return out;
}

// plasma-workspace-wallpapers' 1280x800 picture of wallpaper `name`.
inline std::filesystem::path Wallpaper(const std::string& name) {
  return "/usr/share/wallpapers/" + name + "/contents/images/1280x800.jpg";
}

// Copies each named wallpaper to `dir`/NAME.jpg (creating `dir`). Returns the
// first one missing (the caller skips: scripts/bootstrap installs them), else
// an empty path.
inline std::filesystem::path CopyWallpapers(const std::vector<std::string>& names,
                                            const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (const std::string& name : names) {
    if (!std::filesystem::exists(Wallpaper(name))) return Wallpaper(name);
    std::filesystem::copy_file(Wallpaper(name), dir / (name + ".jpg"),
                               std::filesystem::copy_options::overwrite_existing);
  }
  return {};
}

// openclipart-png's glossy button in `colour` ("purple", "blue", "green", ...):
// one drawing in several colours, for the colour check's tests.
inline std::filesystem::path ClipartButton(const std::string& colour) {
  return std::filesystem::path("/usr/share/openclipart/png/shapes") /
         ("button-" + colour + "_benji_park_01.png");
}

// Writes `image` (BGR) to `path` as a JPEG of `quality`, creating its folder.
inline void WriteJpeg(const std::filesystem::path& path, const cv::Mat& image, int quality) {
  std::vector<unsigned char> bytes;
  cv::imencode(".jpg", image, bytes, {cv::IMWRITE_JPEG_QUALITY, quality});
  WriteFile(path, bytes);
}

}  // namespace kagami::testing
