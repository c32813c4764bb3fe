#pragma once

#include <cstddef>

#include <opencv2/core.hpp>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/pixel_decoder.h"

namespace kagami::ingest {

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
// Details (pixel_decoder.cc, image_decoder.cc): this is DecodePixels
// (pixel_decoder.h) with a cv::Mat as its PixelStore and OpenCV imgcodecs as
// its fallback. The format is taken from the magic bytes; other formats give
// kUnsupported. PNG goes through libpng, GIF through giflib and AVIF through
// libavif, driven directly (codec_decoders.h) so that their messages end up
// in the Status, never on stderr; WebP, BMP and TIFF through OpenCV imgcodecs.
// kFast JPEGs at 1/2, 1/4 or 1/8 scale (baseline/extended Huffman, gray or YCbCr)
// go through Kagami's own luminance decoder, whose pixels are identical to
// TurboJPEG's gray decode at that scale but which also refuses data that is
// invalid per T.81 (bad Huffman code, coefficient run past 63) where libjpeg
// may decode garbage; KAGAMI_JPEG=turbo in the environment disables it.
// Other JPEGs go through TurboJPEG (libjpeg-turbo); a libjpeg warning that means
// lost data (premature end of file, bad Huffman code) is kCorrupt, benign ones
// (extraneous bytes before a marker) are accepted. CMYK/YCCK JPEGs and those
// TurboJPEG 2.x cannot classify go through libjpeg directly with Kagami's error
// manager (same rules, nothing on stderr), at full size. EXIF orientation
// is never applied (the PDQ reference hashes the stored pixels). kExact: 16-bit
// samples keep their high byte, alpha is dropped.
Result<DecodedImage> DecodeImage(const unsigned char* data, size_t size,
                                 const DecodeOptions& options, const IngestLimits& limits);

}  // namespace kagami::ingest
