#include "kagami/fingerprint/colour_signature.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace kagami::fingerprint {
namespace {

uint8_t ToByte(double fraction) {
  return static_cast<uint8_t>(std::lround(std::clamp(fraction, 0.0, 1.0) * 255.0));
}

// Cb and Cr of R,G,B (ITU-R BT.601 / JFIF), centred on 0.
struct Chroma {
  double cb;
  double cr;
  double SquaredLength() const { return cb * cb + cr * cr; }
};
Chroma ChromaOf(double red, double green, double blue) {
  return {-0.168736 * red - 0.331264 * green + 0.5 * blue,
          0.5 * red - 0.418688 * green - 0.081312 * blue};
}

// `pixels` area-reduced to at most kColourLongSide on the long side (a view
// when already that small).
cv::Mat ReducedForColour(const cv::Mat& pixels) {
  const int long_side = std::max(pixels.cols, pixels.rows);
  if (long_side <= kColourLongSide) return pixels;
  const double f = static_cast<double>(kColourLongSide) / long_side;
  cv::Mat small;
  cv::resize(pixels, small,
             cv::Size(std::max(1, static_cast<int>(std::lround(pixels.cols * f))),
                      std::max(1, static_cast<int>(std::lround(pixels.rows * f)))),
             0, 0, cv::INTER_AREA);
  return small;
}

// The share of `a`'s colour in sectors where `b` has none, nor its neighbours
// (shares renormalised: an unpacked signature holds typical values).
double Absent(const ColourSignature& a, const ColourSignature& b) {
  double absent = 0, total = 0;
  for (int k = 0; k < kHueSectors; ++k) {
    const double near = std::max(
        {b.hue[k], b.hue[(k + 1) % kHueSectors], b.hue[(k + kHueSectors - 1) % kHueSectors]});
    if (near < kPresentFraction) absent += a.hue[k];
    total += a.hue[k];
  }
  return total > 0 ? absent / total : 0;
}

}  // namespace

std::array<uint8_t, kColourSignatureBytes> ColourSignature::Pack() const {
  std::array<uint8_t, kColourSignatureBytes> out{};
  out[0] = ToByte(chromatic);
  uint32_t levels = 0;
  for (int k = 0; k < kHueSectors; ++k) {
    const uint32_t level = hue[k] < kPresentFraction ? 0 : hue[k] < 0.1 ? 1 : hue[k] < 0.3 ? 2 : 3;
    levels |= level << (2 * k);
  }
  for (int b = 0; b < 3; ++b) out[1 + b] = static_cast<uint8_t>(levels >> (8 * b));
  return out;
}

bool ColourSignature::Unpack(std::span<const uint8_t> packed, ColourSignature* out) {
  if (packed.size() != kColourSignatureBytes) return false;
  constexpr double kTypical[4] = {0, 0.05, 0.18, 0.5};
  ColourSignature s;
  s.measured = true;
  s.chromatic = packed[0] / 255.0;
  const uint32_t levels = packed[1] | (packed[2] << 8) | (packed[3] << 16);
  for (int k = 0; k < kHueSectors; ++k) s.hue[k] = kTypical[(levels >> (2 * k)) & 3];
  *out = s;
  return true;
}

ColourSignature MakeColourSignature(const cv::Mat& rgb, const cv::Rect& region) {
  ColourSignature s;
  const cv::Rect r = region & cv::Rect(0, 0, rgb.cols, rgb.rows);
  if (rgb.empty() || r.empty() || rgb.depth() != CV_8U) return s;
  s.measured = true;
  if (rgb.channels() != 3) return s;  // gray: no colour
  const cv::Mat small = ReducedForColour(rgb(r));
  std::array<int64_t, kHueSectors> counts{};
  int64_t chromatic = 0;
  const double min_chroma2 = kMinChroma * kMinChroma;
  constexpr double kSectorsPerRadian = kHueSectors / (2 * std::numbers::pi);
  for (int y = 0; y < small.rows; ++y) {
    const cv::Vec3b* row = small.ptr<cv::Vec3b>(y);
    for (int x = 0; x < small.cols; ++x) {
      const Chroma c = ChromaOf(row[x][0], row[x][1], row[x][2]);
      if (c.SquaredLength() < min_chroma2) continue;
      const int k =
          static_cast<int>((std::atan2(c.cr, c.cb) + std::numbers::pi) * kSectorsPerRadian);
      ++counts[std::clamp(k, 0, kHueSectors - 1)];
      ++chromatic;
    }
  }
  s.chromatic = static_cast<double>(chromatic) / (static_cast<double>(small.rows) * small.cols);
  if (chromatic > 0) {
    for (int k = 0; k < kHueSectors; ++k)
      s.hue[k] = static_cast<double>(counts[k]) / static_cast<double>(chromatic);
  }
  return s;
}

ColourSignature MakeColourSignature(const cv::Mat& rgb) {
  return MakeColourSignature(rgb, cv::Rect(0, 0, rgb.cols, rgb.rows));
}

ColourComparison CompareColour(const ColourSignature& query, const ColourSignature& registered,
                               double min_chromatic) {
  ColourComparison c;
  if (!query.measured || !registered.measured || query.chromatic < min_chromatic ||
      registered.chromatic < min_chromatic) {
    return c;
  }
  c.measured = true;
  c.disagreement = std::min(Absent(query, registered), Absent(registered, query));
  return c;
}

std::optional<cv::Mat> BalancedOnPaper(const cv::Mat& rgb, const cv::Rect& region) {
  const cv::Rect r = region & cv::Rect(0, 0, rgb.cols, rgb.rows);
  if (rgb.empty() || r.empty() || rgb.type() != CV_8UC3) return std::nullopt;
  cv::Mat small = ReducedForColour(rgb(r));
  const int n = small.rows * small.cols;
  std::vector<int> counts(32 * 32 * 32, 0);
  auto bin = [](const cv::Vec3b& p) { return (p[0] >> 3) << 10 | (p[1] >> 3) << 5 | (p[2] >> 3); };
  for (int y = 0; y < small.rows; ++y) {
    const cv::Vec3b* row = small.ptr<cv::Vec3b>(y);
    for (int x = 0; x < small.cols; ++x) ++counts[bin(row[x])];
  }
  const int mode =
      static_cast<int>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  // The mean of the mode's step, then every pixel near it.
  std::array<double, 3> sum{};
  int in_step = 0;
  for (int y = 0; y < small.rows; ++y) {
    const cv::Vec3b* row = small.ptr<cv::Vec3b>(y);
    for (int x = 0; x < small.cols; ++x) {
      if (bin(row[x]) != mode) continue;
      for (int c = 0; c < 3; ++c) sum[c] += row[x][c];
      ++in_step;
    }
  }
  std::array<double, 3> paper{};
  for (int c = 0; c < 3; ++c) paper[c] = sum[c] / std::max(1, in_step);
  int near = 0;
  for (int y = 0; y < small.rows; ++y) {
    const cv::Vec3b* row = small.ptr<cv::Vec3b>(y);
    for (int x = 0; x < small.cols; ++x) {
      bool close = true;
      for (int c = 0; c < 3; ++c)
        close = close && std::abs(row[x][c] - paper[c]) <= kPaperTolerance;
      near += close;
    }
  }
  const double luma = 0.299 * paper[0] + 0.587 * paper[1] + 0.114 * paper[2];
  if (near < kMinPaperFraction * n || luma < kMinPaperLuma ||
      ChromaOf(paper[0], paper[1], paper[2]).SquaredLength() < kMinChroma * kMinChroma) {
    return std::nullopt;
  }
  const double top = std::max({paper[0], paper[1], paper[2]});
  cv::Mat balanced;
  small.convertTo(balanced, CV_32FC3);
  cv::multiply(balanced,
               cv::Scalar(top / std::max(1.0, paper[0]), top / std::max(1.0, paper[1]),
                          top / std::max(1.0, paper[2])),
               balanced);
  balanced.convertTo(balanced, CV_8UC3);  // saturates at 255
  return balanced;
}

}  // namespace kagami::fingerprint
