#include "kagami/fingerprint/area_resize.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

namespace kagami::fingerprint {
namespace {

// The input pixels that output pixel i covers along one axis, and their
// weights (covered fraction of the pixel / the cell's width; they sum to 1).
struct Taps {
  std::vector<int> first;  // per output: first input index
  std::vector<int> begin;  // per output: its range in `weight`, begin[i]..begin[i + 1]
  std::vector<float> weight;
  int max_taps = 0;
  // When max_taps <= 3: three weights per output (0 for unused taps) and the
  // offsets of taps 1 and 2 from `first` (0 for unused ones).
  std::vector<float> fixed3;
  std::vector<int> step3;
};

Taps AreaTaps(int in_size, int out_size) {
  Taps taps;
  taps.first.resize(out_size);
  taps.begin.resize(out_size + 1);
  const double scale = static_cast<double>(in_size) / out_size;
  for (int i = 0; i < out_size; ++i) {
    const double start = i * scale;
    const double end = std::min(start + scale, static_cast<double>(in_size));
    const double cell = end - start;
    taps.begin[i] = static_cast<int>(taps.weight.size());
    int k = std::min(static_cast<int>(std::floor(start)), in_size - 1);
    // Slivers under 1/1000 of a pixel (floating-point remainders of the
    // cell bounds) are not taps.
    if (std::min<double>(k + 1, end) - start <= 1e-3) ++k;
    taps.first[i] = k;
    for (; k < in_size && k < end; ++k) {
      const double covered = std::min<double>(k + 1, end) - std::max<double>(k, start);
      if (covered <= 1e-3) break;
      taps.weight.push_back(static_cast<float>(covered / cell));
    }
  }
  taps.begin[out_size] = static_cast<int>(taps.weight.size());
  for (int i = 0; i < out_size; ++i)
    taps.max_taps = std::max(taps.max_taps, taps.begin[i + 1] - taps.begin[i]);
  if (taps.max_taps <= 3) {
    taps.fixed3.assign(3 * out_size, 0.0f);
    taps.step3.assign(2 * out_size, 0);
    for (int i = 0; i < out_size; ++i) {
      for (int t = taps.begin[i]; t < taps.begin[i + 1]; ++t) {
        const int k = t - taps.begin[i];
        taps.fixed3[3 * i + k] = taps.weight[t];
        if (k > 0) taps.step3[2 * i + k - 1] = k;
      }
    }
  }
  return taps;
}

}  // namespace

cv::Mat AreaDownscale(const cv::Mat& gray, cv::Size size) {
  assert(gray.type() == CV_8UC1 && !gray.empty());
  assert(size.width >= 1 && size.height >= 1 && size.width <= gray.cols &&
         size.height <= gray.rows);
  if (size == gray.size()) return gray.clone();
  const Taps xs = AreaTaps(gray.cols, size.width);
  const Taps ys = AreaTaps(gray.rows, size.height);
  // Rows first, one multiply-add pass per tap over the whole input row into
  // a float row; then each output pixel's taps across that row.
  std::vector<float> sum(gray.cols);
  cv::Mat out(size, CV_8UC1);
  for (int i = 0; i < size.height; ++i) {
    float* __restrict s = sum.data();
    {
      const uint8_t* __restrict in = gray.ptr<uint8_t>(ys.first[i]);
      const float w = ys.weight[ys.begin[i]];
      for (int x = 0; x < gray.cols; ++x) s[x] = w * in[x];
    }
    for (int t = ys.begin[i] + 1; t < ys.begin[i + 1]; ++t) {
      const uint8_t* __restrict in = gray.ptr<uint8_t>(ys.first[i] + (t - ys.begin[i]));
      const float w = ys.weight[t];
      for (int x = 0; x < gray.cols; ++x) s[x] += w * in[x];
    }
    uint8_t* o = out.ptr<uint8_t>(i);
    if (xs.max_taps <= 3) {
      // Factors up to 2 (the page views' working copies): three taps per
      // output, unused ones of weight 0 on an in-range pixel.
      for (int j = 0; j < size.width; ++j) {
        const float* p = s + xs.first[j];
        const float* w = xs.fixed3.data() + 3 * j;
        const float v = w[0] * p[0] + w[1] * p[xs.step3[2 * j]] + w[2] * p[xs.step3[2 * j + 1]];
        o[j] = static_cast<uint8_t>(std::min(static_cast<int>(v + 0.5f), 255));
      }
      continue;
    }
    for (int j = 0; j < size.width; ++j) {
      const float* p = s + xs.first[j];
      const int n = xs.begin[j + 1] - xs.begin[j];
      const float* w = xs.weight.data() + xs.begin[j];
      float v = 0;
      for (int t = 0; t < n; ++t) v += w[t] * p[t];
      o[j] = static_cast<uint8_t>(std::min(static_cast<int>(v + 0.5f), 255));
    }
  }
  return out;
}

}  // namespace kagami::fingerprint
