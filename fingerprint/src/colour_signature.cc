#include "kagami/fingerprint/colour_signature.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <opencv2/imgproc.hpp>

namespace kagami::fingerprint {
namespace {

uint8_t ToByte(double fraction) {
  return static_cast<uint8_t>(std::lround(std::clamp(fraction, 0.0, 1.0) * 255.0));
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
  cv::Mat small = rgb(r);
  const int long_side = std::max(r.width, r.height);
  if (long_side > kColourLongSide) {
    const double f = static_cast<double>(kColourLongSide) / long_side;
    cv::resize(small, small,
               cv::Size(std::max(1, static_cast<int>(std::lround(r.width * f))),
                        std::max(1, static_cast<int>(std::lround(r.height * f)))),
               0, 0, cv::INTER_AREA);
  }
  std::array<int64_t, kHueSectors> counts{};
  int64_t chromatic = 0;
  const double min_chroma2 = kMinChroma * kMinChroma;
  constexpr double kSectorsPerRadian = kHueSectors / (2 * std::numbers::pi);
  for (int y = 0; y < small.rows; ++y) {
    const cv::Vec3b* row = small.ptr<cv::Vec3b>(y);
    for (int x = 0; x < small.cols; ++x) {
      const double red = row[x][0], green = row[x][1], blue = row[x][2];
      const double cb = -0.168736 * red - 0.331264 * green + 0.5 * blue;
      const double cr = 0.5 * red - 0.418688 * green - 0.081312 * blue;
      if (cb * cb + cr * cr < min_chroma2) continue;
      const int k = static_cast<int>((std::atan2(cr, cb) + std::numbers::pi) * kSectorsPerRadian);
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

}  // namespace kagami::fingerprint
