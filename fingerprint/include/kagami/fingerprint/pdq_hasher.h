#pragma once

#include <array>
#include <cassert>
#include <memory>
#include <opencv2/core.hpp>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/simd.h"
#include "kagami/ingest/pixels.h"

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
//
// Compatibility: the float arithmetic is the reference's, operation for
// operation (same luminance expression and coefficients, same box-filter
// running sums and divisions, decimation points, DCT matrix and summation
// order, Torben's median, integer quality metric), so hashes are bit-identical
// to the reference tool's on the same decoded pixels (0 bits on all vectors in
// shared/pdq-vectors, every SimdLevel). Also as the reference:
//  - a 1-channel image is taken as luminance as is (fillFloatLumaFromGrey);
//  - an image with a side below 5 pixels (after the resize) gets the all-zero
//    hash and quality 0;
//  - Hash() of an exactly 64x64 image skips the blur (pdqFloat256FromFloatLuma),
//    while HashDihedral() always blurs (pdqDihedralHash256esFromFloatLuma); for
//    RGB 64x64 inputs the two original-orientation hashes may differ by a few bits.
// Deviations: none in the results. Internally the box filter runs as streamed
// row steps (vectorised across independent rows or columns, never
// reassociated), and the second pass only divides out the 64x64 values that
// the decimation keeps.
//
// Dihedral variants in pixel terms (cv::rotate / cv::flip of the input hash
// close to these; exactly when the blur and the decimation grid are symmetric,
// e.g. square sides of 64 * odd, and tens of bits apart on some real line art
// and text pages, see HashMirrored()):
//   kRot90 = 90 degrees counter-clockwise, kRot270 = 90 degrees clockwise,
//   kFlipX = upside down (cv::flip code 0), kFlipY = left-right mirror (code 1),
//   kFlipPlus1 = transpose, kFlipMinus1 = anti-transpose.
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

// Thread-compatible: owns scratch buffers (about 0.5 MB, allocated once in the
// constructor; Hash() and HashDihedral() allocate nothing), so use one
// instance per thread. Results do not depend on the SimdLevel.
//
// Cost: an image of at most 512x512 is read directly from its cv::Mat (any
// stride, no conversion copy), so small gray pages (fast-mode decodes) are
// cheapest; larger images cost one 512x512 nearest-neighbour sampling pass.
class PdqHasher {
 public:
  // `level` must be one that SupportedSimdLevels() lists.
  explicit PdqHasher(SimdLevel level = DetectSimdLevel());
  ~PdqHasher();
  PdqHasher(const PdqHasher&) = delete;
  PdqHasher& operator=(const PdqHasher&) = delete;

  // `image`: CV_8UC1 (taken as luminance), CV_8UC3 (R,G,B order) or CV_8UC4
  // (R,G,B,A; alpha ignored), at least 1x1, any stride. Asserts on other types.
  PdqHash Hash(const cv::Mat& image) { return Hash(View(image)); }
  // All eight variants from one DCT (no re-decoding, as the reference does).
  PdqDihedralHashes HashDihedral(const cv::Mat& image) { return HashDihedral(View(image)); }
  // The hash of the left-right mirror of `image` (cv::flip code 1), computed
  // from the mirrored pixels. HashDihedral()'s kFlipY, derived from the DCT,
  // equals it only where the blur and the decimation grid are symmetric: on
  // real line art and text pages the two were 10-48 bits apart, so a plain
  // mirror of a registered page could miss radius 31 (bench/RESULTS.md
  // section 11, "Mirrors"). Matching uses this for the mirror variant.
  PdqHash HashMirrored(const cv::Mat& image) {
    cv::Mat mirrored;
    cv::flip(image, mirrored, 1);
    return Hash(mirrored);
  }

  // The same on an OpenCV-free view (pixels.h): 1, 3 (R,G,B) or 4 channels.
  // These are what the cv::Mat overloads call, so results are identical; the
  // compiled library references no OpenCV symbol (kagami-hash links it alone).
  PdqHash Hash(const ingest::PixelView& image);
  PdqDihedralHashes HashDihedral(const ingest::PixelView& image);

  SimdLevel level() const { return level_; }

  struct Scratch;  // defined in pdq_hasher.cc

 private:
  // A view of `image` for the hasher; an empty view (hashed as the zero hash)
  // for what the contract excludes (asserted in debug builds).
  static ingest::PixelView View(const cv::Mat& image) {
    const int type = image.type();
    const bool supported = (type == CV_8UC1 || type == CV_8UC3 || type == CV_8UC4) &&
                           image.dims == 2 && image.rows >= 1 && image.cols >= 1;
    assert(supported && "PdqHasher needs a non-empty 8-bit 1-, 3- or 4-channel image");
    if (!supported) return {};
    return ingest::PixelView{image.data, image.cols, image.rows, image.channels(), image.step[0]};
  }

  SimdLevel level_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace kagami::fingerprint
