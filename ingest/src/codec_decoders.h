#pragma once

// Decoders Kagami drives directly instead of through OpenCV imgcodecs, so that
// every message the codec library produces ends up in the returned Status and
// nothing is written to stderr, and so that animated formats yield their first
// frame. All of them: data in memory, pixels out as 3-channel R,G,B (or
// 1-channel gray when `gray`), dimensions checked against limits.max_pixels / max_dimension
// before any pixel buffer is allocated, kCorrupt for damaged or truncated
// data. Pixels go into the PixelStore given (OpenCV-free, see pixels.h).
// Thread-safe (no shared state).

#include <cstddef>
#include <string_view>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/pixels.h"

namespace kagami::ingest::internal {

// PNG (ISO/IEC 15948) through libpng with Kagami's error and warning handlers
// (a libpng error longjmps back and becomes kCorrupt with libpng's message).
// Pixels match OpenCV's libpng path: 16-bit samples keep their high byte,
// alpha is dropped, palettes expand to RGB; gray sources stay one channel
// unless `gray` is false and the source is colour. `gray` converts colour with
// libpng's rgb_to_gray (0.299, 0.587, 0.114), as cv::IMREAD_GRAYSCALE does.
Status DecodePng(const unsigned char* data, size_t size, bool gray, const IngestLimits& limits,
                 PixelStore& out);

// GIF87a/89a through giflib: the first image of the file (for an animation,
// its first frame), placed on the logical screen. Pixels outside the frame or
// transparent in it are white (how a reader site shows them on its page).
// Only the first frame is decoded; later frames are never read.
Status DecodeGif(const unsigned char* data, size_t size, bool gray, const IngestLimits& limits,
                 PixelStore& out);

// AVIF (AV1 in HEIF, ISO/IEC 23000-22) through libavif, single-threaded: the
// primary image, or the first frame of an image sequence; alpha is dropped,
// >8-bit samples are scaled to 8 bits by libavif. The size is checked after
// parsing the header, before any frame is decoded. libavif is
// loaded with dlopen on the first AVIF (kUnsupported if it cannot be).
Status DecodeAvif(const unsigned char* data, size_t size, bool gray, const IngestLimits& limits,
                  PixelStore& out);

// JPEG through libjpeg (libjpeg-turbo's libjpeg API) for what TurboJPEG does
// not take: CMYK and YCCK files (Adobe's inverted CMYK, converted as OpenCV
// does: v' = k - ((255 - v) * k >> 8)) and sampling factors TurboJPEG 2.x
// cannot classify. Full size, libjpeg's defaults (islow IDCT, fancy
// upsampling); R,G,B, or gray when `gray` or the source is gray. libjpeg's
// messages go into the Status (an error, or a warning that means lost data:
// kCorrupt), never to stderr.
Status DecodeJpegLibjpeg(const unsigned char* data, size_t size, bool gray,
                         const IngestLimits& limits, PixelStore& out);

// libjpeg warnings that mean pixels were lost (truncated or damaged entropy
// data; libjpeg fills the rest with grey). Others (extraneous bytes before a
// marker, a bad ICC marker) leave the image intact.
bool IsJpegDataLossWarning(std::string_view message);

// True when `data` starts with an ISO BMFF 'ftyp' box naming an AVIF brand
// ('avif' or 'avis') as its major or a compatible brand.
bool LooksLikeAvif(const unsigned char* data, size_t size);

}  // namespace kagami::ingest::internal
