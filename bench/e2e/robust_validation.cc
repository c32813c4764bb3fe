// Issue 3's validation suite: registers a few hundred generated manga pages,
// scans pirate-style edits of them and unrelated pages of the same style, and
// reports recall per edit and false matches for
//   - "PDQ alone": a store registered without robust extras, scanned with the
//     full-page PDQ hash only (radius 31, dihedral variants on), and
//   - "Kagami": trimmed views, spread halves and local features with geometric
//     verification (the defaults of `kagami register` / `kagami scan`),
// side by side in one run. Usage:
//   kagami_bench_robust_validation [--pages N] [--per-edit K] [--unrelated M]
//                                  [--spreads S] [--threads T] [--keep DIR]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "folder_scan.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"
#include "kagami/synth/page_generator.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using kagami::synth::Edit;

constexpr int kWidth = 1000;
constexpr int kHeight = 1400;

void WriteJpeg(const fs::path& path, const cv::Mat& bgr, int quality) {
  std::vector<unsigned char> bytes = kagami::synth::EncodeJpeg(bgr, quality);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// Expected registered pages of a scanned file, encoded in its name:
// "r<i>_..." -> registered page i; "s<k>_..." -> registered spread k;
// "u_..." -> nothing (unrelated).
struct Expected {
  std::set<int> pages;
  std::set<int> spreads;
};
Expected Parse(const std::string& name) {
  Expected e;
  size_t pos = 0;
  while (pos < name.size()) {
    char kind = name[pos];
    size_t end = name.find('_', pos);
    if (end == std::string::npos) break;
    if (kind == 'r') e.pages.insert(std::atoi(name.c_str() + pos + 1));
    if (kind == 's') e.spreads.insert(std::atoi(name.c_str() + pos + 1));
    pos = end + 1;
  }
  return e;
}

struct Tally {
  int expected = 0;  // registered pages that should be found
  int found = 0;     // of those, found
  int wrong = 0;     // matches to a registered page that was not expected
  int scanned_pages = 0;
  double seconds = 0;
  std::map<std::string, int> methods;
};

struct Contender {
  std::string name;
  std::unique_ptr<kagami::index::Store> store;
  kagami::pipeline::ScanOptions scan;
};

Tally ScanFolder(Contender& c, const fs::path& folder) {
  Tally t;
  kagami::bench::FolderScan scan = kagami::bench::ScanFolderMatches(*c.store, folder, c.scan);
  t.scanned_pages = scan.pages;
  t.seconds = scan.seconds;
  auto& by_member = scan.by_member;
  for (const auto& entry : fs::directory_iterator(folder)) {
    std::string member = entry.path().filename().string();
    Expected e = Parse(member);
    t.expected += static_cast<int>(e.pages.size() + e.spreads.size());
    std::set<std::string> found;
    for (const auto& m : by_member[member]) {
      bool is_spread = m.ref.asset_path.find("registered_spreads") != std::string::npos;
      int idx = m.ref.page_index;
      bool expected = is_spread ? e.spreads.count(idx) > 0 : e.pages.count(idx) > 0;
      std::string key = (is_spread ? "s" : "r") + std::to_string(idx);
      if (expected) {
        if (found.insert(key).second) {
          ++t.found;
          ++t.methods[m.method];
        }
      } else {
        ++t.wrong;
      }
    }
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int pages = 300;
  int per_edit = 100;
  int unrelated = 300;
  int spreads = 30;
  int threads = 0;
  std::string keep;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--pages")
      pages = std::atoi(argv[i + 1]);
    else if (flag == "--per-edit")
      per_edit = std::atoi(argv[i + 1]);
    else if (flag == "--unrelated")
      unrelated = std::atoi(argv[i + 1]);
    else if (flag == "--spreads")
      spreads = std::atoi(argv[i + 1]);
    else if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--keep")
      keep = argv[i + 1];
  }
  per_edit = std::min(per_edit, pages);
  fs::path root = keep.empty()
                      ? fs::temp_directory_path() / ("kagami-robust-" + std::to_string(getpid()))
                      : fs::path(keep);
  fs::create_directories(root / "registered");
  fs::create_directories(root / "registered_spreads");

  std::printf("generating %d pages, %d spreads, %d unrelated pages (%dx%d) in %s\n", pages, spreads,
              unrelated, kWidth, kHeight, root.c_str());
  std::vector<cv::Mat> registered;
  for (int i = 0; i < pages; ++i) {
    registered.push_back(kagami::synth::GenerateMangaPage(1 + i, kWidth, kHeight));
    char name[32];
    std::snprintf(name, sizeof name, "p%04d.jpg", i);
    WriteJpeg(root / "registered" / name, registered.back(), 90);
  }
  std::vector<cv::Mat> spread_pages;
  for (int k = 0; k < spreads; ++k) {
    cv::Mat spread = kagami::synth::MakeSpread(
        kagami::synth::GenerateMangaPage(500000 + 2 * k, kWidth, kHeight),
        kagami::synth::GenerateMangaPage(500001 + 2 * k, kWidth, kHeight));
    spread_pages.push_back(spread);
    char name[32];
    std::snprintf(name, sizeof name, "s%04d.jpg", k);
    WriteJpeg(root / "registered_spreads" / name, spread, 90);
  }

  // Query sets.
  std::vector<std::pair<std::string, fs::path>> sets;
  std::mt19937 pick(12345);
  auto sample = [&](int n) {
    std::vector<int> idx(pages);
    for (int i = 0; i < pages; ++i) idx[i] = i;
    std::shuffle(idx.begin(), idx.end(), pick);
    idx.resize(std::min(n, pages));
    return idx;
  };
  const std::vector<Edit> edits = {Edit::kJpegQ30,     Edit::kRescale50, Edit::kRescale150,
                                   Edit::kCrop5,       Edit::kCrop10,    Edit::kCrop20,
                                   Edit::kCropRandom,  Edit::kPad4x3,    Edit::kPad16x9,
                                   Edit::kRotate2,     Edit::kRotate5,   Edit::kCreditsStrip,
                                   Edit::kBalloonText, Edit::kMirror,    Edit::kWatermarkStrip,
                                   Edit::kGrayscale,   Edit::kCrop3};
  for (Edit edit : edits) {
    fs::path dir = root / ("q_" + std::string(kagami::synth::EditName(edit)));
    fs::create_directories(dir);
    for (int i : sample(per_edit)) {
      cv::Mat edited = kagami::synth::ApplyEdit(registered[i], edit, 1000 + i);
      WriteJpeg(dir / ("r" + std::to_string(i) + "_.jpg"), edited,
                edit == Edit::kJpegQ30 ? 30 : 85);
    }
    sets.emplace_back(std::string(kagami::synth::EditName(edit)), dir);
  }
  {
    fs::path dir = root / "q_spread";
    fs::create_directories(dir);
    std::vector<int> idx = sample(std::min(pages, 2 * (per_edit / 2)));
    for (size_t j = 0; j + 1 < idx.size(); j += 2) {
      // Right-to-left reading: the first page sits on the right.
      cv::Mat spread = kagami::synth::MakeSpread(registered[idx[j + 1]], registered[idx[j]]);
      WriteJpeg(dir / ("r" + std::to_string(idx[j]) + "_r" + std::to_string(idx[j + 1]) + "_.jpg"),
                spread, 85);
    }
    sets.emplace_back("two_page_spread", dir);
  }
  {
    fs::path dir = root / "q_split";
    fs::create_directories(dir);
    for (int k = 0; k < spreads; ++k) {
      const cv::Mat& s = spread_pages[k];
      int half = s.cols / 2;
      WriteJpeg(dir / ("s" + std::to_string(k) + "_L.jpg"), s(cv::Rect(0, 0, half, s.rows)).clone(),
                85);
      WriteJpeg(dir / ("s" + std::to_string(k) + "_R.jpg"),
                s(cv::Rect(half, 0, s.cols - half, s.rows)).clone(), 85);
    }
    sets.emplace_back("split_spread", dir);
  }
  fs::path unrelated_dir = root / "q_unrelated";
  fs::create_directories(unrelated_dir);
  for (int i = 0; i < unrelated; ++i) {
    WriteJpeg(unrelated_dir / ("u" + std::to_string(i) + "_.jpg"),
              kagami::synth::GenerateMangaPage(900000 + i, kWidth, kHeight), 85);
  }

  // Two stores: plain PDQ, and Kagami's robust registration.
  std::vector<Contender> contenders(2);
  contenders[0].name = "PDQ alone";
  contenders[1].name = "Kagami";
  for (int c = 0; c < 2; ++c) {
    fs::path data = root / (c == 0 ? "data-pdq" : "data-kagami");
    fs::remove_all(data);
    auto store = kagami::index::Store::Open(data);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 2;
    }
    contenders[c].store = std::move(store).value();
    kagami::pipeline::RegisterOptions reg;
    reg.extract.threads = threads;
    reg.robust = c == 1;
    kagami::index::Work work{"bench", "Bench", "", kagami::index::WorkKind::kManga, {}};
    auto start = Clock::now();
    auto summary = kagami::pipeline::RegisterWork(
        *contenders[c].store, work,
        {(root / "registered").string(), (root / "registered_spreads").string()}, reg);
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (!summary.ok()) {
      std::fprintf(stderr, "%s\n", summary.status().ToString().c_str());
      return 2;
    }
    std::printf("register (%s): %d pages in %.1f s (%.1f pages/s)\n", contenders[c].name.c_str(),
                summary->units_added, secs, summary->units_added / secs);
    contenders[c].scan.extract.threads = threads;
    contenders[c].scan.local_sample = 1;  // recall per page (one folder per edit)
    if (c == 0) {
      contenders[c].scan.robust.local = kagami::index::LocalStage::kNever;
      contenders[c].scan.robust.normalized_views = false;
    }
  }

  std::printf(
      "\n| edit | pages | PDQ alone recall | Kagami recall | Kagami by method | wrong matches (PDQ "
      "/ Kagami) |\n");
  std::printf("|---|---:|---:|---:|---|---:|\n");
  double seconds[2] = {0, 0};
  int scanned[2] = {0, 0};
  for (const auto& [name, dir] : sets) {
    Tally t[2];
    for (int c = 0; c < 2; ++c) {
      t[c] = ScanFolder(contenders[c], dir);
      seconds[c] += t[c].seconds;
      scanned[c] += t[c].scanned_pages;
    }
    std::string methods;
    for (const auto& [m, n] : t[1].methods) methods += m + " " + std::to_string(n) + ", ";
    if (!methods.empty()) methods.resize(methods.size() - 2);
    std::printf("| %s | %d | %.1f%% | %.1f%% | %s | %d / %d |\n", name.c_str(), t[1].scanned_pages,
                100.0 * t[0].found / std::max(1, t[0].expected),
                100.0 * t[1].found / std::max(1, t[1].expected), methods.c_str(), t[0].wrong,
                t[1].wrong);
  }
  Tally u[2];
  for (int c = 0; c < 2; ++c) u[c] = ScanFolder(contenders[c], unrelated_dir);
  long long comparisons = static_cast<long long>(unrelated) * (pages + spreads);
  std::printf("\nunrelated pages: %d scanned against %d registered pages = %lld page comparisons\n",
              unrelated, pages + spreads, comparisons);
  for (int c = 0; c < 2; ++c) {
    std::printf(
        "  %-9s false matches: %d (%.3f per 10,000 comparisons); scan speed on unrelated pages "
        "%.1f pages/s\n",
        contenders[c].name.c_str(), u[c].wrong, 1e4 * u[c].wrong / comparisons,
        u[c].scanned_pages / u[c].seconds);
  }
  for (int c = 0; c < 2; ++c) {
    std::printf("  %-9s scan speed over all edited sets: %.1f pages/s\n",
                contenders[c].name.c_str(), scanned[c] / seconds[c]);
  }
  if (keep.empty()) fs::remove_all(root);
  return 0;
}
