#include "kagami/index/boilerplate.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <set>

namespace kagami::index {
namespace {

// The coarse word (a top-level word of the vocabulary tree) of a leaf word,
// as fingerprint::MatchQuantised groups registered keypoints.
uint32_t Coarse(uint16_t word, int branch2) { return word / static_cast<uint32_t>(branch2); }

bool SameSize(const fingerprint::QuantisedFeatures& a, const fingerprint::QuantisedFeatures& b,
              double tolerance) {
  auto close = [tolerance](double x, double y) {
    return std::abs(x - y) <= tolerance * std::max(x, y);
  };
  return close(a.page_width, b.page_width) && close(a.page_height, b.page_height);
}

}  // namespace

int MarkTwins(const fingerprint::QuantisedFeatures& page,
              const fingerprint::QuantisedFeatures& sibling, const BoilerplateOptions& options,
              std::vector<uint8_t>* twins) {
  twins->assign(page.words.size(), 0);
  if (page.vocabulary_id != sibling.vocabulary_id || sibling.size() == 0) return 0;
  const int branch2 = std::max(1, fingerprint::VisualVocabulary::BuiltIn().branch2());
  // The sibling's keypoints grouped by coarse word (counting sort).
  const uint32_t keys = 0xFFFFu / static_cast<uint32_t>(branch2) + 1;
  std::vector<uint32_t> start(keys + 1, 0);
  for (uint16_t w : sibling.words) ++start[Coarse(w, branch2) + 1];
  for (uint32_t k = 0; k < keys; ++k) start[k + 1] += start[k];
  std::vector<uint32_t> order(sibling.words.size());
  {
    std::vector<uint32_t> fill(start.begin(), start.end() - 1);
    for (size_t j = 0; j < sibling.words.size(); ++j) {
      order[fill[Coarse(sibling.words[j], branch2)]++] = static_cast<uint32_t>(j);
    }
  }
  const float r = static_cast<float>(options.max_offset);
  const float r2 = r * r;
  int count = 0;
  for (size_t i = 0; i < page.words.size(); ++i) {
    const uint32_t k = Coarse(page.words[i], branch2);
    const cv::Point2f p = page.points[i];
    for (uint32_t s = start[k]; s < start[k + 1]; ++s) {
      const uint32_t j = order[s];
      const cv::Point2f d = sibling.points[j] - p;
      if (d.x * d.x + d.y * d.y > r2) continue;
      const int bits = std::popcount((page.signatures[i] ^ sibling.signatures[j]) & 0xFFFFFFu);
      if (bits > options.max_signature_distance) continue;
      (*twins)[i] = 1;
      ++count;
      break;
    }
  }
  return count;
}

BoilerplateMask MarkBoilerplate(const fingerprint::QuantisedFeatures& page,
                                std::span<const fingerprint::QuantisedFeatures* const> siblings,
                                const BoilerplateOptions& options) {
  assert(page.points.size() == page.words.size() && page.signatures.size() == page.words.size());
  BoilerplateMask mask;
  mask.marked.assign(page.words.size(), 0);
  if (!options.enabled || page.size() == 0) return mask;
  std::vector<uint8_t> twins;
  std::vector<int> votes(page.words.size(), 0);
  int counted = 0;
  for (const fingerprint::QuantisedFeatures* s : siblings) {
    if (s == nullptr || s == &page || !SameSize(page, *s, options.max_size_difference)) continue;
    ++mask.siblings_compared;
    const int n = MarkTwins(page, *s, options, &twins);
    if (n > options.max_shared_fraction * page.size()) {
      ++mask.duplicates;
      continue;
    }
    ++counted;
    for (size_t i = 0; i < twins.size(); ++i) votes[i] += twins[i];
  }
  const int need = std::max(1, std::min(options.min_twins, counted));
  for (size_t i = 0; i < votes.size(); ++i) mask.marked[i] = votes[i] >= need ? 1 : 0;
  mask.count = static_cast<int>(std::count(mask.marked.begin(), mask.marked.end(), 1));
  return mask;
}

fingerprint::QuantisedFeatures WithoutBoilerplate(const fingerprint::QuantisedFeatures& page,
                                                  const BoilerplateMask& mask) {
  fingerprint::QuantisedFeatures out;
  out.vocabulary_id = page.vocabulary_id;
  out.page_width = page.page_width;
  out.page_height = page.page_height;
  for (size_t i = 0; i < page.words.size(); ++i) {
    if (i < mask.marked.size() && mask.marked[i]) continue;
    out.words.push_back(page.words[i]);
    out.signatures.push_back(page.signatures[i]);
    out.points.push_back(page.points[i]);
  }
  return out;
}

std::vector<int64_t> SiblingUnits(const InvertedFile& index, int64_t unit,
                                  std::span<const int64_t> candidates,
                                  const BoilerplateOptions& options) {
  std::vector<int64_t> out;
  std::set<int64_t> seen = {unit};
  for (int64_t s : index.NeighbourUnits(unit, options.neighbours)) {
    if (seen.insert(s).second) out.push_back(s);
  }
  if (!options.candidates) return out;
  for (int64_t s : candidates) {
    if (seen.insert(s).second) out.push_back(s);
  }
  return out;
}

fingerprint::Verification VerifyWithoutBoilerplate(const fingerprint::QuantisedQuery& query,
                                                   const fingerprint::QuantisedFeatures& ref,
                                                   const BoilerplateMask& mask,
                                                   const fingerprint::QuantisedMatchOptions& match,
                                                   const fingerprint::VerifyOptions& verify,
                                                   const cv::Rect2f* frame) {
  const fingerprint::QuantisedFeatures distinct = WithoutBoilerplate(ref, mask);
  std::vector<cv::Point2f> query_points, ref_points;
  fingerprint::MatchQuantised(query, distinct, match, &query_points, &ref_points);
  cv::Size2f ref_page(ref.page_width, ref.page_height);
  if (frame != nullptr) {
    for (cv::Point2f& p : ref_points) p -= frame->tl();
    ref_page = frame->size();
  }
  fingerprint::Verification v = fingerprint::VerifyCorrespondences(
      query_points, ref_points, cv::Size2f(query.page_width, query.page_height), ref_page, verify);
  v.mirrored = query.mirrored;
  return v;
}

bool HoldsWithoutBoilerplate(const fingerprint::Verification& distinct,
                             const fingerprint::VerifyOptions& verify) {
  return distinct.sane && distinct.inliers >= verify.min_inliers;
}

}  // namespace kagami::index
