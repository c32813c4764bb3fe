// The query-side page views (fingerprint/page_normalizer.h) on the images a
// scan sees: TrimUniformBorders, DetectPageBox, DetectSpread and the whole
// NormalizedViews, per image, at the scan's decoded scale (the image halved
// while its short side stays >= 256, as the reduced-scale JPEG decode does).
// Sets: 0 real photos (gnome-backgrounds, plasma-workspace-wallpapers: the
// landscape images a crawl mostly meets, none of them a screenshot), 1
// synthetic 900x1300 manga pages. The time is per image, averaged over the set.
//
//   kagami_bench_kernels --benchmark_filter=PageViews

#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/synth/page_generator.h"

namespace kagami::fingerprint {
namespace {

namespace fs = std::filesystem;

cv::Mat AtScanScale(const cv::Mat& gray) {
  cv::Mat m = gray;
  while (std::min(m.cols, m.rows) >= 512) {
    cv::Mat half;
    cv::resize(m, half, cv::Size(m.cols / 2, m.rows / 2), 0, 0, cv::INTER_AREA);
    m = half;
  }
  return m;
}

std::vector<cv::Mat> Photos() {
  std::vector<fs::path> paths;
  std::error_code ec;
  for (const char* root : {"/usr/share/backgrounds/gnome", "/usr/share/wallpapers"}) {
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if (it->is_regular_file() && (ext == ".webp" || ext == ".jpg" || ext == ".png"))
        paths.push_back(it->path());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<cv::Mat> out;
  for (const fs::path& p : paths) {
    if (out.size() >= 40) break;
    cv::Mat m = cv::imread(p.string(), cv::IMREAD_GRAYSCALE);
    if (m.empty() || std::max(m.cols, m.rows) > 4096) continue;
    out.push_back(AtScanScale(m));
  }
  return out;
}

std::vector<cv::Mat> Pages() {
  std::vector<cv::Mat> out;
  for (int i = 0; i < 20; ++i) {
    cv::Mat gray;
    cv::cvtColor(synth::GenerateMangaPage(7000 + i, 900, 1300), gray, cv::COLOR_BGR2GRAY);
    out.push_back(AtScanScale(gray));
  }
  return out;
}

const std::vector<cv::Mat>& Set(int id) {
  static const std::vector<cv::Mat> photos = Photos();
  static const std::vector<cv::Mat> pages = Pages();
  return id == 0 ? photos : pages;
}

template <typename F>
void Run(benchmark::State& state, F f) {
  const std::vector<cv::Mat>& set = Set(static_cast<int>(state.range(0)));
  if (set.empty()) {
    state.SkipWithError("no images (gnome-backgrounds / plasma-workspace-wallpapers missing)");
    return;
  }
  state.SetLabel(std::string(state.range(0) == 0 ? "photos " : "pages ") +
                 std::to_string(set[0].cols) + "x" + std::to_string(set[0].rows) + " first, " +
                 std::to_string(set.size()) + " images");
  size_t i = 0;
  for (auto _ : state) {
    f(set[i]);
    if (++i == set.size()) i = 0;
  }
}

void BM_PageViewsTrim(benchmark::State& state) {
  Run(state, [](const cv::Mat& m) { benchmark::DoNotOptimize(TrimUniformBorders(m)); });
}
void BM_PageViewsBox(benchmark::State& state) {
  Run(state, [](const cv::Mat& m) { benchmark::DoNotOptimize(DetectPageBox(m)); });
}
void BM_PageViewsSpread(benchmark::State& state) {
  Run(state, [](const cv::Mat& m) { benchmark::DoNotOptimize(DetectSpread(m)); });
}
void BM_PageViewsAll(benchmark::State& state) {
  Run(state, [](const cv::Mat& m) { benchmark::DoNotOptimize(NormalizedViews(m)); });
}
BENCHMARK(BM_PageViewsTrim)->Arg(0)->Arg(1);
BENCHMARK(BM_PageViewsBox)->Arg(0)->Arg(1);
BENCHMARK(BM_PageViewsSpread)->Arg(0)->Arg(1);
BENCHMARK(BM_PageViewsAll)->Arg(0)->Arg(1);

}  // namespace
}  // namespace kagami::fingerprint
