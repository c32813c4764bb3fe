#pragma once

// Internal PDQ kernels behind PdqHasher, one table per SimdLevel. Exposed only
// so that tests can compare levels kernel by kernel and benchmarks can time
// them; not a stable API for other modules.
//
// Every level must give bit-identical results. The SIMD kernels vectorise
// across independent outputs (rows, columns, coefficients) and perform, per
// output, exactly the float operations of the scalar kernel in the same order;
// the project is compiled with -ffp-contract=off so no multiply-add is fused.
// Arithmetic follows Meta's reference implementation (ThreatExchange pdq/cpp,
// downscaling.cpp and pdqhashing.cpp); see pdq_hasher.h.

#include <cstddef>
#include <cstdint>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/simd.h"

namespace kagami::fingerprint::pdq {

// Images with a side above this are first resampled to kMaxSide x kMaxSide,
// so every buffer after luminance is at most kMaxSide x kMaxSide.
inline constexpr int kMaxSide = 512;
// The reference leaves images with a side below this unhashed (zero hash).
inline constexpr int kMinSide = 5;
// Working resolution of the DCT input.
inline constexpr int kGrid = 64;

// Where luminance samples come from: output pixel (x, y) reads the source
// pixel at data + src_row[y] * stride + col_offset[x].
struct LumaGrid {
  const uint8_t* data = nullptr;        // source row 0; not owned
  size_t stride = 0;                    // bytes between source rows
  int channels = 1;                     // 1 = luminance, 3 = R,G,B, 4 = R,G,B,A (alpha ignored)
  int src_width = 0;                    // source pixels per row
  int src_height = 0;                   // source rows
  int width = 0;                        // output columns, 1..kMaxSide
  int height = 0;                       // output rows, 1..kMaxSide
  const int32_t* col_offset = nullptr;  // `width` byte offsets within a source row
  const int32_t* src_row = nullptr;     // `height` source row indices
  bool identity = false;  // col_offset[x] == x * channels and src_row[y] == y (no resampling)
};

// Fills col_offset/src_row for `image` as the reference tool samples it: when
// either side exceeds kMaxSide, nearest neighbour to kMaxSide x kMaxSide
// (output column x reads floor(x * W / 512)), else the identity.
// `col_offset` and `src_row` must hold kMaxSide entries each.
LumaGrid MakeLumaGrid(const uint8_t* data, size_t stride, int channels, int width, int height,
                      int32_t* col_offset, int32_t* src_row);

// Window of one Jarosz box pass for a side of `dim` pixels downsampled to 64
// (reference computeJaroszFilterWindowSize): ceil(dim / 128).
inline int JaroszWindow(int dim) { return (dim + 2 * kGrid - 1) / (2 * kGrid); }
// Number of leading inputs summed before the first output is written.
inline int BoxHalfWindow(int window) { return (window + 2) / 2; }
// Number of inputs in the box after step t of a box pass over n inputs
// (the divisor of output t - half + 1).
inline int BoxCount(int t, int n, int window) {
  const int hi = t < n - 1 ? t : n - 1;
  const int lo = t - window + 1 > 0 ? t - window + 1 : 0;
  return hi - lo + 1;
}
// Number of steps of a box pass over n inputs: n + half - 1.
inline int BoxSteps(int n, int window) { return n + BoxHalfWindow(window) - 1; }

// The 16x64 DCT-II matrix of the reference (rows 1..16, scaled by sqrt(2/64)),
// row-major, and its 64x16 transpose.
const float* DctMatrix();
const float* DctMatrixTransposed();

// Float planes are passed as tables of row pointers so that callers can keep
// them in ring buffers (rows that are no longer read get reused).
struct Kernels {
  // Luminance of output rows [y0, y1) of `grid`: row y goes to out_rows[y - y0]
  // (grid.width floats). A 1-channel sample is taken as is, R,G,B as
  // 0.299f R + 0.587f G + 0.114f B evaluated left to right in float.
  void (*luma)(const LumaGrid& grid, int y0, int y1, float* const* out_rows);

  // One box pass along each of `rows` rows of `cols` floats (in_rows[r]),
  // reference box1DFloat. Writes the outputs at columns out_cols[0..num_out)
  // (ascending, repeats allowed) to out_rows[r][k]; with out_cols == nullptr
  // writes every column to out_rows[r][c] (num_out is then ignored).
  // 1 <= window <= cols. Output rows must not overlap input rows.
  void (*box_rows)(const float* const* in_rows, int rows, int cols, int window,
                   const int32_t* out_cols, int num_out, float* const* out_rows);

  // Steps [t0, t1) (0 <= t0 <= t1 <= BoxSteps(rows, window)) of one box pass
  // down each of `cols` columns of a `rows`-row plane, reference box1DFloat
  // with stride. col_sums (cols floats, zero before step 0) carries the
  // running sums between calls. Step t adds in_rows[t] (t < rows), subtracts
  // in_rows[t - window] (t >= window) and writes output row o = t - half + 1
  // (when >= 0) to out_rows[o]. Only those entries of the tables are used, so
  // a caller may produce input rows, run the steps that need them and reuse
  // their storage once no later step reads them.
  void (*box_cols)(const float* const* in_rows, int rows, int cols, int window, int t0, int t1,
                   float* col_sums, float* const* out_rows);

  // B = D A D^T for the 64x64 row-major A and D = DctMatrix(); B is 16x16.
  // Sums run over k = 0..63 in order, as the reference.
  void (*dct64to16)(const float* in64x64, float* out16x16);

  // Reference pdqImageDomainQualityMetric of the 64x64 buffer: 0..100.
  int (*quality)(const float* in64x64);

  // out[i] = HammingDistance(query, db[i]).
  void (*hamming)(const Hash256& query, const Hash256* db, size_t n, int* out);
};

const Kernels& ScalarKernels();
// Only callable on CPUs with AVX2 (see SupportedSimdLevels()).
const Kernels& Avx2Kernels();
const Kernels& KernelsFor(SimdLevel level);

// Median as the reference computes it (Torben's method over 256 values
// returns the 128th smallest, i.e. the lower median); exact selection.
float Median256(const float* values);

}  // namespace kagami::fingerprint::pdq
