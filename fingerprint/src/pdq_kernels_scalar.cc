// Portable reference kernels: the arithmetic of Meta's pdq/cpp, restated as
// the step formulation that the SIMD kernels vectorise (see pdq_kernels.h).

#include <bit>
#include <cassert>
#include <cstdlib>
#include <cstring>

#include "kagami/fingerprint/pdq_kernels.h"

namespace kagami::fingerprint::pdq {
namespace {

const float kLumaR = static_cast<float>(0.299);
const float kLumaG = static_cast<float>(0.587);
const float kLumaB = static_cast<float>(0.114);

void LumaScalar(const LumaGrid& g, int y0, int y1, float* const* out_rows) {
  for (int y = y0; y < y1; ++y) {
    const uint8_t* row = g.data + static_cast<size_t>(g.src_row[y]) * g.stride;
    float* dst = out_rows[y - y0];
    if (g.channels == 1) {
      for (int x = 0; x < g.width; ++x) dst[x] = static_cast<float>(row[g.col_offset[x]]);
    } else {
      for (int x = 0; x < g.width; ++x) {
        const uint8_t* p = row + g.col_offset[x];
        const float r = kLumaR * static_cast<float>(p[0]);
        const float gr = kLumaG * static_cast<float>(p[1]);
        const float b = kLumaB * static_cast<float>(p[2]);
        dst[x] = (r + gr) + b;
      }
    }
  }
}

void BoxRowsScalar(const float* const* in_rows, int rows, int cols, int window,
                   const int32_t* out_cols, int num_out, float* const* out_rows) {
  assert(window >= 1 && window <= cols);
  const int half = BoxHalfWindow(window);
  const int steps = BoxSteps(cols, window);
  for (int r = 0; r < rows; ++r) {
    const float* x = in_rows[r];
    float* y = out_rows[r];
    float sum = 0.0f;
    int k = 0;
    for (int t = 0; t < steps; ++t) {
      if (t < cols) sum += x[t];
      if (t >= window) sum -= x[t - window];
      const int o = t - half + 1;
      if (o < 0) continue;
      const float value = sum / static_cast<float>(BoxCount(t, cols, window));
      if (out_cols == nullptr) {
        y[o] = value;
      } else {
        while (k < num_out && out_cols[k] == o) y[k++] = value;
      }
    }
  }
}

void BoxColsScalar(const float* const* in_rows, int rows, int cols, int window, int t0, int t1,
                   float* col_sums, float* const* out_rows) {
  assert(window >= 1 && window <= rows);
  const int half = BoxHalfWindow(window);
  for (int t = t0; t < t1; ++t) {
    if (t < rows) {
      const float* a = in_rows[t];
      for (int c = 0; c < cols; ++c) col_sums[c] += a[c];
    }
    if (t >= window) {
      const float* b = in_rows[t - window];
      for (int c = 0; c < cols; ++c) col_sums[c] -= b[c];
    }
    const int o = t - half + 1;
    if (o < 0) continue;
    const float divisor = static_cast<float>(BoxCount(t, rows, window));
    float* y = out_rows[o];
    for (int c = 0; c < cols; ++c) y[c] = col_sums[c] / divisor;
  }
}

void Dct64To16Scalar(const float* a, float* b) {
  const float* d = DctMatrix();
  float t[16 * kGrid];
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < kGrid; ++j) {
      float sum = 0.0f;
      for (int k = 0; k < kGrid; ++k) sum += d[i * kGrid + k] * a[k * kGrid + j];
      t[i * kGrid + j] = sum;
    }
  }
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      float sum = 0.0f;
      for (int k = 0; k < kGrid; ++k) sum += t[i * kGrid + k] * d[j * kGrid + k];
      b[i * 16 + j] = sum;
    }
  }
}

int GradientStep(float u, float v) {
  const int d = static_cast<int>(((u - v) * 100.0f) / 255.0f);
  return std::abs(d);
}

int QualityScalar(const float* a) {
  int sum = 0;
  for (int i = 0; i < kGrid - 1; ++i) {
    for (int j = 0; j < kGrid; ++j) sum += GradientStep(a[i * kGrid + j], a[(i + 1) * kGrid + j]);
  }
  for (int i = 0; i < kGrid; ++i) {
    for (int j = 0; j < kGrid - 1; ++j) sum += GradientStep(a[i * kGrid + j], a[i * kGrid + j + 1]);
  }
  const int quality = sum / 90;
  return quality > 100 ? 100 : quality;
}

void HammingScalar(const Hash256& query, const Hash256* db, size_t n, int* out) {
  uint64_t q[4];
  std::memcpy(q, query.bytes.data(), 32);
  for (size_t i = 0; i < n; ++i) {
    uint64_t h[4];
    std::memcpy(h, db[i].bytes.data(), 32);
    out[i] = std::popcount(q[0] ^ h[0]) + std::popcount(q[1] ^ h[1]) + std::popcount(q[2] ^ h[2]) +
             std::popcount(q[3] ^ h[3]);
  }
}

}  // namespace

const Kernels& ScalarKernels() {
  static constexpr Kernels kKernels{&LumaScalar,      &BoxRowsScalar, &BoxColsScalar,
                                    &Dct64To16Scalar, &QualityScalar, &HammingScalar};
  return kKernels;
}

}  // namespace kagami::fingerprint::pdq
