#pragma once

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/colour_signature.h"
#include "kagami/fingerprint/geometric_verifier.h"
#include "kagami/fingerprint/local_features.h"
#include "kagami/fingerprint/page_thumbnail.h"
#include "kagami/fingerprint/simd.h"
#include "kagami/fingerprint/visual_vocabulary.h"

namespace kagami::fingerprint {

// A registered page's local features in at most 4 KB: per keypoint its visual
// word (16 bits), a 24-bit Hamming-embedding signature (visual_vocabulary.h)
// and its position as 12-bit fractions of the page's width and height (1/4095
// of a side: 0.2 px at the 800-pixel working size, far below RANSAC's 5-pixel
// threshold). Verification runs from these (VerifyQuantised), so raw
// descriptors (36 KB for 1000 ORB keypoints) need not be stored.
//
// Matching (Jegou, Douze & Schmid, ECCV 2008): a query keypoint, assigned to
// its `multiple_assignment` nearest words, matches a registered keypoint of
// one of those words whose signature is within `max_signature_distance` bits;
// each query keypoint keeps its unique closest registered keypoint (ties are
// ambiguous and dropped, as Lowe's ratio test drops them), each registered
// keypoint its closest query keypoint. Then VerifyCorrespondences.
inline constexpr int kMaxQuantisedKeypoints = 509;  // 20-byte header + 509 x 8 <= 4096
inline constexpr size_t kMaxQuantisedBytes = 4096;

struct QuantisedFeatures {
  uint32_t vocabulary_id = 0;
  float page_width = 1.0f;  // normalised units, long side 1
  float page_height = 1.0f;
  std::vector<uint16_t> words;
  std::vector<uint32_t> signatures;  // low 24 bits
  std::vector<cv::Point2f> points;   // normalised units
  // The page's appearance (page_thumbnail.h); empty in version 1 blobs. It
  // takes the room of (its bytes / 8) keypoints: MaxQuantisedKeypoints().
  PageThumbnail thumbnail;
  // The page's colours (colour_signature.h); not measured in version 1 and 2
  // blobs. Stored only beside a thumbnail, in the 4 bytes a blob with one
  // has spare (its thumbnail's bytes are a multiple of 8).
  ColourSignature colour;

  int size() const { return static_cast<int>(words.size()); }

  // "KLQ" v1: magic, version, count (u16), 2 reserved bytes, vocabulary id
  // (u32), page size (2 x f32), then 8 bytes per keypoint. v2 (written when
  // there is a thumbnail): the reserved bytes hold the thumbnail's width and
  // height, and its packed levels follow the keypoints. v3 (a thumbnail and
  // a measured colour signature): v2, then the signature's 4 bytes
  // (ColourSignature::Pack). At most kMaxQuantisedBytes.
  std::vector<uint8_t> Serialize() const;
  // kCorrupt on a wrong magic/version, count above MaxQuantisedKeypoints(),
  // inconsistent size, a thumbnail size outside 1..32 or a page size outside
  // (0, 1].
  static Result<QuantisedFeatures> Deserialize(std::span<const uint8_t> blob);
  static bool IsQuantisedBlob(std::span<const uint8_t> blob);
};

// Whether `blob` is a quantised blob of version 2: a thumbnail and no colour
// signature (written before the colour check existed, or where the page's
// colours could not be decoded).
bool LacksColourSignature(std::span<const uint8_t> blob);
// The first 4 bytes of such a blob (magic and version), for a catalog to
// select them by prefix.
std::array<uint8_t, 4> ColourlessBlobPrefix();
// A version 2 blob as version 3 with `colour` (measured): the same bytes with
// the signature appended, so keypoints and thumbnail are unchanged (a
// thumbnail's bytes are a multiple of 16, so Serialize always left 4 bytes
// spare; should a blob not have them, its last keypoints are dropped to keep
// kMaxQuantisedBytes). kInvalidArgument for a blob of another version or an
// unmeasured signature, kCorrupt for a blob Deserialize rejects.
Result<std::vector<uint8_t>> WithColourSignature(std::span<const uint8_t> blob,
                                                 const ColourSignature& colour);

// Keypoints a blob with `thumbnail` (and, beside it, a colour signature when
// `with_colour`) holds (kMaxQuantisedKeypoints without a thumbnail).
int MaxQuantisedKeypoints(const PageThumbnail& thumbnail, bool with_colour = false);

// Quantises a registered (non-mirrored, ORB) page's features. Keeps at most
// `max_keypoints`, spread over an 8x8 grid in the features' order (strongest
// first): the first keypoints of each cell, then the rest in order.
QuantisedFeatures Quantise(const LocalFeatures& features, const VisualVocabulary& vocabulary,
                           int max_keypoints = kMaxQuantisedKeypoints);

// A query page quantised with multiple assignment.
struct QuantisedQuery {
  uint32_t vocabulary_id = 0;
  bool mirrored = false;
  float page_width = 1.0f;
  float page_height = 1.0f;
  int assignment = 1;           // words per keypoint
  std::vector<uint32_t> words;  // size() * assignment, nearest first per keypoint
  // Verification matches on coarse words: the top-level words of the
  // vocabulary tree (size() * top_assignment, nearest first).
  int top_assignment = 1;
  int branch2 = 256;
  std::vector<uint32_t> top_words;
  std::vector<uint32_t> signatures;  // one per keypoint
  std::vector<cv::Point2f> points;

  int size() const { return static_cast<int>(points.size()); }
};

QuantisedQuery QuantiseQuery(const LocalFeatures& features, const VisualVocabulary& vocabulary,
                             int multiple_assignment = 2, int top_assignment = 2);

struct QuantisedMatchOptions {
  // Measured on real typeset pages (6% crop, 1.5 degrees, JPEG q40): leaf
  // words keep 4-15 of raw descriptors' 43-71 inliers; top-level words with
  // 2 per query keypoint and 6 bits keep 20-38, ties kept (dropping them
  // costs 2-8 inliers).
  int max_signature_distance = 6;  // of 24 bits
  // Match on top-level words (coarse: the signature does the fine work)
  // instead of leaves; more true correspondences survive quantisation.
  bool coarse = true;
  bool drop_ties = false;
  // Registered keypoints each query keypoint proposes (its closest signatures
  // within the threshold, distinct keypoints): on repeated motifs (glyphs,
  // textures) the closest signature is often a repeat, not the copy's own
  // keypoint; RANSAC picks the consistent one. A query keypoint's proposals
  // closer than 1% of the long side to each other count once.
  int proposals = 1;
};

// Point correspondences between a query and a registered page (see above),
// in registered keypoint order. Registered keypoints are grouped by coarse word
// once per call (a counting sort) and each query keypoint keeps its closest
// (distance, index) one; the signature popcount uses the POPCNT instruction
// where the CPU has it (DetectSimdLevel(); `level` kScalar forces the portable
// one). Options other than the matcher's (leaf words, proposals > 1) run
// MatchQuantisedReference. Identical output to MatchQuantisedReference.
void MatchQuantised(const QuantisedQuery& query, const QuantisedFeatures& ref,
                    const QuantisedMatchOptions& options, std::vector<cv::Point2f>* query_points,
                    std::vector<cv::Point2f>* ref_points);
void MatchQuantised(const QuantisedQuery& query, const QuantisedFeatures& ref,
                    const QuantisedMatchOptions& options, SimdLevel level,
                    std::vector<cv::Point2f>* query_points, std::vector<cv::Point2f>* ref_points);
// The straightforward implementation (registered keypoints sorted by word,
// binary search, every query keypoint's candidates sorted): the reference the
// tests hold MatchQuantised to.
void MatchQuantisedReference(const QuantisedQuery& query, const QuantisedFeatures& ref,
                             const QuantisedMatchOptions& options,
                             std::vector<cv::Point2f>* query_points,
                             std::vector<cv::Point2f>* ref_points);

// MatchQuantised + VerifyCorrespondences; result.mirrored = query.mirrored.
// Query and page must share the vocabulary (else inliers = 0, not accepted).
Verification VerifyQuantised(const QuantisedQuery& query, const QuantisedFeatures& ref,
                             const QuantisedMatchOptions& match = {},
                             const VerifyOptions& verify = {});

}  // namespace kagami::fingerprint
