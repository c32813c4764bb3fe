// PDQ of a page blurred before hashing: scale-stable hashes of pages of type?
//
// PDQ reduces a page to 64x64 with two passes of a box filter about
// size/128 wide (Jarosz), which barely attenuates the frequency of lines of
// type: a page 440 px tall has a line every ~12 px, a 64x64 sample every ~7,
// so the lines alias, and a copy of the page at another scale aliases
// differently (its trimmed hash tens of bits from the registered one). This
// measures PDQ of the trimmed page blurred first by a Gaussian of sigma =
// k x (the side / 64) on each axis, on both sides of each pair, against plain
// PDQ (k = 0) (bench/RESULTS.md section 11, "PDQ of a page blurred before
// hashing").
//
// Usage: kagami_bench_smoothed_pdq [--k 0,0.5,0.8] REGISTERED_DIR QUERY_DIR...
//   REGISTERED_DIR holds r000.jpg, r001.jpg, ... (any number of digits) and
//   each QUERY_DIR queries named r<i>_... (the work folders of
//   kagami_bench_real_calibration and kagami_bench_false_match_sweep). Both are
//   decoded as a scan decodes them (reduced-scale JPEG, short side >= 256) and
//   trimmed (TrimUniformBorders). True pairs: each query against its
//   registered page; unrelated pairs: each query against every other
//   registered page (an unrelated query, "u<i>_...", against all). Prints the
//   distance distributions per folder and k.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <string>
#include <vector>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/ingest/image_decoder.h"

namespace fs = std::filesystem;
namespace fp = kagami::fingerprint;
namespace ki = kagami::ingest;

namespace {

// The gray pixels of `path` as a scan decodes them; empty on failure.
cv::Mat DecodeLikeScan(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                         std::istreambuf_iterator<char>());
  ki::DecodeOptions options;
  options.mode = ki::DecodeMode::kFast;
  kagami::Result<ki::DecodedImage> decoded =
      ki::DecodeImage(bytes.data(), bytes.size(), options, ki::IngestLimits{});
  if (!decoded.ok()) return {};
  cv::Mat gray = decoded->pixels;
  if (gray.channels() == 3) cv::cvtColor(decoded->pixels, gray, cv::COLOR_RGB2GRAY);
  return gray;
}

fp::Hash256 Smoothed(fp::PdqHasher& hasher, const cv::Mat& gray, double k) {
  if (k <= 0) return hasher.Hash(gray).hash;
  cv::Mat blurred;
  cv::GaussianBlur(gray, blurred, cv::Size(), k * gray.cols / 64.0, k * gray.rows / 64.0);
  return hasher.Hash(blurred).hash;
}

// The registered item a query shows; -2 for an unrelated query ("u<i>_..."),
// -1 for anything else (skipped).
int ItemOfQuery(const std::string& name) {
  static const std::regex kQuery("^r([0-9]+)_.*");
  std::smatch m;
  if (std::regex_match(name, m, kQuery)) return std::stoi(m[1].str());
  return name.rfind("u", 0) == 0 ? -2 : -1;
}

std::string Summary(std::vector<int> d) {
  if (d.empty()) return "none";
  std::sort(d.begin(), d.end());
  auto at = [&](double q) { return d[std::min(d.size() - 1, static_cast<size_t>(q * d.size()))]; };
  const auto within = std::count_if(d.begin(), d.end(), [](int x) { return x <= 31; });
  char line[160];
  std::snprintf(line, sizeof line, "n %zu, min %d, p5 %d, median %d, p95 %d, max %d, <= 31: %ld",
                d.size(), d.front(), at(0.05), at(0.5), at(0.95), d.back(),
                static_cast<long>(within));
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<double> ks = {0, 0.5, 0.8};
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--k" && i + 1 < argc) {
      ks.clear();
      std::string list = argv[++i];
      for (size_t p = 0; p <= list.size();) {
        const size_t comma = std::min(list.find(',', p), list.size());
        ks.push_back(std::stod(list.substr(p, comma - p)));
        p = comma + 1;
      }
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() < 2) {
    std::fprintf(stderr, "usage: %s [--k K,K,...] REGISTERED_DIR QUERY_DIR...\n", argv[0]);
    return 2;
  }
  fp::PdqHasher hasher;
  // Registered hashes per k, by item.
  std::map<int, std::vector<fp::Hash256>> registered;
  static const std::regex kRegistered("^r0*([0-9]+)\\.(jpg|png)$");
  for (const auto& entry : fs::directory_iterator(positional[0])) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, kRegistered)) continue;
    const cv::Mat gray = DecodeLikeScan(entry.path());
    if (gray.empty()) continue;
    const cv::Mat trimmed = gray(fp::TrimUniformBorders(gray));
    std::vector<fp::Hash256>& hashes = registered[std::stoi(m[1].str())];
    for (double k : ks) hashes.push_back(Smoothed(hasher, trimmed, k));
  }
  std::printf("registered pages: %zu\n", registered.size());
  for (size_t p = 1; p < positional.size(); ++p) {
    std::vector<std::vector<int>> true_d(ks.size()), unrelated_d(ks.size());
    for (const auto& entry : fs::directory_iterator(positional[p])) {
      const int item = ItemOfQuery(entry.path().filename().string());
      if (item == -1 || (item >= 0 && registered.count(item) == 0)) continue;
      const cv::Mat gray = DecodeLikeScan(entry.path());
      if (gray.empty()) continue;
      const cv::Mat trimmed = gray(fp::TrimUniformBorders(gray));
      for (size_t j = 0; j < ks.size(); ++j) {
        const fp::Hash256 h = Smoothed(hasher, trimmed, ks[j]);
        for (const auto& [other, hashes] : registered) {
          (other == item ? true_d : unrelated_d)[j].push_back(fp::HammingDistance(h, hashes[j]));
        }
      }
    }
    std::printf("%s\n", positional[p].c_str());
    for (size_t j = 0; j < ks.size(); ++j) {
      std::printf("  k %.2f true: %s\n", ks[j], Summary(true_d[j]).c_str());
      std::printf("  k %.2f unrelated: %s\n", ks[j], Summary(unrelated_d[j]).c_str());
    }
  }
  return 0;
}
