#pragma once

#include <cstddef>

#include <opencv2/core.hpp>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"

namespace kagami::ingest {

enum class DecodeMode {
  // Full-size decode, 8-bit RGB (or gray for gray sources), exactly the pixels
  // libjpeg/libpng produce: what the PDQ reference hashes.
  kExact,
  // Luminance only, and JPEGs decoded at a reduced scale in the DCT domain
  // (libjpeg-turbo 1/2, 1/4, 1/8) chosen from the header so that the short side
  // stays >= min_short_side. Several times faster; the PDQ hash moves by a few bits.
  kFast,
};

struct DecodeOptions {
  DecodeMode mode = DecodeMode::kFast;
  int min_short_side = 256;  // pixels, kFast only
};

struct DecodedImage {
  cv::Mat pixels;        // CV_8UC1 (luminance/gray) or CV_8UC3 in R,G,B order
  int source_width = 0;  // pixels, as stored in the file
  int source_height = 0;
  int scale_denom = 1;  // pixels were decoded at 1/scale_denom of the source size
};

// Decodes JPEG, PNG, WebP, AVIF, GIF, BMP and TIFF from memory. Animated GIF,
// WebP and AVIF give their first frame.
// Checks the header against limits.max_pixels / max_dimension before decoding.
// Thread-safe (no shared state). Corrupt or truncated data gives kCorrupt.
//
// Details (image_decoder.cc): the format is taken from the magic bytes; other
// formats give kUnsupported. PNG goes through libpng, GIF through giflib and
// AVIF through libavif, driven directly (codec_decoders.h) so that their
// messages end up in the Status, never on stderr; WebP, BMP and TIFF through
// OpenCV imgcodecs.
// kFast JPEGs at 1/2, 1/4 or 1/8 scale (baseline/extended Huffman, gray or YCbCr)
// go through Kagami's own luminance decoder, whose pixels are identical to
// TurboJPEG's gray decode at that scale but which also refuses data that is
// invalid per T.81 (bad Huffman code, coefficient run past 63) where libjpeg
// may decode garbage; KAGAMI_JPEG=turbo in the environment disables it.
// Other JPEGs go through TurboJPEG (libjpeg-turbo); a libjpeg warning that means
// lost data (premature end of file, bad Huffman code) is kCorrupt, benign ones
// (extraneous bytes before a marker) are accepted. CMYK/YCCK JPEGs and those
// TurboJPEG 2.x cannot classify go through OpenCV's libjpeg. EXIF orientation
// is never applied (the PDQ reference hashes the stored pixels). kExact: 16-bit
// samples keep their high byte, alpha is dropped. Known gap: JPEGs that take
// the OpenCV/libjpeg path (CMYK, YCCK, unusual sampling factors) can still
// have libjpeg print a "Corrupt JPEG data" warning on stderr when damaged.
Result<DecodedImage> DecodeImage(const unsigned char* data, size_t size,
                                 const DecodeOptions& options, const IngestLimits& limits);

}  // namespace kagami::ingest
