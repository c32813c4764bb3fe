// Reduced-scale luminance JPEG decoding: Kagami's JpegLumaDecoder against
// TurboJPEG's TJPF_GRAY decode at the same scale (the two give identical
// pixels), on 1200x1700 (2 MP) synthetic manga pages encoded by OpenCV's
// libjpeg. Arguments: decoder (0 luma, 1 turbo), scale denominator (2, 4, 8),
// file (0 q85 4:2:0, 1 q95 4:2:0, 2 q85 gray, 3 q95 gray).
//
//   kagami_bench_kernels --benchmark_filter=JpegDecode

#include <benchmark/benchmark.h>
#include <turbojpeg.h>

#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "../../ingest/src/jpeg_luma_decoder.h"
#include "kagami/synth/page_generator.h"

namespace kagami::ingest {
namespace {

struct TjDestroy {
  void operator()(void* handle) const { tjDestroy(handle); }
};

const std::vector<unsigned char>& File(int id) {
  static const std::vector<std::vector<unsigned char>> files = [] {
    cv::Mat page = synth::GenerateMangaPage(2024, 1200, 1700);
    cv::Mat gray;
    cv::cvtColor(page, gray, cv::COLOR_BGR2GRAY);
    std::vector<std::vector<unsigned char>> out(4);
    cv::imencode(".jpg", page, out[0], {cv::IMWRITE_JPEG_QUALITY, 85});
    cv::imencode(".jpg", page, out[1], {cv::IMWRITE_JPEG_QUALITY, 95});
    cv::imencode(".jpg", gray, out[2], {cv::IMWRITE_JPEG_QUALITY, 85});
    cv::imencode(".jpg", gray, out[3], {cv::IMWRITE_JPEG_QUALITY, 95});
    return out;
  }();
  return files[id];
}

const char* FileName(int id) {
  static const char* names[] = {"q85_420", "q95_420", "q85_gray", "q95_gray"};
  return names[id];
}

void BM_JpegDecode(benchmark::State& state) {
  const bool turbo = state.range(0) == 1;
  const int denom = static_cast<int>(state.range(1));
  const std::vector<unsigned char>& jpeg = File(static_cast<int>(state.range(2)));
  state.SetLabel(std::string(turbo ? "turbo" : "luma") + " 1/" + std::to_string(denom) + " " +
                 FileName(static_cast<int>(state.range(2))) + " " +
                 std::to_string(jpeg.size() / 1024) + "KB");
  if (turbo) {
    std::unique_ptr<void, TjDestroy> tj(tjInitDecompress());
    int width = 0, height = 0, subsamp = 0, colorspace = 0;
    for (auto _ : state) {
      // What image_decoder.cc does per file: header, allocation, decode.
      tjDecompressHeader3(tj.get(), jpeg.data(), jpeg.size(), &width, &height, &subsamp,
                          &colorspace);
      tjscalingfactor factor{1, denom};
      cv::Mat out(TJSCALED(height, factor), TJSCALED(width, factor), CV_8UC1);
      if (tjDecompress2(tj.get(), jpeg.data(), jpeg.size(), out.data, out.cols,
                        static_cast<int>(out.step), out.rows, TJPF_GRAY, 0) != 0) {
        state.SkipWithError(tjGetErrorStr2(tj.get()));
        return;
      }
      benchmark::DoNotOptimize(out.data);
    }
  } else {
    for (auto _ : state) {
      internal::JpegLumaDecoder decoder;
      VectorPixelStore store;
      Status out = decoder.ReadHeader(jpeg.data(), jpeg.size()).ok()
                       ? decoder.DecodeLuma(denom, IngestLimits{}, store)
                       : Status::Internal("header");
      if (!out.ok()) {
        state.SkipWithError(out.ToString().c_str());
        return;
      }
      benchmark::DoNotOptimize(store.view().data);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(jpeg.size()));
}
BENCHMARK(BM_JpegDecode)
    ->ArgNames({"turbo", "denom", "file"})
    ->ArgsProduct({{0, 1}, {2, 4, 8}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kagami::ingest
