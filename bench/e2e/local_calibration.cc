// Calibration of the robust page-matching stage on synthetic manga pages.
//
// Registers --pages generated pages (PDQ of the full and trimmed page, local
// features of the page, a LocalIndex), applies every synth edit (plus
// "spread": the page merged with the next one into a two-page spread) and
// prints, per edit, the recall of:
//   pdq_full   PDQ of the whole query (8 dihedral variants) within 31 bits of
//              the registered full page (what Kagami did before);
//   pdq_views  the same over NormalizedViews() of the query against the
//              registered full and trimmed hashes;
//   local_ver  geometric verification against the true page (as if retrieval
//              were perfect); query views = the trimmed page, or the two halves
//              of a spread; plain and mirrored features;
//   retrieved  the true page among the LocalIndex's top --candidates;
//   local_e2e  retrieved, verified, and no other page accepted.
// Then, for unrelated same-style pairs (each query against --unrelated random
// other pages, and every wrongly voted candidate), the distribution of RANSAC
// inliers and the false accept counts, to choose thresholds with margin.
//
// Usage: kagami_bench_local_calibration [--pages N] [--unrelated U] [--candidates C]
//            [--detector orb|akaze|sift] [--keypoints K] [--min-inliers I]
//            [--min-coverage F] [--ratio R] [--ivf 0|1] [--threads T] [--verbose 0|1]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>
#include <vector>

#include "kagami/fingerprint/geometric_verifier.h"
#include "kagami/fingerprint/local_features.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/index/local_index.h"
#include "kagami/synth/page_generator.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fp = kagami::fingerprint;

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

struct Ref {
  fp::Hash256 pdq_full;
  fp::Hash256 pdq_trimmed;
  fp::LocalFeatures features;
};

// splitmix64 finaliser, to pick edits' seeds and unrelated pages.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

int Percentile(std::vector<int> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

// Per-query outcome, filled by the workers, aggregated in order afterwards.
struct Outcome {
  bool pdq_full = false, pdq_views = false, retrieved = false, found = false, wrong = false;
  fp::Verification truth;
  std::vector<int> unrelated_inliers;
  int unrelated_false = 0, pdq_false = 0;
  std::vector<int> voted_inliers;
  std::vector<fp::Verification>
      wrong_pairs;  // unrelated and wrongly voted, for the threshold table
  int voted_false = 0;
  double extract_ms = 0, vote_ms = 0, verify_ms = 0;
  int extracts = 0, verifies = 0;
  size_t views = 0;
};

const char* KindName(fp::FeatureKind kind) {
  switch (kind) {
    case fp::FeatureKind::kOrb:
      return "orb";
    case fp::FeatureKind::kAkaze:
      return "akaze";
    case fp::FeatureKind::kSift:
      return "sift";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  int pages = 120, unrelated = 5, candidates = 5, verbose = 0, threads = 2;
  bool force_ivf = false;
  fp::LocalFeatureOptions lf_options;
  fp::VerifyOptions verify;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--pages") {
      pages = std::clamp(std::atoi(value), 4, 5000);
    } else if (flag == "--unrelated") {
      unrelated = std::clamp(std::atoi(value), 0, 1000);
    } else if (flag == "--candidates") {
      candidates = std::clamp(std::atoi(value), 1, 100);
    } else if (flag == "--threads") {
      threads = std::clamp(std::atoi(value), 1, 64);
    } else if (flag == "--ivf") {
      force_ivf = std::atoi(value) != 0;
    } else if (flag == "--verbose") {
      verbose = std::atoi(value);
    } else if (flag == "--keypoints") {
      lf_options.max_keypoints = std::clamp(std::atoi(value), 16, 4000);
    } else if (flag == "--min-inliers") {
      verify.min_inliers = std::atoi(value);
    } else if (flag == "--ratio") {
      verify.ratio = std::atof(value);
    } else if (flag == "--min-coverage") {
      verify.min_coverage = std::atof(value);
    } else if (flag == "--detector") {
      const std::string d = value;
      lf_options.kind = d == "akaze"  ? fp::FeatureKind::kAkaze
                        : d == "sift" ? fp::FeatureKind::kSift
                                      : fp::FeatureKind::kOrb;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  // Single-threaded OpenCV: the costs below are per core; the workers
  // parallelise across queries, as Kagami's pipeline does across pages.
  cv::setNumThreads(1);
  const bool binary = fp::IsBinary(lf_options.kind);
  std::printf("detector=%s pages=%d keypoints=%d long_side=%d min_inliers=%d min_coverage=%.3f\n",
              KindName(lf_options.kind), pages, lf_options.max_keypoints,
              lf_options.working_long_side, verify.min_inliers, verify.min_coverage);

  std::vector<cv::Mat> originals(pages);
  std::vector<Ref> refs(pages);
  kagami::index::LocalIndexOptions index_options;
  if (force_ivf) index_options.ivf_min_descriptors = 0;
  kagami::index::LocalIndex index(binary ? lf_options.kind : fp::FeatureKind::kOrb, index_options);
  {
    fp::PdqHasher hasher;
    const auto t_register = Clock::now();
    double extract_ms = 0;
    for (int i = 0; i < pages; ++i) {
      originals[i] = kagami::synth::GenerateMangaPage(10000 + i);
      cv::Mat gray;
      cv::cvtColor(originals[i], gray, cv::COLOR_BGR2GRAY);
      refs[i].pdq_full = hasher.Hash(gray).hash;
      refs[i].pdq_trimmed = hasher.Hash(gray(fp::TrimUniformBorders(gray))).hash;
      const auto t = Clock::now();
      auto features = fp::ExtractLocalFeatures(gray, false, lf_options);
      extract_ms += Ms(t);
      if (!features.ok()) {
        std::fprintf(stderr, "%s\n", features.status().ToString().c_str());
        return 1;
      }
      refs[i].features = std::move(features).value();
      if (binary) {
        const kagami::Status s = index.Add(i, refs[i].features);
        if (!s.ok()) {
          std::fprintf(stderr, "%s\n", s.ToString().c_str());
          return 1;
        }
      }
    }
    const auto t_build = Clock::now();
    if (const kagami::Status s = index.Build(); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("registered %d pages in %.0f ms (extraction %.1f ms/page), index build %.0f ms\n",
                pages, Ms(t_register), extract_ms / pages, Ms(t_build));
  }

  std::vector<std::string> edit_names;
  const std::vector<kagami::synth::Edit> edits = kagami::synth::AllEdits();
  for (auto e : edits) edit_names.emplace_back(kagami::synth::EditName(e));
  edit_names.push_back("spread");
  const size_t jobs = edit_names.size() * pages;
  std::vector<Outcome> outcomes(jobs);

  auto run_job = [&](size_t job, fp::PdqHasher& hasher) {
    const size_t e = job / pages;
    const int i = static_cast<int>(job % pages);
    const std::string& name = edit_names[e];
    Outcome& out = outcomes[job];
    const uint64_t seed = Mix(i * 131 + e);
    cv::Mat query_bgr;
    // A spread holds two registered pages: both are true matches.
    const int also_true = name == "spread" ? (i + 1) % pages : -1;
    if (name == "spread") {
      query_bgr = (seed & 1) ? kagami::synth::MakeSpread(originals[also_true], originals[i])
                             : kagami::synth::MakeSpread(originals[i], originals[also_true]);
    } else {
      query_bgr = kagami::synth::ApplyEdit(originals[i], edits[e], seed);
    }
    cv::Mat gray;
    cv::cvtColor(query_bgr, gray, cv::COLOR_BGR2GRAY);

    // PDQ alone and with normalised views (dihedral variants for mirrors).
    const std::vector<fp::View> views = fp::NormalizedViews(gray);
    std::vector<fp::PdqDihedralHashes> view_hashes;
    for (const fp::View& v : views) view_hashes.push_back(hasher.HashDihedral(v.image));
    auto min_distance = [&](const fp::Hash256& ref_hash, bool all_views) {
      int best = 256;
      for (size_t v = 0; v < (all_views ? view_hashes.size() : 1); ++v) {
        for (const fp::Hash256& h : view_hashes[v].hashes) {
          best = std::min(best, fp::HammingDistance(h, ref_hash));
        }
      }
      return best;
    };
    auto pdq_match = [&](const Ref& ref) {
      return std::min(min_distance(ref.pdq_full, true), min_distance(ref.pdq_trimmed, true)) <= 31;
    };
    out.pdq_full = min_distance(refs[i].pdq_full, false) <= 31;
    out.pdq_views = pdq_match(refs[i]);

    // Local stage query views: the trimmed page, or the halves of a spread.
    std::vector<fp::LocalFeatures> plain, mirrored;
    auto timed_extract = [&](const cv::Mat& img, bool flip) {
      const auto t = Clock::now();
      auto r = fp::ExtractLocalFeatures(img, flip, lf_options);
      out.extract_ms += Ms(t);
      ++out.extracts;
      return r.ok() ? std::move(r).value() : fp::LocalFeatures{};
    };
    const bool has_halves = views.back().name == "right";
    for (const fp::View& v : views) {
      if (has_halves ? (v.name != "left" && v.name != "right")
                     : (v.name == "full" && views.size() > 1)) {
        continue;
      }
      if (v.image.cols < 16 || v.image.rows < 16) continue;
      plain.push_back(timed_extract(v.image, false));
      mirrored.push_back(timed_extract(v.image, true));
    }
    out.views = plain.size();
    auto verify_pair = [&](const Ref& ref) {
      fp::Verification best;
      for (size_t v = 0; v < plain.size(); ++v) {
        const auto t = Clock::now();
        fp::Verification r =
            fp::VerifyEitherOrientation(plain[v], &mirrored[v], ref.features, verify);
        out.verify_ms += Ms(t);
        ++out.verifies;
        if (std::make_pair(r.accepted, r.inliers) > std::make_pair(best.accepted, best.inliers))
          best = r;
      }
      return best;
    };
    out.truth = verify_pair(refs[i]);

    // Unrelated same-style pages.
    for (int u = 0; u < unrelated; ++u) {
      int other = static_cast<int>(Mix(seed + u) % pages);
      while (other == i || other == also_true) other = (other + 1) % pages;
      const fp::Verification w = verify_pair(refs[other]);
      out.unrelated_inliers.push_back(w.inliers);
      out.wrong_pairs.push_back(w);
      if (w.accepted) ++out.unrelated_false;
      if (pdq_match(refs[other])) ++out.pdq_false;
    }

    // Retrieval (votes of every view, both orientations) + verification.
    if (binary) {
      std::map<int64_t, int> votes;
      const auto t = Clock::now();
      for (size_t v = 0; v < plain.size(); ++v) {
        for (const auto* f : {&plain[v], &mirrored[v]}) {
          for (const auto& c : index.Vote(*f, candidates)) {
            votes[c.unit_id] = std::max(votes[c.unit_id], c.votes);
          }
        }
      }
      out.vote_ms += Ms(t);
      std::vector<std::pair<int, int64_t>> ranked;
      for (const auto& [unit, v] : votes) ranked.push_back({-v, unit});
      std::sort(ranked.begin(), ranked.end());
      if (static_cast<int>(ranked.size()) > candidates) ranked.resize(candidates);
      for (const auto& [neg_votes, unit] : ranked) {
        if (unit == i) {
          out.retrieved = true;
          out.found = out.truth.accepted;
          continue;
        }
        if (unit == also_true) continue;
        const fp::Verification w = verify_pair(refs[unit]);
        out.voted_inliers.push_back(w.inliers);
        out.wrong_pairs.push_back(w);
        if (w.accepted) {
          ++out.voted_false;
          out.wrong = true;
        }
      }
    }
  };

  const auto t_queries = Clock::now();
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      fp::PdqHasher hasher;
      for (size_t job; (job = next.fetch_add(1)) < jobs;) run_job(job, hasher);
    });
  }
  for (std::thread& w : workers) w.join();
  const double query_wall_ms = Ms(t_queries);

  std::vector<int> unrelated_inliers, voted_inliers, true_inliers;
  int unrelated_false = 0, voted_false = 0, pdq_false = 0;
  double extract_ms = 0, vote_ms = 0, verify_ms = 0;
  int extracts = 0, verifies = 0;
  std::printf("%-16s %5s %9s %9s %9s %9s %9s %5s %s\n", "edit", "n", "pdq_full", "pdq_views",
              "local_ver", "retrieved", "local_e2e", "wrong", "true inliers p5/p50");
  for (size_t e = 0; e < edit_names.size(); ++e) {
    int pf = 0, pv = 0, lv = 0, rt = 0, le = 0, wr = 0;
    std::vector<int> inliers;
    for (int i = 0; i < pages; ++i) {
      const Outcome& o = outcomes[e * pages + i];
      pf += o.pdq_full;
      pv += o.pdq_views;
      lv += o.truth.accepted;
      rt += o.retrieved;
      le += o.found && !o.wrong;
      wr += o.wrong;
      inliers.push_back(o.truth.inliers);
      true_inliers.push_back(o.truth.inliers);
      unrelated_inliers.insert(unrelated_inliers.end(), o.unrelated_inliers.begin(),
                               o.unrelated_inliers.end());
      unrelated_false += o.unrelated_false;
      pdq_false += o.pdq_false;
      voted_inliers.insert(voted_inliers.end(), o.voted_inliers.begin(), o.voted_inliers.end());
      voted_false += o.voted_false;
      extract_ms += o.extract_ms;
      extracts += o.extracts;
      vote_ms += o.vote_ms;
      verify_ms += o.verify_ms;
      verifies += o.verifies;
      if (verbose && !o.truth.accepted) {
        std::printf(
            "  miss %s page %d: matches %d inliers %d coverage %.3f sane %d mirrored %d views "
            "%zu\n",
            edit_names[e].c_str(), i, o.truth.matches, o.truth.inliers, o.truth.coverage,
            o.truth.sane, o.truth.mirrored, o.views);
      }
    }
    auto pct = [&](int k) { return 100.0 * k / pages; };
    std::printf("%-16s %5d %8.1f%% %8.1f%% %8.1f%% %8.1f%% %8.1f%% %5d %d/%d\n",
                edit_names[e].c_str(), pages, pct(pf), pct(pv), pct(lv), pct(rt), pct(le), wr,
                Percentile(inliers, 0.05), Percentile(inliers, 0.5));
  }
  std::printf(
      "\nunrelated random pairs: %zu, false accepts %d; inliers p50=%d p99=%d p99.9=%d max=%d\n",
      unrelated_inliers.size(), unrelated_false, Percentile(unrelated_inliers, 0.5),
      Percentile(unrelated_inliers, 0.99), Percentile(unrelated_inliers, 0.999),
      Percentile(unrelated_inliers, 1.0));
  std::printf(
      "wrong voted candidates: %zu, false accepts %d; inliers p50=%d p99=%d p99.9=%d max=%d\n",
      voted_inliers.size(), voted_false, Percentile(voted_inliers, 0.5),
      Percentile(voted_inliers, 0.99), Percentile(voted_inliers, 0.999),
      Percentile(voted_inliers, 1.0));
  std::printf("PDQ (views, dihedral, <= 31 bits) on the unrelated pairs: %d of %zu\n", pdq_false,
              unrelated_inliers.size());
  std::printf("true pairs inliers p1=%d p5=%d p50=%d\n", Percentile(true_inliers, 0.01),
              Percentile(true_inliers, 0.05), Percentile(true_inliers, 0.5));
  // What other thresholds would give, from the same pairs (run with a low
  // --min-inliers so that RANSAC ran on every pair with enough matches).
  std::printf(
      "\nthreshold table (false accepts over all wrong pairs; recall over all true pairs / "
      "crop20):\n");
  std::vector<const fp::Verification*> wrong_pairs, true_pairs, crop20_pairs;
  for (size_t j = 0; j < jobs; ++j) {
    for (const fp::Verification& w : outcomes[j].wrong_pairs) wrong_pairs.push_back(&w);
    true_pairs.push_back(&outcomes[j].truth);
    if (edit_names[j / pages] == "crop20") crop20_pairs.push_back(&outcomes[j].truth);
  }
  for (int min_inliers : {10, 12, 14, 16, 18, 20, 24, 30}) {
    for (double min_coverage : {0.0, 0.05, 0.1}) {
      if (min_inliers < verify.min_inliers || min_coverage < verify.min_coverage) continue;
      auto accepts = [&](const fp::Verification* v) {
        return v->sane && v->inliers >= min_inliers && v->coverage >= min_coverage;
      };
      auto count = [&](const std::vector<const fp::Verification*>& vs) {
        return static_cast<int>(std::count_if(vs.begin(), vs.end(), accepts));
      };
      std::printf(
          "  min_inliers %2d min_coverage %.2f: false %d of %zu, recall %.1f%%, crop20 %.1f%%\n",
          min_inliers, min_coverage, count(wrong_pairs), wrong_pairs.size(),
          100.0 * count(true_pairs) / std::max<size_t>(1, true_pairs.size()),
          100.0 * count(crop20_pairs) / std::max<size_t>(1, crop20_pairs.size()));
    }
  }
  std::printf("index: %s, %lld descriptors\n", index.uses_ivf() ? "IVF" : "flat",
              static_cast<long long>(index.descriptors()));
  std::printf(
      "per core: extract %.1f ms/view, vote %.1f ms/query (all views, both orientations), "
      "verify %.2f ms/pair (both orientations); wall %.1f s on %d threads\n",
      extract_ms / std::max(1, extracts), vote_ms / std::max<size_t>(1, jobs),
      verify_ms / std::max(1, verifies), query_wall_ms / 1000, threads);
  return 0;
}
