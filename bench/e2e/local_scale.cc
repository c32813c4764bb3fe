// Scale of the local stage's gate (index/inverted_file.h): per-query time and
// memory against 100k and 1M registered pages.
//
//   build/bench/kagami_bench_local_scale --pages 100000,1000000 --queries 40
//       [--probe -1,0,1,2] [--split-bits 8] [--stop 0,0.02] [--gate-assignment 1]
//       [--signatures independent|copied] [--save-max-pages N] [--compare-prefetch 1]
//       [--narrow 0,8] [--breakdown 1] [--repeat N] [--keep-index 1] [--looks 1]
//   build/bench/kagami_bench_local_scale --index WORK/local.index [--warm 1] ...  (a kept file)
//
// Registered pages: 160 real pages (Kagami's generated manga pages and
// openclipart-png line art, files i % 97 == 36, neither used to train the
// vocabulary nor by the real-image calibration), then synthetic pages up to
// each size: 509 keypoints each whose (word, signature) pairs are drawn from
// the real pages' keypoints (so posting lists have the real, skewed word
// distribution) at uniform positions; their signatures are drawn from
// another pool keypoint (--signatures independent, the default) or copied
// with the word (--signatures copied, the first two rounds' model). Queries: the real pages cropped
// 15% per side. Times are thread CPU time (the build machine is shared).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kagami/fingerprint/local_features.h"
#include "kagami/fingerprint/quantised_features.h"
#include "kagami/fingerprint/visual_vocabulary.h"
#include "kagami/index/inverted_file.h"
#include "kagami/index/robust_matcher.h"
#include "kagami/synth/page_generator.h"

namespace fs = std::filesystem;
using namespace kagami;
using Clock = std::chrono::steady_clock;

namespace {

double ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

long StatusKiB(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key));
  }
  return -1;
}

long MemAvailableKiB() {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("MemAvailable:", 0) == 0) return std::atol(line.c_str() + 13);
  }
  return -1;
}

cv::Mat Gray(const cv::Mat& m) {
  cv::Mat g;
  if (m.channels() == 4) {
    cv::Mat bgr(m.size(), CV_8UC3, cv::Scalar(255, 255, 255));
    for (int y = 0; y < m.rows; ++y)
      for (int x = 0; x < m.cols; ++x) {
        const cv::Vec4b p = m.at<cv::Vec4b>(y, x);
        const float a = p[3] / 255.0f;
        for (int c = 0; c < 3; ++c)
          bgr.at<cv::Vec3b>(y, x)[c] = static_cast<uint8_t>(p[c] * a + 255 * (1 - a));
      }
    cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
  } else if (m.channels() == 3) {
    cv::cvtColor(m, g, cv::COLOR_BGR2GRAY);
  } else {
    g = m;
  }
  return g;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

std::string Fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string FormatG(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Postings read per query by list length (in multiples of the mean list
// length), for the median query and the slowest 5% by gate time.
void PrintBreakdown(const index::InvertedFile& index,
                    const std::vector<fingerprint::QuantisedQuery>& queries,
                    const index::InvertedFile::GateOptions& gate,
                    const std::vector<double>& gate_ms) {
  const double mean = static_cast<double>(index.keypoints()) / index::InvertedFile::kWords;
  const double bounds[] = {1, 2, 4, 8, 16, 1e300};
  constexpr int kClasses = 6;
  std::vector<size_t> order(queries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return gate_ms[a] < gate_ms[b]; });
  const size_t slow_from = order.size() - std::max<size_t>(1, order.size() / 20);
  auto classes_of = [&](size_t qi) {
    std::vector<double> read(kClasses, 0), keypoints(kClasses, 0);
    const auto& q = queries[qi];
    fingerprint::QuantisedQuery one = q;
    for (int k = 0; k < q.size(); ++k) {
      one.words.assign(q.words.begin() + static_cast<std::ptrdiff_t>(k) * q.assignment,
                       q.words.begin() + static_cast<std::ptrdiff_t>(k + 1) * q.assignment);
      one.signatures.assign(1, q.signatures[k]);
      one.points.assign(1, q.points[k]);
      const size_t length = index.ListLength(q.words[static_cast<size_t>(k) * q.assignment]);
      int c = 0;
      while (length > bounds[c] * mean) ++c;
      read[c] += static_cast<double>(index.PostingsScanned(one, gate));
      keypoints[c] += 1;
    }
    return std::make_pair(read, keypoints);
  };
  auto print = [&](const char* name, const std::vector<size_t>& which) {
    std::vector<double> read(kClasses, 0), keypoints(kClasses, 0);
    for (size_t qi : which) {
      const auto [r, k] = classes_of(qi);
      for (int c = 0; c < kClasses; ++c) {
        read[c] += r[c] / which.size();
        keypoints[c] += k[c] / which.size();
      }
    }
    std::printf("      %s: postings read (query keypoints) by list length / mean %.0f:", name,
                mean);
    const char* names[] = {"<=1x", "1-2x", "2-4x", "4-8x", "8-16x", ">16x"};
    for (int c = 0; c < kClasses; ++c)
      std::printf(" %s %.0fk (%.0f)", names[c], read[c] / 1e3, keypoints[c]);
    std::printf("\n");
  };
  std::printf("      slowest queries (gate ms, postings read):");
  for (size_t k = slow_from; k < order.size(); ++k)
    std::printf(" q%zu %.1f %.0fk", order[k], gate_ms[order[k]],
                index.PostingsScanned(queries[order[k]], gate) / 1e3);
  std::printf("\n");
  print("median query", {order[order.size() / 2]});
  print("slowest 5%",
        std::vector<size_t>(order.begin() + static_cast<std::ptrdiff_t>(slow_from), order.end()));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {100000, 1000000};
  int queries = 40;
  // Stop-word fractions (InvertedFile::max_word_fraction) measured at each
  // size; the first is RobustOptions' default.
  std::vector<double> stop_fractions = {index::RobustOptions().max_word_fraction};
  int gate_assignment = index::RobustOptions().gate_assignment;
  // Multi-probe radii measured at each size (InvertedFile::GateOptions::
  // probe_radius; -1 reads whole lists, the exact reference) and the split
  // bits of the index.
  std::vector<int> probe_radii = {index::InvertedFile::GateOptions().probe_radius};
  int split_bits = index::InvertedFile::kSplitBits;
  // Synthetic keypoints: "independent" draws the word and the signature from
  // two independent pool keypoints (the real word distribution and the real
  // signature bits, unrelated descriptors); "copied" copies whole (word,
  // signature) pairs, so every synthetic page repeats ~4 exact keypoints of
  // every real page and each pool pair is copied pages x 509 / 64k times (the
  // model of the first two rounds: every copy passes the Hamming test).
  std::string signatures = "independent";
  // Narrow-list factors (GateOptions::narrow_list_factor; 0 = off) measured
  // with each probing radius.
  std::vector<double> narrow_factors = {index::InvertedFile::GateOptions().narrow_list_factor};
  // Prints, for the median and the slowest 5% of queries, the postings read
  // per query by the length of the list they come from.
  bool breakdown = false;
  // Also measures each probing radius without prefetching.
  bool compare_prefetch = false;
  // Largest catalog saved and loaded again (a second copy in RAM).
  int64_t save_max_pages = INT64_MAX;
  fs::path work = fs::temp_directory_path() / "kagami-local-scale";
  // Keeps the saved local.index (work/local.index) of the largest size saved.
  bool keep_index = false;
  // Measures a saved local.index (--keep-index 1 of an earlier run) instead
  // of building one; --warm N untimed passes over the queries first.
  std::string load_index;
  int warm = 1;
  // Each variant's rows this many times (the machine is noisy).
  int repeat = 1;
  // Also measures the matcher's later looks at each query (RobustOptions::
  // crop_zooms, then low_contrast_look_threshold): what a page that matches
  // nothing costs page by page (`--local-sample 1`), where every look runs.
  bool looks = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--pages") {
      sizes.clear();
      std::stringstream ss(argv[i + 1]);
      std::string item;
      while (std::getline(ss, item, ',')) sizes.push_back(std::atoll(item.c_str()));
    } else if (a == "--queries") {
      queries = std::atoi(argv[i + 1]);
    } else if (a == "--work") {
      work = argv[i + 1];
    } else if (a == "--stop") {
      stop_fractions.clear();
      std::stringstream ss(argv[i + 1]);
      std::string item;
      while (std::getline(ss, item, ',')) stop_fractions.push_back(std::atof(item.c_str()));
    } else if (a == "--probe") {
      probe_radii.clear();
      std::stringstream ss(argv[i + 1]);
      std::string item;
      while (std::getline(ss, item, ',')) probe_radii.push_back(std::atoi(item.c_str()));
    } else if (a == "--narrow") {
      narrow_factors.clear();
      std::stringstream ss(argv[i + 1]);
      std::string item;
      while (std::getline(ss, item, ',')) narrow_factors.push_back(std::atof(item.c_str()));
    } else if (a == "--breakdown") {
      breakdown = std::atoi(argv[i + 1]) != 0;
    } else if (a == "--compare-prefetch") {
      compare_prefetch = std::atoi(argv[i + 1]) != 0;
    } else if (a == "--keep-index") {
      keep_index = std::atoi(argv[i + 1]) != 0;
    } else if (a == "--index") {
      load_index = argv[i + 1];
    } else if (a == "--warm") {
      warm = std::atoi(argv[i + 1]);
    } else if (a == "--looks") {
      looks = std::atoi(argv[i + 1]) != 0;
    } else if (a == "--repeat") {
      repeat = std::max(1, std::atoi(argv[i + 1]));
    } else if (a == "--save-max-pages") {
      save_max_pages = std::atoll(argv[i + 1]);
    } else if (a == "--signatures") {
      signatures = argv[i + 1];
    } else if (a == "--split-bits") {
      split_bits = std::atoi(argv[i + 1]);
    } else if (a == "--gate-assignment") {
      gate_assignment = std::atoi(argv[i + 1]);
    }
  }
  fs::create_directories(work);
  const fingerprint::VisualVocabulary& vocab = fingerprint::VisualVocabulary::BuiltIn();
  std::vector<cv::Mat> real;
  for (int s = 0; s < 100; ++s) real.push_back(Gray(synth::GenerateMangaPage(77000 + s)));
  std::vector<fs::path> clip;
  for (const auto& e : fs::recursive_directory_iterator("/usr/share/openclipart")) {
    if (e.is_regular_file() && e.path().extension() == ".png") clip.push_back(e.path());
  }
  std::sort(clip.begin(), clip.end());
  for (size_t i = 36; i < clip.size() && real.size() < 160; i += 97) {
    cv::Mat m = cv::imread(clip[i].string(), cv::IMREAD_UNCHANGED);
    if (m.empty() || std::max(m.cols, m.rows) < 400) continue;
    real.push_back(Gray(m));
  }
  fingerprint::LocalFeatureOptions registered;
  registered.max_keypoints = 1000;
  std::vector<fingerprint::QuantisedFeatures> real_q;
  std::vector<std::pair<uint16_t, uint32_t>> pool;
  for (const cv::Mat& page : real) {
    auto f = fingerprint::ExtractLocalFeatures(page, false, registered);
    real_q.push_back(f.ok() ? fingerprint::Quantise(*f, vocab) : fingerprint::QuantisedFeatures{});
    for (int k = 0; k < real_q.back().size(); ++k)
      pool.emplace_back(real_q.back().words[k], real_q.back().signatures[k]);
  }
  // Queries: real pages cropped 15% per side, quantised as the local stage
  // does (RobustOptions defaults).
  const index::RobustOptions defaults;
  std::vector<fingerprint::QuantisedQuery> query_words;
  std::vector<int> query_page;
  // --looks: per look (crop zooms, then the low-contrast look), per query.
  std::vector<std::vector<fingerprint::QuantisedQuery>> look_words;
  std::vector<std::vector<double>> look_describe_ms;
  double quantise_cpu = 0;
  for (int i = 0; i < queries && i < static_cast<int>(real.size()); ++i) {
    const int p = static_cast<int>((static_cast<int64_t>(i) * real.size()) / queries);
    const cv::Mat& page = real[p];
    const cv::Rect crop(page.cols * 15 / 100, page.rows * 15 / 100, page.cols * 70 / 100,
                        page.rows * 70 / 100);
    auto f = fingerprint::ExtractLocalFeatures(page(crop).clone(), false, defaults.features);
    if (!f.ok()) continue;
    const double t0 = ThreadCpu();
    query_words.push_back(fingerprint::QuantiseQuery(*f, vocab, defaults.multiple_assignment,
                                                     defaults.top_assignment));
    quantise_cpu += ThreadCpu() - t0;
    query_page.push_back(p);
    // The same crop as each later look describes it (RobustMatcher::RunLocalStage).
    for (size_t l = 0; looks && l <= defaults.crop_zooms.size(); ++l) {
      fingerprint::LocalFeatureOptions o = defaults.features;
      if (l < defaults.crop_zooms.size()) {
        o.working_long_side =
            static_cast<int>(std::lround(o.working_long_side * defaults.crop_zooms[l]));
      } else {
        o.fast_threshold = defaults.low_contrast_look_threshold;
        o.min_fast_threshold = o.fast_threshold;
      }
      if (look_words.size() <= l) {
        look_words.resize(l + 1);
        look_describe_ms.resize(l + 1);
      }
      const double d0 = ThreadCpu();
      auto lf = fingerprint::ExtractLocalFeatures(page(crop).clone(), false, o);
      look_words[l].push_back(lf.ok() ? fingerprint::QuantiseQuery(*lf, vocab,
                                                                   defaults.multiple_assignment,
                                                                   defaults.top_assignment)
                                      : fingerprint::QuantisedQuery{});
      look_describe_ms[l].push_back(1e3 * (ThreadCpu() - d0));
    }
  }
  std::printf(
      "real pages %zu (%zu keypoints in the word pool, synthetic signatures %s), queries %zu; "
      "quantising a query "
      "(%d keypoints, %d leaf and %d top-level words each): %.2f ms CPU\n",
      real.size(), pool.size(), signatures.c_str(), query_words.size(),
      defaults.features.max_keypoints, defaults.multiple_assignment, defaults.top_assignment,
      1e3 * quantise_cpu / std::max<size_t>(1, query_words.size()));
  std::printf(
      "\n| pages | split bits / probe radius | stop-word fraction | add pages/s | index MiB (RAM) "
      "| bytes/page | RSS MiB | postings read p50 / p95 | gate CPU ms p50 / p95 "
      "| verify 12 CPU ms p50 (full RANSAC / as the matcher) | local stage (gate + verify as the "
      "matcher) CPU ms p50 / p95 | true page first | accepted (full RANSAC; as the matcher) |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::mt19937_64 rng(5);
  index::InvertedFile index(vocab.id(), true, split_bits);
  // The matcher's verification (RobustMatcher::RunLocalStage): a RANSAC with
  // a tenth of the iterations first, the full one from escalate_inliers.
  fingerprint::VerifyOptions cheap = defaults.verify;
  cheap.ransac_iterations = std::max(1, defaults.verify.ransac_iterations / 10);
  // An accepted candidate is verified once more without its boilerplate
  // (index/boilerplate.h: siblings are its neighbours in registration order
  // and the other gate candidates), as the matcher does.
  auto VerifyAsTheMatcherDoes = [&](const fingerprint::QuantisedQuery& query,
                                    const fingerprint::QuantisedFeatures& ref,
                                    const index::InvertedFile& idx, int64_t unit,
                                    const std::vector<index::InvertedFile::Candidate>& ranked) {
    auto v = fingerprint::VerifyQuantised(query, ref, defaults.quantised_match, cheap);
    if (!v.accepted && v.inliers >= defaults.escalate_inliers) {
      v = fingerprint::VerifyQuantised(query, ref, defaults.quantised_match, defaults.verify);
    }
    if (!v.accepted || !defaults.boilerplate.enabled) return v.accepted;
    std::vector<int64_t> units;
    for (const auto& c : ranked) units.push_back(c.unit_id);
    std::vector<std::unique_ptr<fingerprint::QuantisedFeatures>> held;
    std::vector<const fingerprint::QuantisedFeatures*> siblings;
    for (int64_t s : index::SiblingUnits(idx, unit, units, defaults.boilerplate)) {
      held.push_back(idx.Features(s));
      if (held.back()) siblings.push_back(held.back().get());
    }
    const index::BoilerplateMask mask = index::MarkBoilerplate(ref, siblings, defaults.boilerplate);
    if (mask.count == 0) return true;
    return index::HoldsWithoutBoilerplate(
        index::VerifyWithoutBoilerplate(query, ref, mask, defaults.quantised_match,
                                        defaults.verify),
        defaults.verify);
  };
  for (size_t i = 0; i < real_q.size(); ++i) index.Add(static_cast<int64_t>(i + 1), real_q[i]);
  int64_t next_unit = static_cast<int64_t>(real_q.size()) + 1;
  fingerprint::QuantisedFeatures synthetic;
  synthetic.vocabulary_id = vocab.id();
  synthetic.page_width = 0.7f;
  synthetic.page_height = 1.0f;
  synthetic.words.resize(fingerprint::kMaxQuantisedKeypoints);
  synthetic.signatures.resize(fingerprint::kMaxQuantisedKeypoints);
  synthetic.points.resize(fingerprint::kMaxQuantisedKeypoints);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::uniform_real_distribution<float> ux(0.0f, 0.7f), uy(0.0f, 1.0f);
  // The table's rows for one index: every variant (radius, narrowing, prefetch) x stop fraction,
  // `repeat` times.
  const auto measure = [&](const index::InvertedFile& idx, int64_t add, double add_s) {
    for (int rep = 0; rep < repeat; ++rep) {
      for (double stop : stop_fractions) {
        struct Variant {
          int radius;
          bool prefetch;
          double narrow;
        };
        std::vector<Variant> variants;
        for (int radius : probe_radii) {
          for (double narrow : narrow_factors) {
            // Radius 0 and whole lists have nothing to narrow.
            if (radius <= 0 && narrow != narrow_factors.front()) continue;
            if (radius <= 0) narrow = 0;
            variants.push_back({radius, true, narrow});
            if (compare_prefetch && radius >= 0) variants.push_back({radius, false, narrow});
          }
        }
        for (const auto& [radius, prefetch, narrow] : variants) {
          index::InvertedFile::GateOptions gate;
          gate.assignment = gate_assignment;
          gate.max_word_fraction = stop;
          gate.probe_radius = radius;
          gate.prefetch = prefetch;
          gate.narrow_list_factor = narrow;
          std::vector<double> gate_ms, verify_ms, matcher_verify_ms, stage_ms, postings;
          int first = 0, accepted = 0, accepted_full = 0;
          for (size_t qi = 0; qi < query_words.size(); ++qi) {
            double c0 = ThreadCpu();
            const auto ranked = idx.Score(query_words[qi], defaults.max_local_candidates,
                                          defaults.min_gate_score, gate);
            gate_ms.push_back(1e3 * (ThreadCpu() - c0));
            postings.push_back(static_cast<double>(idx.PostingsScanned(query_words[qi], gate)));
            c0 = ThreadCpu();
            bool full_ok = false;
            for (const auto& c : ranked) {
              auto ref = idx.Features(c.unit_id);
              const auto v = fingerprint::VerifyQuantised(
                  query_words[qi], *ref, defaults.quantised_match, defaults.verify);
              full_ok |= v.accepted && c.unit_id == query_page[qi] + 1;
            }
            verify_ms.push_back(1e3 * (ThreadCpu() - c0));
            c0 = ThreadCpu();
            bool ok = false;
            for (const auto& c : ranked) {
              auto ref = idx.Features(c.unit_id);
              ok |= VerifyAsTheMatcherDoes(query_words[qi], *ref, idx, c.unit_id, ranked) &&
                    c.unit_id == query_page[qi] + 1;
            }
            matcher_verify_ms.push_back(1e3 * (ThreadCpu() - c0));
            stage_ms.push_back(gate_ms.back() + matcher_verify_ms.back());
            first += !ranked.empty() && ranked[0].unit_id == query_page[qi] + 1;
            accepted += ok;
            accepted_full += full_ok;
          }
          const std::string label =
              std::string(prefetch || radius < 0 ? "" : " (no prefetch)") +
              (narrow > 0 ? " (narrow > " + FormatG(narrow) + "x mean, >= " +
                                FormatG(static_cast<double>(
                                    index::InvertedFile::GateOptions().narrow_min_length)) +
                                ")"
                          : "");
          std::printf(
              "| %lld | %d / %d%s | %.3g | %.0f | %.0f | %.0f | %ld | %.0fk / %.0fk | %.2f / %.2f "
              "| %.2f / "
              "%.2f "
              "| %.2f / %.2f | %d/%zu | %d/%zu (%d) |\n",
              static_cast<long long>(idx.pages()), idx.split_bits(), radius, label.c_str(), stop,
              add > 0 ? add / add_s : 0.0, idx.MemoryBytes() / 1048576.0,
              static_cast<double>(idx.MemoryBytes()) / idx.pages(), StatusKiB("VmRSS:") / 1024,
              Percentile(postings, 0.5) / 1e3, Percentile(postings, 0.95) / 1e3,
              Percentile(gate_ms, 0.5), Percentile(gate_ms, 0.95), Percentile(verify_ms, 0.5),
              Percentile(matcher_verify_ms, 0.5), Percentile(stage_ms, 0.5),
              Percentile(stage_ms, 0.95), first, query_words.size(), accepted_full,
              query_words.size(), accepted);
          std::fflush(stdout);
          if (breakdown) PrintBreakdown(idx, query_words, gate, gate_ms);
          if (!look_words.empty()) {
            // Every look of every query, as for a page that matches nothing.
            std::vector<double> with_looks = stage_ms;
            std::string per_look;
            for (size_t l = 0; l < look_words.size(); ++l) {
              std::vector<double> look_ms;
              for (size_t qi = 0; qi < look_words[l].size() && qi < with_looks.size(); ++qi) {
                const double c0 = ThreadCpu();
                const auto ranked = idx.Score(look_words[l][qi], defaults.max_local_candidates,
                                              defaults.min_gate_score, gate);
                for (const auto& c : ranked) {
                  auto ref = idx.Features(c.unit_id);
                  VerifyAsTheMatcherDoes(look_words[l][qi], *ref, idx, c.unit_id, ranked);
                }
                look_ms.push_back(1e3 * (ThreadCpu() - c0));
                with_looks[qi] += look_ms.back() + look_describe_ms[l][qi];
              }
              per_look += (per_look.empty() ? "" : ", ") +
                          (l < defaults.crop_zooms.size()
                               ? "zoom " + FormatG(defaults.crop_zooms[l])
                               : "FAST " + std::to_string(defaults.low_contrast_look_threshold)) +
                          " " + Fixed2(Percentile(look_ms, 0.5)) + " (+" +
                          Fixed2(Percentile(look_describe_ms[l], 0.5)) + " describe)";
            }
            std::printf(
                "  looks at %lld pages, gate + verify CPU ms p50 per look: %s; first pass (gate + "
                "verify) + every look (describe + gate + verify) p50 / p95: %.2f / %.2f ms\n",
                static_cast<long long>(idx.pages()), per_look.c_str(), Percentile(with_looks, 0.5),
                Percentile(with_looks, 0.95));
            std::fflush(stdout);
          }
        }
      }
    }
  };
  if (!load_index.empty()) {
    // A saved local.index of this bench (same pool and seed: units 1..160
    // are the real pages), mapped instead of built; queried `warm` times
    // untimed first so that its touched pages are resident.
    const auto l0 = Clock::now();
    auto loaded = index::InvertedFile::Load(load_index);
    if (!loaded.ok()) {
      std::fprintf(stderr, "loading %s failed\n", load_index.c_str());
      return 1;
    }
    std::printf("    loaded %s: %lld pages, %.0f MiB mapped, load %.3f s\n", load_index.c_str(),
                static_cast<long long>((*loaded)->pages()), (*loaded)->MappedBytes() / 1048576.0,
                std::chrono::duration<double>(Clock::now() - l0).count());
    for (int w = 0; w < warm; ++w) {
      for (const auto& q : query_words)
        (*loaded)->Score(q, defaults.max_local_candidates, defaults.min_gate_score);
    }
    measure(**loaded, 0, 0.0);
    std::printf("peak RSS %ld MiB\n", StatusKiB("VmHWM:") / 1024);
    return 0;
  }
  for (int64_t size : sizes) {
    const int64_t add = size - index.pages();
    if (add > 0) {
      // ~16 bytes per keypoint: stop before the machine runs out.
      const long need_kib = static_cast<long>(add * 509 * 17 / 1024);
      if (MemAvailableKiB() > 0 && MemAvailableKiB() < need_kib + (2 << 20)) {
        std::printf("| %lld | (skipped: %ld MiB available, about %ld MiB needed) |\n",
                    static_cast<long long>(size), MemAvailableKiB() / 1024, need_kib / 1024);
        break;
      }
    }
    const auto t0 = Clock::now();
    index.Reserve(size);
    for (int64_t i = 0; i < add; ++i) {
      for (int k = 0; k < fingerprint::kMaxQuantisedKeypoints; ++k) {
        const auto& [w, s] = pool[pick(rng)];
        synthetic.words[k] = w;
        synthetic.signatures[k] = signatures == "copied" ? s : pool[pick(rng)].second;
        synthetic.points[k] = cv::Point2f(ux(rng), uy(rng));
      }
      index.Add(next_unit++, synthetic);
    }
    const double add_s = std::chrono::duration<double>(Clock::now() - t0).count();
    index.ShrinkToFit();
    measure(index, add, add_s);
    // Saving streams the file (heap: the page table, 48 B/page, and the
    // bucket tables) and loading maps its postings (no second copy on the
    // heap since local.index version 2); the mapped pages the queries touch
    // are page cache.
    if (index.pages() <= save_max_pages && MemAvailableKiB() > (2 << 20)) {
      const fs::path file = work / "local.index";
      auto s0 = Clock::now();
      if (!index.Save(file).ok()) return 1;
      const double save_s = std::chrono::duration<double>(Clock::now() - s0).count();
      const long rss_before = StatusKiB("VmRSS:");
      s0 = Clock::now();
      auto loaded = index::InvertedFile::Load(file);
      const double load_s = std::chrono::duration<double>(Clock::now() - s0).count();
      const long rss_loaded = StatusKiB("VmRSS:");
      // The loaded index reads keypoints from the file (and, from version 2,
      // its postings from the mapping): the same local stage from it, its
      // gate's time, and its RAM (heap) and RSS (heap plus touched mapped pages).
      // As the table's first row (the matcher's gate options by default).
      index::InvertedFile::GateOptions loaded_gate;
      loaded_gate.assignment = gate_assignment;
      loaded_gate.max_word_fraction = stop_fractions.front();
      loaded_gate.probe_radius = probe_radii.front();
      loaded_gate.narrow_list_factor = narrow_factors.front();
      std::vector<double> loaded_ms, loaded_gate_ms;
      int loaded_accepted = 0, loaded_first = 0;
      if (loaded.ok()) {
        for (size_t qi = 0; qi < query_words.size(); ++qi) {
          double c0 = ThreadCpu();
          const auto ranked = (*loaded)->Score(query_words[qi], defaults.max_local_candidates,
                                               defaults.min_gate_score, loaded_gate);
          loaded_gate_ms.push_back(1e3 * (ThreadCpu() - c0));
          bool ok = false;
          for (const auto& c : ranked) {
            auto ref = (*loaded)->Features(c.unit_id);
            if (!ref) continue;
            ok |= VerifyAsTheMatcherDoes(query_words[qi], *ref, **loaded, c.unit_id, ranked) &&
                  c.unit_id == query_page[qi] + 1;
          }
          loaded_ms.push_back(1e3 * (ThreadCpu() - c0));
          loaded_accepted += ok;
          loaded_first += !ranked.empty() && ranked[0].unit_id == query_page[qi] + 1;
        }
      }
      const long rss_queried = StatusKiB("VmRSS:");
      std::printf(
          "    local.index at %lld pages: %.1f MiB on disk (%.0f bytes/page), save %.2f s, "
          "load %.3f s%s; loaded index %.0f MiB RAM (%.0f bytes/page, keypoints read from the "
          "file), %.0f MiB mapped (%lld pages); RSS +%.0f MiB after load, +%.0f MiB after the "
          "queries; from it: gate CPU ms p50 / p95 %.2f / %.2f, local stage CPU ms p50 / p95 "
          "%.2f / %.2f, true first %d/%zu, accepted %d/%zu\n",
          static_cast<long long>(index.pages()), fs::file_size(file) / 1048576.0,
          static_cast<double>(fs::file_size(file)) / index.pages(), save_s, load_s,
          loaded.ok() ? "" : " (LOAD FAILED)",
          loaded.ok() ? (*loaded)->MemoryBytes() / 1048576.0 : 0.0,
          loaded.ok() ? static_cast<double>((*loaded)->MemoryBytes()) / index.pages() : 0.0,
          loaded.ok() ? (*loaded)->MappedBytes() / 1048576.0 : 0.0,
          loaded.ok() ? static_cast<long long>((*loaded)->mapped_pages()) : 0LL,
          (rss_loaded - rss_before) / 1024.0, (rss_queried - rss_before) / 1024.0,
          Percentile(loaded_gate_ms, 0.5), Percentile(loaded_gate_ms, 0.95),
          Percentile(loaded_ms, 0.5), Percentile(loaded_ms, 0.95), loaded_first, query_words.size(),
          loaded_accepted, query_words.size());
      if (!keep_index) fs::remove(file);
    }
  }
  std::printf("peak RSS %ld MiB\n", StatusKiB("VmHWM:") / 1024);
  return 0;
}
