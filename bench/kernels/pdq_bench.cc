// PDQ hashing throughput, whole hash and per kernel, for every SIMD level this
// CPU runs. The first argument of each benchmark is the SimdLevel (0 scalar,
// 1 avx2); unsupported levels are skipped.
//
//   kagami_bench_kernels --benchmark_filter=Pdq

#include <benchmark/benchmark.h>

#include <algorithm>
#include <opencv2/core.hpp>
#include <random>
#include <string>
#include <vector>

#include "../../tests/fingerprint/pdq_test_util.h"
#include "kagami/fingerprint/hamming.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/fingerprint/pdq_kernels.h"

namespace kagami::fingerprint {
namespace {

bool UseLevel(benchmark::State& state, SimdLevel* level) {
  *level = static_cast<SimdLevel>(state.range(0));
  const auto levels = SupportedSimdLevels();
  if (std::find(levels.begin(), levels.end(), *level) == levels.end()) {
    state.SkipWithError("SIMD level not supported on this CPU");
    return false;
  }
  state.SetLabel(std::string(SimdLevelName(*level)));
  return true;
}

template <typename T>
std::vector<T*> Rows(std::vector<float>& plane, size_t stride, int rows) {
  std::vector<T*> p(rows);
  for (int r = 0; r < rows; ++r) p[r] = plane.data() + r * stride;
  return p;
}
std::vector<float*> Rows(std::vector<float>& plane, size_t stride, int rows) {
  return Rows<float>(plane, stride, rows);
}

// Inputs by id: 0 = 300x425 gray (fast-mode page), 1 = 512x512 gray,
// 2 = 1200x1700 RGB (resampled to 512x512), 3 = 512x512 RGB.
const cv::Mat& Input(int id) {
  static const cv::Mat inputs[] = {
      testing::RandomImage(300, 425, CV_8UC1, 1), testing::RandomImage(512, 512, CV_8UC1, 2),
      testing::RandomImage(1200, 1700, CV_8UC3, 3), testing::RandomImage(512, 512, CV_8UC3, 4)};
  return inputs[id];
}

const char* InputName(int id) {
  static const char* names[] = {"gray300x425", "gray512x512", "rgb1200x1700", "rgb512x512"};
  return names[id];
}

void BM_PdqHash(benchmark::State& state) {
  SimdLevel level;
  if (!UseLevel(state, &level)) return;
  const cv::Mat& img = Input(static_cast<int>(state.range(1)));
  PdqHasher hasher(level);
  for (auto _ : state) benchmark::DoNotOptimize(hasher.Hash(img));
  state.SetLabel(std::string(SimdLevelName(level)) + " " + InputName(state.range(1)));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PdqHash)->ArgsProduct({{0, 1}, {0, 1, 2, 3}});

void BM_PdqHashDihedral(benchmark::State& state) {
  SimdLevel level;
  if (!UseLevel(state, &level)) return;
  const cv::Mat& img = Input(static_cast<int>(state.range(1)));
  PdqHasher hasher(level);
  for (auto _ : state) benchmark::DoNotOptimize(hasher.HashDihedral(img));
  state.SetLabel(std::string(SimdLevelName(level)) + " " + InputName(state.range(1)));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PdqHashDihedral)->ArgsProduct({{0, 1}, {0, 2}});

// The reference's loop structure (column pass striding down each column,
// full-size buffers allocated per call) on the same input, for comparison.
void BM_PdqReferenceStructure(benchmark::State& state) {
  const cv::Mat& img = Input(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(testing::RefHash(img));
  state.SetLabel(InputName(state.range(0)));
}
BENCHMARK(BM_PdqReferenceStructure)->DenseRange(0, 3);

// --- Kernels -----------------------------------------------------------

void BM_PdqLuma(benchmark::State& state) {
  SimdLevel level;
  if (!UseLevel(state, &level)) return;
  const cv::Mat& img = Input(static_cast<int>(state.range(1)));
  int32_t col_offset[pdq::kMaxSide], src_row[pdq::kMaxSide];
  const pdq::LumaGrid grid = pdq::MakeLumaGrid(img.data, img.step[0], img.channels(), img.cols,
                                               img.rows, col_offset, src_row);
  std::vector<float> out(static_cast<size_t>(grid.width) * grid.height);
  const std::vector<float*> out_rows = Rows(out, grid.width, grid.height);
  const pdq::Kernels& k = pdq::KernelsFor(level);
  for (auto _ : state) {
    k.luma(grid, 0, grid.height, out_rows.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(SimdLevelName(level)) + " " + InputName(state.range(1)));
  state.SetItemsProcessed(state.iterations() * grid.width * grid.height);
}
BENCHMARK(BM_PdqLuma)->ArgsProduct({{0, 1}, {0, 1, 2, 3}});

std::vector<float> RandomPlane(int rows, int cols) {
  std::mt19937 rng(rows * 7919 + cols);
  std::uniform_real_distribution<float> dist(0.0f, 255.0f);
  std::vector<float> v(static_cast<size_t>(rows) * cols);
  for (float& x : v) x = dist(rng);
  return v;
}

// Args: level, cols, rows. Window as PDQ picks it for that side; rows padded
// to a stride of cols + 16 floats as the hasher does.
void BM_PdqBoxRows(benchmark::State& state) {
  SimdLevel level;
  if (!UseLevel(state, &level)) return;
  const int cols = static_cast<int>(state.range(1)), rows = static_cast<int>(state.range(2));
  const size_t stride = cols + 16;
  std::vector<float> in = RandomPlane(rows, stride);
  std::vector<float> out(in.size());
  const auto in_rows = Rows<const float>(in, stride, rows);
  const auto out_rows = Rows(out, stride, rows);
  const pdq::Kernels& k = pdq::KernelsFor(level);
  for (auto _ : state) {
    k.box_rows(in_rows.data(), rows, cols, pdq::JaroszWindow(cols), nullptr, 0, out_rows.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
}
BENCHMARK(BM_PdqBoxRows)->ArgsProduct({{0, 1}, {300}, {425}})->ArgsProduct({{0, 1}, {512}, {512}});

void BM_PdqBoxCols(benchmark::State& state) {
  SimdLevel level;
  if (!UseLevel(state, &level)) return;
  const int cols = static_cast<int>(state.range(1)), rows = static_cast<int>(state.range(2));
  const size_t stride = cols + 16;
  std::vector<float> in = RandomPlane(rows, stride);
  std::vector<float> out(in.size()), sums(cols);
  const auto in_rows = Rows<const float>(in, stride, rows);
  const auto out_rows = Rows(out, stride, rows);
  const pdq::Kernels& k = pdq::KernelsFor(level);
  const int window = pdq::JaroszWindow(rows);
  for (auto _ : state) {
    std::fill(sums.begin(), sums.end(), 0.0f);
    k.box_cols(in_rows.data(), rows, cols, window, 0, pdq::BoxSteps(rows, window), sums.data(),
               out_rows.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
}
BENCHMARK(BM_PdqBoxCols)->ArgsProduct({{0, 1}, {300}, {425}})->ArgsProduct({{0, 1}, {512}, {512}});

// The reference's column pass (box1DFloat striding down each column) on a
// 512x512 plane: the access pattern the row-step formulation replaces.
void BM_PdqReferenceBoxCols(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::vector<float> in = RandomPlane(n, n);
  std::vector<float> out(in.size());
  for (auto _ : state) {
    testing::RefBoxAlongCols(in.data(), out.data(), n, n, pdq::JaroszWindow(n));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n * n);
}
BENCHMARK(BM_PdqReferenceBoxCols)->Arg(512);

void BM_PdqDct(benchmark::State& state) {
  SimdLevel level;
  if (!UseLevel(state, &level)) return;
  const std::vector<float> in = RandomPlane(64, 64);
  float out[256];
  const pdq::Kernels& k = pdq::KernelsFor(level);
  for (auto _ : state) {
    k.dct64to16(in.data(), out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_PdqDct)->Arg(0)->Arg(1);

void BM_PdqQuality(benchmark::State& state) {
  SimdLevel level;
  if (!UseLevel(state, &level)) return;
  const std::vector<float> in = RandomPlane(64, 64);
  const pdq::Kernels& k = pdq::KernelsFor(level);
  for (auto _ : state) benchmark::DoNotOptimize(k.quality(in.data()));
}
BENCHMARK(BM_PdqQuality)->Arg(0)->Arg(1);

void BM_PdqMedian(benchmark::State& state) {
  const std::vector<float> in = RandomPlane(16, 16);
  for (auto _ : state) benchmark::DoNotOptimize(pdq::Median256(in.data()));
}
BENCHMARK(BM_PdqMedian);

// One query against n hashes.
void BM_PdqHammingDistances(benchmark::State& state) {
  SimdLevel level;
  if (!UseLevel(state, &level)) return;
  const size_t n = static_cast<size_t>(state.range(1));
  std::mt19937_64 rng(42);
  std::vector<Hash256> db(n);
  for (Hash256& h : db)
    for (uint8_t& b : h.bytes) b = static_cast<uint8_t>(rng());
  std::vector<int> out(n);
  const Hash256 query = db[n / 2];
  for (auto _ : state) {
    HammingDistances(query, db.data(), n, out.data(), level);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_PdqHammingDistances)->ArgsProduct({{0, 1}, {1000, 100000}});

}  // namespace
}  // namespace kagami::fingerprint
