// PDQ on mirror-symmetric pictures: the bits a symmetric picture keeps.
//
// For a picture symmetric about its vertical axis, PDQ's DCT coefficients of
// odd horizontal frequency vanish (the DCT-II basis of odd frequency is odd
// about the centre), and PDQ thresholds all 256 at their median, so about half
// of its bits are decided by noise: two decodes of one flag can be 60+ bits
// apart. This measures whether the other bits (even horizontal frequency; even
// vertical frequency for a picture symmetric about its horizontal axis; both)
// tell copies of such a picture from other symmetric pictures
// (bench/RESULTS.md section 11, "Measured, not adopted: the bits a symmetric
// picture keeps").
//
// Usage: kagami_bench_symmetric_bits [--min-symmetry S] REGISTERED_DIR QUERY_PATH...
//   Every image of REGISTERED_DIR whose full or trimmed view is symmetric
//   (the normalised correlation of its 64x64 area reduction with its mirror
//   >= S, default 0.9) is a reference. Every query image (files, or folders
//   read recursively) is decoded at half size when its short side is >= 512
//   (as a scan decodes a JPEG), and each of its normalised views
//   (page_normalizer.h) that is symmetric about an axis a reference is
//   symmetric about is compared with that reference on the bits of even
//   frequency along the axes both share. A pair is "true" when the query's
//   file name starts with the reference's item ("r12_" for "r012.jpg", as
//   kagami_bench_real_calibration names its queries; a spread "r3_r12_g0"
//   holds two), "self" when the two are the same file name, else "unrelated".
//   Prints every pair within --print-max equivalent bits (the distance scaled
//   to 256 bits) and the distributions of true and unrelated pairs.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <string>
#include <vector>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/fingerprint/pdq_hasher.h"

namespace fs = std::filesystem;
namespace fp = kagami::fingerprint;

namespace {

constexpr int kAxisX = 1;  // symmetric about the vertical axis (left-right mirror)
constexpr int kAxisY = 2;  // symmetric about the horizontal axis

// Normalised correlation of the 64x64 area reduction of `gray` with its flip
// (cv::flip code 1: left-right, 0: upside down); 1 for a symmetric picture.
double MirrorCorrelation(const cv::Mat& gray, int flip_code) {
  cv::Mat small;
  cv::resize(gray, small, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
  small.convertTo(small, CV_32F);
  small -= cv::mean(small);
  cv::Mat flipped;
  cv::flip(small, flipped, flip_code);
  const double energy = small.dot(small);
  return energy > 0 ? small.dot(flipped) / energy : 0;
}

int Axes(const cv::Mat& gray, double min_symmetry) {
  return (MirrorCorrelation(gray, 1) >= min_symmetry ? kAxisX : 0) |
         (MirrorCorrelation(gray, 0) >= min_symmetry ? kAxisY : 0);
}

// Differing bits among those of even frequency along `axes`. PDQ bit 16*i+j
// is the coefficient of vertical frequency i+1 and horizontal frequency j+1.
int StableDistance(const fp::Hash256& a, const fp::Hash256& b, int axes, int* compared) {
  int d = 0, n = 0;
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      if ((axes & kAxisX) && j % 2 == 0) continue;
      if ((axes & kAxisY) && i % 2 == 0) continue;
      ++n;
      d += a.GetBit(16 * i + j) != b.GetBit(16 * i + j);
    }
  }
  *compared = n;
  return d;
}

struct Reference {
  std::string file;
  std::string item;  // "r12" for r012.jpg
  std::string view;
  fp::Hash256 hash;
  int quality = 0;
  int axes = 0;
};

std::string ItemOf(const std::string& stem) {
  static const std::regex kItem("^r0*([0-9]+)$");
  std::smatch m;
  return std::regex_match(stem, m, kItem) ? "r" + m[1].str() : "";
}

std::vector<fs::path> FilesOf(const fs::path& path) {
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    for (const auto& entry : fs::recursive_directory_iterator(path))
      if (entry.is_regular_file()) files.push_back(entry.path());
  } else {
    files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  return files;
}

void PrintDistribution(const char* what, const std::map<int, int>& counts) {
  int total = 0;
  for (const auto& [bits, n] : counts) total += n;
  std::printf("%s pairs: %d; equivalent bits:count", what, total);
  for (const auto& [bits, n] : counts) std::printf(" %d:%d", bits, n);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  double min_symmetry = 0.9;
  int print_max = 31;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--min-symmetry" && i + 1 < argc) {
      min_symmetry = std::stod(argv[++i]);
    } else if (arg == "--print-max" && i + 1 < argc) {
      print_max = std::stoi(argv[++i]);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() < 2) {
    std::fprintf(stderr,
                 "usage: %s [--min-symmetry S] [--print-max BITS] REGISTERED_DIR QUERY_PATH...\n",
                 argv[0]);
    return 2;
  }
  fp::PdqHasher hasher;
  std::vector<Reference> refs;
  for (const fs::path& file : FilesOf(positional[0])) {
    const cv::Mat gray = cv::imread(file.string(), cv::IMREAD_GRAYSCALE);
    if (gray.empty()) continue;
    for (const fp::View& view : fp::NormalizedViews(gray)) {
      if (view.name != "full" && view.name != "trimmed") continue;
      const int axes = Axes(view.image, min_symmetry);
      if (axes == 0) continue;
      const fp::PdqHash pdq = hasher.Hash(view.image);
      refs.push_back({file.filename().string(), ItemOf(file.stem().string()), view.name, pdq.hash,
                      pdq.quality, axes});
    }
  }
  std::printf("symmetric references (min symmetry %.2f): %zu views\n", min_symmetry, refs.size());
  for (const Reference& r : refs)
    std::printf("  %s %s axes %d quality %d\n", r.file.c_str(), r.view.c_str(), r.axes, r.quality);

  std::map<int, int> true_counts, unrelated_counts, unrelated_beyond_radius;
  for (size_t p = 1; p < positional.size(); ++p) {
    for (const fs::path& file : FilesOf(positional[p])) {
      cv::Mat gray = cv::imread(file.string(), cv::IMREAD_GRAYSCALE);
      if (gray.empty()) continue;
      if (std::min(gray.cols, gray.rows) >= 512) {
        cv::Mat half;
        cv::resize(gray, half, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
        gray = half;
      }
      const std::string name = file.filename().string();
      // Best pair per (query file, reference): the closest of the query's views.
      std::map<size_t, std::pair<int, std::string>> best;
      std::map<size_t, int> best_full;
      for (const fp::View& view : fp::NormalizedViews(gray)) {
        const int axes = Axes(view.image, min_symmetry);
        if (axes == 0) continue;
        const fp::PdqHash pdq = hasher.Hash(view.image);
        for (size_t r = 0; r < refs.size(); ++r) {
          const int shared = axes & refs[r].axes;
          if (shared == 0 || std::min(pdq.quality, refs[r].quality) < 50) continue;
          int compared = 0;
          const int d = StableDistance(pdq.hash, refs[r].hash, shared, &compared);
          const int equivalent = d * 256 / compared;
          auto [it, inserted] = best.try_emplace(r, equivalent, view.name);
          if (inserted || equivalent < it->second.first) {
            it->second = {equivalent, view.name};
            best_full[r] = fp::HammingDistance(pdq.hash, refs[r].hash);
          }
        }
      }
      for (const auto& [r, value] : best) {
        const Reference& ref = refs[r];
        if (name == ref.file) continue;  // self
        const bool is_true =
            !ref.item.empty() && (name.rfind(ref.item + "_", 0) == 0 ||
                                  name.find("_" + ref.item + "_") != std::string::npos);
        (is_true ? true_counts : unrelated_counts)[value.first]++;
        if (!is_true && best_full[r] > 31) unrelated_beyond_radius[value.first]++;
        if (value.first <= print_max) {
          std::printf("%s %s view %s -> %s %s: %d equivalent bits (all 256: %d)\n",
                      is_true ? "TRUE" : "UNRELATED", file.string().c_str(), value.second.c_str(),
                      ref.file.c_str(), ref.view.c_str(), value.first, best_full[r]);
        }
      }
    }
  }
  PrintDistribution("true", true_counts);
  PrintDistribution("unrelated", unrelated_counts);
  PrintDistribution("unrelated, all 256 bits beyond 31", unrelated_beyond_radius);
  return 0;
}
