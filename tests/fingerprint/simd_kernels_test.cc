// Every SIMD level must reproduce the scalar kernels bit for bit.

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <opencv2/core.hpp>
#include <random>
#include <string>
#include <vector>

#include "kagami/fingerprint/hamming.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/fingerprint/pdq_kernels.h"
#include "pdq_test_util.h"

namespace kagami::fingerprint {
namespace {

using pdq::Kernels;

struct Size2 {
  int w, h;
};

// Odd, tiny, power-of-two, the 512 boundary and shapes that are resampled.
const std::vector<Size2> kSizes = {{1, 1},       {7, 5},      {5, 7},     {8, 8},    {13, 1},
                                   {1, 13},      {31, 17},    {64, 64},   {65, 63},  {127, 129},
                                   {300, 425},   {333, 517},  {512, 512}, {513, 40}, {40, 600},
                                   {1000, 1500}, {1200, 1700}};

// First index where the float arrays differ bitwise, or -1.
int FirstBitDifference(const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return static_cast<int>(i);
  }
  return -1;
}

std::vector<float> RandomFloats(size_t n, std::mt19937& rng, bool integral) {
  std::uniform_real_distribution<float> dist(0.0f, 255.0f);
  std::vector<float> v(n);
  for (float& x : v) x = integral ? std::floor(dist(rng)) : dist(rng);
  // A few extreme steps so that rounding in the running sums matters.
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  for (size_t i = 0; i < n / 50; ++i) v[pick(rng)] = 1e-6f;
  return v;
}

// Row pointer tables over a row-major plane.
std::vector<const float*> Rows(const std::vector<float>& plane, size_t stride, int rows) {
  std::vector<const float*> p(rows);
  for (int r = 0; r < rows; ++r) p[r] = plane.data() + r * stride;
  return p;
}
std::vector<float*> Rows(std::vector<float>& plane, size_t stride, int rows) {
  std::vector<float*> p(rows);
  for (int r = 0; r < rows; ++r) p[r] = plane.data() + r * stride;
  return p;
}

class SimdKernelTest : public ::testing::TestWithParam<SimdLevel> {
 protected:
  const Kernels& scalar() const { return pdq::ScalarKernels(); }
  const Kernels& simd() const { return pdq::KernelsFor(GetParam()); }
};

TEST_P(SimdKernelTest, LumaMatchesScalarForEveryLayout) {
  uint32_t seed = 1;
  for (const Size2 s : kSizes) {
    for (const int type : {CV_8UC1, CV_8UC3, CV_8UC4}) {
      for (const bool roi : {false, true}) {
        SCOPED_TRACE(std::to_string(s.w) + "x" + std::to_string(s.h) + " ch " +
                     std::to_string(CV_MAT_CN(type)) + (roi ? " roi" : ""));
        cv::Mat full = testing::RandomImage(s.w + (roi ? 3 : 0), s.h + (roi ? 2 : 0), type, seed++);
        // An ROI ending at the parent's last row: its rows are not contiguous
        // and nothing may be read past its last pixel.
        cv::Mat img = roi ? full(cv::Rect(1, 2, s.w, s.h)) : full;
        int32_t col_offset[pdq::kMaxSide], src_row[pdq::kMaxSide];
        const pdq::LumaGrid grid = pdq::MakeLumaGrid(img.data, img.step[0], img.channels(),
                                                     img.cols, img.rows, col_offset, src_row);
        std::vector<float> want(grid.width * grid.height), got(want.size());
        scalar().luma(grid, 0, grid.height, Rows(want, grid.width, grid.height).data());
        // In two pieces, as the hasher calls it.
        const int mid = grid.height / 3;
        const std::vector<float*> got_rows = Rows(got, grid.width, grid.height);
        simd().luma(grid, 0, mid, got_rows.data());
        simd().luma(grid, mid, grid.height, got_rows.data() + mid);
        EXPECT_EQ(FirstBitDifference(want.data(), got.data(), want.size()), -1);
      }
    }
  }
}

TEST_P(SimdKernelTest, BoxRowsMatchesScalar) {
  std::mt19937 rng(7);
  for (const Size2 s : kSizes) {
    const int cols = std::min(s.w, pdq::kMaxSide), rows = std::min(s.h, 140);
    for (const bool integral : {false, true}) {
      // Input rows padded when `integral`, to cover strides other than cols.
      const size_t stride = integral ? cols + 5 : cols;
      const std::vector<float> in = RandomFloats(rows * stride, rng, integral);
      for (int window = 1; window <= std::min(cols, 6); ++window) {
        SCOPED_TRACE(std::to_string(cols) + "x" + std::to_string(rows) + " window " +
                     std::to_string(window));
        // Same sentinel in both: padding stays, a missed output shows.
        std::vector<float> want(in.size(), -1.0f), got(in.size(), -1.0f);
        const auto in_rows = Rows(in, stride, rows);
        scalar().box_rows(in_rows.data(), rows, cols, window, nullptr, 0,
                          Rows(want, stride, rows).data());
        simd().box_rows(in_rows.data(), rows, cols, window, nullptr, 0,
                        Rows(got, stride, rows).data());
        EXPECT_EQ(FirstBitDifference(want.data(), got.data(), want.size()), -1);

        // Only selected columns, as the second pass asks for (with repeats).
        std::vector<int32_t> sel;
        for (int j = 0; j < 64; ++j) sel.push_back(static_cast<int32_t>(((j + 0.5) * cols) / 64));
        const int n = static_cast<int>(sel.size());
        std::vector<float> want_sel(static_cast<size_t>(rows) * n), got_sel(want_sel.size(), -1.0f);
        scalar().box_rows(in_rows.data(), rows, cols, window, sel.data(), n,
                          Rows(want_sel, n, rows).data());
        simd().box_rows(in_rows.data(), rows, cols, window, sel.data(), n,
                        Rows(got_sel, n, rows).data());
        EXPECT_EQ(FirstBitDifference(want_sel.data(), got_sel.data(), want_sel.size()), -1);
        // The selected outputs are the full pass's values at those columns.
        for (int r = 0; r < rows; ++r) {
          for (int k = 0; k < n; ++k) {
            ASSERT_EQ(std::bit_cast<uint32_t>(want_sel[r * n + k]),
                      std::bit_cast<uint32_t>(want[r * stride + sel[k]]));
          }
        }
      }
    }
  }
}

TEST_P(SimdKernelTest, BoxColsMatchesScalarInAnyChunking) {
  std::mt19937 rng(11);
  for (const Size2 s : kSizes) {
    const int cols = std::min(s.w, pdq::kMaxSide), rows = std::min(s.h, pdq::kMaxSide);
    const std::vector<float> in = RandomFloats(static_cast<size_t>(rows) * cols, rng, false);
    for (int window = 1; window <= std::min(rows, 5); ++window) {
      SCOPED_TRACE(std::to_string(cols) + "x" + std::to_string(rows) + " window " +
                   std::to_string(window));
      const int steps = pdq::BoxSteps(rows, window);
      std::vector<float> want(in.size()), got(in.size(), -1.0f);
      std::vector<float> sums_want(cols, 0.0f), sums_got(cols, 0.0f);
      const auto in_rows = Rows(in, cols, rows);
      scalar().box_cols(in_rows.data(), rows, cols, window, 0, steps, sums_want.data(),
                        Rows(want, cols, rows).data());
      const auto got_rows = Rows(got, cols, rows);
      std::uniform_int_distribution<int> chunk(0, 40);
      for (int t = 0; t < steps;) {
        const int t1 = std::min(steps, t + chunk(rng));
        simd().box_cols(in_rows.data(), rows, cols, window, t, t1, sums_got.data(),
                        got_rows.data());
        t = t1;
      }
      EXPECT_EQ(FirstBitDifference(want.data(), got.data(), want.size()), -1);
    }
  }
}

TEST_P(SimdKernelTest, BoxPassesMatchReferenceStructure) {
  // The step formulation equals the reference's four-phase box1DFloat.
  std::mt19937 rng(5);
  for (const Size2 s : kSizes) {
    const int cols = std::min(s.w, pdq::kMaxSide), rows = std::min(s.h, pdq::kMaxSide);
    const std::vector<float> in = RandomFloats(static_cast<size_t>(rows) * cols, rng, false);
    const int wr = pdq::JaroszWindow(cols), wc = pdq::JaroszWindow(rows);
    std::vector<float> ref(in.size()), got(in.size());
    testing::RefBoxAlongRows(in.data(), ref.data(), rows, cols, wr);
    const auto in_rows = Rows(in, cols, rows);
    simd().box_rows(in_rows.data(), rows, cols, wr, nullptr, 0, Rows(got, cols, rows).data());
    EXPECT_EQ(FirstBitDifference(ref.data(), got.data(), ref.size()), -1) << cols << "x" << rows;
    testing::RefBoxAlongCols(in.data(), ref.data(), rows, cols, wc);
    std::vector<float> sums(cols, 0.0f);
    simd().box_cols(in_rows.data(), rows, cols, wc, 0, pdq::BoxSteps(rows, wc), sums.data(),
                    Rows(got, cols, rows).data());
    EXPECT_EQ(FirstBitDifference(ref.data(), got.data(), ref.size()), -1) << cols << "x" << rows;
  }
}

TEST_P(SimdKernelTest, DctMatchesScalar) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> in = RandomFloats(64 * 64, rng, trial % 2 == 0);
    if (trial == 0) std::fill(in.begin(), in.end(), 137.0f);  // flat: rounding noise only
    float want[256], got[256];
    scalar().dct64to16(in.data(), want);
    simd().dct64to16(in.data(), got);
    EXPECT_EQ(FirstBitDifference(want, got, 256), -1) << "trial " << trial;
  }
}

TEST_P(SimdKernelTest, QualityMatchesScalar) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<float> in = RandomFloats(64 * 64, rng, trial % 2 == 0);
    // Vary the contrast so that qualities below the cap are covered too.
    const float scale = static_cast<float>(trial) / 30.0f;
    for (float& v : in) v *= scale * scale;
    EXPECT_EQ(simd().quality(in.data()), scalar().quality(in.data())) << "trial " << trial;
  }
}

TEST_P(SimdKernelTest, HammingDistancesMatchScalar) {
  std::mt19937_64 rng(13);
  for (const size_t n : {0u, 1u, 3u, 4u, 5u, 8u, 17u, 1000u}) {
    std::vector<Hash256> db(n);
    for (Hash256& h : db)
      for (uint8_t& b : h.bytes) b = static_cast<uint8_t>(rng());
    Hash256 q;
    for (uint8_t& b : q.bytes) b = static_cast<uint8_t>(rng());
    if (n > 2) db[1] = q;  // distance 0
    std::vector<int> want(n, -1), got(n, -2);
    HammingDistances(q, db.data(), n, want.data(), SimdLevel::kScalar);
    HammingDistances(q, db.data(), n, got.data(), GetParam());
    EXPECT_EQ(want, got) << n;
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], HammingDistance(q, db[i]));
    std::vector<int> dispatched(n, -3);
    HammingDistances(q, db.data(), n, dispatched.data());
    EXPECT_EQ(dispatched, want);
  }
}

TEST_P(SimdKernelTest, FullHashMatchesScalar) {
  PdqHasher scalar_hasher(SimdLevel::kScalar);
  PdqHasher simd_hasher(GetParam());
  EXPECT_EQ(simd_hasher.level(), GetParam());
  uint32_t seed = 100;
  for (const Size2 s : kSizes) {
    for (const int type : {CV_8UC1, CV_8UC3, CV_8UC4}) {
      SCOPED_TRACE(std::to_string(s.w) + "x" + std::to_string(s.h) + " ch " +
                   std::to_string(CV_MAT_CN(type)));
      const cv::Mat img = testing::RandomImage(s.w, s.h, type, seed++);
      const PdqHash want = scalar_hasher.Hash(img);
      const PdqHash got = simd_hasher.Hash(img);
      EXPECT_EQ(got.hash, want.hash);
      EXPECT_EQ(got.quality, want.quality);
      const PdqDihedralHashes want_d = scalar_hasher.HashDihedral(img);
      const PdqDihedralHashes got_d = simd_hasher.HashDihedral(img);
      EXPECT_EQ(got_d.hashes, want_d.hashes);
      EXPECT_EQ(got_d.quality, want_d.quality);
    }
  }
}

TEST_P(SimdKernelTest, FullHashMatchesReferenceTransliteration) {
  PdqHasher hasher(GetParam());
  uint32_t seed = 500;
  for (const Size2 s : kSizes) {
    for (const int type : {CV_8UC1, CV_8UC3}) {
      SCOPED_TRACE(std::to_string(s.w) + "x" + std::to_string(s.h) + " ch " +
                   std::to_string(CV_MAT_CN(type)));
      const cv::Mat img = testing::RandomImage(s.w, s.h, type, seed++);
      const testing::RefResult ref = testing::RefHash(img);
      const PdqHash got = hasher.Hash(img);
      EXPECT_EQ(got.hash, ref.hash) << got.hash.ToHex() << " vs " << ref.hash.ToHex();
      EXPECT_EQ(got.quality, ref.quality);
      const testing::RefResult ref_d = testing::RefHash(img, /*dihedral=*/true);
      EXPECT_EQ(hasher.HashDihedral(img).hashes[kOriginal], ref_d.hash);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, SimdKernelTest, ::testing::ValuesIn(SupportedSimdLevels()),
                         [](const ::testing::TestParamInfo<SimdLevel>& info) {
                           return std::string(SimdLevelName(info.param));
                         });

TEST(SimdLevelTest, ScalarIsAlwaysSupportedAndListedFirst) {
  const std::vector<SimdLevel> levels = SupportedSimdLevels();
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.front(), SimdLevel::kScalar);
  EXPECT_EQ(SimdLevelName(SimdLevel::kScalar), "scalar");
  EXPECT_EQ(SimdLevelName(SimdLevel::kAvx2), "avx2");
  const SimdLevel detected = DetectSimdLevel();
  EXPECT_NE(std::find(levels.begin(), levels.end(), detected), levels.end());
}

TEST(SimdLevelTest, EnvironmentForcesScalar) {
  const char* old = std::getenv("KAGAMI_SIMD");
  const std::string saved = old != nullptr ? old : "";
  setenv("KAGAMI_SIMD", "scalar", 1);
  EXPECT_EQ(DetectSimdLevel(), SimdLevel::kScalar);
  if (old != nullptr) {
    setenv("KAGAMI_SIMD", saved.c_str(), 1);
  } else {
    unsetenv("KAGAMI_SIMD");
  }
}

}  // namespace
}  // namespace kagami::fingerprint
