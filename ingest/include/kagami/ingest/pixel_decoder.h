#pragma once

// The OpenCV-free core of image decoding: JPEG (TurboJPEG, Kagami's
// luminance decoder, and libjpeg for CMYK/YCCK and unusual sampling), PNG
// (libpng), GIF (giflib) and AVIF (libavif, loaded with dlopen) straight into
// a PixelStore, every library message kept out of stderr. image_decoder.h's DecodeImage is this
// plus OpenCV imgcodecs for the rest; kagami-hash (app/lean_hash.cc) uses it
// without OpenCV. Both give the same pixels for the same bytes and options.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/pixels.h"

namespace kagami::ingest {

enum class DecodeMode {
  // Full-size decode, 8-bit RGB (or gray for gray sources), exactly the pixels
  // libjpeg/libpng produce: what the PDQ reference hashes.
  kExact,
  // Luminance only, and JPEGs decoded at a reduced scale in the DCT domain
  // (libjpeg-turbo 1/2, 1/4, 1/8) chosen from the header so that the short side
  // stays >= min_short_side. Several times faster; the PDQ hash moves by a few bits.
  kFast,
  // R,G,B (or gray for gray sources) with JPEGs decoded at a reduced scale as
  // kFast picks it; other formats as kExact. For a page's colours
  // (fingerprint/colour_signature.h), not for hashing.
  kFastColour,
};

struct DecodeOptions {
  DecodeMode mode = DecodeMode::kFast;
  int min_short_side = 256;  // pixels, kFast and kFastColour only
};

// What a decode produced besides the pixels (which are in the PixelStore).
struct DecodeInfo {
  int source_width = 0;  // pixels, as stored in the file
  int source_height = 0;
  int scale_denom = 1;  // pixels were decoded at 1/scale_denom of the source size
};

// Decodes the inputs the core does not handle: WebP, BMP and TIFF. Called
// after the header was checked against the limits, with the sniffed MIME type; writes
// 1- or 3-channel pixels into the store (kExact: R,G,B or gray; kFast: gray).
using FallbackDecoder = std::function<Result<DecodeInfo>(
    const unsigned char* data, size_t size, const DecodeOptions& options,
    const IngestLimits& limits, std::string_view type, PixelStore& out)>;

// Decodes an image from memory into `out`: CV_8UC1-like gray (kFast, or gray
// sources) or R,G,B. Same contract as DecodeImage (image_decoder.h) for the
// formats it handles; the others go to `fallback`, or give kUnsupported
// naming the format when `fallback` is empty. Thread-safe (no shared state).
Result<DecodeInfo> DecodePixels(const unsigned char* data, size_t size,
                                const DecodeOptions& options, const IngestLimits& limits,
                                PixelStore& out, const FallbackDecoder& fallback);

// The image-format MIME type ("image/jpeg", "image/png", "image/gif",
// "image/webp", "image/avif", "image/tiff", "image/bmp") from the first bytes,
// or "" for anything else.
std::string_view SniffImageType(const unsigned char* head, size_t n);

// kOk when a width x height image of `type` is within the limits; kCorrupt for
// an empty one, kResourceExhausted (naming the limit) for one over them.
Status CheckImageSize(uint64_t width, uint64_t height, const IngestLimits& limits,
                      std::string_view type);

// R,G,B -> gray with OpenCV's fixed-point weights (cv::COLOR_RGB2GRAY on 8-bit:
// (9798 R + 19235 G + 3735 B + 16384) >> 15), so that results equal the
// imgcodecs path's IMREAD_GRAYSCALE conversions bit for bit.
void RgbToGray(const PixelView& rgb, const PixelView& gray);

}  // namespace kagami::ingest
