// Trains the built-in visual vocabulary (fingerprint/visual_vocabulary.h) and
// writes it to fingerprint/data/orb_vocabulary_v1.bin.
//
//   build/bench/kagami_bench_train_vocabulary --work /tmp/kagami-vocab
//       --out fingerprint/data/orb_vocabulary_v1.bin
//
// Training images (Debian packages only, disjoint from the real-image
// calibration corpus of bench/e2e/real_calibration.cc; opencv-doc and
// scikit-image images are never used):
//   - openclipart-png: files i % 97 in {24, 48, 72} (the calibration takes i % 97 == 0),
//     long side 1000;
//   - typeset pages: libtasn1-doc's libtasn1.pdf, shared-mime-info's spec and
//     asymptote's CAD.pdf / asy-latex.pdf (the calibration uses gnuplot.pdf and
//     asymptote.pdf), rendered with pdftoppm at 80 dpi, gray;
//   - Kagami's generated manga pages (synth/page_generator.h), seeds 900000+.
// Features are the registered pages' ORB features (1000 keypoints at long side
// 800); k-majority with 256 x 256 words, 6 iterations, seed 7.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/local_features.h"
#include "kagami/fingerprint/visual_vocabulary.h"
#include "kagami/synth/page_generator.h"

namespace fs = std::filesystem;
using namespace kagami;

namespace {

cv::Mat Gray(const cv::Mat& m) {
  cv::Mat g;
  if (m.channels() == 4) {
    // Transparent line art on white.
    std::vector<cv::Mat> ch;
    cv::split(m, ch);
    cv::Mat bgr;
    cv::cvtColor(m, bgr, cv::COLOR_BGRA2BGR);
    cv::Mat white(m.size(), CV_8UC3, cv::Scalar(255, 255, 255));
    cv::Mat alpha;
    ch[3].convertTo(alpha, CV_32F, 1.0 / 255);
    cv::Mat a3;
    cv::merge(std::vector<cv::Mat>{alpha, alpha, alpha}, a3);
    cv::Mat f, w;
    bgr.convertTo(f, CV_32FC3);
    white.convertTo(w, CV_32FC3);
    cv::Mat out = f.mul(a3) + w.mul(cv::Scalar(1, 1, 1) - a3);
    out.convertTo(bgr, CV_8UC3);
    cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
  } else if (m.channels() == 3) {
    cv::cvtColor(m, g, cv::COLOR_BGR2GRAY);
  } else {
    g = m;
  }
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path work = "/tmp/kagami-vocab";
  fs::path out = "fingerprint/data/orb_vocabulary_v1.bin";
  int synth_pages = 600;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--work") work = argv[i + 1];
    if (a == "--out") out = argv[i + 1];
    if (a == "--synth") synth_pages = std::atoi(argv[i + 1]);
  }
  fs::create_directories(work);
  std::vector<cv::Mat> pages;
  std::vector<fs::path> clip;
  for (const auto& e : fs::recursive_directory_iterator("/usr/share/openclipart")) {
    if (e.is_regular_file() && e.path().extension() == ".png") clip.push_back(e.path());
  }
  std::sort(clip.begin(), clip.end());
  for (size_t i = 0; i < clip.size(); ++i) {
    if (i % 97 != 24 && i % 97 != 48 && i % 97 != 72) continue;
    cv::Mat m = cv::imread(clip[i].string(), cv::IMREAD_UNCHANGED);
    if (m.empty() || std::max(m.cols, m.rows) < 300) continue;
    pages.push_back(Gray(m));
  }
  const size_t clip_count = pages.size();
  for (const char* pdf :
       {"/usr/share/doc/libtasn1-doc/libtasn1.pdf",
        "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
        "/usr/share/doc/asymptote/CAD.pdf", "/usr/share/doc/asymptote/asy-latex.pdf"}) {
    if (!fs::exists(pdf)) continue;
    const fs::path prefix = work / fs::path(pdf).stem();
    const std::string cmd = "pdftoppm -r 80 -gray -png -l 60 '" + std::string(pdf) + "' '" +
                            prefix.string() + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "pdftoppm failed for %s\n", pdf);
  }
  std::vector<fs::path> rendered;
  for (const auto& e : fs::directory_iterator(work)) {
    if (e.path().extension() == ".png") rendered.push_back(e.path());
  }
  std::sort(rendered.begin(), rendered.end());
  for (const fs::path& p : rendered) {
    cv::Mat m = cv::imread(p.string(), cv::IMREAD_GRAYSCALE);
    if (!m.empty()) pages.push_back(m);
  }
  const size_t typeset_count = pages.size() - clip_count;
  for (int s = 0; s < synth_pages; ++s) {
    pages.push_back(Gray(synth::GenerateMangaPage(900000 + s)));
  }
  fingerprint::LocalFeatureOptions options;
  options.max_keypoints = 1000;
  std::vector<fingerprint::Hash256> descriptors;
  for (const cv::Mat& page : pages) {
    auto f = fingerprint::ExtractLocalFeatures(page, false, options);
    if (!f.ok()) continue;
    for (int r = 0; r < f->descriptors.rows; ++r) {
      fingerprint::Hash256 h;
      std::memcpy(h.bytes.data(), f->descriptors.ptr<uint8_t>(r), 32);
      descriptors.push_back(h);
    }
  }
  std::printf(
      "training images: %zu line art, %zu typeset pages, %d generated pages; %zu descriptors\n",
      clip_count, typeset_count, synth_pages, descriptors.size());
  const auto t0 = std::chrono::steady_clock::now();
  auto vocab = fingerprint::VisualVocabulary::Train(descriptors, 256, 256, 6, 7);
  if (!vocab.ok()) {
    std::fprintf(stderr, "%s\n", vocab.status().ToString().c_str());
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<uint8_t> bytes = vocab->Serialize();
  std::ofstream(out, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  std::printf("trained %d words in %.1f s; id %08x; wrote %s (%zu bytes)\n", vocab->words(), secs,
              vocab->id(), out.c_str(), bytes.size());
  return 0;
}
