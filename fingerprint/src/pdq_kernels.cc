#include "kagami/fingerprint/pdq_kernels.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>

namespace kagami::fingerprint::pdq {
namespace {

constexpr int kDctRows = 16;

struct DctTables {
  std::array<float, kDctRows * kGrid> matrix;      // 16 x 64
  std::array<float, kGrid * kDctRows> transposed;  // 64 x 16
};

// Same expression, types and evaluation order as the reference: the scale is
// rounded to float, the product with the double cosine rounded once to float.
DctTables BuildDctTables() {
  constexpr double kPi = 3.14159265358979323846;
  DctTables t;
  const float scale = static_cast<float>(std::sqrt(2.0 / static_cast<double>(kGrid)));
  for (int i = 0; i < kDctRows; ++i) {
    for (int j = 0; j < kGrid; ++j) {
      const double angle = (kPi / 2.0 / static_cast<double>(kGrid)) * static_cast<double>(i + 1) *
                           static_cast<double>(2 * j + 1);
      const float v = static_cast<float>(static_cast<double>(scale) * std::cos(angle));
      t.matrix[i * kGrid + j] = v;
      t.transposed[j * kDctRows + i] = v;
    }
  }
  return t;
}

const DctTables& Tables() {
  static const DctTables tables = BuildDctTables();
  return tables;
}

}  // namespace

LumaGrid MakeLumaGrid(const uint8_t* data, size_t stride, int channels, int width, int height,
                      int32_t* col_offset, int32_t* src_row) {
  assert(width >= 1 && height >= 1);
  LumaGrid g;
  g.data = data;
  g.stride = stride;
  g.channels = channels;
  g.src_width = width;
  g.src_height = height;
  g.identity = width <= kMaxSide && height <= kMaxSide;
  g.width = g.identity ? width : kMaxSide;
  g.height = g.identity ? height : kMaxSide;
  // Nearest neighbour as CImg's resize(512, 512): floor(x * W / 512.0), which
  // is exact in integers because 512 is a power of two.
  for (int x = 0; x < g.width; ++x) {
    const int64_t src_x = g.identity ? x : (static_cast<int64_t>(x) * width) / kMaxSide;
    col_offset[x] = static_cast<int32_t>(src_x * channels);
  }
  for (int y = 0; y < g.height; ++y) {
    src_row[y] =
        g.identity ? y : static_cast<int32_t>((static_cast<int64_t>(y) * height) / kMaxSide);
  }
  g.col_offset = col_offset;
  g.src_row = src_row;
  return g;
}

const float* DctMatrix() { return Tables().matrix.data(); }
const float* DctMatrixTransposed() { return Tables().transposed.data(); }

const Kernels& KernelsFor(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx2:
      return Avx2Kernels();
    case SimdLevel::kScalar:
      break;
  }
  return ScalarKernels();
}

float Median256(const float* values) {
  // Torben's median (reference torben.cpp) over n = 256 stops with the
  // ((n + 1) / 2)-th smallest value; nth_element finds the same order statistic.
  std::array<float, 256> copy;
  std::copy(values, values + 256, copy.begin());
  std::nth_element(copy.begin(), copy.begin() + 127, copy.end());
  return copy[127];
}

}  // namespace kagami::fingerprint::pdq
