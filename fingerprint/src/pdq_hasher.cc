#include "kagami/fingerprint/pdq_hasher.h"

#include <algorithm>
#include <cassert>

#include "kagami/fingerprint/pdq_kernels.h"

namespace kagami::fingerprint {
namespace {

using pdq::kGrid;
using pdq::kMaxSide;

// Rows of luminance (and of each later pass) produced per round. Each float
// plane lives in a ring of kRingRows rows: a round writes at most
// kStrip + half-window rows that the next passes still need, and the column
// passes look back at most `window` (<= 4) rows.
constexpr int kStrip = 64;
constexpr int kRingRows = kStrip + 8;
// Row strides of the float buffers: a multiple of 16 floats (64-byte rows)
// plus 16, so that rows of power-of-two images do not share cache sets.
constexpr int kMaxStride = kMaxSide + 16;
size_t PaddedStride(int width) { return static_cast<size_t>((width + 15) / 16 * 16 + 16); }
constexpr size_t kSampledStride = kGrid + 16;

Hash256 BitsAboveMedian(const float* dct16x16) {
  const float median = pdq::Median256(dct16x16);
  Hash256 hash;
  for (int k = 0; k < 256; ++k) {
    if (dct16x16[k] > median) hash.SetBit(k);
  }
  return hash;
}

// DCT-domain dihedral transforms as in the reference (dct16OriginalTo*):
// B[.][.] = +-A[i][j], transposed for the diagonal ones.
void DihedralDct(Dihedral d, const float* a, float* b) {
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      const float v = a[i * 16 + j];
      switch (d) {
        case kOriginal:
          b[i * 16 + j] = v;
          break;
        case kRot90:
          b[j * 16 + i] = (j & 1) ? v : -v;
          break;
        case kRot180:
          b[i * 16 + j] = ((i + j) & 1) ? -v : v;
          break;
        case kRot270:
          b[j * 16 + i] = (i & 1) ? v : -v;
          break;
        case kFlipX:
          b[i * 16 + j] = (i & 1) ? v : -v;
          break;
        case kFlipY:
          b[i * 16 + j] = (j & 1) ? v : -v;
          break;
        case kFlipPlus1:
          b[j * 16 + i] = v;
          break;
        case kFlipMinus1:
          b[j * 16 + i] = ((i + j) & 1) ? -v : v;
          break;
      }
    }
  }
}

}  // namespace

struct PdqHasher::Scratch {
  alignas(64) float luma[kStrip * kMaxStride];
  alignas(64) float rows1[kRingRows * kMaxStride];      // first pass along rows
  alignas(64) float cols1[kRingRows * kMaxStride];      // first pass down columns
  alignas(64) float rows2[kRingRows * kSampledStride];  // second row pass, sampled columns
  alignas(64) float cols2[kGrid * kSampledStride];      // second column pass, sampled rows
  alignas(64) float discard[kSampledStride];            // column-pass rows nobody samples
  alignas(64) float col_sums1[kMaxSide];
  alignas(64) float col_sums2[kGrid];
  alignas(64) float grid64[kGrid * kGrid];
  alignas(64) float dct[256];
  alignas(64) float aux[256];
  float* luma_rows[kStrip];
  float* rows1_rows[kMaxSide];
  float* cols1_rows[kMaxSide];
  float* rows2_rows[kMaxSide];
  float* cols2_rows[kMaxSide];
  int32_t col_offset[kMaxSide];
  int32_t src_row[kMaxSide];
  int32_t sampled_cols[kGrid];  // distinct source columns the decimation reads
  int32_t col_slot[kGrid];      // output column j reads sampled_cols[col_slot[j]]
  int32_t row_slot[kGrid];      // output row i reads cols2 row row_slot[i]
};

PdqHasher::PdqHasher(SimdLevel level) : level_(level), scratch_(std::make_unique<Scratch>()) {
  assert(level == SimdLevel::kScalar || level == SupportedSimdLevels().back());
}

PdqHasher::~PdqHasher() = default;

namespace {

// Reference jaroszFilterFloat (two rounds of a box pass along rows, then
// down columns) followed by decimateFloat to 64x64, streamed: each round of
// kStrip luminance rows is pushed through all four passes as far as their
// inputs allow, so the planes stay in cache. The second round only divides
// out (and keeps) the values the decimation reads; its running sums still
// visit every pixel in the reference's order, so those values are
// bit-identical to the reference's.
void DownsampleTo64(const pdq::Kernels& k, const pdq::LumaGrid& grid, PdqHasher::Scratch& s,
                    float* out) {
  const int h = grid.height;
  const int w = grid.width;
  const int window_x = pdq::JaroszWindow(w);
  const int window_y = pdq::JaroszWindow(h);
  const int half_y = pdq::BoxHalfWindow(window_y);
  const int steps_y = pdq::BoxSteps(h, window_y);

  // Decimation sample points: centres of 64 equal cells (reference decimateFloat).
  int num_cols = 0;
  for (int j = 0; j < kGrid; ++j) {
    const int src = static_cast<int>(((j + 0.5) * w) / kGrid);
    if (num_cols == 0 || s.sampled_cols[num_cols - 1] != src) s.sampled_cols[num_cols++] = src;
    s.col_slot[j] = num_cols - 1;
  }
  const size_t stride = PaddedStride(w);
  for (int r = 0; r < h; ++r) {
    s.rows1_rows[r] = s.rows1 + (r % kRingRows) * stride;
    s.cols1_rows[r] = s.cols1 + (r % kRingRows) * stride;
    s.rows2_rows[r] = s.rows2 + (r % kRingRows) * kSampledStride;
    s.cols2_rows[r] = s.discard;
  }
  int num_rows = 0;
  int last_row = -1;
  for (int i = 0; i < kGrid; ++i) {
    const int src = static_cast<int>(((i + 0.5) * h) / kGrid);
    if (src != last_row) {
      s.cols2_rows[src] = s.cols2 + num_rows++ * kSampledStride;
      last_row = src;
    }
    s.row_slot[i] = num_rows - 1;
  }
  for (int r = 0; r < kStrip; ++r) s.luma_rows[r] = s.luma + r * stride;
  std::fill_n(s.col_sums1, w, 0.0f);
  std::fill_n(s.col_sums2, num_cols, 0.0f);

  int steps1 = 0;  // steps of the first column pass done
  int done2 = 0;   // rows of the second round's row pass done
  int steps2 = 0;  // steps of the second column pass done
  for (int r0 = 0; r0 < h; r0 += kStrip) {
    const int r1 = std::min(h, r0 + kStrip);
    k.luma(grid, r0, r1, s.luma_rows);
    k.box_rows(s.luma_rows, r1 - r0, w, window_x, nullptr, 0, s.rows1_rows + r0);
    const int end1 = r1 == h ? steps_y : r1;
    k.box_cols(s.rows1_rows, h, w, window_y, steps1, end1, s.col_sums1, s.cols1_rows);
    steps1 = end1;
    const int ready = std::min(h, end1 - half_y + 1);  // rows of cols1 that are final
    if (ready > done2) {
      k.box_rows(s.cols1_rows + done2, ready - done2, w, window_x, s.sampled_cols, num_cols,
                 s.rows2_rows + done2);
      done2 = ready;
      const int end2 = ready == h ? steps_y : ready;
      k.box_cols(s.rows2_rows, h, num_cols, window_y, steps2, end2, s.col_sums2, s.cols2_rows);
      steps2 = end2;
    }
  }
  assert(steps2 == steps_y);

  for (int i = 0; i < kGrid; ++i) {
    const float* row = s.cols2 + s.row_slot[i] * kSampledStride;
    for (int j = 0; j < kGrid; ++j) out[i * kGrid + j] = row[s.col_slot[j]];
  }
}

// The sampling grid of `image`; an empty grid (hashed as the zero hash) for
// inputs the contract excludes, so that release builds never read out of bounds.
pdq::LumaGrid GridFor(const ingest::PixelView& image, int32_t* col_offset, int32_t* src_row) {
  const bool supported =
      (image.channels == 1 || image.channels == 3 || image.channels == 4) && !image.empty();
  if (!supported) return pdq::LumaGrid{};
  return pdq::MakeLumaGrid(image.data, image.stride, image.channels, image.width, image.height,
                           col_offset, src_row);
}

}  // namespace

PdqHash PdqHasher::Hash(const ingest::PixelView& image) {
  Scratch& s = *scratch_;
  const pdq::Kernels& k = pdq::KernelsFor(level_);
  const pdq::LumaGrid grid = GridFor(image, s.col_offset, s.src_row);
  PdqHash result;
  if (grid.width < pdq::kMinSide || grid.height < pdq::kMinSide) return result;
  if (grid.width == kGrid && grid.height == kGrid) {
    // The reference hashes a 64x64 luminance buffer as is, without blurring.
    for (int r = 0; r < kGrid; ++r) s.luma_rows[r] = s.grid64 + r * kGrid;
    k.luma(grid, 0, kGrid, s.luma_rows);
  } else {
    DownsampleTo64(k, grid, s, s.grid64);
  }
  result.quality = k.quality(s.grid64);
  k.dct64to16(s.grid64, s.dct);
  result.hash = BitsAboveMedian(s.dct);
  return result;
}

PdqDihedralHashes PdqHasher::HashDihedral(const ingest::PixelView& image) {
  Scratch& s = *scratch_;
  const pdq::Kernels& k = pdq::KernelsFor(level_);
  const pdq::LumaGrid grid = GridFor(image, s.col_offset, s.src_row);
  PdqDihedralHashes result;
  if (grid.width < pdq::kMinSide || grid.height < pdq::kMinSide) return result;
  // Unlike Hash(), the reference's dihedral entry point blurs 64x64 inputs too.
  DownsampleTo64(k, grid, s, s.grid64);
  result.quality = k.quality(s.grid64);
  k.dct64to16(s.grid64, s.dct);
  for (int d = kOriginal; d <= kFlipMinus1; ++d) {
    DihedralDct(static_cast<Dihedral>(d), s.dct, s.aux);
    result.hashes[d] = BitsAboveMedian(s.aux);
  }
  return result;
}

}  // namespace kagami::fingerprint
