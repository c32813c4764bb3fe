#pragma once

// Helpers shared by the PDQ tests: deterministic random images and a plain
// transliteration of the reference algorithm (Meta ThreatExchange pdq/cpp:
// downscaling.cpp box1DFloat/jaroszFilterFloat/decimateFloat, pdqhashing.cpp,
// torben.cpp) written in the reference's loop structure, as an independent
// check of the restructured kernels.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <random>
#include <vector>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/pdq_kernels.h"

namespace kagami::fingerprint::testing {

// Smooth random waves plus noise: textured enough that PDQ bits are stable.
inline cv::Mat RandomImage(int width, int height, int type, uint32_t seed) {
  std::mt19937 rng(seed);
  cv::Mat img(height, width, type);
  const int ch = img.channels();
  std::uniform_real_distribution<double> phase(0.0, 6.283);
  std::uniform_real_distribution<double> freq(0.5, 6.0);
  std::vector<float> sx[3], cy[3];
  for (int c = 0; c < 3; ++c) {
    const double fx = freq(rng), fy = freq(rng), px = phase(rng), py = phase(rng);
    sx[c].resize(width);
    cy[c].resize(height);
    for (int x = 0; x < width; ++x)
      sx[c][x] = static_cast<float>(std::sin(fx * x / width * 6.283 + px));
    for (int y = 0; y < height; ++y)
      cy[c][y] = static_cast<float>(std::cos(fy * y / height * 6.283 + py));
  }
  uint32_t state = seed * 2654435761u + 1;
  for (int y = 0; y < height; ++y) {
    uint8_t* row = img.ptr<uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < ch; ++c) {
        const int k = c % 3;
        state = state * 1664525u + 1013904223u;
        const int noise = static_cast<int>(state >> 27) - 16;  // -16..15
        const int v = 128 + static_cast<int>(90.0f * sx[k][x] * cy[k][y]) + noise;
        row[x * ch + c] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
    }
  }
  return img;
}

// --- Reference transliteration -------------------------------------------

inline void RefBox1D(const float* in, float* out, int length, int stride, int window) {
  const int half = (window + 2) / 2;
  const int p1 = half - 1, p2 = window - half + 1, p3 = length - window, p4 = half - 1;
  int li = 0, ri = 0, oi = 0, count = 0;
  float sum = 0.0f;
  for (int i = 0; i < p1; ++i) sum += in[ri], ++count, ri += stride;
  for (int i = 0; i < p2; ++i) {
    sum += in[ri], ++count;
    out[oi] = sum / count;
    ri += stride, oi += stride;
  }
  for (int i = 0; i < p3; ++i) {
    sum += in[ri];
    sum -= in[li];
    out[oi] = sum / count;
    li += stride, ri += stride, oi += stride;
  }
  for (int i = 0; i < p4; ++i) {
    sum -= in[li];
    --count;
    out[oi] = sum / count;
    li += stride, oi += stride;
  }
}

inline void RefBoxAlongRows(const float* in, float* out, int rows, int cols, int window) {
  for (int i = 0; i < rows; ++i) RefBox1D(in + i * cols, out + i * cols, cols, 1, window);
}

inline void RefBoxAlongCols(const float* in, float* out, int rows, int cols, int window) {
  for (int j = 0; j < cols; ++j) RefBox1D(in + j, out + j, rows, cols, window);
}

inline float RefTorben(const float* m, int n) {
  float min = m[0], max = m[0];
  for (int i = 1; i < n; ++i) min = std::min(min, m[i]), max = std::max(max, m[i]);
  while (true) {
    const float guess = (min + max) / 2;
    int less = 0, greater = 0, equal = 0;
    float max_lt = min, min_gt = max;
    for (int i = 0; i < n; ++i) {
      if (m[i] < guess) {
        ++less;
        if (m[i] > max_lt) max_lt = m[i];
      } else if (m[i] > guess) {
        ++greater;
        if (m[i] < min_gt) min_gt = m[i];
      } else {
        ++equal;
      }
    }
    if (less <= (n + 1) / 2 && greater <= (n + 1) / 2) {
      if (less >= (n + 1) / 2) return max_lt;
      if (less + equal >= (n + 1) / 2) return guess;
      return min_gt;
    }
    if (less > greater) {
      max = max_lt;
    } else {
      min = min_gt;
    }
  }
}

struct RefResult {
  Hash256 hash;
  int quality = 0;
};

// The reference's pdqHash256FromFloatLuma (dihedral == false) or the
// original-orientation output of pdqDihedralHash256esFromFloatLuma, for an
// image already decoded as the reference tool does (R,G,B order), including
// the 512x512 nearest-neighbour resize.
inline RefResult RefHash(const cv::Mat& image, bool dihedral = false) {
  cv::Mat src = image;
  if (src.rows > 512 || src.cols > 512) {
    cv::Mat resized(512, 512, src.type());
    const size_t px = src.elemSize();
    for (int y = 0; y < 512; ++y) {
      const int sy = static_cast<int>(std::floor(y * static_cast<double>(src.rows) / 512.0));
      for (int x = 0; x < 512; ++x) {
        const int sx = static_cast<int>(std::floor(x * static_cast<double>(src.cols) / 512.0));
        std::copy_n(src.ptr<uint8_t>(sy) + sx * px, px, resized.ptr<uint8_t>(y) + x * px);
      }
    }
    src = resized;
  }
  const int rows = src.rows, cols = src.cols, ch = src.channels();
  RefResult result;
  if (rows < 5 || cols < 5) return result;
  std::vector<float> buf1(rows * cols), buf2(rows * cols);
  const float kr = 0.299, kg = 0.587, kb = 0.114;
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      const uint8_t* p = src.ptr<uint8_t>(i) + j * ch;
      buf1[i * cols + j] = ch == 1 ? static_cast<float>(p[0]) : kr * p[0] + kg * p[1] + kb * p[2];
    }
  }
  float a[64][64];
  if (rows == 64 && cols == 64 && !dihedral) {
    for (int i = 0; i < 64; ++i)
      for (int j = 0; j < 64; ++j) a[i][j] = buf1[i * 64 + j];
  } else {
    const int wr = (cols + 127) / 128, wc = (rows + 127) / 128;
    for (int rep = 0; rep < 2; ++rep) {
      RefBoxAlongRows(buf1.data(), buf2.data(), rows, cols, wr);
      RefBoxAlongCols(buf2.data(), buf1.data(), rows, cols, wc);
    }
    for (int i = 0; i < 64; ++i) {
      const int ii = static_cast<int>(((i + 0.5) * rows) / 64);
      for (int j = 0; j < 64; ++j) {
        const int jj = static_cast<int>(((j + 0.5) * cols) / 64);
        a[i][j] = buf1[ii * cols + jj];
      }
    }
  }
  int gradient = 0;
  for (int i = 0; i < 63; ++i)
    for (int j = 0; j < 64; ++j)
      gradient += std::abs(static_cast<int>(((a[i][j] - a[i + 1][j]) * 100) / 255));
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < 63; ++j)
      gradient += std::abs(static_cast<int>(((a[i][j] - a[i][j + 1]) * 100) / 255));
  result.quality = std::min(100, gradient / 90);

  const float* d = pdq::DctMatrix();
  float t[16][64], b[16][16];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 64; ++j) {
      float s = 0.0f;
      for (int k = 0; k < 64; ++k) s += d[i * 64 + k] * a[k][j];
      t[i][j] = s;
    }
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      float s = 0.0f;
      for (int k = 0; k < 64; ++k) s += t[i][k] * d[j * 64 + k];
      b[i][j] = s;
    }
  const float median = RefTorben(&b[0][0], 256);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j)
      if (b[i][j] > median) result.hash.SetBit(i * 16 + j);
  return result;
}

}  // namespace kagami::fingerprint::testing
