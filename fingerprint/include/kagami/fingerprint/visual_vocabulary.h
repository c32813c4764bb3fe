#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/hash256.h"

namespace kagami::fingerprint {

// A visual vocabulary for 256-bit ORB descriptors: a two-level vocabulary tree
// (Nister & Stewenius, "Scalable recognition with a vocabulary tree", CVPR
// 2006) of binary centroids trained by k-majority (Grana et al., "A fast
// approach for integrating ORB descriptors in the bag of words model", SPIE
// 2013; the binary vocabularies of Galvez-Lopez & Tardos, "Bags of binary
// words for fast place recognition", T-RO 2012), plus a Hamming-embedding
// signature (Jegou, Douze & Schmid, "Hamming embedding and weak geometric
// consistency for large scale image search", ECCV 2008): 24 descriptor bits,
// the ones that vary most inside the leaves, so that two descriptors in the
// same word are told apart by their signatures' Hamming distance.
//
// Word ids are 16 bits: branch1 * branch2 <= 65536. Quantising one descriptor
// costs branch1 + branch2 Hamming distances (512 for the built-in vocabulary).
//
// Immutable after construction; all methods are const and thread-safe.
class VisualVocabulary {
 public:
  static constexpr int kSignatureBits = 24;

  // The vocabulary compiled into the library (fingerprint/data/, trained by
  // bench/e2e/train_vocabulary.cc from Debian-package images; see there).
  static const VisualVocabulary& BuiltIn();

  // Trains on `descriptors` (one 256-bit code each) with k-majority: branch1
  // top-level words, then branch2 words inside each. Deterministic for a seed.
  // kInvalidArgument when there are fewer descriptors than branch1 * 4 or the
  // branches are outside 2..256.
  static Result<VisualVocabulary> Train(std::span<const Hash256> descriptors, int branch1,
                                        int branch2, int iterations, uint64_t seed);

  std::vector<uint8_t> Serialize() const;
  // kCorrupt on a wrong magic, sizes or signature bit list.
  static Result<VisualVocabulary> Deserialize(std::span<const uint8_t> blob);

  // The leaf word of a descriptor, 0..words()-1.
  uint32_t Word(const Hash256& descriptor) const;
  // Multiple assignment (Jegou et al., section 3.2): the `n` nearest leaves
  // under the nearest top-level word, nearest first (n >= 1; fewer if
  // branch2 < n). Writes to out[0..n) and returns how many.
  int Words(const Hash256& descriptor, int n, uint32_t* out) const;
  // The `n` nearest top-level words (0..branch1()-1), nearest first; leaf
  // word w lies under top-level word w / branch2().
  int TopWords(const Hash256& descriptor, int n, uint32_t* out) const;
  // Words(descriptor, n_words, words) and TopWords(descriptor, n_top,
  // top_words) at once, the top-level distances computed once (a query
  // keypoint needs both). Same outputs as the two calls.
  void WordsAndTopWords(const Hash256& descriptor, int n_words, uint32_t* words, int n_top,
                        uint32_t* top_words) const;
  // The kSignatureBits selected bits of the descriptor, bit i of the result
  // = descriptor bit signature_bits()[i].
  uint32_t Signature(const Hash256& descriptor) const;

  int words() const { return branch1_ * branch2_; }
  int branch1() const { return branch1_; }
  int branch2() const { return branch2_; }
  // FNV-1a of Serialize(): stored with quantised features and derived
  // indexes, which are stale when it differs.
  uint32_t id() const { return id_; }

 private:
  int branch1_ = 0;
  int branch2_ = 0;
  std::vector<Hash256> top_;     // branch1_
  std::vector<Hash256> leaves_;  // branch1_ * branch2_, grouped by top word
  uint8_t signature_bits_[kSignatureBits] = {};
  uint32_t id_ = 0;

  void ComputeId();
  // Words() under a given top-level word.
  int LeafWords(const Hash256& descriptor, int top, int n, uint32_t* out) const;
};

}  // namespace kagami::fingerprint
