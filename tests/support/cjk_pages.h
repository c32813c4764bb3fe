#pragma once

// Pages of vertical Japanese text set in fonts-noto-cjk, as
// bench/e2e/real_calibration.cc sets them: random kana and kanji in columns,
// right to left. Tests that use them skip when the font is missing.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/freetype.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace kagami::testing {

inline constexpr char kNotoSansCjk[] = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

// fonts-noto-cjk's Sans, loaded (the caller skips when kNotoSansCjk is missing).
inline cv::Ptr<cv::freetype::FreeType2> NotoSansCjk() {
  cv::Ptr<cv::freetype::FreeType2> ft = cv::freetype::createFreeType2();
  ft->loadFontData(kNotoSansCjk, 0);
  return ft;
}

// A 900x1280 white page of columns of random hiragana, katakana and common
// ideographs (size 26-39 px, per `seed`), with the page number (seed % 100)
// at the bottom when `page_number`.
inline cv::Mat CjkTextPage(cv::freetype::FreeType2& ft, uint32_t seed, bool page_number = true) {
  std::mt19937 rng(seed);
  auto glyph = [&]() {
    const int r = static_cast<int>(rng() % 10);
    const uint32_t cp = r < 4   ? 0x3041 + rng() % 0x56     // hiragana
                        : r < 6 ? 0x30A1 + rng() % 0x56     // katakana
                                : 0x4E00 + rng() % 0x1800;  // common ideographs
    std::string s;
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
    return s;
  };
  cv::Mat page(1280, 900, CV_8UC3, cv::Scalar(255, 255, 255));
  const int size = 26 + static_cast<int>(rng() % 14);
  for (int x = page.cols - 70; x > 60; x -= size + 14 + static_cast<int>(rng() % 10)) {
    int y = 80 + static_cast<int>(rng() % 60);
    const int len = 8 + static_cast<int>(rng() % 25);
    for (int k = 0; k < len && y < page.rows - 80; ++k, y += size + 4) {
      ft.putText(page, glyph(), cv::Point(x, y), size, cv::Scalar(0, 0, 0), -1, cv::LINE_AA, false);
    }
  }
  if (page_number) {
    cv::putText(page, std::to_string(seed % 100), cv::Point(440, 1250), cv::FONT_HERSHEY_SIMPLEX,
                0.8, cv::Scalar(0, 0, 0), 2);
  }
  return page;
}

// The name of page `i` as WriteCjkPages writes it: p000.jpg, p001.jpg, ...
inline std::string CjkPageName(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "p%03d.jpg", i);
  return name;
}

// Writes CjkTextPage(ft, first_seed + i), i < count, into `folder` (created)
// as CjkPageName(i), JPEG quality 90; returns the pages.
inline std::vector<cv::Mat> WriteCjkPages(cv::freetype::FreeType2& ft,
                                          const std::filesystem::path& folder, int count,
                                          uint32_t first_seed) {
  std::filesystem::create_directories(folder);
  std::vector<cv::Mat> pages;
  for (int i = 0; i < count; ++i) {
    pages.push_back(CjkTextPage(ft, first_seed + static_cast<uint32_t>(i)));
    cv::imwrite((folder / CjkPageName(i)).string(), pages.back(), {cv::IMWRITE_JPEG_QUALITY, 90});
  }
  return pages;
}

}  // namespace kagami::testing
