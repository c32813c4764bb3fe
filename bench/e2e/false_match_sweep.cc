// False-match sweep on real images (issue 7: "0 false matches"; a finding is
// an accusation). Registers a catalog of real items with the `register`
// defaults (pipeline::RegisterWork), scans many unrelated real images (never
// registered, disjoint from the catalog) with the `scan` defaults
// (pipeline::Scan), and reports
//   1. every false match, with the query, the registered item, the method and
//      all the verification's measurements;
//   2. the margin: for every unrelated query, the strongest local candidate's
//      inliers (from the local stage's trace) and the nearest PDQ distance
//      (every normalised view, 8 dihedral variants, against every indexed hash
//      of every registered page), per pair of query group and registered
//      category; and the same for true pairs (a few edits of registered items)
//      scanned by the same store.
//
// Sources (bench/e2e/real_sources.h; Debian packages only, opencv-doc and
// scikit-image are never read):
//   photo    gnome-backgrounds and plasma-workspace-wallpapers: even items
//            registered; odd items, the dark twins of odd gnome items, and
//            crops/resizes of the odd items are the unrelated queries
//   lineart  openclipart-png drawings of at least 400x200 px, distinct bytes,
//            in a fixed shuffled order: the first --max registered, the next
//            --unrelated-max unrelated (plus a corner crop of every 4th)
//   typeset  gnuplot.pdf and asymptote.pdf (80 dpi, gray): even pages
//            registered; odd pages of the same manuals (same style: the
//            hardest case) and pages of valgrind's, nettle's and gnucobol's
//            manuals unrelated (plus the top half of every 4th)
//   cjk      generated text pages (fonts-noto-cjk Sans, seed 7): pages
//            0..max-1 registered; later pages of the same generator (same
//            font and layout) and Serif pages unrelated (plus crops)
//
// Usage: kagami_bench_false_match_sweep [--work DIR] [--threads T] [--max N]
//     [--unrelated-max N] [--true-max N] [--photo-crops N] [--keep]
//   --max: registered items per category (default 120; photos are limited by
//     the source: 19); --unrelated-max: unrelated items per category before
//     crops (default 700); --true-max: registered items per category whose
//     edits (crop 10% per side, rotate 4 degrees, screenshot, white margin,
//     two pages side by side) are scanned as true pairs (default 20);
//     --photo-crops: crops/resizes per unrelated photo (default 10). --keep
//     reuses the query folders and the store of an earlier run with the same
//     flags (rescans only). --appearance-min-inliers: RobustOptions'
//     photometric check's inlier floor (0: off). --work-per-page: every
//     registered page its own work, so that twins (the same picture in
//     another work, RobustOptions::twin_radius) are reported, and counted as
//     false or wrong matches like any other.
// Writes WORK/queries.csv (one line per query: group, nearest PDQ distance,
// strongest local candidate) and WORK/trace/*.jsonl (the local stage's trace).
// Exit status 1 when any unrelated query matched, 0 otherwise, 2 on errors.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "folder_scan.h"
#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "kagami/ingest/image_decoder.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"
#include "real_sources.h"

namespace {

namespace fs = std::filesystem;
namespace fp = kagami::fingerprint;
namespace real = kagami::bench::real;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Item {
  std::string name;      // source name (file stem, page)
  std::string category;  // photo, lineart, typeset, cjk
  std::string group;     // finer source group of a query (e.g. typeset_same_manual)
  cv::Mat bgr;           // empty: read from `file` when needed
  fs::path file{};
};

// One scanned query file and what the sweep measured for it.
struct Query {
  std::string file;   // folder/file under WORK
  std::string group;  // unrelated group, or "true:<edit>"
  std::string category;
  std::string source;  // source item's name
  int truth = -1;      // registered item it shows (true pairs), -1 when unrelated
  // Every registered item the file shows (a spread's file has one Query per
  // page; only the first, `primary`, counts the file's wrong matches).
  std::set<int> file_truths;
  bool primary = true;
  // Local stage (trace): the strongest candidate by inliers (sane fits first
  // on ties), and the strongest sane fit.
  bool local_ran = false;
  int candidates = 0;
  int best_inliers = 0;
  int best_item = -1;
  bool best_sane = false;
  nlohmann::json best;  // its trace record
  int sane_inliers = 0;
  int sane_item = -1;
  nlohmann::json sane;
  // The true page's candidate (true pairs).
  int true_inliers = -1;
  bool true_accepted = false;
  // PDQ: nearest registered page over views of quality >= 50.
  int pdq_distance = 257;
  int pdq_item = -1;
  std::string pdq_view;
  int pdq_view_quality = 0, pdq_ref_quality = 0;
  int true_pdq_distance = 257;  // to the true page (true pairs)
  // Scan results.
  std::vector<kagami::pipeline::PageMatchRecord> matches;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

uint64_t Fnv(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

// A file decoded as `scan` decodes it for PDQ (ingest defaults), in gray.
cv::Mat DecodeLikeScan(const fs::path& path) {
  const std::string bytes = real::ReadBytes(path);
  auto decoded = kagami::ingest::DecodeImage(reinterpret_cast<const uint8_t*>(bytes.data()),
                                             bytes.size(), {}, {});
  if (!decoded.ok()) return {};
  return kagami::index::ToGray(decoded->pixels).clone();
}

void WriteJpeg(const fs::path& path, const cv::Mat& bgr, int quality) {
  cv::imwrite(path.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, quality});
}

std::string Describe(const kagami::pipeline::PageMatchRecord& m) {
  const fp::Verification& v = m.verification;
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "%s, view %s, %d bits (quality %d view / %d registered), %d inliers, coverage "
                "%.3f, overlap coverage %.3f, cells %d, scale %.2f, aspect %.2f, rotation %.1f, "
                "perspective %.3f, frame %s, correspondences %d",
                m.method.c_str(), m.view.c_str(), m.hit.distance, m.view_quality, m.ref.quality,
                m.inliers, m.coverage, v.overlap_coverage, v.grid_cells, v.scale, v.anisotropy,
                v.rotation_deg, v.perspective, m.content_frame ? "content" : "page", v.matches);
  std::string colour;
  if (m.colour_disagreement >= 0) {
    char c[48];
    std::snprintf(c, sizeof c, ", colour disagreement %.3f", m.colour_disagreement);
    colour = c;
  }
  if (m.twin_of != 0)
    return std::string(buf) + colour + ", twin of unit " + std::to_string(m.twin_of) + " (" +
           std::to_string(m.twin_bits) + " registered bits apart)";
  return buf + colour;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  fs::path work = fs::temp_directory_path() / "kagami-false-match-sweep";
  int threads = 1;
  int max_registered = 120;
  int unrelated_max = 700;
  int true_max = 20;
  int photo_crops = 10;
  bool keep = false;
  bool work_per_page = false;
  int appearance_min_inliers = kagami::index::RobustOptions{}.appearance_min_inliers;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (flag == "--work" && i + 1 < argc)
      work = argv[++i];
    else if (flag == "--threads")
      threads = next();
    else if (flag == "--max")
      max_registered = next();
    else if (flag == "--unrelated-max")
      unrelated_max = next();
    else if (flag == "--true-max")
      true_max = next();
    else if (flag == "--photo-crops")
      photo_crops = next();
    else if (flag == "--keep")
      keep = true;
    else if (flag == "--work-per-page")
      work_per_page = true;
    else if (flag == "--appearance-min-inliers")
      appearance_min_inliers = next();
    else {
      std::fprintf(stderr,
                   "usage: %s [--work DIR] [--threads T] [--max N] [--unrelated-max N] "
                   "[--true-max N] [--photo-crops N] [--keep] [--appearance-min-inliers N] "
                   "[--work-per-page]\n",
                   argv[0]);
      return 2;
    }
  }
  fs::create_directories(work);
  const auto t_all = Clock::now();

  // ---- corpus ----
  // Unrelated items are written as they are made (JPEG q85, one folder per
  // group) and not kept in memory.
  auto t0 = Clock::now();
  std::vector<Item> registered;
  std::vector<Query> queries;
  std::vector<std::string> folders;
  auto folder_for = [&](const std::string& group) {
    const std::string f = "q_" + group;
    if (std::find(folders.begin(), folders.end(), f) == folders.end()) {
      folders.push_back(f);
      if (!keep) {
        fs::remove_all(work / f);
        fs::create_directories(work / f);
      }
    }
    return f;
  };
  struct Sink {
    std::function<void(const Item&)> emit;
    void push_back(const Item& it) { emit(it); }
  } unrelated;
  unrelated.emit = [&](const Item& it) {
    const std::string f = folder_for(it.group);
    char name[32];
    std::snprintf(name, sizeof name, "u%05zu.jpg", queries.size());
    if (!keep) {
      cv::Mat m = it.bgr.empty() ? cv::imread(it.file.string(), cv::IMREAD_COLOR) : it.bgr;
      if (m.empty()) return;
      WriteJpeg(work / f / name, m, 85);
    }
    Query q;
    q.file = f + "/" + name;
    q.group = it.group;
    q.category = it.category;
    q.source = it.name;
    queries.push_back(q);
  };
  std::mt19937 rng(11);
  auto per_category = [&](const std::vector<Item>& v, const std::string& c) {
    return static_cast<int>(
        std::count_if(v.begin(), v.end(), [&](const Item& it) { return it.category == c; }));
  };
  // Random crops and resizes of an unrelated image (never of a registered one).
  auto add_crops = [&](const Item& it, int n, const std::string& group) {
    for (int k = 0; k < n; ++k) {
      cv::Mat m;
      if (k % 5 == 4) {
        cv::resize(it.bgr, m, cv::Size(), 0.4, 0.4, cv::INTER_AREA);
      } else {
        const double w = 0.35 + 0.45 * (rng() % 1000) / 1000.0;
        const double h = 0.35 + 0.45 * (rng() % 1000) / 1000.0;
        const double x = (1 - w) * (rng() % 1000) / 1000.0;
        const double y = (1 - h) * (rng() % 1000) / 1000.0;
        m = real::Crop(it.bgr, x, y, 1 - x - w, 1 - y - h);
      }
      unrelated.push_back({it.name + "_c" + std::to_string(k), it.category, group, m});
    }
  };
  {
    const std::vector<real::PhotoSource> photos = real::PhotoSources();
    for (size_t i = 0; i < photos.size(); ++i) {
      cv::Mat m = cv::imread(photos[i].path.string(), cv::IMREAD_COLOR);
      if (m.empty()) continue;
      Item it{photos[i].name, "photo", "photo", real::FitLongSide(m, 1200)};
      if (i % 2 == 0 && per_category(registered, "photo") < max_registered) {
        registered.push_back(it);
        continue;
      }
      if (i % 2 == 0) continue;
      unrelated.push_back(it);
      add_crops(it, photo_crops, "photo_crop");
      if (!photos[i].dark_twin.empty()) {
        cv::Mat d = cv::imread(photos[i].dark_twin.string(), cv::IMREAD_COLOR);
        if (!d.empty())
          unrelated.push_back(
              {photos[i].name + "_dark", "photo", "photo_dark_twin", real::FitLongSide(d, 1200)});
      }
    }
  }
  {
    // Drawings of at least 400x200 px with distinct bytes (openclipart has
    // byte-identical files under several names), in a fixed shuffled order.
    std::vector<fs::path> all = real::Sorted("/usr/share/openclipart", ".png");
    std::vector<fs::path> eligible;
    for (const fs::path& p : all) {
      const cv::Size s = real::PngSize(p);
      if (std::max(s.width, s.height) >= 400 && std::min(s.width, s.height) >= 200)
        eligible.push_back(p);
    }
    std::mt19937 shuffle_rng(5);
    std::shuffle(eligible.begin(), eligible.end(), shuffle_rng);
    std::set<uint64_t> seen;
    int n_reg = 0, n_unrel = 0;
    for (const fs::path& p : eligible) {
      if (n_reg >= max_registered && n_unrel >= unrelated_max) break;
      const std::string bytes = real::ReadBytes(p);
      if (!seen.insert(Fnv(bytes)).second) continue;
      if (keep && n_reg >= max_registered) {
        // The files exist: only the names are needed.
        unrelated.push_back({p.stem().string(), "lineart", "lineart", {}, {}});
        if (n_unrel % 4 == 3)
          unrelated.push_back({p.stem().string() + "_crop", "lineart", "lineart_crop", {}, {}});
        ++n_unrel;
        continue;
      }
      cv::Mat m = cv::imdecode(
          cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data())),
          cv::IMREAD_UNCHANGED);
      if (m.empty()) continue;
      Item it{p.stem().string(), "lineart", "lineart", real::FitLongSide(real::ToBgr(m), 1000)};
      if (n_reg < max_registered) {
        registered.push_back(it);
        ++n_reg;
      } else {
        unrelated.push_back(it);
        if (n_unrel % 4 == 3) {
          const int c = n_unrel / 4 % 4;
          unrelated.push_back(
              {it.name + "_crop", "lineart", "lineart_crop",
               real::Crop(it.bgr, c & 1 ? .2 : 0, c & 2 ? .2 : 0, c & 1 ? 0 : .2, c & 2 ? 0 : .2)});
        }
        ++n_unrel;
      }
    }
  }
  {
    // Registered: even pages of two manuals; unrelated: their odd pages and
    // other manuals' pages.
    struct Manual {
      const char* pdf;
      const char* tag;
      bool registered;  // its even pages are registered
    };
    const Manual manuals[] = {
        {"/usr/share/doc/gnuplot/gnuplot.pdf", "gnuplot", true},
        {"/usr/share/doc/asymptote/asymptote.pdf", "asy", true},
        {"/usr/share/doc/valgrind/valgrind_manual.pdf.gz", "valgrind", false},
        {"/usr/share/doc/nettle-dev/nettle.pdf.gz", "nettle", false},
        {"/usr/share/doc/gnucobol3/gnucobol.pdf.gz", "gnucobol", false},
    };
    const int reg_per_manual = (max_registered + 1) / 2;
    int n_unrel = 0;
    std::vector<Item> odd_pages, other_pages;
    for (const Manual& man : manuals) {
      // Pages from 5 on (past the title pages); registered manuals: enough
      // for their share of registered pages and as many odd pages.
      const int last =
          man.registered ? 5 + 2 * reg_per_manual + 2 * unrelated_max : 5 + unrelated_max;
      int n_reg = 0;
      for (const fs::path& p : real::RenderPdf(work, man.pdf, man.tag, 5, last)) {
        const int page =
            std::atoi(p.stem().string().substr(p.stem().string().rfind('-') + 1).c_str());
        Item it{std::string(man.tag) + "_p" + std::to_string(page),
                "typeset",
                man.registered ? "typeset_same_manual" : "typeset_other_manual",
                {},
                p};
        if (man.registered && page % 2 == 0) {
          if (n_reg < reg_per_manual && per_category(registered, "typeset") < max_registered) {
            it.bgr = cv::imread(p.string(), cv::IMREAD_COLOR);
            if (it.bgr.empty()) continue;
            registered.push_back(it);
            ++n_reg;
          }
        } else {
          (man.registered ? odd_pages : other_pages).push_back(it);
        }
      }
    }
    // Same-manual pages first (the hardest case), then the others.
    for (std::vector<Item>* v : {&odd_pages, &other_pages}) {
      for (Item& it : *v) {
        if (n_unrel >= unrelated_max) break;
        if (n_unrel % 4 == 3) {
          // The top half, as a page cut in two by a reader or a crop.
          if (!keep) it.bgr = cv::imread(it.file.string(), cv::IMREAD_COLOR);
          if (keep)
            unrelated.push_back({it.name + "_top", "typeset", "typeset_crop", {}, {}});
          else if (!it.bgr.empty())
            unrelated.push_back({it.name + "_top",
                                 "typeset",
                                 "typeset_crop",
                                 real::Crop(it.bgr, 0.05, 0.05, 0.05, 0.5),
                                 {}});
        }
        unrelated.push_back(std::move(it));
        ++n_unrel;
      }
    }
  }
  {
    real::CjkPageGenerator sans("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 7);
    real::CjkPageGenerator serif("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 8);
    if (sans.ok()) {
      for (int i = 0; i < max_registered; ++i)
        registered.push_back({"cjk_sans_" + std::to_string(i), "cjk", "cjk", sans.Page(i)});
      for (int i = 0; i < unrelated_max; ++i) {
        const bool use_serif = serif.ok() && i % 4 == 1;
        const int page = max_registered + i;
        Item it{(use_serif ? "cjk_serif_" : "cjk_sans_") + std::to_string(page), "cjk",
                use_serif ? "cjk_serif" : "cjk_same_font",
                keep        ? cv::Mat()
                : use_serif ? serif.Page(page)
                            : sans.Page(page)};
        if (i % 4 == 3 && keep)
          unrelated.push_back({it.name + "_crop", "cjk", "cjk_crop", {}, {}});
        else if (i % 4 == 3)
          unrelated.push_back(
              {it.name + "_crop", "cjk", "cjk_crop", real::Crop(it.bgr, 0.1, 0.2, 0.1, 0.3)});
        unrelated.push_back(std::move(it));
      }
    }
  }
  std::map<std::string, int> counts;
  for (const Item& r : registered) ++counts[r.category];
  std::printf("corpus (%.1f s): registered %zu:", Since(t0), registered.size());
  for (const auto& [c, n] : counts) std::printf(" %s %d", c.c_str(), n);
  counts.clear();
  for (const Query& u : queries) ++counts[u.group];
  std::printf("; unrelated %zu:", queries.size());
  for (const auto& [c, n] : counts) std::printf(" %s %d", c.c_str(), n);
  std::printf("\n");

  // ---- files ----
  t0 = Clock::now();
  const fs::path reg_dir = work / "registered";
  std::map<std::string, int> index_of_file;
  if (!keep) {
    fs::remove_all(reg_dir);
    fs::create_directories(reg_dir);
  }
  for (size_t i = 0; i < registered.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "r%04zu.jpg", i);
    if (!keep) WriteJpeg(reg_dir / name, registered[i].bgr, 90);
    index_of_file[name] = static_cast<int>(i);
  }
  // True pairs: edits of the first --true-max registered items per category.
  const std::pair<const char*, cv::Mat (*)(const cv::Mat&, int)> edits[] = {
      {"crop10_per_side", [](const cv::Mat& m, int) { return real::Crop(m, .1, .1, .1, .1); }},
      {"rotate4", [](const cv::Mat& m, int i) { return real::Rotate(m, i % 2 ? 4.0 : -4.0); }},
      {"screenshot", [](const cv::Mat& m, int i) { return real::Screenshot(m, i); }},
      {"white_margin",
       [](const cv::Mat& m, int) {
         cv::Mat out;
         cv::copyMakeBorder(m, out, m.rows / 12, m.rows / 12, m.cols / 12, m.cols / 12,
                            cv::BORDER_CONSTANT, cv::Scalar(255, 255, 255));
         return out;
       }},
  };
  {
    // Two registered pages of one category side by side (either order, gutter
    // 0 or 40 px): both are expected.
    const std::string f = folder_for("true_spread");
    std::map<std::string, std::vector<int>> by_cat;
    for (size_t i = 0; i < registered.size(); ++i)
      if (static_cast<int>(by_cat[registered[i].category].size()) < true_max)
        by_cat[registered[i].category].push_back(static_cast<int>(i));
    for (const auto& [cat, items] : by_cat) {
      for (size_t k = 0; k + 1 < items.size(); k += 2) {
        const int a = items[k + (k / 2) % 2], b = items[k + 1 - (k / 2) % 2];
        const int gutter = (k / 4) % 2 ? 40 : 0;
        const cv::Mat& ma = registered[a].bgr;
        const cv::Mat& mb = registered[b].bgr;
        const int h = std::max(ma.rows, mb.rows);
        cv::Mat ra, rb;
        cv::resize(ma, ra, cv::Size(ma.cols * h / ma.rows, h), 0, 0, cv::INTER_AREA);
        cv::resize(mb, rb, cv::Size(mb.cols * h / mb.rows, h), 0, 0, cv::INTER_AREA);
        cv::Mat out(h, ra.cols + gutter + rb.cols, CV_8UC3, cv::Scalar(255, 255, 255));
        ra.copyTo(out(cv::Rect(0, 0, ra.cols, h)));
        rb.copyTo(out(cv::Rect(ra.cols + gutter, 0, rb.cols, h)));
        const std::string name = "r" + std::to_string(a) + "_r" + std::to_string(b) + "_.jpg";
        if (!keep) WriteJpeg(work / f / name, out, 85);
        for (int side : {a, b}) {
          Query q;
          q.file_truths = {a, b};
          q.primary = side == a;
          q.file = f + "/" + name;
          q.group = "true:spread";
          q.category = cat;
          q.source = registered[side].name;
          q.truth = side;
          queries.push_back(q);
        }
      }
    }
  }
  for (const auto& [edit, fn] : edits) {
    const std::string f = folder_for(std::string("true_") + edit);
    std::map<std::string, int> taken;
    for (size_t i = 0; i < registered.size(); ++i) {
      if (taken[registered[i].category]++ >= true_max) continue;
      const std::string name = "r" + std::to_string(i) + "_.jpg";
      if (!keep) WriteJpeg(work / f / name, fn(registered[i].bgr, static_cast<int>(i)), 85);
      Query q;
      q.file = f + "/" + name;
      q.group = std::string("true:") + edit;
      q.category = registered[i].category;
      q.source = registered[i].name;
      q.truth = static_cast<int>(i);
      q.file_truths = {q.truth};
      queries.push_back(q);
    }
  }
  if (keep) {
    // --keep rescans an earlier run's files: without them it would scan nothing.
    std::vector<std::string> needed = folders;
    needed.push_back("registered");
    for (const std::string& f : needed) {
      if (!fs::is_directory(work / f) || fs::is_empty(work / f)) {
        std::fprintf(stderr,
                     "--keep: %s holds no earlier run's %s; run once without --keep to write "
                     "the queries and the store\n",
                     work.c_str(), f.c_str());
        return 2;
      }
    }
  }
  std::printf("files written (%.1f s): %zu queries in %zu folders\n", Since(t0), queries.size(),
              folders.size());
  // Registered pixels beyond the edited ones are no longer needed.
  for (Item& r : registered) r.bgr.release();

  // ---- register ----
  const fs::path data = work / "data";
  if (!keep) fs::remove_all(data);
  auto store_or = kagami::index::Store::Open(data);
  if (!store_or.ok()) {
    std::fprintf(stderr, "%s\n", store_or.status().ToString().c_str());
    return 2;
  }
  std::unique_ptr<kagami::index::Store> store = std::move(store_or).value();
  t0 = Clock::now();
  {
    kagami::pipeline::RegisterOptions reg;  // the `register` defaults
    reg.extract.threads = threads;
    kagami::index::Work w{"sweep", "False-match sweep", "", kagami::index::WorkKind::kOther, {}};
    auto summary = kagami::bench::RegisterFolder(*store, reg_dir, w, reg, work_per_page);
    if (!summary.ok()) {
      std::fprintf(stderr, "%s\n", summary.status().ToString().c_str());
      return 2;
    }
    std::printf("register: %d pages in %.1f s, %d below quality 50 (%d skipped: already there)\n",
                summary->units_added, Since(t0), summary->units_low_quality,
                summary->assets_skipped);
  }
  std::map<int64_t, int> item_of_unit;
  {
    kagami::index::Catalog& catalog = store->catalog();
    for (int64_t id = 1; id <= catalog.MaxUnitId(); ++id) {
      auto ref = catalog.GetUnitRef(id);
      if (!ref.ok()) continue;
      auto it = index_of_file.find(fs::path(ref->asset_path).filename().string());
      if (it != index_of_file.end()) item_of_unit[id] = it->second;
    }
  }

  // ---- scan ----
  t0 = Clock::now();
  const fs::path trace_dir = work / "trace";
  fs::remove_all(trace_dir);
  fs::create_directories(trace_dir);
  std::map<std::string, std::vector<size_t>> query_of_file;
  for (size_t i = 0; i < queries.size(); ++i) query_of_file[queries[i].file].push_back(i);
  double scan_unrelated_s = 0, scan_true_s = 0;
  int scanned_unrelated = 0;
  for (const std::string& f : folders) {
    kagami::pipeline::ScanOptions scan;  // the `scan` defaults
    scan.extract.threads = threads;
    // Every page on its own evidence: a folder is one volume, and the
    // default's volume sampling would leave most unrelated pages undescribed.
    scan.local_sample = 1;
    scan.robust.local_trace_path = (trace_dir / (f + ".jsonl")).string();
    scan.robust.appearance_min_inliers = appearance_min_inliers;
    kagami::bench::FolderScan result = kagami::bench::ScanFolderMatches(*store, work / f, scan);
    (f.starts_with("q_true_") ? scan_true_s : scan_unrelated_s) += result.seconds;
    if (!f.starts_with("q_true_")) scanned_unrelated += result.pages;
    for (auto& [member, ms] : result.by_member) {
      auto it = query_of_file.find(f + "/" + member);
      if (it == query_of_file.end()) {
        std::fprintf(stderr, "unknown member %s in %s\n", member.c_str(), f.c_str());
        continue;
      }
      for (size_t qi : it->second) queries[qi].matches = ms;
    }
    std::printf("  scanned %s: %d pages in %.1f s\n", f.c_str(), result.pages, result.seconds);
  }
  std::printf("scan: %d unrelated pages in %.1f s (%.1f pages/s); true-pair edits in %.1f s\n",
              scanned_unrelated, scan_unrelated_s, scanned_unrelated / scan_unrelated_s,
              scan_true_s);

  // ---- trace: strongest local candidate per query ----
  {
    std::map<uint64_t, std::vector<size_t>> query_of_id;
    for (size_t i = 0; i < queries.size(); ++i)
      query_of_id[Fnv(real::ReadBytes(work / queries[i].file))].push_back(i);
    for (const std::string& f : folders) {
      std::ifstream in(trace_dir / (f + ".jsonl"));
      std::string line;
      while (std::getline(in, line)) {
        nlohmann::json rec = nlohmann::json::parse(line, nullptr, false);
        if (rec.is_discarded()) continue;
        auto it = query_of_id.find(std::stoull(rec.value("query", "0"), nullptr, 16));
        if (it == query_of_id.end()) continue;
        for (size_t qi : it->second) {
          Query& q = queries[qi];
          q.local_ran = true;
          for (const nlohmann::json& c : rec["candidates"]) {
            if (c.value("beside_accepted", false)) continue;
            const auto unit_it = item_of_unit.find(c.value("unit", int64_t{-1}));
            const int item = unit_it == item_of_unit.end() ? -1 : unit_it->second;
            const int inliers = c.value("inliers", 0);
            const bool sane = c.value("sane", false);
            ++q.candidates;
            if (item == q.truth && q.truth >= 0) {
              q.true_inliers = inliers;
              q.true_accepted = c.value("accepted", false);
              continue;
            }
            if (q.file_truths.count(item)) continue;
            if (std::make_pair(inliers, sane) > std::make_pair(q.best_inliers, q.best_sane)) {
              q.best_inliers = inliers;
              q.best_sane = sane;
              q.best_item = item;
              q.best = c;
            }
            if (sane && inliers > q.sane_inliers) {
              q.sane_inliers = inliers;
              q.sane_item = item;
              q.sane = c;
            }
          }
        }
      }
    }
  }

  // ---- PDQ: nearest registered page per query ----
  t0 = Clock::now();
  {
    fp::PdqHasher hasher;
    struct RegHash {
      fp::Hash256 hash;
      int quality;
      int item;
    };
    std::vector<RegHash> reg_hashes;
    for (size_t i = 0; i < registered.size(); ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "r%04zu.jpg", i);
      cv::Mat g = DecodeLikeScan(reg_dir / name);
      if (g.empty()) continue;
      const fp::PdqHash full = hasher.Hash(g);
      if (full.quality >= kagami::index::Store::kMinIndexQuality)
        reg_hashes.push_back({full.hash, full.quality, static_cast<int>(i)});
      const cv::Rect t = fp::TrimUniformBorders(g);
      if (t != cv::Rect(0, 0, g.cols, g.rows) && t.width >= 16 && t.height >= 16) {
        const fp::PdqHash trimmed = hasher.Hash(g(t));
        if (trimmed.quality >= kagami::index::Store::kMinIndexQuality)
          reg_hashes.push_back({trimmed.hash, trimmed.quality, static_cast<int>(i)});
      }
    }
    for (Query& q : queries) {
      cv::Mat g = DecodeLikeScan(work / q.file);
      if (g.empty()) continue;
      for (const fp::View& view : fp::NormalizedViews(g)) {
        const fp::PdqDihedralHashes dh = hasher.HashDihedral(view.image);
        if (dh.quality < 50) continue;  // never matched by PDQ
        for (const RegHash& r : reg_hashes) {
          int d = 257;
          for (const fp::Hash256& v : dh.hashes) d = std::min(d, fp::HammingDistance(v, r.hash));
          if (r.item == q.truth) {
            q.true_pdq_distance = std::min(q.true_pdq_distance, d);
          } else if (q.file_truths.count(r.item)) {
            continue;
          } else if (d < q.pdq_distance) {
            q.pdq_distance = d;
            q.pdq_item = r.item;
            q.pdq_view = view.name;
            q.pdq_view_quality = dh.quality;
            q.pdq_ref_quality = r.quality;
          }
        }
      }
    }
  }
  std::printf("PDQ distances (%.1f s)\n", Since(t0));

  // ---- report ----
  auto reg_name = [&](int i) {
    return i < 0
               ? std::string("-")
               : "r" + std::to_string(i) + " " + registered[i].category + " " + registered[i].name;
  };
  // False matches: every match of an unrelated query; every match of a true
  // query that names another page.
  int false_matches = 0, wrong_in_true = 0;
  std::printf("\nfalse matches (unrelated queries):\n");
  for (const Query& q : queries) {
    for (const auto& m : q.matches) {
      const auto it = index_of_file.find(fs::path(m.ref.asset_path).filename().string());
      const int item = it == index_of_file.end() ? -1 : it->second;
      if (q.file_truths.count(item) || !q.primary) continue;
      if (q.truth < 0)
        ++false_matches;
      else
        ++wrong_in_true;
      std::printf("  %s %s (%s) -> %s: %s\n", q.truth < 0 ? "FALSE" : "WRONG (true-pair query)",
                  q.file.c_str(), q.source.c_str(), reg_name(item).c_str(), Describe(m).c_str());
    }
  }
  std::printf(
      "  total: %d false matches over %d unrelated queries x %zu registered; %d wrong "
      "matches in true-pair queries\n",
      false_matches, scanned_unrelated, registered.size(), wrong_in_true);

  // Recall of the true pairs (the other side of the margin).
  std::printf("\ntrue pairs (edits of registered items, scanned by the same store):\n");
  std::printf("| edit | category | queries | found | by method |\n|---|---|---:|---:|---|\n");
  {
    std::map<std::pair<std::string, std::string>, std::pair<int, int>> found;
    std::map<std::pair<std::string, std::string>, std::map<std::string, int>> methods;
    for (const Query& q : queries) {
      if (q.truth < 0) continue;
      auto& [f, n] = found[{q.group, q.category}];
      ++n;
      for (const auto& m : q.matches) {
        const auto it = index_of_file.find(fs::path(m.ref.asset_path).filename().string());
        if (it != index_of_file.end() && it->second == q.truth) {
          ++f;
          ++methods[{q.group, q.category}][m.method];
          break;
        }
      }
    }
    // The colour check (index::RobustOptions::colour_check) on the true
    // pairs' matches where both sides are in colour.
    std::vector<double> colour;
    for (const Query& q : queries) {
      for (const auto& m : q.matches) {
        const auto it = index_of_file.find(fs::path(m.ref.asset_path).filename().string());
        if (it != index_of_file.end() && it->second == q.truth && m.colour_disagreement >= 0)
          colour.push_back(m.colour_disagreement);
      }
    }
    std::printf(
        "colour disagreement of the true pairs' matches (both sides in colour): %zu matches, "
        "p50 %.3f, p95 %.3f, max %.3f\n",
        colour.size(), Percentile(colour, 0.5), Percentile(colour, 0.95), Percentile(colour, 1.0));
    for (const auto& [k, v] : found) {
      std::string ms;
      for (const auto& [m, n] : methods[k]) ms += m + " " + std::to_string(n) + " ";
      std::printf("| %s | %s | %d | %d | %s|\n", k.first.substr(5).c_str(), k.second.c_str(),
                  v.second, v.first, ms.c_str());
    }
  }

  // Geometric verification of the accepted local matches (method local or
  // both): true pairs against false matches.
  {
    std::vector<double> t_in, t_cov, t_cells;
    std::vector<std::pair<double, std::string>> lowest;
    int false_local = 0;
    for (const Query& q : queries) {
      for (const auto& m : q.matches) {
        if (m.inliers <= 0) continue;
        const auto it = index_of_file.find(fs::path(m.ref.asset_path).filename().string());
        const int item = it == index_of_file.end() ? -1 : it->second;
        const fp::Verification& v = m.verification;
        if (item == q.truth) {
          t_in.push_back(v.inliers);
          t_cov.push_back(v.coverage);
          t_cells.push_back(v.grid_cells);
          char buf[256];
          std::snprintf(buf, sizeof buf, "%s (%s) %d inliers, coverage %.3f, cells %d",
                        q.file.c_str(), q.group.c_str(), v.inliers, v.coverage, v.grid_cells);
          lowest.emplace_back(v.inliers, buf);
        } else if (!q.file_truths.count(item) && q.primary) {
          ++false_local;
        }
      }
    }
    std::printf(
        "\naccepted local matches of true pairs: %zu (false local matches: %d, listed above)\n"
        "| measure | min | p1 | p5 | p25 | p50 | p95 | max "
        "|\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        t_in.size(), false_local);
    const std::pair<const char*, std::vector<double>*> rows[] = {
        {"inliers", &t_in}, {"coverage", &t_cov}, {"grid cells", &t_cells}};
    for (const auto& [name, x] : rows)
      std::printf("| %s | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g |\n", name,
                  Percentile(*x, 0), Percentile(*x, 0.01), Percentile(*x, 0.05),
                  Percentile(*x, 0.25), Percentile(*x, 0.5), Percentile(*x, 0.95),
                  Percentile(*x, 1.0));
    std::sort(lowest.begin(), lowest.end());
    std::printf("true local matches with the fewest inliers:\n");
    for (size_t i = 0; i < std::min<size_t>(8, lowest.size()); ++i)
      std::printf("  %s\n", lowest[i].second.c_str());
  }

  // Local margin: strongest wrong candidate per query, per (group -> category).
  std::printf(
      "\nlocal stage: the strongest wrong candidate per query (most inliers; insane fits "
      "included), per query group and the candidate's registered category; 'sane max' is the "
      "most inliers of a sane fit, with its coverage / overlap coverage / cells; true rows: the "
      "true page's candidate\n");
  std::printf(
      "| queries | -> registered | n | local ran | inliers p50 | p95 | p99 | max | sane fits >= 13 "
      "| sane max (cov / ovl / cells) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
  {
    std::map<std::pair<std::string, std::string>, std::vector<const Query*>> rows;
    for (const Query& q : queries) {
      const std::string to = q.best_item < 0 ? "(none)" : registered[q.best_item].category;
      rows[{q.group, to}].push_back(&q);
      rows[{q.truth < 0 ? "all unrelated" : "all true-pair queries", "any"}].push_back(&q);
    }
    for (const auto& [k, qs] : rows) {
      std::vector<double> x;
      int ran = 0, sane13 = 0;
      const Query* sane_max = nullptr;
      for (const Query* q : qs) {
        x.push_back(q->best_inliers);
        ran += q->local_ran;
        sane13 += q->sane_inliers >= 13;
        if (q->sane_inliers > 0 && (!sane_max || q->sane_inliers > sane_max->sane_inliers))
          sane_max = q;
      }
      char sm[128] = "-";
      if (sane_max)
        std::snprintf(sm, sizeof sm, "%d (%.3f / %.3f / %d)", sane_max->sane_inliers,
                      sane_max->sane.value("coverage", 0.0),
                      sane_max->sane.value("overlap_coverage", 0.0),
                      sane_max->sane.value("cells", 0));
      std::printf("| %s | %s | %zu | %d | %.0f | %.0f | %.0f | %.0f | %d | %s |\n", k.first.c_str(),
                  k.second.c_str(), qs.size(), ran, Percentile(x, 0.5), Percentile(x, 0.95),
                  Percentile(x, 0.99), Percentile(x, 1.0), sane13, sm);
    }
    // The true page's own candidate.
    std::map<std::string, std::vector<double>> true_inliers;
    std::map<std::string, int> true_acc;
    for (const Query& q : queries) {
      if (q.truth < 0) continue;
      true_inliers[q.group + " " + q.category].push_back(std::max(0, q.true_inliers));
      true_acc[q.group + " " + q.category] += q.true_accepted;
    }
    std::printf(
        "\n| true pairs | n | true page's inliers p5 | p25 | p50 | accepted by the local stage "
        "|\n|---|---:|---:|---:|---:|---:|\n");
    for (const auto& [k, x] : true_inliers)
      std::printf("| %s | %zu | %.0f | %.0f | %.0f | %d |\n", k.c_str(), x.size(),
                  Percentile(x, 0.05), Percentile(x, 0.25), Percentile(x, 0.5), true_acc[k]);
  }

  // PDQ margin: nearest other page per query.
  std::printf(
      "\nPDQ: nearest registered page per query (views of quality >= 50, 8 dihedral "
      "variants, every indexed hash), per query group and that page's category; true rows: "
      "the distance to the true page\n");
  std::printf(
      "| queries | -> registered | n | min | p1 | p5 | p50 | <= 31 | <= 31 with both qualities "
      ">= 50 (halves >= 70) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  {
    std::map<std::pair<std::string, std::string>, std::vector<const Query*>> rows;
    for (const Query& q : queries) {
      const std::string to = q.pdq_item < 0 ? "(none)" : registered[q.pdq_item].category;
      rows[{q.group, to}].push_back(&q);
      rows[{q.truth < 0 ? "all unrelated" : "all true-pair queries", "any"}].push_back(&q);
    }
    for (const auto& [k, qs] : rows) {
      std::vector<double> x;
      int within = 0, reportable = 0;
      for (const Query* q : qs) {
        if (q->pdq_item < 0) continue;
        x.push_back(q->pdq_distance);
        within += q->pdq_distance <= 31;
        const bool half = q->pdq_view == "left" || q->pdq_view == "right";
        reportable += q->pdq_distance <= 31 &&
                      std::min(q->pdq_view_quality, q->pdq_ref_quality) >= (half ? 70 : 50);
      }
      std::printf("| %s | %s | %zu | %.0f | %.0f | %.0f | %.0f | %d | %d |\n", k.first.c_str(),
                  k.second.c_str(), x.size(), Percentile(x, 0), Percentile(x, 0.01),
                  Percentile(x, 0.05), Percentile(x, 0.5), within, reportable);
    }
    std::map<std::string, std::vector<double>> true_d;
    for (const Query& q : queries)
      if (q.truth >= 0 && q.true_pdq_distance <= 256)
        true_d[q.group + " " + q.category].push_back(q.true_pdq_distance);
    std::printf(
        "\n| true pairs | n (a view of quality >= 50) | p5 | p50 | p95 | <= 31 |\n"
        "|---|---:|---:|---:|---:|---:|\n");
    for (const auto& [k, x] : true_d) {
      int within = 0;
      for (double d : x) within += d <= 31;
      std::printf("| %s | %zu | %.0f | %.0f | %.0f | %d |\n", k.c_str(), x.size(),
                  Percentile(x, 0.05), Percentile(x, 0.5), Percentile(x, 0.95), within);
    }
  }

  // The unrelated queries closest to acceptance.
  {
    std::vector<const Query*> top;
    for (const Query& q : queries)
      if (q.truth < 0 && q.sane_inliers > 0) top.push_back(&q);
    std::sort(top.begin(), top.end(),
              [](const Query* a, const Query* b) { return a->sane_inliers > b->sane_inliers; });
    std::printf("\nunrelated queries whose wrong candidate had the most inliers in a sane fit:\n");
    for (size_t i = 0; i < std::min<size_t>(12, top.size()); ++i) {
      const Query& q = *top[i];
      std::printf("  %s (%s, %s) -> %s: %s\n", q.file.c_str(), q.group.c_str(), q.source.c_str(),
                  reg_name(q.sane_item).c_str(), q.sane.dump().c_str());
    }
    std::vector<const Query*> near;
    for (const Query& q : queries)
      if (q.truth < 0 && q.pdq_item >= 0) near.push_back(&q);
    std::sort(near.begin(), near.end(),
              [](const Query* a, const Query* b) { return a->pdq_distance < b->pdq_distance; });
    std::printf("unrelated queries nearest a registered page by PDQ:\n");
    for (size_t i = 0; i < std::min<size_t>(8, near.size()); ++i) {
      const Query& q = *near[i];
      std::printf("  %s (%s, %s) view %s -> %s: %d bits, quality %d / %d\n", q.file.c_str(),
                  q.group.c_str(), q.source.c_str(), q.pdq_view.c_str(),
                  reg_name(q.pdq_item).c_str(), q.pdq_distance, q.pdq_view_quality,
                  q.pdq_ref_quality);
    }
  }
  {
    std::ofstream csv(work / "queries.csv");
    csv << "file,group,category,source,truth,local_ran,candidates,best_inliers,best_sane,best_"
           "item,sane_inliers,sane_item,true_inliers,true_accepted,pdq_distance,pdq_item,pdq_"
           "view,pdq_view_quality,pdq_ref_quality,true_pdq_distance,matches\n";
    for (const Query& q : queries) {
      std::string src = q.source;
      std::replace(src.begin(), src.end(), ',', ';');
      csv << q.file << ',' << q.group << ',' << q.category << ',' << src << ',' << q.truth << ','
          << q.local_ran << ',' << q.candidates << ',' << q.best_inliers << ',' << q.best_sane
          << ',' << q.best_item << ',' << q.sane_inliers << ',' << q.sane_item << ','
          << q.true_inliers << ',' << q.true_accepted << ',' << q.pdq_distance << ',' << q.pdq_item
          << ',' << q.pdq_view << ',' << q.pdq_view_quality << ',' << q.pdq_ref_quality << ','
          << q.true_pdq_distance << ',' << q.matches.size() << '\n';
    }
  }
  std::printf("\ntotal %.1f s\n", Since(t_all));
  return false_matches > 0 ? 1 : 0;
}
