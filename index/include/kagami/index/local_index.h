#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/local_features.h"

namespace kagami::index {

// Candidate retrieval for the local-feature stage: a FAISS binary index over
// every registered page's descriptors (ORB 256-bit or AKAZE 488-bit), where each
// query descriptor's nearest registered descriptors vote for their pages. The
// few best-voted pages then go to geometric verification
// (fingerprint/geometric_verifier.h); votes alone are not evidence of a match.
//
// Backends (FAISS, Johnson, Douze & Jegou, "Billion-scale similarity search with
// GPUs", IEEE TBD 2019): IndexBinaryFlat (exact, brute-force Hamming) until
// Build() is called with more than `ivf_min_descriptors` descriptors, then
// IndexBinaryIVF (k-means over the codes, `nprobe` lists probed; approximate).
// Measured in bench/e2e/local_calibration.cc.
//
// Not persisted: the index is rebuilt from the catalog's local_features blobs at
// load (about 2 s per million descriptors for the flat backend's Add).
// Thread-safety: Vote() is const and safe to call concurrently; Add() and
// Build() need exclusive access.
struct LocalIndexOptions {
  int neighbours = 4;     // k nearest registered descriptors per query descriptor
  int max_distance = 64;  // Hamming bits; farther neighbours do not vote (ORB: 256 bits)
  int64_t ivf_min_descriptors = 2'000'000;  // Build() switches to IVF above this
  int nprobe = 16;
};

struct Candidate {
  int64_t unit_id = 0;
  int votes = 0;  // query descriptors with a near neighbour in this unit, one each
};

class LocalIndex {
 public:
  explicit LocalIndex(fingerprint::FeatureKind kind = fingerprint::FeatureKind::kOrb,
                      LocalIndexOptions options = {});
  ~LocalIndex();
  LocalIndex(const LocalIndex&) = delete;
  LocalIndex& operator=(const LocalIndex&) = delete;

  // Adds every descriptor of a registered (non-mirrored) page. kInvalidArgument
  // when the features' kind differs from the index's or is not binary (SIFT).
  // Pages with no keypoints are accepted and never voted for.
  Status Add(int64_t unit_id, const fingerprint::LocalFeatures& features);

  // Optional, after the Adds: switches to the IVF backend when the index holds
  // more than options.ivf_min_descriptors (kInternal if FAISS fails). Later Adds
  // go to whichever backend is active.
  Status Build();

  // Registered units ranked by votes (ties: smaller unit id first), at most
  // `max_candidates`, only units with at least one vote. Query features of
  // another kind get no candidates.
  std::vector<Candidate> Vote(const fingerprint::LocalFeatures& query, int max_candidates) const;

  int64_t descriptors() const;  // indexed descriptors
  bool uses_ivf() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kagami::index
