#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kagami/fingerprint/geometric_verifier.h"
#include "kagami/fingerprint/quantised_features.h"
#include "kagami/index/inverted_file.h"

namespace kagami::index {

// Positional stop words: the layout a registered page shares with the pages
// registered beside it (a running header and its rule, margins, a page-number
// column, leader dots, panel borders) is not evidence that a scanned page is
// a copy of *this* page. Different pages of one typeset manual's table of
// contents agree on 13-31 such keypoints at the identity transform, enough
// for every acceptance rule of the geometric verifier (bench/RESULTS.md
// section 11, "False-match sweep on real images"), while a copy also shows
// the page's own content (its entries, text, drawing).
//
// A keypoint of a page is boilerplate when min_twins sibling pages (other
// registered pages: its neighbours in registration order, the query's other
// candidates) have a twin of it: a
// keypoint of the same coarse visual word (the level verification matches
// on, fingerprint::QuantisedMatchOptions::coarse) with a signature within
// max_signature_distance bits, within max_offset of the same place in the
// page's normalised frame. Exactly the keypoints a scanned page could match on
// either page at the identity. Siblings whose page size differs by more than
// max_size_difference are not compared (another layout). A sibling that
// twins more than max_shared_fraction of the page's keypoints is a duplicate
// of it (the same page registered twice, an almost identical page), not a
// page of the same layout: its twins are the page's content and are not
// marked, so registering a page twice never makes either unmatchable.
//
// Works with one page have no siblings and no boilerplate; with two, one
// sibling's twins suffice. Nothing is stored:
// the mask is computed when a candidate is accepted (RobustMatcher), so later
// registrations of more pages of a work count at once. Thread-safe (no state).
struct BoilerplateOptions {
  // Off: every keypoint counts (the behaviour before this rule).
  bool enabled = true;
  double max_offset = 0.01;  // normalised units (long side 1): 8 px at 800
  int max_signature_distance = 6;
  double max_size_difference = 0.05;  // relative, per side
  double max_shared_fraction = 0.6;
  // Pages before and after the candidate in registration order compared
  // with it (InvertedFile::NeighbourUnits), per side.
  int neighbours = 2;
  // Whether the query's other candidates are siblings too (pages the gate
  // found alike: other pages of the layout, drawings on one template).
  bool candidates = true;
  // A keypoint is boilerplate when at least this many siblings have a twin
  // of it (fewer when fewer non-duplicate siblings were compared, at least
  // one). Layout recurs on most pages of a layout; a chance twin of content
  // (the same glyph with the same neighbours on the same line) on one. With
  // 1, true copies of contents pages kept as few as 9 of 26 inliers among 15
  // siblings on the false-match sweep and 3 of 394 true pages were lost;
  // with 2, none (bench/RESULTS.md section 11).
  int min_twins = 2;
};

// What MarkBoilerplate found.
struct BoilerplateMask {
  std::vector<uint8_t> marked;  // per keypoint of the page: 1 = boilerplate
  int count = 0;                // marked keypoints
  int siblings_compared = 0;    // siblings of a comparable page size
  int duplicates = 0;           // siblings skipped as duplicates of the page
};

// Twins of `page`'s keypoints in `sibling` (see above): per keypoint of page,
// 1 where sibling has one. Returns how many.
int MarkTwins(const fingerprint::QuantisedFeatures& page,
              const fingerprint::QuantisedFeatures& sibling, const BoilerplateOptions& options,
              std::vector<uint8_t>* twins);

// The page's boilerplate given its siblings (null entries and the page itself
// are skipped).
BoilerplateMask MarkBoilerplate(const fingerprint::QuantisedFeatures& page,
                                std::span<const fingerprint::QuantisedFeatures* const> siblings,
                                const BoilerplateOptions& options = {});

// The page without the keypoints marked in `mask` (same page size and
// vocabulary; the keypoints' order kept).
fingerprint::QuantisedFeatures WithoutBoilerplate(const fingerprint::QuantisedFeatures& page,
                                                  const BoilerplateMask& mask);

// The pages compared with a candidate `unit`: its options.neighbours
// neighbours per side in registration order, and the query's other
// `candidates` (pages the gate found alike), each once, never the unit.
std::vector<int64_t> SiblingUnits(const InvertedFile& index, int64_t unit,
                                  std::span<const int64_t> candidates,
                                  const BoilerplateOptions& options);

// The verification of `query` against `ref` without the keypoints marked in
// `mask` (MatchQuantised + VerifyCorrespondences with `verify`). With `frame`
// (a rectangle of ref's page, normalised units) the registered points are
// measured in that frame, as RobustMatcher's content-frame verification does.
fingerprint::Verification VerifyWithoutBoilerplate(const fingerprint::QuantisedQuery& query,
                                                   const fingerprint::QuantisedFeatures& ref,
                                                   const BoilerplateMask& mask,
                                                   const fingerprint::QuantisedMatchOptions& match,
                                                   const fingerprint::VerifyOptions& verify,
                                                   const cv::Rect2f* frame = nullptr);

// Whether a match holds without the page's boilerplate: the verification
// without it (VerifyWithoutBoilerplate) is sane with at least
// verify.min_inliers inliers. Coverage and spread were measured on the whole
// match; dropping a few layout keypoints at the edge of a drawing can shrink
// the hull of 230 content inliers below the coverage threshold.
bool HoldsWithoutBoilerplate(const fingerprint::Verification& distinct,
                             const fingerprint::VerifyOptions& verify);

}  // namespace kagami::index
