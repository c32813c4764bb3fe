#include "kagami/fingerprint/quantised_features.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>
#include <string>

#include "kagami/fingerprint/simd.h"

namespace kagami::fingerprint {
namespace {

constexpr uint8_t kMagic[3] = {'K', 'L', 'Q'};
constexpr uint8_t kVersion = 1;
constexpr uint8_t kThumbnailVersion = 2;
constexpr uint8_t kColourVersion = 3;
constexpr size_t kHeaderBytes = 3 + 1 + 2 + 2 + 4 + 4 + 4;  // 20 (2 reserved)
constexpr int kGrid = 8;

uint32_t Fraction12(float v, float extent) {
  return static_cast<uint32_t>(std::lround(std::clamp(v / extent, 0.0f, 1.0f) * 4095.0f));
}

Hash256 Row(const cv::Mat& descriptors, int r) {
  Hash256 h;
  std::memcpy(h.bytes.data(), descriptors.ptr<uint8_t>(r), 32);
  return h;
}

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace

int MaxQuantisedKeypoints(const PageThumbnail& thumbnail, bool with_colour) {
  if (thumbnail.empty()) return kMaxQuantisedKeypoints;
  const size_t bytes = (static_cast<size_t>(thumbnail.width) * thumbnail.height + 1) / 2 +
                       (with_colour ? kColourSignatureBytes : 0);
  return static_cast<int>((kMaxQuantisedBytes - kHeaderBytes - bytes) / 8);
}

std::vector<uint8_t> QuantisedFeatures::Serialize() const {
  const bool with_colour = !thumbnail.empty() && colour.measured;
  const int max_keypoints = MaxQuantisedKeypoints(thumbnail, with_colour);
  assert(size() <= max_keypoints);
  assert(signatures.size() == words.size() && points.size() == words.size());
  assert(thumbnail.width <= kThumbnailLongSide && thumbnail.height <= kThumbnailLongSide);
  const int n = std::min(size(), max_keypoints);
  const std::vector<uint8_t> packed_thumbnail =
      thumbnail.empty() ? std::vector<uint8_t>{} : thumbnail.Pack();
  std::vector<uint8_t> out(kHeaderBytes + static_cast<size_t>(n) * 8 + packed_thumbnail.size() +
                               (with_colour ? kColourSignatureBytes : 0),
                           0);
  std::memcpy(out.data(), kMagic, 3);
  out[3] = thumbnail.empty() ? kVersion : (with_colour ? kColourVersion : kThumbnailVersion);
  out[4] = static_cast<uint8_t>(n);
  out[5] = static_cast<uint8_t>(n >> 8);
  if (!thumbnail.empty()) {
    out[6] = static_cast<uint8_t>(thumbnail.width);
    out[7] = static_cast<uint8_t>(thumbnail.height);
    std::copy(packed_thumbnail.begin(), packed_thumbnail.end(),
              out.begin() + kHeaderBytes + static_cast<size_t>(n) * 8);
  }
  if (with_colour) {
    const std::array<uint8_t, kColourSignatureBytes> packed_colour = colour.Pack();
    std::copy(packed_colour.begin(), packed_colour.end(), out.end() - kColourSignatureBytes);
  }
  PutU32(&out[8], vocabulary_id);
  float wh[2] = {page_width, page_height};
  std::memcpy(&out[12], &wh[0], 4);
  std::memcpy(&out[16], &wh[1], 4);
  for (int i = 0; i < n; ++i) {
    const uint64_t packed = uint64_t{words[i]} |
                            (uint64_t{Fraction12(points[i].x, page_width)} << 16) |
                            (uint64_t{Fraction12(points[i].y, page_height)} << 28) |
                            (uint64_t{signatures[i] & 0xFFFFFFu} << 40);
    for (int b = 0; b < 8; ++b)
      out[kHeaderBytes + i * 8 + b] = static_cast<uint8_t>(packed >> (8 * b));
  }
  return out;
}

bool LacksColourSignature(std::span<const uint8_t> blob) {
  return blob.size() >= kHeaderBytes && std::memcmp(blob.data(), kMagic, 3) == 0 &&
         blob[3] == kThumbnailVersion;
}

std::array<uint8_t, 4> ColourlessBlobPrefix() {
  return {kMagic[0], kMagic[1], kMagic[2], kThumbnailVersion};
}

Result<std::vector<uint8_t>> WithColourSignature(std::span<const uint8_t> blob,
                                                 const ColourSignature& colour) {
  if (!colour.measured) return Status::InvalidArgument("colour signature not measured");
  if (!LacksColourSignature(blob)) {
    return Status::InvalidArgument("quantised features blob: not a version 2 blob");
  }
  KAGAMI_ASSIGN_OR_RETURN(const QuantisedFeatures f, QuantisedFeatures::Deserialize(blob));
  const int n = f.size();
  const int keep = std::min(n, MaxQuantisedKeypoints(f.thumbnail, true));
  const size_t thumbnail_bytes = blob.size() - kHeaderBytes - static_cast<size_t>(n) * 8;
  std::vector<uint8_t> out(blob.begin(),
                           blob.begin() + kHeaderBytes + static_cast<size_t>(keep) * 8);
  out.insert(out.end(), blob.end() - thumbnail_bytes, blob.end());
  const std::array<uint8_t, kColourSignatureBytes> packed = colour.Pack();
  out.insert(out.end(), packed.begin(), packed.end());
  out[3] = kColourVersion;
  out[4] = static_cast<uint8_t>(keep);
  out[5] = static_cast<uint8_t>(keep >> 8);
  assert(out.size() <= kMaxQuantisedBytes);
  return out;
}

bool QuantisedFeatures::IsQuantisedBlob(std::span<const uint8_t> blob) {
  return blob.size() >= 3 && std::memcmp(blob.data(), kMagic, 3) == 0;
}

Result<QuantisedFeatures> QuantisedFeatures::Deserialize(std::span<const uint8_t> blob) {
  if (blob.size() < kHeaderBytes || !IsQuantisedBlob(blob)) {
    return Status::Corrupt("quantised features blob: missing 'KLQ' header");
  }
  if (blob[3] != kVersion && blob[3] != kThumbnailVersion && blob[3] != kColourVersion) {
    return Status::Corrupt("quantised features blob: unsupported version " +
                           std::to_string(blob[3]));
  }
  QuantisedFeatures f;
  size_t thumbnail_bytes = 0;
  const bool with_colour = blob[3] == kColourVersion;
  const size_t colour_bytes = with_colour ? kColourSignatureBytes : 0;
  if (blob[3] == kThumbnailVersion || with_colour) {
    const int tw = blob[6], th = blob[7];
    if (tw < 1 || th < 1 || tw > kThumbnailLongSide || th > kThumbnailLongSide) {
      return Status::Corrupt("quantised features blob: thumbnail size " + std::to_string(tw) + "x" +
                             std::to_string(th) + " outside 1..32");
    }
    f.thumbnail.width = tw;
    f.thumbnail.height = th;
    thumbnail_bytes = (static_cast<size_t>(tw) * th + 1) / 2;
  }
  const int n = blob[4] | (blob[5] << 8);
  const size_t keypoint_bytes = static_cast<size_t>(n) * 8;
  if (n > MaxQuantisedKeypoints(f.thumbnail, with_colour) ||
      blob.size() != kHeaderBytes + keypoint_bytes + thumbnail_bytes + colour_bytes) {
    return Status::Corrupt("quantised features blob: " + std::to_string(blob.size()) +
                           " bytes for " + std::to_string(n) + " keypoints");
  }
  if (!f.thumbnail.empty()) {
    const int tw = f.thumbnail.width, th = f.thumbnail.height;
    PageThumbnail::Unpack(tw, th, blob.subspan(kHeaderBytes + keypoint_bytes, thumbnail_bytes),
                          &f.thumbnail);
  }
  if (with_colour) {
    ColourSignature::Unpack(blob.subspan(kHeaderBytes + keypoint_bytes + thumbnail_bytes),
                            &f.colour);
  }
  f.vocabulary_id = GetU32(&blob[8]);
  std::memcpy(&f.page_width, &blob[12], 4);
  std::memcpy(&f.page_height, &blob[16], 4);
  const auto valid = [](float v) { return std::isfinite(v) && v > 0.0f && v <= 1.0f; };
  if (!valid(f.page_width) || !valid(f.page_height)) {
    return Status::Corrupt("quantised features blob: page size out of range (0, 1]");
  }
  f.words.resize(n);
  f.signatures.resize(n);
  f.points.resize(n);
  for (int i = 0; i < n; ++i) {
    uint64_t packed = 0;
    for (int b = 0; b < 8; ++b) packed |= uint64_t{blob[kHeaderBytes + i * 8 + b]} << (8 * b);
    f.words[i] = static_cast<uint16_t>(packed);
    f.points[i] = cv::Point2f(((packed >> 16) & 0xFFF) / 4095.0f * f.page_width,
                              ((packed >> 28) & 0xFFF) / 4095.0f * f.page_height);
    f.signatures[i] = static_cast<uint32_t>(packed >> 40);
  }
  return f;
}

QuantisedFeatures Quantise(const LocalFeatures& features, const VisualVocabulary& vocabulary,
                           int max_keypoints) {
  assert(features.kind == FeatureKind::kOrb);
  QuantisedFeatures q;
  q.vocabulary_id = vocabulary.id();
  q.page_width = features.page_width;
  q.page_height = features.page_height;
  if (features.kind != FeatureKind::kOrb || vocabulary.words() == 0) return q;
  max_keypoints = std::clamp(max_keypoints, 0, kMaxQuantisedKeypoints);
  const int n = features.size();
  std::vector<int> keep;
  if (n <= max_keypoints) {
    for (int i = 0; i < n; ++i) keep.push_back(i);
  } else {
    const int quota = std::max(1, max_keypoints / (kGrid * kGrid));
    std::vector<int> per_cell(kGrid * kGrid, 0);
    std::vector<bool> taken(n, false);
    for (int i = 0; i < n && static_cast<int>(keep.size()) < max_keypoints; ++i) {
      const cv::Point2f p = features.points[i];
      const int cx = std::clamp(static_cast<int>(p.x / features.page_width * kGrid), 0, kGrid - 1);
      const int cy = std::clamp(static_cast<int>(p.y / features.page_height * kGrid), 0, kGrid - 1);
      if (per_cell[cy * kGrid + cx] < quota) {
        ++per_cell[cy * kGrid + cx];
        taken[i] = true;
        keep.push_back(i);
      }
    }
    for (int i = 0; i < n && static_cast<int>(keep.size()) < max_keypoints; ++i) {
      if (!taken[i]) keep.push_back(i);
    }
  }
  for (int i : keep) {
    const Hash256 d = Row(features.descriptors, i);
    q.words.push_back(static_cast<uint16_t>(vocabulary.Word(d)));
    q.signatures.push_back(vocabulary.Signature(d));
    // As stored: 12-bit fractions, so that matching from a blob and from
    // memory agree.
    const cv::Point2f p = features.points[i];
    q.points.emplace_back(Fraction12(p.x, q.page_width) / 4095.0f * q.page_width,
                          Fraction12(p.y, q.page_height) / 4095.0f * q.page_height);
  }
  return q;
}

QuantisedQuery QuantiseQuery(const LocalFeatures& features, const VisualVocabulary& vocabulary,
                             int multiple_assignment, int top_assignment) {
  QuantisedQuery q;
  q.vocabulary_id = vocabulary.id();
  q.mirrored = features.mirrored;
  q.page_width = features.page_width;
  q.page_height = features.page_height;
  q.assignment = std::clamp(multiple_assignment, 1, 8);
  q.top_assignment = std::clamp(top_assignment, 1, 8);
  q.branch2 = std::max(1, vocabulary.branch2());
  if (features.kind != FeatureKind::kOrb || vocabulary.words() == 0) return q;
  q.top_words.assign(static_cast<size_t>(features.size()) * q.top_assignment, UINT32_MAX);
  const int n = features.size();
  q.words.assign(static_cast<size_t>(n) * q.assignment, UINT32_MAX);
  q.signatures.resize(n);
  q.points = features.points;
  for (int i = 0; i < n; ++i) {
    const Hash256 d = Row(features.descriptors, i);
    vocabulary.WordsAndTopWords(d, q.assignment, &q.words[static_cast<size_t>(i) * q.assignment],
                                q.top_assignment,
                                &q.top_words[static_cast<size_t>(i) * q.top_assignment]);
    q.signatures[i] = vocabulary.Signature(d);
  }
  return q;
}

void MatchQuantisedReference(const QuantisedQuery& query, const QuantisedFeatures& ref,
                             const QuantisedMatchOptions& options,
                             std::vector<cv::Point2f>* query_points,
                             std::vector<cv::Point2f>* ref_points) {
  query_points->clear();
  ref_points->clear();
  if (query.vocabulary_id != ref.vocabulary_id || ref.size() == 0 || query.size() == 0) return;
  // Registered keypoints sorted by (coarse) word.
  const bool coarse = options.coarse && !query.top_words.empty();
  const int per_query = coarse ? query.top_assignment : query.assignment;
  const std::vector<uint32_t>& query_words = coarse ? query.top_words : query.words;
  std::vector<std::pair<uint32_t, int>> by_word(ref.size());
  for (int i = 0; i < ref.size(); ++i) {
    by_word[i] = {coarse ? ref.words[i] / static_cast<uint32_t>(query.branch2) : ref.words[i], i};
  }
  std::sort(by_word.begin(), by_word.end());
  constexpr int kNone = -1;
  const int proposals = std::clamp(options.proposals, 1, 8);
  std::vector<int> best_query_for_ref(ref.size(), kNone);
  std::vector<int> best_dist_for_ref(ref.size(), 1 << 20);
  // The query keypoint's closest registered keypoints, (distance, ref) ascending.
  std::vector<std::pair<int, int>> closest;
  for (int qi = 0; qi < query.size(); ++qi) {
    closest.clear();
    int best_d = 1 << 20, second_d = 1 << 20;
    for (int a = 0; a < per_query; ++a) {
      const uint32_t w = query_words[static_cast<size_t>(qi) * per_query + a];
      if (w > 0xFFFF) continue;
      auto it = std::lower_bound(by_word.begin(), by_word.end(), std::make_pair(w, -1));
      for (; it != by_word.end() && it->first == w; ++it) {
        const int d =
            std::popcount((query.signatures[qi] ^ ref.signatures[it->second]) & 0xFFFFFFu);
        if (d > options.max_signature_distance) continue;
        if (d < best_d) {
          second_d = best_d;
          best_d = d;
        } else if (d < second_d) {
          second_d = d;
        }
        closest.emplace_back(d, it->second);
      }
    }
    if (closest.empty() || (options.drop_ties && second_d == best_d)) continue;
    std::sort(closest.begin(), closest.end());
    closest.erase(std::unique(closest.begin(), closest.end()), closest.end());
    int kept = 0;
    for (size_t k = 0; k < closest.size() && kept < proposals; ++k) {
      const auto [d, r] = closest[k];
      bool near_kept = false;
      for (size_t j = 0; j < k && !near_kept; ++j) {
        const cv::Point2f delta = ref.points[r] - ref.points[closest[j].second];
        near_kept = delta.dot(delta) < 1e-4f;
      }
      if (near_kept) continue;
      ++kept;
      if (d < best_dist_for_ref[r]) {
        best_dist_for_ref[r] = d;
        best_query_for_ref[r] = qi;
      }
    }
  }
  for (int r = 0; r < ref.size(); ++r) {
    if (best_query_for_ref[r] == kNone) continue;
    query_points->push_back(query.points[best_query_for_ref[r]]);
    ref_points->push_back(ref.points[r]);
  }
}

namespace {

// Registered keypoints grouped by their (coarse) word: a counting sort, so
// keypoints keep their index order inside a word, as the reference's
// (word, index) sort gives them.
struct WordBuckets {
  std::vector<uint16_t> start;  // keys + 1 offsets into `index`
  std::vector<uint16_t> index;  // registered keypoint indices
};

// Coarse keys this path handles; larger key spaces (leaf words) take the
// reference path.
constexpr uint32_t kMaxBucketKeys = 4096;

// The reference's result for the common options (proposals 1): per query
// keypoint its closest (distance, index) registered keypoint within the
// signature threshold, then per registered keypoint the first query keypoint
// at the smallest distance. Always inlined, so that it is compiled once with
// and once without the POPCNT instruction (std::popcount follows the caller's
// target).
__attribute__((always_inline)) inline void MatchBucketsBody(
    const QuantisedQuery& query, const QuantisedFeatures& ref, const QuantisedMatchOptions& options,
    const WordBuckets& buckets, int per_query, const std::vector<uint32_t>& query_words,
    int16_t* best_query_for_ref, int8_t* best_dist_for_ref) {
  const uint32_t keys = static_cast<uint32_t>(buckets.start.size() - 1);
  const int max_d = options.max_signature_distance;
  const uint32_t* ref_signatures = ref.signatures.data();
  for (int qi = 0; qi < query.size(); ++qi) {
    const uint32_t qsig = query.signatures[qi];
    int best_d = 1 << 20, second_d = 1 << 20, best_r = -1;
    for (int a = 0; a < per_query; ++a) {
      const uint32_t w = query_words[static_cast<size_t>(qi) * per_query + a];
      if (w >= keys) continue;
      const uint16_t* it = buckets.index.data() + buckets.start[w];
      const uint16_t* end = buckets.index.data() + buckets.start[w + 1];
      for (; it != end; ++it) {
        const int r = *it;
        const int d = std::popcount((qsig ^ ref_signatures[r]) & 0xFFFFFFu);
        if (d > max_d) continue;
        if (d < best_d) {
          second_d = best_d;
          best_d = d;
          best_r = r;
        } else {
          if (d < second_d) second_d = d;
          if (d == best_d && r < best_r) best_r = r;
        }
      }
    }
    if (best_r < 0 || (options.drop_ties && second_d == best_d)) continue;
    if (best_d < best_dist_for_ref[best_r]) {
      best_dist_for_ref[best_r] = static_cast<int8_t>(best_d);
      best_query_for_ref[best_r] = static_cast<int16_t>(qi);
    }
  }
}

void MatchBucketsPortable(const QuantisedQuery& query, const QuantisedFeatures& ref,
                          const QuantisedMatchOptions& options, const WordBuckets& buckets,
                          int per_query, const std::vector<uint32_t>& query_words,
                          int16_t* best_query_for_ref, int8_t* best_dist_for_ref) {
  MatchBucketsBody(query, ref, options, buckets, per_query, query_words, best_query_for_ref,
                   best_dist_for_ref);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) void MatchBucketsPopcnt(
    const QuantisedQuery& query, const QuantisedFeatures& ref, const QuantisedMatchOptions& options,
    const WordBuckets& buckets, int per_query, const std::vector<uint32_t>& query_words,
    int16_t* best_query_for_ref, int8_t* best_dist_for_ref) {
  MatchBucketsBody(query, ref, options, buckets, per_query, query_words, best_query_for_ref,
                   best_dist_for_ref);
}
#endif

}  // namespace

void MatchQuantised(const QuantisedQuery& query, const QuantisedFeatures& ref,
                    const QuantisedMatchOptions& options, std::vector<cv::Point2f>* query_points,
                    std::vector<cv::Point2f>* ref_points) {
  MatchQuantised(query, ref, options, DetectSimdLevel(), query_points, ref_points);
}

void MatchQuantised(const QuantisedQuery& query, const QuantisedFeatures& ref,
                    const QuantisedMatchOptions& options, SimdLevel level,
                    std::vector<cv::Point2f>* query_points, std::vector<cv::Point2f>* ref_points) {
  const bool coarse = options.coarse && !query.top_words.empty();
  const uint32_t branch2 = static_cast<uint32_t>(std::max(1, query.branch2));
  const uint32_t keys = coarse ? (0xFFFFu / branch2 + 1) : 0x10000u;
  // The fast path covers the options the matcher uses; anything else (leaf
  // words, several proposals, distances beyond int8) is the reference.
  if (std::clamp(options.proposals, 1, 8) != 1 || keys > kMaxBucketKeys ||
      options.max_signature_distance > 24 || ref.size() > INT16_MAX || query.size() > INT16_MAX) {
    MatchQuantisedReference(query, ref, options, query_points, ref_points);
    return;
  }
  query_points->clear();
  ref_points->clear();
  if (query.vocabulary_id != ref.vocabulary_id || ref.size() == 0 || query.size() == 0) return;
  const int per_query = coarse ? query.top_assignment : query.assignment;
  const std::vector<uint32_t>& query_words = coarse ? query.top_words : query.words;
  const int n = ref.size();
  WordBuckets buckets;
  buckets.start.assign(keys + 1, 0);
  for (int i = 0; i < n; ++i) ++buckets.start[ref.words[i] / branch2 + 1];
  for (uint32_t k = 0; k < keys; ++k) buckets.start[k + 1] += buckets.start[k];
  buckets.index.resize(n);
  {
    std::vector<uint16_t> fill(buckets.start.begin(), buckets.start.end() - 1);
    for (int i = 0; i < n; ++i)
      buckets.index[fill[ref.words[i] / branch2]++] = static_cast<uint16_t>(i);
  }
  std::vector<int16_t> best_query_for_ref(n, -1);
  std::vector<int8_t> best_dist_for_ref(n, INT8_MAX);
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has_popcnt = __builtin_cpu_supports("popcnt");
  if (has_popcnt && level != SimdLevel::kScalar) {
    MatchBucketsPopcnt(query, ref, options, buckets, per_query, query_words,
                       best_query_for_ref.data(), best_dist_for_ref.data());
  } else
#endif
  {
    MatchBucketsPortable(query, ref, options, buckets, per_query, query_words,
                         best_query_for_ref.data(), best_dist_for_ref.data());
  }
  for (int r = 0; r < n; ++r) {
    if (best_query_for_ref[r] < 0) continue;
    query_points->push_back(query.points[best_query_for_ref[r]]);
    ref_points->push_back(ref.points[r]);
  }
}

Verification VerifyQuantised(const QuantisedQuery& query, const QuantisedFeatures& ref,
                             const QuantisedMatchOptions& match, const VerifyOptions& verify) {
  std::vector<cv::Point2f> qp, rp;
  MatchQuantised(query, ref, match, &qp, &rp);
  Verification v = VerifyCorrespondences(qp, rp, {query.page_width, query.page_height},
                                         {ref.page_width, ref.page_height}, verify);
  v.mirrored = query.mirrored;
  return v;
}

}  // namespace kagami::fingerprint
