#pragma once

#include <array>
#include <memory>

#include <opencv2/core.hpp>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/simd.h"

namespace kagami::fingerprint {

// PDQ perceptual hash: 256 bits plus a 0..100 quality score.
//
// Algorithm: Meta (Facebook) "The TMK+PDQF and PDQ Algorithms" (2019),
// https://github.com/facebook/ThreatExchange/blob/main/hashing/hashing.pdf, and
// the reference implementation in ThreatExchange pdq/cpp: luminance
// (0.299 R + 0.587 G + 0.114 B), two-pass Jarosz box-filter downscale to 64x64,
// a 16x16 subset of the 2-D DCT-II, bits set where a coefficient exceeds the
// median. Quality is the reference's image-domain gradient sum / 90, capped at 100.
//
// Input convention (matches the reference tool reading a file): if either side
// of the image is larger than 512 pixels, it is first resampled to exactly
// 512x512 by nearest neighbour (column x samples floor(x * W / 512.0)).
struct PdqHash {
  Hash256 hash;
  int quality = 0;  // 0..100; PDQ advises ignoring hashes below ~50
};

// Order of the eight dihedral variants, as in the reference's
// "hash-with-dihedral" output: original, rot90, rot180, rot270, flipX, flipY,
// flipPlus1 (transpose), flipMinus1 (anti-transpose).
enum Dihedral { kOriginal = 0, kRot90, kRot180, kRot270, kFlipX, kFlipY, kFlipPlus1, kFlipMinus1 };

struct PdqDihedralHashes {
  std::array<Hash256, 8> hashes;  // indexed by Dihedral
  int quality = 0;
};

// Thread-compatible: owns scratch buffers, so use one instance per thread.
class PdqHasher {
 public:
  explicit PdqHasher(SimdLevel level = DetectSimdLevel());
  ~PdqHasher();
  PdqHasher(const PdqHasher&) = delete;
  PdqHasher& operator=(const PdqHasher&) = delete;

  // `image`: CV_8UC1 (taken as luminance), CV_8UC3 (R,G,B order) or CV_8UC4
  // (R,G,B,A; alpha ignored), at least 1x1, any stride. Asserts on other types.
  PdqHash Hash(const cv::Mat& image);
  // All eight variants from one DCT (no re-decoding, as the reference does).
  PdqDihedralHashes HashDihedral(const cv::Mat& image);

  SimdLevel level() const { return level_; }

 private:
  struct Scratch;
  SimdLevel level_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace kagami::fingerprint
