#pragma once

// Real-image sources for the calibration benchmarks (header only: every .cc
// in bench/e2e is its own program). All Debian packages that scripts/bootstrap
// installs:
//   photos    gnome-backgrounds (WebP, light "-l" and dark "-d" twins),
//             plasma-workspace-wallpapers (one picture per folder, several sizes)
//   line art  openclipart-png (/usr/share/openclipart)
//   typeset   Debian doc PDFs rendered with poppler-utils' pdftoppm
//   Japanese  pages of random kana/kanji columns set in fonts-noto-cjk
// The images of opencv-doc and scikit-image are reserved for outside
// measurement: nothing here reads them.
//
// Failure behaviour: a source that is missing or unreadable yields fewer
// items (an empty list at worst) and a message on stderr; nothing throws.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <opencv2/freetype.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace kagami::bench::real {

namespace fs = std::filesystem;

// Scales `m` so that its long side is `long_side` pixels (area filter when
// shrinking).
inline cv::Mat FitLongSide(const cv::Mat& m, int long_side) {
  const double s = static_cast<double>(long_side) / std::max(m.cols, m.rows);
  cv::Mat out;
  cv::resize(m, out, cv::Size(), s, s, s < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
  return out;
}

// 8-bit gray, BGR or BGRA to BGR; alpha is composited over white.
inline cv::Mat ToBgr(const cv::Mat& m) {
  cv::Mat out;
  if (m.depth() != CV_8U) {
    cv::Mat eight;
    m.convertTo(eight, CV_8U, m.depth() == CV_16U ? 1.0 / 257 : 1.0);
    return ToBgr(eight);
  }
  if (m.channels() == 4) {
    std::vector<cv::Mat> ch;
    cv::split(m, ch);
    cv::Mat alpha;
    ch[3].convertTo(alpha, CV_32F, 1.0 / 255);
    cv::Mat rgb;
    cv::merge(std::vector<cv::Mat>{ch[0], ch[1], ch[2]}, rgb);
    rgb.convertTo(rgb, CV_32FC3);
    cv::Mat a3;
    cv::merge(std::vector<cv::Mat>{alpha, alpha, alpha}, a3);
    cv::Mat white(rgb.size(), CV_32FC3, cv::Scalar(255, 255, 255));
    cv::Mat blended = rgb.mul(a3) + white.mul(cv::Scalar(1, 1, 1) - a3);
    blended.convertTo(out, CV_8UC3);
  } else if (m.channels() == 1) {
    cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
  } else {
    out = m;
  }
  return out;
}

// Regular files under `dir` (recursive) whose extension is `ext`, sorted.
inline std::vector<fs::path> Sorted(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ext) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A whole file's bytes ("" when unreadable).
inline std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Width and height from a PNG's IHDR chunk, without decoding; 0x0 when the
// file is not a PNG.
inline cv::Size PngSize(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char h[24] = {};
  if (!in.read(reinterpret_cast<char*>(h), sizeof h)) return {};
  if (h[0] != 0x89 || h[1] != 'P' || h[2] != 'N' || h[3] != 'G') return {};
  auto be32 = [&](int o) {
    return static_cast<int>((uint32_t{h[o]} << 24) | (uint32_t{h[o + 1]} << 16) |
                            (uint32_t{h[o + 2]} << 8) | uint32_t{h[o + 3]});
  };
  return cv::Size(be32(16), be32(20));
}

// A photo source: one picture (its largest file) with a name and, for
// gnome-backgrounds, its dark twin ("" when none).
struct PhotoSource {
  std::string name;
  fs::path path;
  fs::path dark_twin;
};

// gnome-backgrounds' light WebP variants and one picture per
// plasma-workspace-wallpapers folder (its last file by name: the folder's
// other files are the same picture at other sizes), in a fixed order.
inline std::vector<PhotoSource> PhotoSources() {
  std::vector<PhotoSource> out;
  for (const fs::path& p : Sorted("/usr/share/backgrounds/gnome", ".webp")) {
    const std::string stem = p.stem().string();
    if (stem.ends_with("-d")) continue;  // dark twin of a light variant
    PhotoSource s{stem, p, {}};
    if (stem.ends_with("-l")) {
      fs::path dark = p.parent_path() / (stem.substr(0, stem.size() - 2) + "-d.webp");
      if (fs::exists(dark)) s.dark_twin = dark;
    }
    out.push_back(s);
  }
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator("/usr/share/wallpapers", ec))
    dirs.push_back(d.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& d : dirs) {
    std::vector<fs::path> imgs = Sorted(d / "contents" / "images", ".png");
    std::vector<fs::path> jpgs = Sorted(d / "contents" / "images", ".jpg");
    imgs.insert(imgs.end(), jpgs.begin(), jpgs.end());
    if (!imgs.empty()) out.push_back({d.filename().string(), imgs.back(), {}});
  }
  return out;
}

// Renders pages [first, last] (1-based, clamped to the document) of `pdf`
// (".pdf" or ".pdf.gz") at `dpi` in gray with pdftoppm into work/pdf_<tag>/,
// once (a "done" marker makes later runs reuse the files). Returns the page
// images' paths in page order.
inline std::vector<fs::path> RenderPdf(const fs::path& work, const fs::path& pdf,
                                       const std::string& tag, int first, int last, int dpi = 80) {
  const fs::path dir = work / ("pdf_" + tag);
  const fs::path done = dir / ("done_" + std::to_string(first) + "_" + std::to_string(last));
  if (!fs::exists(done)) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::path source = pdf;
    if (pdf.extension() == ".gz") {
      source = dir / "doc.pdf";
      const std::string unzip = "zcat '" + pdf.string() + "' > '" + source.string() + "'";
      if (std::system(unzip.c_str()) != 0) {
        std::fprintf(stderr, "cannot decompress %s\n", pdf.c_str());
        return {};
      }
    }
    const std::string cmd = "pdftoppm -r " + std::to_string(dpi) + " -gray -png -f " +
                            std::to_string(first) + " -l " + std::to_string(last) + " '" +
                            source.string() + "' '" + (dir / "p").string() +
                            "' 2>/dev/null && touch '" + done.string() + "'";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "pdftoppm failed for %s\n", pdf.c_str());
      return {};
    }
  }
  return Sorted(dir, ".png");
}

// Japanese text pages: vertical columns of random kana and common kanji, right
// to left, with a running header and a page number, like a novel's or a
// manga's text page. Page i of a generator depends only on (seed, i).
class CjkPageGenerator {
 public:
  // `font`: an OpenType collection of fonts-noto-cjk. ok() is false when it
  // cannot be loaded.
  explicit CjkPageGenerator(const std::string& font, uint32_t seed) : seed_(seed) {
    ft_ = cv::freetype::createFreeType2();
    try {
      ft_->loadFontData(font, 0);
      ok_ = true;
    } catch (const cv::Exception& e) {
      std::fprintf(stderr, "no CJK font %s: %s\n", font.c_str(), e.what());
    }
  }
  bool ok() const { return ok_; }

  // A 900x1280 BGR page.
  cv::Mat Page(int i) const {
    std::mt19937 rng(seed_ * 1000003u + static_cast<uint32_t>(i));
    auto glyph = [&]() -> std::string {
      uint32_t cp;
      const int r = rng() % 10;
      if (r < 4)
        cp = 0x3041 + rng() % 0x56;  // hiragana
      else if (r < 6)
        cp = 0x30A1 + rng() % 0x56;  // katakana
      else
        cp = 0x4E00 + rng() % 0x1800;  // common CJK ideographs
      std::string s;
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
      return s;
    };
    cv::Mat page(1280, 900, CV_8UC3, cv::Scalar(255, 255, 255));
    if (!ok_) return page;
    const int size = 26 + static_cast<int>(rng() % 14);
    int x = page.cols - 70;
    while (x > 60) {
      int y = 80 + static_cast<int>(rng() % 60);
      const int len = 8 + static_cast<int>(rng() % 25);
      for (int k = 0; k < len && y < page.rows - 80; ++k, y += size + 4) {
        ft_->putText(page, glyph(), cv::Point(x, y), size, cv::Scalar(0, 0, 0), -1, cv::LINE_AA,
                     false);
      }
      x -= size + 14 + static_cast<int>(rng() % 10);
    }
    std::string header;
    for (int k = 0; k < 10; ++k) header += glyph();
    ft_->putText(page, header, cv::Point(60, 40), 22, cv::Scalar(60, 60, 60), -1, cv::LINE_AA,
                 false);
    cv::putText(page, std::to_string(i + 1), cv::Point(440, 1250), cv::FONT_HERSHEY_SIMPLEX, 0.8,
                cv::Scalar(0, 0, 0), 2);
    return page;
  }

 private:
  cv::Ptr<cv::freetype::FreeType2> ft_;
  uint32_t seed_;
  bool ok_ = false;
};

// ---- edits --------------------------------------------------------------

// Removes fractions l, t, r, b (0..1) of the width/height from each side.
inline cv::Mat Crop(const cv::Mat& m, double l, double t, double r, double b) {
  cv::Rect rect(static_cast<int>(m.cols * l), static_cast<int>(m.rows * t),
                static_cast<int>(m.cols * (1 - l - r)), static_cast<int>(m.rows * (1 - t - b)));
  return m(rect).clone();
}

// Rotates by `deg` degrees, the canvas expanded, the corners filled white.
inline cv::Mat Rotate(const cv::Mat& m, double deg) {
  cv::Point2f c(m.cols / 2.0f, m.rows / 2.0f);
  cv::Mat r = cv::getRotationMatrix2D(c, deg, 1.0);
  cv::Rect2f box =
      cv::RotatedRect(cv::Point2f(), m.size(), static_cast<float>(deg)).boundingRect2f();
  r.at<double>(0, 2) += box.width / 2.0 - c.x;
  r.at<double>(1, 2) += box.height / 2.0 - c.y;
  cv::Mat out;
  cv::warpAffine(m, out, r, box.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(255, 255, 255));
  return out;
}

// The page shown inside a 1920x1080 browser or reader window (title bar, tabs,
// address bar, a sidebar of thumbnails, a status line), at 80-90% of the
// content height.
inline cv::Mat Screenshot(const cv::Mat& m, int seed) {
  std::mt19937 rng(seed);
  const int W = 1920, H = 1080;
  const bool dark = seed % 2;
  cv::Mat out(H, W, CV_8UC3, dark ? cv::Scalar(40, 40, 44) : cv::Scalar(236, 236, 236));
  cv::rectangle(out, cv::Rect(0, 0, W, 36), cv::Scalar(60, 60, 66), cv::FILLED);
  for (int t = 0; t < 4; ++t) {
    cv::rectangle(out, cv::Rect(10 + t * 230, 6, 220, 30),
                  t == 1 ? cv::Scalar(250, 250, 250) : cv::Scalar(90, 90, 96), cv::FILLED);
    cv::putText(out, "Chapter " + std::to_string(rng() % 300) + " - read online",
                cv::Point(20 + t * 230, 27), cv::FONT_HERSHEY_SIMPLEX, 0.45,
                t == 1 ? cv::Scalar(20, 20, 20) : cv::Scalar(220, 220, 220), 1, cv::LINE_AA);
  }
  cv::rectangle(out, cv::Rect(0, 36, W, 44), cv::Scalar(250, 250, 250), cv::FILLED);
  cv::rectangle(out, cv::Rect(120, 44, 1200, 28), cv::Scalar(225, 225, 225), cv::FILLED);
  cv::putText(out, "https://manga-reader.example/series/" + std::to_string(rng()) + "/page-7",
              cv::Point(132, 64), cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar(30, 30, 30), 1,
              cv::LINE_AA);
  cv::rectangle(out, cv::Rect(0, 80, 260, H - 110),
                dark ? cv::Scalar(55, 55, 60) : cv::Scalar(215, 215, 215), cv::FILLED);
  for (int k = 0; k < 6; ++k) {
    cv::rectangle(out, cv::Rect(30, 100 + k * 150, 90, 130), cv::Scalar(180, 180, 180), cv::FILLED);
    cv::putText(out, "p. " + std::to_string(k + 1), cv::Point(140, 170 + k * 150),
                cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(120, 120, 120), 1, cv::LINE_AA);
  }
  cv::rectangle(out, cv::Rect(0, H - 30, W, 30), cv::Scalar(70, 70, 76), cv::FILLED);
  cv::putText(out, "Page 7 of 212   |   zoom 100%", cv::Point(20, H - 10), cv::FONT_HERSHEY_SIMPLEX,
              0.5, cv::Scalar(230, 230, 230), 1, cv::LINE_AA);
  const int avail_h = H - 80 - 30, avail_w = W - 260;
  const double s =
      std::min(avail_h * (0.8 + 0.1 * (rng() % 100) / 100.0) / m.rows, avail_w * 0.9 / m.cols);
  cv::Mat page;
  cv::resize(m, page, cv::Size(), s, s, cv::INTER_AREA);
  const int x = 260 + (avail_w - page.cols) / 2, y = 80 + (avail_h - page.rows) / 2;
  page.copyTo(out(cv::Rect(x, y, page.cols, page.rows)));
  return out;
}

}  // namespace kagami::bench::real
