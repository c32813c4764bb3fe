#include "kagami/synth/page_generator.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "synth_rng.h"

namespace kagami::synth {
namespace {

constexpr uint8_t kInk = 0;
constexpr uint8_t kBalloonWhite = 255;  // balloons only; paper is darker (see header)

// Everything is drawn on one 8-bit gray canvas in "gray" units and tinted at the end.
struct Canvas {
  cv::Mat gray;  // CV_8UC1
  uint8_t paper = 246;
  double scale = 1.0;  // page size relative to 1200 px short side
};

int Px(const Canvas& c, double v) {
  return std::max(1, static_cast<int>(std::lround(v * c.scale)));
}

cv::Point CubicBezierPoint(const std::array<cv::Point2d, 4>& p, double t) {
  const double u = 1.0 - t;
  const double b0 = u * u * u, b1 = 3 * u * u * t, b2 = 3 * u * t * t, b3 = t * t * t;
  return cv::Point(
      static_cast<int>(std::lround(b0 * p[0].x + b1 * p[1].x + b2 * p[2].x + b3 * p[3].x)),
      static_cast<int>(std::lround(b0 * p[0].y + b1 * p[1].y + b2 * p[2].y + b3 * p[3].y)));
}

void DrawBezier(cv::Mat& img, const std::array<cv::Point2d, 4>& p, uint8_t value, int thickness) {
  std::vector<cv::Point> pts;
  pts.reserve(25);
  for (int i = 0; i <= 24; ++i) pts.push_back(CubicBezierPoint(p, i / 24.0));
  cv::polylines(img, pts, false, cv::Scalar(value), thickness, cv::LINE_AA);
}

cv::Point2d RandomPoint(Rng& rng, const cv::Rect& r) {
  return {rng.UniformReal(r.x, r.x + r.width), rng.UniformReal(r.y, r.y + r.height)};
}

std::array<cv::Point2d, 4> RandomBezier(Rng& rng, const cv::Rect& r) {
  return {RandomPoint(rng, r), RandomPoint(rng, r), RandomPoint(rng, r), RandomPoint(rng, r)};
}

// A regular dot lattice (optionally 45 degrees) with period `pitch`, clipped to `mask`.
void DrawScreentone(cv::Mat& img, const cv::Mat& mask, Rng& rng, double scale) {
  const int pitch = std::max(3, static_cast<int>(std::lround(rng.UniformInt(5, 9) * scale)));
  const bool diagonal = rng.Bernoulli(0.5);
  const double radius = pitch * rng.UniformReal(0.18, 0.33);
  const int tile_size = diagonal ? 2 * pitch : pitch;
  cv::Mat tile(tile_size, tile_size, CV_8UC1, cv::Scalar(255));
  // Dots are drawn with sub-pixel centres (shift = 4) so radius can be fractional.
  auto dot = [&](double cx, double cy) {
    cv::circle(tile, cv::Point(static_cast<int>(cx * 16), static_cast<int>(cy * 16)),
               static_cast<int>(radius * 16), cv::Scalar(kInk), cv::FILLED, cv::LINE_AA, 4);
  };
  const double half = pitch / 2.0 - 0.5;
  if (diagonal) {
    dot(half, half);
    dot(half + pitch, half + pitch);
  } else {
    dot(half, half);
  }
  cv::Mat dots;
  cv::repeat(tile, img.rows / tile_size + 1, img.cols / tile_size + 1, dots);
  dots = dots(cv::Rect(0, 0, img.cols, img.rows));
  // Darken where dots are (min keeps existing ink).
  cv::Mat toned;
  cv::min(img, dots, toned);
  toned.copyTo(img, mask);
}

std::vector<cv::Point> RandomQuad(Rng& rng, const cv::Rect& r) {
  const double jx = r.width * 0.25, jy = r.height * 0.25;
  return {
      cv::Point(static_cast<int>(r.x + rng.UniformReal(-jx, jx)),
                static_cast<int>(r.y + rng.UniformReal(-jy, jy))),
      cv::Point(static_cast<int>(r.br().x + rng.UniformReal(-jx, jx)),
                static_cast<int>(r.y + rng.UniformReal(-jy, jy))),
      cv::Point(static_cast<int>(r.br().x + rng.UniformReal(-jx, jx)),
                static_cast<int>(r.br().y + rng.UniformReal(-jy, jy))),
      cv::Point(static_cast<int>(r.x + rng.UniformReal(-jx, jx)),
                static_cast<int>(r.br().y + rng.UniformReal(-jy, jy))),
  };
}

void DrawHatching(cv::Mat& img, Rng& rng, const cv::Rect& region, double scale) {
  const double angle = rng.UniformReal(0, CV_PI);
  const double spacing = rng.UniformReal(4, 9) * scale;
  const double dx = std::cos(angle), dy = std::sin(angle);
  const double nx = -dy, ny = dx;
  const cv::Point2d c(region.x + region.width / 2.0, region.y + region.height / 2.0);
  const double reach = std::hypot(region.width, region.height) / 2.0;
  cv::Mat layer(img.size(), CV_8UC1, cv::Scalar(255));
  for (double o = -reach; o <= reach; o += spacing) {
    const double len = reach * rng.UniformReal(0.4, 1.0);
    const cv::Point2d m(c.x + nx * o, c.y + ny * o);
    cv::line(layer, cv::Point(m.x - dx * len, m.y - dy * len),
             cv::Point(m.x + dx * len, m.y + dy * len), cv::Scalar(kInk), 1, cv::LINE_AA);
  }
  cv::Mat mask(img.size(), CV_8UC1, cv::Scalar(0));
  cv::ellipse(mask, cv::Point(c), cv::Size(region.width / 2, region.height / 2),
              rng.UniformReal(0, 180), 0, 360, cv::Scalar(255), cv::FILLED);
  cv::Mat hatched;
  cv::min(img, layer, hatched);
  hatched.copyTo(img, mask);
}

void DrawSpeedLines(cv::Mat& img, Rng& rng, double scale) {
  const cv::Point2d focus(rng.UniformReal(0.3, 0.7) * img.cols,
                          rng.UniformReal(0.3, 0.7) * img.rows);
  const double outer = std::hypot(img.cols, img.rows);
  const int n = rng.UniformInt(40, 90);
  for (int i = 0; i < n; ++i) {
    const double a = rng.UniformReal(0, 2 * CV_PI);
    const double inner = rng.UniformReal(0.25, 0.6) * std::min(img.cols, img.rows);
    cv::line(img, cv::Point(focus.x + std::cos(a) * inner, focus.y + std::sin(a) * inner),
             cv::Point(focus.x + std::cos(a) * outer, focus.y + std::sin(a) * outer),
             cv::Scalar(kInk), rng.UniformInt(1, std::max(1, static_cast<int>(3 * scale))),
             cv::LINE_AA);
  }
}

// A face: paper-filled head with outline, black hair mass, eyes, mouth, shoulders.
void DrawFigure(Canvas& c, cv::Mat& img, Rng& rng, const cv::Rect& area) {
  const int head_w = std::max(8, static_cast<int>(area.width * rng.UniformReal(0.15, 0.35)));
  const int head_h = static_cast<int>(head_w * rng.UniformReal(1.1, 1.35));
  const cv::Point centre(
      area.x + rng.UniformInt(head_w, std::max(head_w, area.width - head_w)),
      area.y + rng.UniformInt(head_h, std::max(head_h, area.height - head_h / 2)));
  const double tilt = rng.UniformReal(-20, 20);
  const int line = Px(c, rng.UniformReal(2, 3.5));
  // Shoulders / body curves first so the head covers them.
  for (int side = -1; side <= 1; side += 2) {
    std::array<cv::Point2d, 4> p = {
        cv::Point2d(centre.x + side * head_w * 0.3, centre.y + head_h * 0.9),
        cv::Point2d(centre.x + side * head_w * 0.9, centre.y + head_h * 1.0),
        cv::Point2d(centre.x + side * head_w * 1.4, centre.y + head_h * 1.3),
        cv::Point2d(centre.x + side * head_w * rng.UniformReal(1.5, 2.2), centre.y + head_h * 2.5)};
    DrawBezier(img, p, kInk, line);
  }
  cv::ellipse(img, centre, cv::Size(head_w / 2, head_h / 2), tilt, 0, 360, cv::Scalar(c.paper),
              cv::FILLED, cv::LINE_AA);
  cv::ellipse(img, centre, cv::Size(head_w / 2, head_h / 2), tilt, 0, 360, cv::Scalar(kInk), line,
              cv::LINE_AA);
  // Hair: a black polygon over the top of the head with jagged fringe.
  std::vector<cv::Point> hair;
  const int spikes = rng.UniformInt(4, 8);
  for (int i = 0; i <= spikes; ++i) {
    const double a = CV_PI + CV_PI * i / spikes;
    const double r = (i % 2 == 0) ? 1.15 : rng.UniformReal(0.55, 0.85);
    hair.emplace_back(centre.x + std::cos(a) * head_w * 0.55 * r,
                      centre.y + std::sin(a) * head_h * 0.55 * r);
  }
  hair.emplace_back(centre.x + head_w * 0.55, centre.y - head_h * 0.05);
  hair.emplace_back(centre.x + head_w * 0.2, centre.y - head_h * rng.UniformReal(0.05, 0.25));
  hair.emplace_back(centre.x - head_w * 0.3, centre.y - head_h * rng.UniformReal(0.0, 0.2));
  hair.emplace_back(centre.x - head_w * 0.55, centre.y - head_h * 0.05);
  cv::fillPoly(img, std::vector<std::vector<cv::Point>>{hair}, cv::Scalar(kInk), cv::LINE_AA);
  // Eyes and mouth.
  const int eye_w = std::max(2, head_w / 9), eye_h = std::max(2, head_h / 10);
  for (int side = -1; side <= 1; side += 2) {
    cv::ellipse(img, cv::Point(centre.x + side * head_w / 5, centre.y + head_h / 12),
                cv::Size(eye_w, eye_h), 0, 0, 360, cv::Scalar(kInk), cv::FILLED, cv::LINE_AA);
  }
  cv::ellipse(img, cv::Point(centre.x, centre.y + head_h / 3), cv::Size(head_w / 8, head_h / 20), 0,
              10, 170, cv::Scalar(kInk), std::max(1, line - 1), cv::LINE_AA);
}

// Glyph-like strokes in vertical columns read right to left, inside `box`.
void DrawVerticalText(cv::Mat& img, Rng& rng, const cv::Rect& box, double scale) {
  const int cell = std::max(6, static_cast<int>(std::lround(rng.UniformReal(16, 24) * scale)));
  const int col_pitch = static_cast<int>(cell * 1.35);
  const int columns = std::max(1, box.width / col_pitch);
  const int rows = std::max(1, box.height / cell);
  const int used_w = columns * col_pitch;
  const int x_right = box.x + (box.width + used_w) / 2;
  const int thick = std::max(1, static_cast<int>(std::lround(2 * scale)));
  for (int col = 0; col < columns; ++col) {
    const int glyphs = rng.UniformInt(std::max(1, rows / 2), rows);
    const int x0 = x_right - (col + 1) * col_pitch + (col_pitch - cell) / 2;
    for (int g = 0; g < glyphs; ++g) {
      const int y0 = box.y + g * cell;
      const int strokes = rng.UniformInt(2, 5);
      const cv::Rect glyph(x0 + cell / 8, y0 + cell / 8, cell * 3 / 4, cell * 3 / 4);
      for (int s = 0; s < strokes; ++s) {
        const cv::Point2d a = RandomPoint(rng, glyph);
        cv::Point2d b = RandomPoint(rng, glyph);
        // Mostly horizontal / vertical strokes, like kana and kanji radicals.
        if (rng.Bernoulli(0.7)) {
          if (rng.Bernoulli(0.5))
            b.y = a.y;
          else
            b.x = a.x;
        }
        cv::line(img, cv::Point(a), cv::Point(b), cv::Scalar(kInk), thick, cv::LINE_AA);
      }
    }
  }
}

cv::Rect BalloonTextBox(const cv::RotatedRect& e) {
  // Rectangle inscribed in the ellipse: semi-axes / sqrt(2), shrunk a little more.
  const double w = e.size.width * 0.64, h = e.size.height * 0.66;
  return cv::Rect(static_cast<int>(e.center.x - w / 2), static_cast<int>(e.center.y - h / 2),
                  static_cast<int>(w), static_cast<int>(h));
}

// Balloons never overlap one another (`placed`, updated), so each is one clean ellipse.
void DrawBalloon(Canvas& c, cv::Mat& img, Rng& rng, const cv::Rect& panel_area,
                 std::vector<cv::Rect>& placed) {
  const double max_w = std::min(panel_area.width * 0.55, 340.0 * c.scale);
  const double max_h = std::min(panel_area.height * 0.7, 420.0 * c.scale);
  const double bw = rng.UniformReal(0.5, 1.0) * max_w;
  const double bh = std::max(bw * rng.UniformReal(1.0, 1.6), 0.0);
  const double h = std::min(bh, max_h);
  if (bw < 40 * c.scale || h < 50 * c.scale) return;
  cv::Point2f centre;
  bool free = false;
  for (int attempt = 0; attempt < 4 && !free; ++attempt) {
    centre = cv::Point2f(
        static_cast<float>(
            panel_area.x +
            rng.UniformReal(bw / 2 + 4, std::max(bw / 2 + 4, panel_area.width - bw / 2 - 4))),
        static_cast<float>(
            panel_area.y +
            rng.UniformReal(h / 2 + 4, std::max(h / 2 + 4, panel_area.height - h / 2 - 4))));
    const cv::Rect box(static_cast<int>(centre.x - bw / 2) - 8,
                       static_cast<int>(centre.y - h / 2) - 8, static_cast<int>(bw) + 16,
                       static_cast<int>(h) + 16);
    free = std::none_of(placed.begin(), placed.end(),
                        [&](const cv::Rect& p) { return (p & box).area() > 0; });
    if (free) placed.push_back(box);
  }
  if (!free) return;
  const cv::RotatedRect e(centre, cv::Size2f(static_cast<float>(bw), static_cast<float>(h)), 0);
  // Tail: small detached bubbles (keeps the balloon's white area a clean ellipse).
  if (rng.Bernoulli(0.5)) {
    const double dir = rng.Bernoulli(0.5) ? 1 : -1;
    for (int i = 1; i <= 2; ++i) {
      const cv::Point p(static_cast<int>(centre.x + dir * (bw / 2 + i * 10 * c.scale)),
                        static_cast<int>(centre.y + h / 2 + i * 6 * c.scale));
      cv::circle(img, p, Px(c, 7.0 - 2 * i), cv::Scalar(kInk), Px(c, 2), cv::LINE_AA);
    }
  }
  cv::ellipse(img, e, cv::Scalar(kBalloonWhite), cv::FILLED, cv::LINE_8);
  cv::ellipse(img, e, cv::Scalar(kInk), Px(c, rng.UniformReal(2, 3.5)), cv::LINE_AA);
  DrawVerticalText(img, rng, BalloonTextBox(e), c.scale);
}

void DrawPanelContent(Canvas& c, cv::Mat& img, Rng& rng) {
  const cv::Rect whole(0, 0, img.cols, img.rows);
  // Background layer.
  const double bg = rng.UniformReal(0, 1);
  if (bg < 0.35) {
    cv::Mat mask(img.size(), CV_8UC1, cv::Scalar(0));
    if (rng.Bernoulli(0.4)) {
      mask.setTo(255);
    } else {
      cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{RandomQuad(rng, whole)},
                   cv::Scalar(255));
    }
    DrawScreentone(img, mask, rng, c.scale);
  } else if (bg < 0.5) {
    DrawSpeedLines(img, rng, c.scale);
  } else if (bg < 0.6) {
    cv::Rect r(0, 0, img.cols, static_cast<int>(img.rows * rng.UniformReal(0.2, 0.5)));
    cv::fillPoly(img, std::vector<std::vector<cv::Point>>{RandomQuad(rng, r)}, cv::Scalar(kInk),
                 cv::LINE_AA);
  }
  // Scenery: curves and boxy shapes.
  const int curves = rng.UniformInt(4, 14);
  for (int i = 0; i < curves; ++i) {
    DrawBezier(img, RandomBezier(rng, whole), kInk, rng.UniformInt(1, Px(c, 4)));
  }
  const int boxes = rng.UniformInt(0, 3);
  for (int i = 0; i < boxes; ++i) {
    const cv::Point2d a = RandomPoint(rng, whole);
    const double w = rng.UniformReal(0.1, 0.4) * img.cols, h = rng.UniformReal(0.1, 0.4) * img.rows;
    std::vector<cv::Point> quad = RandomQuad(rng, cv::Rect(a.x, a.y, w, h));
    cv::polylines(img, quad, true, cv::Scalar(kInk), Px(c, 2), cv::LINE_AA);
  }
  // Hatching patches.
  const int hatches = rng.UniformInt(0, 3);
  for (int i = 0; i < hatches; ++i) {
    const cv::Point2d a = RandomPoint(rng, whole);
    const int w = std::max(10, static_cast<int>(rng.UniformReal(0.15, 0.45) * img.cols));
    const int h = std::max(10, static_cast<int>(rng.UniformReal(0.15, 0.45) * img.rows));
    DrawHatching(img, rng,
                 cv::Rect(static_cast<int>(a.x) - w / 2, static_cast<int>(a.y) - h / 2, w, h),
                 c.scale);
  }
  // Solid black accents.
  if (rng.Bernoulli(0.35)) {
    const cv::Point2d a = RandomPoint(rng, whole);
    cv::ellipse(img, cv::Point(a),
                cv::Size(Px(c, rng.UniformReal(10, 60)), Px(c, rng.UniformReal(10, 60))),
                rng.UniformReal(0, 180), 0, 360, cv::Scalar(kInk), cv::FILLED, cv::LINE_AA);
  }
  // Characters.
  const int figures = rng.UniformInt(1, 2);
  for (int i = 0; i < figures; ++i) DrawFigure(c, img, rng, whole);
}

struct PanelLayout {
  std::vector<cv::Rect> panels;
};

PanelLayout LayoutPanels(Rng& rng, int width, int height, double scale) {
  const int n = rng.UniformInt(3, 7);
  const int rows = std::clamp(rng.UniformInt(2, 4), (n + 2) / 3, n);
  std::vector<int> per_row(rows, 1);
  for (int left = n - rows; left > 0;) {
    const int r = rng.UniformInt(0, rows - 1);
    if (per_row[r] < 3) {
      ++per_row[r];
      --left;
    }
  }
  const int mx = static_cast<int>(width * rng.UniformReal(0.05, 0.08));
  const int my = static_cast<int>(height * rng.UniformReal(0.04, 0.07));
  const int gutter_y = static_cast<int>(rng.UniformReal(14, 26) * scale);
  const int gutter_x = static_cast<int>(rng.UniformReal(8, 16) * scale);
  std::vector<double> row_w(rows);
  double row_sum = 0;
  for (double& w : row_w) row_sum += (w = rng.UniformReal(0.7, 1.3));
  const double inner_h = height - 2 * my - (rows - 1) * gutter_y;
  PanelLayout layout;
  double y = my;
  for (int r = 0; r < rows; ++r) {
    const double h = inner_h * row_w[r] / row_sum;
    std::vector<double> col_w(per_row[r]);
    double col_sum = 0;
    for (double& w : col_w) col_sum += (w = rng.UniformReal(0.6, 1.4));
    const double inner_w = width - 2 * mx - (per_row[r] - 1) * gutter_x;
    double x = mx;
    for (int k = 0; k < per_row[r]; ++k) {
      const double w = inner_w * col_w[k] / col_sum;
      layout.panels.emplace_back(static_cast<int>(x), static_cast<int>(y), static_cast<int>(w),
                                 static_cast<int>(h));
      x += w + gutter_x;
    }
    y += h + gutter_y;
  }
  return layout;
}

// Paper tint: gray 255 (balloons) stays pure white, everything else is tinted warm.
cv::Mat Tint(const cv::Mat& gray, Rng& rng) {
  const double kb = rng.UniformReal(0.955, 0.975), kg = rng.UniformReal(0.98, 0.99);
  cv::Mat lut(1, 256, CV_8UC3);
  for (int v = 0; v < 256; ++v) {
    cv::Vec3b& e = lut.at<cv::Vec3b>(0, v);
    if (v == 255) {
      e = cv::Vec3b(255, 255, 255);
    } else {
      e = cv::Vec3b(cv::saturate_cast<uint8_t>(v * kb), cv::saturate_cast<uint8_t>(v * kg),
                    static_cast<uint8_t>(v));
    }
  }
  cv::Mat bgr, out;
  cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
  cv::LUT(bgr, lut, out);
  return out;
}

}  // namespace

cv::Mat GenerateMangaPage(uint64_t seed, int width, int height) {
  assert(width >= 64 && height >= 64 && width <= 20000 && height <= 20000);
  Rng rng(seed);
  Canvas c;
  c.scale = std::min(width, height) / 1200.0;
  c.paper = static_cast<uint8_t>(rng.UniformInt(240, 250));
  c.gray = cv::Mat(height, width, CV_8UC1, cv::Scalar(c.paper));
  const PanelLayout layout = LayoutPanels(rng, width, height, c.scale);
  int balloons = 0;
  for (size_t i = 0; i < layout.panels.size(); ++i) {
    const cv::Rect& r = layout.panels[i];
    cv::Mat roi = c.gray(r);
    // Each panel draws from its own stream so layout changes don't shift later panels.
    Rng panel_rng(rng.Next());
    DrawPanelContent(c, roi, panel_rng);
    const int want =
        (i + 1 == layout.panels.size() && balloons == 0) ? 1 : panel_rng.UniformInt(0, 2);
    std::vector<cv::Rect> placed;
    for (int b = 0; b < want; ++b) {
      DrawBalloon(c, roi, panel_rng, cv::Rect(0, 0, r.width, r.height), placed);
    }
    balloons += static_cast<int>(placed.size());
    const int border = Px(c, rng.UniformReal(3, 6.99));
    cv::rectangle(roi, cv::Rect(0, 0, r.width, r.height), cv::Scalar(kInk), border, cv::LINE_8);
  }
  // Page number at the bottom margin.
  cv::putText(c.gray, std::to_string(1 + seed % 200),
              cv::Point(width / 2 - Px(c, 12), height - Px(c, 20)), cv::FONT_HERSHEY_SIMPLEX,
              0.6 * c.scale, cv::Scalar(kInk), Px(c, 1.5), cv::LINE_AA);
  return Tint(c.gray, rng);
}

// ---- edits ------------------------------------------------------------------

std::string_view EditName(Edit edit) {
  switch (edit) {
    case Edit::kNone:
      return "none";
    case Edit::kJpegQ30:
      return "jpeg_q30";
    case Edit::kRescale50:
      return "rescale50";
    case Edit::kRescale150:
      return "rescale150";
    case Edit::kCrop3:
      return "crop3";
    case Edit::kCrop5:
      return "crop5";
    case Edit::kCrop10:
      return "crop10";
    case Edit::kCrop20:
      return "crop20";
    case Edit::kCropRandom:
      return "crop_random";
    case Edit::kMirror:
      return "mirror";
    case Edit::kWatermarkStrip:
      return "watermark_strip";
    case Edit::kCreditsStrip:
      return "credits_strip";
    case Edit::kGrayscale:
      return "grayscale";
    case Edit::kPad4x3:
      return "pad4x3";
    case Edit::kPad16x9:
      return "pad16x9";
    case Edit::kRotate2:
      return "rotate2";
    case Edit::kRotate5:
      return "rotate5";
    case Edit::kBalloonText:
      return "balloon_text";
  }
  return "unknown";
}

std::vector<Edit> AllEdits() {
  std::vector<Edit> all;
  for (int e = static_cast<int>(Edit::kJpegQ30); e <= static_cast<int>(Edit::kBalloonText); ++e) {
    all.push_back(static_cast<Edit>(e));
  }
  return all;
}

std::optional<Edit> ParseEdit(std::string_view name) {
  if (name == "none") return Edit::kNone;
  for (Edit e : AllEdits()) {
    if (EditName(e) == name) return e;
  }
  return std::nullopt;
}

cv::Rect CropRectForEdit(cv::Size size, Edit edit, uint64_t seed) {
  double l = 0, t = 0, r = 0, b = 0;
  switch (edit) {
    case Edit::kCrop3:
      l = t = r = b = 0.03;
      break;
    case Edit::kCrop5:
      l = t = r = b = 0.05;
      break;
    case Edit::kCrop10:
      l = t = r = b = 0.10;
      break;
    case Edit::kCrop20:
      l = t = r = b = 0.20;
      break;
    case Edit::kCropRandom: {
      Rng rng(seed ^ 0x63726f70ULL);
      l = rng.UniformReal(0.05, 0.20);
      t = rng.UniformReal(0.05, 0.20);
      r = rng.UniformReal(0.05, 0.20);
      b = rng.UniformReal(0.05, 0.20);
      break;
    }
    default:
      return cv::Rect(0, 0, size.width, size.height);
  }
  const int x0 = static_cast<int>(std::lround(size.width * l));
  const int y0 = static_cast<int>(std::lround(size.height * t));
  const int x1 = size.width - static_cast<int>(std::lround(size.width * r));
  const int y1 = size.height - static_cast<int>(std::lround(size.height * b));
  return cv::Rect(x0, y0, std::max(1, x1 - x0), std::max(1, y1 - y0));
}

cv::Rect PadContentRect(cv::Size size, double target_aspect) {
  const double aspect = static_cast<double>(size.width) / size.height;
  if (aspect < target_aspect) {
    const int new_w = static_cast<int>(std::lround(size.height * target_aspect));
    return cv::Rect((new_w - size.width) / 2, 0, size.width, size.height);
  }
  const int new_h = static_cast<int>(std::lround(size.width / target_aspect));
  return cv::Rect(0, (new_h - size.height) / 2, size.width, size.height);
}

namespace {

cv::Mat Pad(const cv::Mat& page, double target_aspect, uint64_t seed) {
  Rng rng(seed ^ 0x706164ULL);
  const cv::Scalar bar = rng.Bernoulli(0.5) ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
  const cv::Rect content = PadContentRect(page.size(), target_aspect);
  const double aspect = static_cast<double>(page.cols) / page.rows;
  cv::Size out_size =
      aspect < target_aspect
          ? cv::Size(static_cast<int>(std::lround(page.rows * target_aspect)), page.rows)
          : cv::Size(page.cols, static_cast<int>(std::lround(page.cols / target_aspect)));
  cv::Mat out(out_size, page.type(), bar);
  page.copyTo(out(content));
  return out;
}

cv::Mat Rotate(const cv::Mat& page, double degrees, uint64_t seed) {
  Rng rng(seed ^ 0x726f74ULL);
  const double angle = rng.Bernoulli(0.5) ? degrees : -degrees;
  const cv::Point2f centre(page.cols / 2.0f, page.rows / 2.0f);
  const cv::Mat m = cv::getRotationMatrix2D(centre, angle, 1.0);
  cv::Mat out;
  cv::warpAffine(page, out, m, page.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(255, 255, 255));
  return out;
}

std::string RandomWord(Rng& rng, int min_len, int max_len) {
  static constexpr char kLetters[] = "abcdefghijklmnopqrstuvwxyz";
  std::string s;
  const int n = rng.UniformInt(min_len, max_len);
  for (int i = 0; i < n; ++i) s.push_back(kLetters[rng.UniformInt(0, 25)]);
  return s;
}

cv::Mat WatermarkStrip(const cv::Mat& page, uint64_t seed) {
  Rng rng(seed ^ 0x776d6bULL);
  cv::Mat out = page.clone();
  const int band_h = std::max(1, static_cast<int>(std::lround(page.rows * 0.08)));
  cv::Mat band = out(cv::Rect(0, page.rows - band_h, page.cols, band_h));
  cv::Mat dark(band.size(), band.type(), cv::Scalar(25, 25, 25));
  cv::addWeighted(band, 0.35, dark, 0.65, 0.0, band);
  const std::string text =
      "READ FREE AT " + RandomWord(rng, 5, 9) + "manga." + RandomWord(rng, 2, 3);
  const double font_scale = band_h / 40.0;
  int baseline = 0;
  const cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_DUPLEX, font_scale, 2, &baseline);
  cv::putText(band, text,
              cv::Point(std::max(0, (band.cols - ts.width) / 2), (band_h + ts.height) / 2),
              cv::FONT_HERSHEY_DUPLEX, font_scale, cv::Scalar(235, 235, 235),
              std::max(1, band_h / 40), cv::LINE_AA);
  return out;
}

cv::Mat CreditsStrip(const cv::Mat& page, uint64_t seed) {
  Rng rng(seed ^ 0x637264ULL);
  cv::Mat out = page.clone();
  const int band_h = std::max(1, static_cast<int>(std::lround(page.rows * 0.10)));
  const bool top = rng.Bernoulli(0.5);
  cv::Mat band = out(cv::Rect(0, top ? 0 : page.rows - band_h, page.cols, band_h));
  band.setTo(cv::Scalar(250, 250, 250));
  cv::rectangle(band, cv::Rect(0, 0, band.cols, band.rows), cv::Scalar(0, 0, 0), 3);
  // Logo box: black square with a white ring and the group's initials.
  const int logo = band_h * 3 / 4;
  const cv::Rect logo_rect(band_h / 8, band_h / 8, logo, logo);
  cv::rectangle(band, logo_rect, cv::Scalar(0, 0, 0), cv::FILLED);
  cv::circle(band, (logo_rect.tl() + logo_rect.br()) / 2, logo / 3, cv::Scalar(255, 255, 255),
             std::max(2, logo / 12), cv::LINE_AA);
  // Credit lines.
  const double font_scale = band_h / 110.0;
  const int lines = 3;
  for (int i = 0; i < lines; ++i) {
    std::string text;
    static constexpr const char* kRoles[] = {"TL: ", "TS: ", "CL: ", "RD: ", "QC: "};
    text = kRoles[rng.UniformInt(0, 4)] + RandomWord(rng, 4, 9) + "   " +
           kRoles[rng.UniformInt(0, 4)] + RandomWord(rng, 4, 9) + "   join " +
           RandomWord(rng, 5, 8) + " scans";
    cv::putText(
        band, text,
        cv::Point(logo_rect.br().x + band_h / 4, band_h * (i + 1) / (lines + 1) + band_h / 12),
        cv::FONT_HERSHEY_SIMPLEX, font_scale, cv::Scalar(0, 0, 0), std::max(1, band_h / 70),
        cv::LINE_AA);
  }
  return out;
}

}  // namespace

std::vector<cv::Rect> FindBalloons(const cv::Mat& page) {
  std::vector<cv::Rect> found;
  if (page.empty() || page.type() != CV_8UC3) return found;
  cv::Mat white;
  cv::inRange(page, cv::Scalar(255, 255, 255), cv::Scalar(255, 255, 255), white);
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(white, labels, stats, centroids, 4, CV_32S);
  const int min_side = std::max(12, std::min(page.cols, page.rows) / 40);
  for (int i = 1; i < n; ++i) {
    const cv::Rect r(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                     stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
    const int area = stats.at<int>(i, cv::CC_STAT_AREA);
    if (r.width < min_side || r.height < min_side) continue;
    // An ellipse fills pi/4 of its box; glyphs take some of that.
    const double fill = static_cast<double>(area) / r.area();
    if (fill < 0.45 || fill > 0.82) continue;
    found.push_back(r);
  }
  return found;
}

namespace {

cv::Mat RelettterBalloons(const cv::Mat& page, uint64_t seed) {
  Rng rng(seed ^ 0x74657874ULL);
  cv::Mat out = page.clone();
  const double scale = std::min(page.cols, page.rows) / 1200.0;
  for (const cv::Rect& r : FindBalloons(page)) {
    // The balloon interior is the ellipse inscribed in the white component's box.
    cv::Mat mask(page.size(), CV_8UC1, cv::Scalar(0));
    const cv::RotatedRect e(cv::Point2f(r.x + r.width / 2.0f, r.y + r.height / 2.0f),
                            cv::Size2f(r.width - 2.0f, r.height - 2.0f), 0);
    cv::ellipse(mask, e, cv::Scalar(255), cv::FILLED, cv::LINE_8);
    out.setTo(cv::Scalar(255, 255, 255), mask);
    cv::Mat glyphs(page.size(), CV_8UC1, cv::Scalar(255));
    DrawVerticalText(glyphs, rng,
                     BalloonTextBox(cv::RotatedRect(e.center, cv::Size2f(r.width, r.height), 0)),
                     scale);
    cv::Mat glyphs_bgr;
    cv::cvtColor(glyphs, glyphs_bgr, cv::COLOR_GRAY2BGR);
    cv::Mat inked;
    cv::min(out, glyphs_bgr, inked);
    inked.copyTo(out, mask);
  }
  return out;
}

}  // namespace

cv::Mat ApplyEdit(const cv::Mat& page, Edit edit, uint64_t seed) {
  assert(!page.empty() && page.type() == CV_8UC3);
  switch (edit) {
    case Edit::kNone:
      return page.clone();
    case Edit::kJpegQ30:
      return cv::imdecode(EncodeJpeg(page, 30), cv::IMREAD_COLOR);
    case Edit::kRescale50: {
      cv::Mat out;
      cv::resize(page, out, cv::Size(std::max(1, page.cols / 2), std::max(1, page.rows / 2)), 0, 0,
                 cv::INTER_AREA);
      return out;
    }
    case Edit::kRescale150: {
      cv::Mat out;
      cv::resize(page, out, cv::Size(page.cols * 3 / 2, page.rows * 3 / 2), 0, 0, cv::INTER_CUBIC);
      return out;
    }
    case Edit::kCrop3:
    case Edit::kCrop5:
    case Edit::kCrop10:
    case Edit::kCrop20:
    case Edit::kCropRandom:
      return page(CropRectForEdit(page.size(), edit, seed)).clone();
    case Edit::kMirror: {
      cv::Mat out;
      cv::flip(page, out, 1);
      return out;
    }
    case Edit::kWatermarkStrip:
      return WatermarkStrip(page, seed);
    case Edit::kCreditsStrip:
      return CreditsStrip(page, seed);
    case Edit::kGrayscale: {
      cv::Mat gray, out;
      cv::cvtColor(page, gray, cv::COLOR_BGR2GRAY);
      cv::cvtColor(gray, out, cv::COLOR_GRAY2BGR);
      return out;
    }
    case Edit::kPad4x3:
      return Pad(page, 4.0 / 3.0, seed);
    case Edit::kPad16x9:
      return Pad(page, 16.0 / 9.0, seed);
    case Edit::kRotate2:
      return Rotate(page, 2.0, seed);
    case Edit::kRotate5:
      return Rotate(page, 5.0, seed);
    case Edit::kBalloonText:
      return RelettterBalloons(page, seed);
  }
  return page.clone();
}

cv::Mat MakeSpread(const cv::Mat& left, const cv::Mat& right) {
  assert(!left.empty() && !right.empty() && left.type() == right.type());
  cv::Mat scaled = left;
  if (left.rows != right.rows) {
    const int w = std::max(
        1, static_cast<int>(std::lround(left.cols * static_cast<double>(right.rows) / left.rows)));
    cv::resize(left, scaled, cv::Size(w, right.rows), 0, 0, cv::INTER_AREA);
  }
  cv::Mat out;
  cv::hconcat(scaled, right, out);
  return out;
}

std::vector<unsigned char> EncodeJpeg(const cv::Mat& bgr, int quality) {
  std::vector<unsigned char> buf;
  cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)});
  return buf;
}

std::vector<unsigned char> EncodePng(const cv::Mat& bgr) {
  std::vector<unsigned char> buf;
  cv::imencode(".png", bgr, buf, {cv::IMWRITE_PNG_COMPRESSION, 3});
  return buf;
}

}  // namespace kagami::synth
