// The colour signature's cost at registration (index::AnalyzeForRegistration):
// a JPEG decoded again in colour at a reduced scale (ingest kFastColour, short
// side >= fingerprint::kColourLongSide / 2) and its signature, beside the
// luminance decode registration already does (kFast, short side >= 256), on
// the same files in one run. Milliseconds per page, one thread, each file
// decoded `--rounds` times (best of the rounds per file, summed).
//
//   build/bench/kagami_bench_colour_cost [--rounds N] FILE...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "kagami/fingerprint/colour_signature.h"
#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/limits.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: kagami_bench_colour_cost [--rounds N] FILE...\n");
    return 2;
  }
  const kagami::ingest::IngestLimits limits;
  kagami::ingest::DecodeOptions gray;
  gray.mode = kagami::ingest::DecodeMode::kFast;
  kagami::ingest::DecodeOptions colour;
  colour.mode = kagami::ingest::DecodeMode::kFastColour;
  colour.min_short_side = kagami::fingerprint::kColourLongSide / 2;
  double gray_ms = 0, colour_ms = 0, signature_ms = 0;
  int pages = 0, chromatic = 0;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in),
                                           std::istreambuf_iterator<char>()};
    double best_gray = std::numeric_limits<double>::max(), best_colour = best_gray,
           best_signature = best_gray;
    bool ok = true;
    for (int r = 0; r < rounds && ok; ++r) {
      auto t0 = Clock::now();
      auto g = kagami::ingest::DecodeImage(bytes.data(), bytes.size(), gray, limits);
      auto t1 = Clock::now();
      auto c = kagami::ingest::DecodeImage(bytes.data(), bytes.size(), colour, limits);
      auto t2 = Clock::now();
      if (!g.ok() || !c.ok()) {
        std::fprintf(stderr, "%s: not decoded\n", f.c_str());
        ok = false;
        break;
      }
      const kagami::fingerprint::ColourSignature s =
          kagami::fingerprint::MakeColourSignature(c->pixels);
      auto t3 = Clock::now();
      best_gray = std::min(best_gray, Ms(t1 - t0));
      best_colour = std::min(best_colour, Ms(t2 - t1));
      best_signature = std::min(best_signature, Ms(t3 - t2));
      if (r == 0 && s.chromatic >= 0.02) ++chromatic;
    }
    if (!ok) continue;
    gray_ms += best_gray;
    colour_ms += best_colour;
    signature_ms += best_signature;
    ++pages;
  }
  if (pages == 0) return 1;
  std::printf(
      "%d pages (%d in colour): luminance decode (kFast, registration's) %.2f ms/page; "
      "colour decode (kFastColour) %.2f ms/page; signature %.3f ms/page\n",
      pages, chromatic, gray_ms / pages, colour_ms / pages, signature_ms / pages);
  return 0;
}
