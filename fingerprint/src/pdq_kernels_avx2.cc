// AVX2 kernels (this file is compiled with -mavx2 -mbmi2 -mpopcnt and only
// called after a CPUID check). Each vector lane performs the float operations
// of one output of the scalar kernels in pdq_kernels_scalar.cc, in the same
// order, so results are bit-identical; see pdq_kernels.h.

#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "kagami/fingerprint/pdq_kernels.h"

namespace kagami::fingerprint::pdq {
namespace {

const float kLumaR = static_cast<float>(0.299);
const float kLumaG = static_cast<float>(0.587);
const float kLumaB = static_cast<float>(0.114);

inline bool IsPowerOfTwo(int v) { return v > 0 && (v & (v - 1)) == 0; }

// x / d for the integer divisor d. For d a power of two, x * (1/d) is the same
// correctly rounded value of the same real number, and much cheaper.
struct Divider {
  explicit Divider(int d)
      : by(_mm256_set1_ps(static_cast<float>(d))),
        inv(_mm256_set1_ps(1.0f / static_cast<float>(d))),
        exact_inverse(IsPowerOfTwo(d)) {}
  __m256 operator()(__m256 x) const {
    return exact_inverse ? _mm256_mul_ps(x, inv) : _mm256_div_ps(x, by);
  }
  __m256 by;
  __m256 inv;
  bool exact_inverse;
};

inline void Transpose8x8(__m256& r0, __m256& r1, __m256& r2, __m256& r3, __m256& r4, __m256& r5,
                         __m256& r6, __m256& r7) {
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1);
  const __m256 t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3);
  const __m256 t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5);
  const __m256 t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7);
  const __m256 t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r0 = _mm256_permute2f128_ps(u0, u4, 0x20);
  r1 = _mm256_permute2f128_ps(u1, u5, 0x20);
  r2 = _mm256_permute2f128_ps(u2, u6, 0x20);
  r3 = _mm256_permute2f128_ps(u3, u7, 0x20);
  r4 = _mm256_permute2f128_ps(u0, u4, 0x31);
  r5 = _mm256_permute2f128_ps(u1, u5, 0x31);
  r6 = _mm256_permute2f128_ps(u2, u6, 0x31);
  r7 = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// ---------------------------------------------------------------------------
// Luminance.

inline float LumaOf(const uint8_t* p) {
  const float r = kLumaR * static_cast<float>(p[0]);
  const float g = kLumaG * static_cast<float>(p[1]);
  const float b = kLumaB * static_cast<float>(p[2]);
  return (r + g) + b;
}

inline __m256 LumaFromRgbDwords(__m256i r, __m256i g, __m256i b) {
  const __m256 yr = _mm256_mul_ps(_mm256_set1_ps(kLumaR), _mm256_cvtepi32_ps(r));
  const __m256 yg = _mm256_mul_ps(_mm256_set1_ps(kLumaG), _mm256_cvtepi32_ps(g));
  const __m256 yb = _mm256_mul_ps(_mm256_set1_ps(kLumaB), _mm256_cvtepi32_ps(b));
  return _mm256_add_ps(_mm256_add_ps(yr, yg), yb);
}

// Eight pixels packed one per dword (R in the low byte).
inline __m256 LumaFromPackedDwords(__m256i v) {
  const __m256i mask = _mm256_set1_epi32(0xFF);
  return LumaFromRgbDwords(_mm256_and_si256(v, mask),
                           _mm256_and_si256(_mm256_srli_epi32(v, 8), mask),
                           _mm256_and_si256(_mm256_srli_epi32(v, 16), mask));
}

void LumaAvx2(const LumaGrid& g, int y0, int y1, float* const* out_rows) {
  assert(g.width <= kMaxSide);
  const int w = g.width;
  const int ch = g.channels;
  // R, G, B bytes of four packed 3-byte pixels, zero-extended to dwords.
  const __m256i shuf_r =
      _mm256_setr_epi8(0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1, 0, -1, -1, -1, 3,
                       -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1);
  const __m256i shuf_g = _mm256_add_epi32(shuf_r, _mm256_set1_epi32(1));
  const __m256i shuf_b = _mm256_add_epi32(shuf_r, _mm256_set1_epi32(2));
  for (int y = y0; y < y1; ++y) {
    const int sy = g.src_row[y];
    const uint8_t* row = g.data + static_cast<size_t>(sy) * g.stride;
    float* dst = out_rows[y - y0];
    // Bytes that may be read from `row`: the last row ends at its last pixel,
    // earlier rows are followed by the next one.
    const size_t row_bytes = static_cast<size_t>(g.src_width) * ch;
    const size_t readable = sy + 1 == g.src_height ? row_bytes : g.stride + row_bytes;
    int x = 0;
    if (g.identity) {
      if (ch == 1) {
        for (; x + 16 <= w; x += 16) {
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x));
          _mm256_storeu_ps(dst + x, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)));
          _mm256_storeu_ps(dst + x + 8,
                           _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8))));
        }
        for (; x < w; ++x) dst[x] = static_cast<float>(row[x]);
      } else if (ch == 3) {
        for (; x + 8 <= w && static_cast<size_t>(3 * x + 28) <= readable; x += 8) {
          const uint8_t* p = row + 3 * x;
          const __m256i v = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p + 12),
                                                reinterpret_cast<const __m128i*>(p));
          _mm256_storeu_ps(dst + x, LumaFromRgbDwords(_mm256_shuffle_epi8(v, shuf_r),
                                                      _mm256_shuffle_epi8(v, shuf_g),
                                                      _mm256_shuffle_epi8(v, shuf_b)));
        }
        for (; x < w; ++x) dst[x] = LumaOf(row + 3 * x);
      } else {
        for (; x + 8 <= w; x += 8) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 4 * x));
          _mm256_storeu_ps(dst + x, LumaFromPackedDwords(v));
        }
        for (; x < w; ++x) dst[x] = LumaOf(row + 4 * x);
      }
      continue;
    }
    // Resampled: pack the sampled pixels one per dword with scalar loads
    // (AVX2 gathers are slower than that on several CPUs), then convert eight
    // at a time.
    alignas(32) uint32_t packed[kMaxSide];
    if (ch == 1) {
      for (int i = 0; i < w; ++i) packed[i] = row[g.col_offset[i]];
    } else {
      int safe = w;  // offsets ascend: [0, safe) may read a whole dword
      while (safe > 0 && static_cast<size_t>(g.col_offset[safe - 1]) + 4 > readable) --safe;
      for (int i = 0; i < safe; ++i) std::memcpy(&packed[i], row + g.col_offset[i], 4);
      for (int i = safe; i < w; ++i) {
        const uint8_t* p = row + g.col_offset[i];
        packed[i] = p[0] | (p[1] << 8) | (p[2] << 16);
      }
    }
    for (; x + 8 <= w; x += 8) {
      const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(packed + x));
      if (ch == 1) {
        _mm256_storeu_ps(dst + x, _mm256_cvtepi32_ps(v));
      } else {
        _mm256_storeu_ps(dst + x, LumaFromPackedDwords(v));
      }
    }
    for (; x < w; ++x) {
      const uint8_t* p = row + g.col_offset[x];
      dst[x] = ch == 1 ? static_cast<float>(p[0]) : LumaOf(p);
    }
  }
}

// ---------------------------------------------------------------------------
// Box filter along rows: 32 rows at a time. Input columns are transposed in
// 8x8 blocks into a ring so that each lane runs the sequential running sum of
// one row; results are transposed back in 8x8 blocks.

constexpr int kRing = 32;                  // transposed input columns kept
constexpr int kMaxRowWindow = kRing - 16;  // the ring must still hold column t - window

// Columns [c0, c0 + 8) of rows rp[0..7] as eight column vectors (lane = row).
__attribute__((always_inline)) inline void LoadColumns8x8(const float* const* rp, int c0,
                                                          __m256 v[8]) {
  const __m256 t0 = _mm256_loadu2_m128(rp[4] + c0, rp[0] + c0);
  const __m256 t1 = _mm256_loadu2_m128(rp[5] + c0, rp[1] + c0);
  const __m256 t2 = _mm256_loadu2_m128(rp[6] + c0, rp[2] + c0);
  const __m256 t3 = _mm256_loadu2_m128(rp[7] + c0, rp[3] + c0);
  const __m256 t4 = _mm256_loadu2_m128(rp[4] + c0 + 4, rp[0] + c0 + 4);
  const __m256 t5 = _mm256_loadu2_m128(rp[5] + c0 + 4, rp[1] + c0 + 4);
  const __m256 t6 = _mm256_loadu2_m128(rp[6] + c0 + 4, rp[2] + c0 + 4);
  const __m256 t7 = _mm256_loadu2_m128(rp[7] + c0 + 4, rp[3] + c0 + 4);
  const __m256 u0 = _mm256_unpacklo_ps(t0, t1), u1 = _mm256_unpackhi_ps(t0, t1);
  const __m256 u2 = _mm256_unpacklo_ps(t2, t3), u3 = _mm256_unpackhi_ps(t2, t3);
  const __m256 u4 = _mm256_unpacklo_ps(t4, t5), u5 = _mm256_unpackhi_ps(t4, t5);
  const __m256 u6 = _mm256_unpacklo_ps(t6, t7), u7 = _mm256_unpackhi_ps(t6, t7);
  v[0] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0));
  v[1] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
  v[2] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0));
  v[3] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
  v[4] = _mm256_shuffle_ps(u4, u6, _MM_SHUFFLE(1, 0, 1, 0));
  v[5] = _mm256_shuffle_ps(u4, u6, _MM_SHUFFLE(3, 2, 3, 2));
  v[6] = _mm256_shuffle_ps(u5, u7, _MM_SHUFFLE(1, 0, 1, 0));
  v[7] = _mm256_shuffle_ps(u5, u7, _MM_SHUFFLE(3, 2, 3, 2));
}

// Inverse of LoadColumns8x8: eight column vectors (lane = row) stored as
// columns [k0, k0 + 8) of rows wp[0..valid).
__attribute__((always_inline)) inline void StoreColumns8x8(__m256 v[8], float* const* wp, int k0,
                                                           int valid) {
  Transpose8x8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
  for (int l = 0; l < valid; ++l) _mm256_storeu_ps(wp[l] + k0, v[l]);
}

template <bool kExactInverse>
__attribute__((always_inline)) inline __m256 Divide(__m256 x, __m256 d) {
  return kExactInverse ? _mm256_mul_ps(x, d) : _mm256_div_ps(x, d);
}

// Eight steps t = c0..c0+7 of one group of eight rows, all in the interior
// (every step adds column t, subtracts column t - window and writes output
// t - half + 1 with the full window). Returns the results in v, lane = row.
template <bool kExactInverse, int kLanes>
__attribute__((always_inline)) inline void InteriorSteps(__m256 v[8], const float* ring, int c0,
                                                         int window, int grp_lane, __m256 d,
                                                         float* sum) {
  __m256 s = _mm256_load_ps(sum);
  for (int i = 0; i < 8; ++i) {
    const float* b = ring + ((c0 + i - window) % kRing) * kLanes + grp_lane;
    s = _mm256_sub_ps(_mm256_add_ps(s, v[i]), _mm256_load_ps(b));
    v[i] = Divide<kExactInverse>(s, d);
  }
  _mm256_store_ps(sum, s);
}

// Transposed input columns: ring slot c % kRing holds column c, one lane per row.
template <int kLanes>
__attribute__((always_inline)) inline void FillRing(const float* const* rp, int groups, int cols,
                                                    int c0, float* ring) {
  if (c0 + 8 <= cols) {
    for (int grp = 0; grp < groups; ++grp) {
      __m256 v[8];
      LoadColumns8x8(rp + 8 * grp, c0, v);
      for (int j = 0; j < 8; ++j)
        _mm256_store_ps(ring + ((c0 + j) % kRing) * kLanes + 8 * grp, v[j]);
    }
  } else {
    for (int c = c0; c < cols; ++c)
      for (int i = 0; i < kLanes; ++i) ring[(c % kRing) * kLanes + i] = rp[i][c];
  }
}

// Every output of one strip of up to kGroups * 8 rows; each lane runs the
// running sum of one row. Interior blocks of 8 columns keep a group's
// transposed inputs in registers from load to result; the few steps at the
// ends, where the box is partial, go one step at a time for all groups.
template <int kGroups, bool kExactInverse>
void BoxRowsStripAll(const float* const* in_rows, int nrows, int cols, int window,
                     float* const* out_rows) {
  constexpr int kLanes = 8 * kGroups;
  const int half = BoxHalfWindow(window);
  const int steps = BoxSteps(cols, window);
  const int groups = (nrows + 7) / 8;
  const Divider steady(window);
  const __m256 steady_d = kExactInverse ? steady.inv : steady.by;
  alignas(32) float ring[kRing * kLanes];
  alignas(32) float sums[kLanes] = {};
  alignas(32) float lanes[kLanes];
  alignas(32) static constexpr float kZeros[kLanes] = {};
  const float* rp[kLanes];
  float* wp[kLanes];
  for (int i = 0; i < kLanes; ++i) {
    rp[i] = in_rows[std::min(i, nrows - 1)];
    wp[i] = out_rows[std::min(i, nrows - 1)];
  }
  // Lanes of absent groups are computed but never stored; keep them finite.
  for (int c = 0; c < kRing; ++c)
    for (int g = groups; g < kGroups; ++g)
      _mm256_store_ps(ring + c * kLanes + 8 * g, _mm256_setzero_ps());
  // One step for all lanes, at the ends of the row. Outside the image the
  // reference skips the add or the subtract; here the operand is +0.0f, which
  // leaves every sum bit-identical.
  auto edge_step = [&](int t) {
    const float* a = t < cols ? ring + (t % kRing) * kLanes : kZeros;
    const float* b = t >= window ? ring + ((t - window) % kRing) * kLanes : kZeros;
    const Divider div(BoxCount(t, cols, window));
    for (int g = 0; g < kGroups; ++g) {
      __m256 sum = _mm256_load_ps(sums + 8 * g);
      sum = _mm256_sub_ps(_mm256_add_ps(sum, _mm256_load_ps(a + 8 * g)), _mm256_load_ps(b + 8 * g));
      _mm256_store_ps(sums + 8 * g, sum);
      _mm256_store_ps(lanes + 8 * g, div(sum));
    }
    const int o = t - half + 1;
    if (o >= 0) {
      for (int i = 0; i < nrows; ++i) wp[i][o] = lanes[i];
    }
  };

  for (int c0 = 0; c0 < steps; c0 += 8) {
    if (!(c0 >= window && c0 + 8 <= cols)) {
      if (c0 < cols) FillRing<kLanes>(rp, groups, cols, c0, ring);
      for (int t = c0; t < std::min(c0 + 8, steps); ++t) edge_step(t);
      continue;
    }
    const int o0 = c0 - half + 1;
    for (int grp = 0; grp < groups; ++grp) {
      __m256 v[8];
      LoadColumns8x8(rp + 8 * grp, c0, v);
      for (int j = 0; j < 8; ++j)
        _mm256_store_ps(ring + ((c0 + j) % kRing) * kLanes + 8 * grp, v[j]);
      InteriorSteps<kExactInverse, kLanes>(v, ring, c0, window, 8 * grp, steady_d, sums + 8 * grp);
      StoreColumns8x8(v, wp + 8 * grp, o0, std::min(8, nrows - 8 * grp));
    }
  }
}

// The outputs at strictly ascending columns out_cols[0..num_out) of one strip:
// all groups step together (kGroups independent chains) and only the
// requested outputs are divided out; they are transposed back eight at a time.
template <int kGroups>
void BoxRowsStripSelected(const float* const* in_rows, int nrows, int cols, int window,
                          const int32_t* out_cols, int num_out, float* const* out_rows) {
  constexpr int kLanes = 8 * kGroups;
  const int half = BoxHalfWindow(window);
  const int steps = BoxSteps(cols, window);
  const int groups = (nrows + 7) / 8;
  const Divider steady(window);
  alignas(32) float ring[kRing * kLanes];
  alignas(32) float results[8 * kLanes];  // slot k % 8 holds result k
  alignas(32) static constexpr float kZeros[kLanes] = {};
  const float* rp[kLanes];
  float* wp[kLanes];
  for (int i = 0; i < kLanes; ++i) {
    rp[i] = in_rows[std::min(i, nrows - 1)];
    wp[i] = out_rows[std::min(i, nrows - 1)];
  }
  // Lanes of absent groups are computed but never stored; keep them finite.
  for (int c = 0; c < kRing; ++c)
    for (int g = groups; g < kGroups; ++g)
      _mm256_store_ps(ring + c * kLanes + 8 * g, _mm256_setzero_ps());
  auto flush = [&](int k0, int k1) {  // results [k0, k1), k0 % 8 == 0
    if (k1 - k0 == 8) {
      for (int grp = 0; grp < groups; ++grp) {
        __m256 v[8];
        for (int j = 0; j < 8; ++j) v[j] = _mm256_load_ps(results + j * kLanes + 8 * grp);
        StoreColumns8x8(v, wp + 8 * grp, k0, std::min(8, nrows - 8 * grp));
      }
    } else {
      for (int kk = k0; kk < k1; ++kk)
        for (int i = 0; i < nrows; ++i) wp[i][kk] = results[(kk % 8) * kLanes + i];
    }
  };

  __m256 sum[kGroups];
  for (int g = 0; g < kGroups; ++g) sum[g] = _mm256_setzero_ps();
  int k = 0;  // results produced so far
  for (int t = 0; t < steps; ++t) {
    if (t % 8 == 0 && t < cols) FillRing<kLanes>(rp, groups, cols, t, ring);
    // +0.0f outside the image: see BoxRowsStripAll.
    const float* a = t < cols ? ring + (t % kRing) * kLanes : kZeros;
    const float* b = t >= window ? ring + ((t - window) % kRing) * kLanes : kZeros;
    for (int g = 0; g < kGroups; ++g) {
      sum[g] = _mm256_sub_ps(_mm256_add_ps(sum[g], _mm256_load_ps(a + 8 * g)),
                             _mm256_load_ps(b + 8 * g));
    }
    if (k >= num_out || out_cols[k] != t - half + 1) continue;
    const bool full_window = t >= window - 1 && t < cols;
    const Divider div = full_window ? steady : Divider(BoxCount(t, cols, window));
    float* slot = results + (k % 8) * kLanes;
    for (int g = 0; g < kGroups; ++g) _mm256_store_ps(slot + 8 * g, div(sum[g]));
    ++k;
    if (k % 8 == 0) flush(k - 8, k);
  }
  if (k % 8 != 0) flush(k - k % 8, k);
  assert(k == num_out);
}

template <int kGroups>
void BoxRowsStrip(const float* const* in_rows, int nrows, int cols, int window,
                  const int32_t* out_cols, int num_out, float* const* out_rows) {
  if (out_cols != nullptr) {
    BoxRowsStripSelected<kGroups>(in_rows, nrows, cols, window, out_cols, num_out, out_rows);
  } else if (IsPowerOfTwo(window)) {
    BoxRowsStripAll<kGroups, true>(in_rows, nrows, cols, window, out_rows);
  } else {
    BoxRowsStripAll<kGroups, false>(in_rows, nrows, cols, window, out_rows);
  }
}

void BoxRowsAvx2(const float* const* in_rows, int rows, int cols, int window,
                 const int32_t* out_cols, int num_out, float* const* out_rows) {
  assert(window >= 1 && window <= cols);
  bool ascending = true;  // the vector path writes each selected column once
  for (int i = 1; out_cols != nullptr && i < num_out; ++i)
    ascending &= out_cols[i] > out_cols[i - 1];
  if (window > kMaxRowWindow || !ascending) {
    ScalarKernels().box_rows(in_rows, rows, cols, window, out_cols, num_out, out_rows);
    return;
  }
  int r = 0;
  for (; r + 32 < rows; r += 64) {
    BoxRowsStrip<8>(in_rows + r, std::min(64, rows - r), cols, window, out_cols, num_out,
                    out_rows + r);
  }
  if (r < rows) {
    BoxRowsStrip<4>(in_rows + r, rows - r, cols, window, out_cols, num_out, out_rows + r);
  }
}

// ---------------------------------------------------------------------------
// Box filter down columns: one row step at a time across all columns, so
// every access is sequential; the running sums stay in L1.

template <bool kAdd, bool kSub>
void ColumnStep(const float* a, const float* b, int cols, float* sums, float* out, int count,
                const Divider& div) {
  const float divisor = static_cast<float>(count);
  int c = 0;
  for (; c + 8 <= cols; c += 8) {
    __m256 s = _mm256_loadu_ps(sums + c);
    if constexpr (kAdd) s = _mm256_add_ps(s, _mm256_loadu_ps(a + c));
    if constexpr (kSub) s = _mm256_sub_ps(s, _mm256_loadu_ps(b + c));
    _mm256_storeu_ps(sums + c, s);
    if (out != nullptr) _mm256_storeu_ps(out + c, div(s));
  }
  for (; c < cols; ++c) {
    float s = sums[c];
    if constexpr (kAdd) s += a[c];
    if constexpr (kSub) s -= b[c];
    sums[c] = s;
    if (out != nullptr) out[c] = s / divisor;
  }
}

void BoxColsAvx2(const float* const* in_rows, int rows, int cols, int window, int t0, int t1,
                 float* col_sums, float* const* out_rows) {
  assert(window >= 1 && window <= rows);
  const int half = BoxHalfWindow(window);
  const Divider steady(window);
  for (int t = t0; t < t1; ++t) {
    const float* a = t < rows ? in_rows[t] : nullptr;
    const float* b = t >= window ? in_rows[t - window] : nullptr;
    const int o = t - half + 1;
    float* dst = o >= 0 ? out_rows[o] : nullptr;
    const int count = BoxCount(t, rows, window);
    const Divider ramp(count);
    const Divider& div = count == window ? steady : ramp;
    if (a != nullptr && b != nullptr) {
      ColumnStep<true, true>(a, b, cols, col_sums, dst, count, div);
    } else if (a != nullptr) {
      ColumnStep<true, false>(a, b, cols, col_sums, dst, count, div);
    } else if (b != nullptr) {
      ColumnStep<false, true>(a, b, cols, col_sums, dst, count, div);
    }
  }
}

// ---------------------------------------------------------------------------
// DCT, quality, Hamming.

void Dct64To16Avx2(const float* a, float* b) {
  const float* d = DctMatrix();
  const float* dt = DctMatrixTransposed();
  alignas(32) float t[16 * kGrid];
  // T = D A: lanes are the 64 columns j; sum over k in order.
  for (int i = 0; i < 16; ++i) {
    __m256 acc[8];
    for (int v = 0; v < 8; ++v) acc[v] = _mm256_setzero_ps();
    for (int k = 0; k < kGrid; ++k) {
      const __m256 dk = _mm256_set1_ps(d[i * kGrid + k]);
      const float* ak = a + k * kGrid;
      for (int v = 0; v < 8; ++v) {
        acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(dk, _mm256_loadu_ps(ak + 8 * v)));
      }
    }
    for (int v = 0; v < 8; ++v) _mm256_store_ps(t + i * kGrid + 8 * v, acc[v]);
  }
  // B = T D^T: lanes are the 16 columns j, four rows i at a time.
  for (int i = 0; i < 16; i += 4) {
    __m256 acc[8];
    for (int v = 0; v < 8; ++v) acc[v] = _mm256_setzero_ps();
    for (int k = 0; k < kGrid; ++k) {
      const __m256 d0 = _mm256_loadu_ps(dt + k * 16);
      const __m256 d1 = _mm256_loadu_ps(dt + k * 16 + 8);
      for (int r = 0; r < 4; ++r) {
        const __m256 tk = _mm256_set1_ps(t[(i + r) * kGrid + k]);
        acc[2 * r] = _mm256_add_ps(acc[2 * r], _mm256_mul_ps(tk, d0));
        acc[2 * r + 1] = _mm256_add_ps(acc[2 * r + 1], _mm256_mul_ps(tk, d1));
      }
    }
    for (int r = 0; r < 4; ++r) {
      _mm256_storeu_ps(b + (i + r) * 16, acc[2 * r]);
      _mm256_storeu_ps(b + (i + r) * 16 + 8, acc[2 * r + 1]);
    }
  }
}

inline __m256i GradientSteps(__m256 u, __m256 v) {
  const __m256 scaled = _mm256_div_ps(_mm256_mul_ps(_mm256_sub_ps(u, v), _mm256_set1_ps(100.0f)),
                                      _mm256_set1_ps(255.0f));
  return _mm256_abs_epi32(_mm256_cvttps_epi32(scaled));
}

int QualityAvx2(const float* a) {
  __m256i sum = _mm256_setzero_si256();
  for (int i = 0; i < kGrid - 1; ++i) {
    for (int j = 0; j < kGrid; j += 8) {
      sum = _mm256_add_epi32(sum, GradientSteps(_mm256_loadu_ps(a + i * kGrid + j),
                                                _mm256_loadu_ps(a + (i + 1) * kGrid + j)));
    }
  }
  // Pairs (j, j + 1) for j = 0..62: seven full vectors and one that starts at
  // j = 55 with its first lane (already counted) masked off.
  const __m256i skip_first = _mm256_setr_epi32(0, -1, -1, -1, -1, -1, -1, -1);
  for (int i = 0; i < kGrid; ++i) {
    const float* row = a + i * kGrid;
    for (int j = 0; j < 56; j += 8) {
      sum = _mm256_add_epi32(sum,
                             GradientSteps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(row + j + 1)));
    }
    sum = _mm256_add_epi32(
        sum, _mm256_and_si256(skip_first,
                              GradientSteps(_mm256_loadu_ps(row + 55), _mm256_loadu_ps(row + 56))));
  }
  alignas(32) int32_t parts[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(parts), sum);
  int total = 0;
  for (int p : parts) total += p;
  const int quality = total / 90;
  return quality > 100 ? 100 : quality;
}

// Per-byte popcount by nibble lookup (vpshufb), summed per 64-bit lane by vpsadbw.
inline __m256i PopcountQwords(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                       1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
  const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
  return _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256());
}

void HammingAvx2(const Hash256& query, const Hash256* db, size_t n, int* out) {
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query.bytes.data()));
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const auto* p = reinterpret_cast<const __m256i*>(db[i].bytes.data());
    const __m256i a = PopcountQwords(_mm256_xor_si256(q, _mm256_loadu_si256(p)));
    const __m256i b = PopcountQwords(_mm256_xor_si256(q, _mm256_loadu_si256(p + 1)));
    const __m256i c = PopcountQwords(_mm256_xor_si256(q, _mm256_loadu_si256(p + 2)));
    const __m256i d = PopcountQwords(_mm256_xor_si256(q, _mm256_loadu_si256(p + 3)));
    // Each of a..d holds four partial counts (one per qword); fold to one each.
    const __m256i ab = _mm256_add_epi64(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
    const __m256i cd = _mm256_add_epi64(_mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d));
    // ab = [a01 b01 | a23 b23], cd likewise: add the 128-bit halves.
    const __m256i lo = _mm256_permute2x128_si256(ab, cd, 0x20);  // a01 b01 c01 d01
    const __m256i hi = _mm256_permute2x128_si256(ab, cd, 0x31);  // a23 b23 c23 d23
    const __m256i sum = _mm256_add_epi64(lo, hi);                // a b c d as qwords
    const __m256i packed =
        _mm256_permutevar8x32_epi32(sum, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_castsi256_si128(packed));
  }
  uint64_t qw[4];
  std::memcpy(qw, query.bytes.data(), 32);
  for (; i < n; ++i) {
    uint64_t h[4];
    std::memcpy(h, db[i].bytes.data(), 32);
    out[i] = static_cast<int>(_mm_popcnt_u64(qw[0] ^ h[0]) + _mm_popcnt_u64(qw[1] ^ h[1]) +
                              _mm_popcnt_u64(qw[2] ^ h[2]) + _mm_popcnt_u64(qw[3] ^ h[3]));
  }
}

}  // namespace

const Kernels& Avx2Kernels() {
  static constexpr Kernels kKernels{&LumaAvx2,      &BoxRowsAvx2, &BoxColsAvx2,
                                    &Dct64To16Avx2, &QualityAvx2, &HammingAvx2};
  return kKernels;
}

}  // namespace kagami::fingerprint::pdq
