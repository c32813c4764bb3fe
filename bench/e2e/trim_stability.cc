// How far a page's trimmed rect (fingerprint::TrimUniformBorders) moves
// between the scale registration decodes a page to and the scales its copies
// come at, on real pages, and how far a query's blurred hash then is from the
// registered one with and without the trim variants
// (fingerprint::TrimVariantRects).
//
// For each image: the reference is the page area-reduced to 0.5 (a JPEG's
// reduced-scale decode at registration), trimmed; the copies are the page at
// 1.0, 0.7, 0.4 and 0.3, alone and inside a white margin of 1/12 per side.
// A copy "moves" when any side of its trimmed rect, relative to the page, is
// more than 1% (2.5%) of the extent from the reference's. Rules measured: the
// default; a later round's edge band never furniture; a later round's gap
// floor of 1 px; trimming on a copy reduced to a fixed long side (256, 320,
// 400, 512 px) before the decision.
//
// Then, per copy at 0.4 and 0.3 re-encoded at JPEG q40 (the calibration's
// small re-encode): the blurred hash's distance from the registered page's
// (blurred_pdq.h), of the default trim alone and of the nearest of the
// default trim and its variants; counts within 31 bits.
//
// Usage: kagami_bench_trim_stability IMAGE...
// (bench/RESULTS.md, "Trim variants": the calibration corpora's registered
// typeset and Japanese pages, tests/data/real)
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/blurred_pdq.h"
#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/fingerprint/pdq_hasher.h"

namespace {

using kagami::fingerprint::TrimOptions;

struct Rule {
  std::string name;
  TrimOptions options;
  int working_long_side = 0;  // trim on a copy reduced to this long side first
};

// Trimmed rect of `gray` by `rule`, as fractions of the image (l, t, r, b).
std::array<double, 4> Relative(const cv::Mat& gray, const Rule& rule, int ox, int oy, int w,
                               int h) {
  cv::Mat image = gray;
  double sx = 1, sy = 1;
  const int long_side = std::max(gray.cols, gray.rows);
  if (rule.working_long_side > 0 && long_side > rule.working_long_side) {
    const double s = static_cast<double>(rule.working_long_side) / long_side;
    cv::resize(gray, image,
               cv::Size(std::max(1, static_cast<int>(std::lround(gray.cols * s))),
                        std::max(1, static_cast<int>(std::lround(gray.rows * s)))),
               0, 0, cv::INTER_AREA);
    sx = static_cast<double>(gray.cols) / image.cols;
    sy = static_cast<double>(gray.rows) / image.rows;
  }
  const cv::Rect r = kagami::fingerprint::TrimUniformBorders(image, rule.options);
  return {(r.x * sx - ox) / w, (r.y * sy - oy) / h, (r.br().x * sx - ox) / w,
          (r.br().y * sy - oy) / h};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IMAGE...\n", argv[0]);
    return 2;
  }
  std::vector<Rule> rules;
  rules.push_back({"default", {}, 0});
  {
    Rule r{"later round: edge band is content", {}, 0};
    r.options.edge_is_content = true;
    rules.push_back(r);
    Rule f{"later round: gap floor 1 px", {}, 0};
    f.options.later_gap_floor = 1;
    rules.push_back(f);
  }
  for (int side : {256, 320, 400, 512})
    rules.push_back({"trimmed at long side " + std::to_string(side), {}, side});

  std::vector<int> moved1(rules.size()), moved25(rules.size());
  int images = 0;
  int small_copies = 0, default_within = 0, variants_within = 0, variants_closer = 0;
  int variant_views = 0;
  double trim_ms = 0, variants_ms = 0;
  kagami::fingerprint::PdqHasher hasher;
  for (int a = 1; a < argc; ++a) {
    const cv::Mat page = cv::imread(argv[a], cv::IMREAD_GRAYSCALE);
    if (page.empty()) {
      std::fprintf(stderr, "cannot read %s\n", argv[a]);
      continue;
    }
    ++images;
    cv::Mat reference;
    cv::resize(page, reference, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    for (size_t k = 0; k < rules.size(); ++k) {
      const auto want = Relative(reference, rules[k], 0, 0, reference.cols, reference.rows);
      double worst = 0;
      for (const double scale : {1.0, 0.7, 0.4, 0.3}) {
        cv::Mat copy;
        cv::resize(page, copy, cv::Size(), scale, scale, cv::INTER_AREA);
        for (const bool margin : {false, true}) {
          cv::Mat shown = copy;
          int mx = 0, my = 0;
          if (margin) {
            mx = copy.cols / 12;
            my = copy.rows / 12;
            cv::copyMakeBorder(copy, shown, my, my, mx, mx, cv::BORDER_CONSTANT, cv::Scalar(255));
          }
          const auto got = Relative(shown, rules[k], mx, my, copy.cols, copy.rows);
          for (int i = 0; i < 4; ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
        }
      }
      moved1[k] += worst > 0.01;
      moved25[k] += worst > 0.025;
    }
    {
      // The variants' cost on a page at the decoded scale: two more trims,
      // and a blurred hash for each variant that differs.
      const auto start = std::chrono::steady_clock::now();
      const cv::Rect trimmed = kagami::fingerprint::TrimUniformBorders(reference);
      const auto mid = std::chrono::steady_clock::now();
      for (const cv::Rect& r : kagami::fingerprint::TrimVariantRects(reference, trimmed)) {
        kagami::fingerprint::BlurredPdq(hasher, reference(r));
        ++variant_views;
      }
      const auto end = std::chrono::steady_clock::now();
      trim_ms += std::chrono::duration<double, std::milli>(mid - start).count();
      variants_ms += std::chrono::duration<double, std::milli>(end - mid).count();
    }
    const cv::Rect reg_trim = kagami::fingerprint::TrimUniformBorders(reference);
    const auto registered = kagami::fingerprint::BlurredPdq(hasher, reference(reg_trim));
    for (const double scale : {0.4, 0.3}) {
      cv::Mat copy;
      cv::resize(page, copy, cv::Size(), scale, scale, cv::INTER_AREA);
      std::vector<uchar> jpeg;
      cv::imencode(".jpg", copy, jpeg, {cv::IMWRITE_JPEG_QUALITY, 40});
      copy = cv::imdecode(jpeg, cv::IMREAD_GRAYSCALE);
      const cv::Rect trimmed = kagami::fingerprint::TrimUniformBorders(copy);
      auto distance = [&](const cv::Rect& r) {
        return kagami::fingerprint::HammingDistance(
            kagami::fingerprint::BlurredPdq(hasher, copy(r)).hash, registered.hash);
      };
      const int plain = distance(trimmed);
      int best = plain;
      for (const cv::Rect& r : kagami::fingerprint::TrimVariantRects(copy, trimmed))
        best = std::min(best, distance(r));
      ++small_copies;
      default_within += plain <= 31;
      variants_within += best <= 31;
      variants_closer += best < plain;
    }
  }
  std::printf(
      "%d images; trimmed rect of copies at 1.0/0.7/0.4/0.3, alone and in a margin, "
      "against the page at 0.5\n",
      images);
  std::printf("| rule | images whose trim moves > 1%% | > 2.5%% |\n|---|---:|---:|\n");
  for (size_t k = 0; k < rules.size(); ++k)
    std::printf("| %s | %d | %d |\n", rules[k].name.c_str(), moved1[k], moved25[k]);
  std::printf(
      "\nsmall re-encodes (0.4 and 0.3, JPEG q40): %d; blurred hash within 31 bits of the "
      "registered page's: default trim %d, default or a variant %d (a variant nearer: "
      "%d)\n",
      small_copies, default_within, variants_within, variants_closer);
  std::printf(
      "cost at the 0.5 decode: the default trim %.3f ms a page; the variants (two trims, "
      "%d blurred hashes in all) %.3f ms a page\n",
      trim_ms / std::max(1, images), variant_views, variants_ms / std::max(1, images));
  return 0;
}
