#pragma once

// Reduced-scale luminance decoder for the common JPEG case, used by the kFast
// decode path (image_decoder.cc) before TurboJPEG.
//
// Spec: ITU-T T.81 | ISO/IEC 10918-1 (markers B.2, Huffman decoding F.2.2,
// restart intervals B.2.4.4 / F.2.2.5). Output contract: byte-identical to
// libjpeg-turbo 2.1's TJPF_GRAY decode at the same scaling factor. libjpeg-turbo
// scales in the DCT domain: 1/8 keeps the DC term only (jidctred.c
// jpeg_idct_1x1), 1/4 and 1/2 run 2x2 and 4x4 reduced IDCTs (jpeg_idct_2x2 /
// jpeg_idct_4x4; on x86-64 their SSE2 twins jsimd_idct_2x2_sse2 /
// jsimd_idct_4x4_sse2, whose 16-bit dequantisation, saturating packs and
// zero-row shortcut this decoder reproduces exactly), and a YCbCr image
// converted to gray is its Y plane unchanged (the Y component has the largest
// sampling factors, so it is never upsampled).

#include <array>
#include <cstddef>
#include <cstdint>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/pixels.h"

namespace kagami::ingest::internal {

// Decodes the luminance (Y or gray) plane of a baseline (SOF0) or extended
// sequential Huffman (SOF1) 8-bit JPEG at 1/2, 1/4 or 1/8 scale. Handles one
// component (gray, any sampling factors) or three YCbCr components in a single
// interleaved scan whose chroma is 1x1 and whose Y is 1x1, 2x1, 1x2, 2x2 or 4x1
// (the layouts TurboJPEG 2.1 classifies), with or without restart intervals.
// Chroma blocks are entropy-decoded (to stay in sync) but their values are
// dropped.
//
// Failure contract, chosen so that the caller can fall back to TurboJPEG:
//   kUnsupported: anything outside the case above (progressive, arithmetic,
//     lossless, 12-bit, CMYK/RGB, unusual sampling, multi-scan, DNL, missing
//     tables that libjpeg-turbo would default, or any header oddity such as
//     garbage between markers). Nothing is known about validity; the caller
//     should retry with a general decoder, which gives the authoritative error.
//   kCorrupt: the entropy-coded data is damaged: truncated (bits needed past
//     the end of a segment, no EOI), an invalid Huffman code, a coefficient run
//     past the end of a block, or a marker where an RSTn was due. libjpeg-turbo
//     reports most of these as data-loss warnings; an invalid Huffman code or a
//     run past position 63 it may silently decode, where this decoder refuses.
//   kResourceExhausted: the declared size exceeds the IngestLimits given.
// Never reads outside [data, data + size) and never allocates before the
// header has been checked against the limits.
//
// Not thread-safe; use one decoder per thread. The data passed to ReadHeader
// must stay alive and unchanged until DecodeLuma returns. About 3 KB of state;
// DecodeLuma allocates its lookup tables (about 100 KB) per call.
class JpegLumaDecoder {
 public:
  // Parses the markers from SOI to the first SOS. Ok: width() and height() are
  // the frame size. Only kUnsupported otherwise (see above).
  Status ReadHeader(const unsigned char* data, size_t size);

  int width() const { return width_; }    // pixels, after a successful ReadHeader
  int height() const { return height_; }  // pixels
  int num_components() const { return num_components_; }

  // The luminance plane at 1/scale_denom (2, 4 or 8; anything else is
  // kUnsupported): one channel, ceil(width/scale_denom) x ceil(height/scale_denom),
  // allocated from `out`. Call after ReadHeader succeeded.
  Status DecodeLuma(int scale_denom, const IngestLimits& limits, PixelStore& out);

 private:
  struct Component {
    int id = 0;
    int h = 1;  // sampling factors, 1..4
    int v = 1;
    int tq = 0;  // quantisation table, 0..3
    int td = 0;  // DC / AC Huffman table of the scan, 0..3
    int ta = 0;
  };
  struct HuffSpec {
    bool defined = false;
    std::array<uint8_t, 17> counts{};  // counts[l]: codes of length l (1..16)
    std::array<uint8_t, 256> symbols{};
  };
  struct QuantSpec {
    bool defined = false;
    std::array<uint16_t, 64> values{};  // natural (row-major) order
  };

  Status ParseSof(const unsigned char* seg, size_t len);
  Status ParseDht(const unsigned char* seg, size_t len);
  Status ParseDqt(const unsigned char* seg, size_t len);
  Status ParseDri(const unsigned char* seg, size_t len);
  Status ParseSos(const unsigned char* seg, size_t len);
  // Markers after the scan, from `pos` to EOI.
  Status ReadTrailer(size_t pos);

  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
  bool header_ok_ = false;
  bool saw_sof_ = false;
  bool saw_jfif_ = false;
  bool saw_adobe_ = false;
  int adobe_transform_ = 0;
  int width_ = 0;
  int height_ = 0;
  int num_components_ = 0;
  std::array<Component, 3> components_{};
  std::array<int, 3> scan_order_{};  // frame component index of each scan component
  int restart_interval_ = 0;         // MCUs, 0 = none
  size_t entropy_start_ = 0;         // offset of the first entropy-coded byte
  std::array<HuffSpec, 4> dc_specs_{};
  std::array<HuffSpec, 4> ac_specs_{};
  std::array<QuantSpec, 4> quant_{};
};

// The reduced IDCTs, exposed for tests. `coef` and `quant` are the compact
// layout of the coefficients an IDCT reads, natural order, all 8 columns of
// rows 0,1,3,5,7 (2x2: 40 values) or rows 0,1,2,3,5,6,7 (4x4: 56 values);
// quant values are the DQT entries cast to int16 as libjpeg-turbo's
// ISLOW_MULT_TYPE does. `out` receives the pixels row by row. *Reference: a
// plain scalar transcription; *Fast: what the decoder runs (DC-only shortcut,
// SSE2 where available).
void Idct2x2Reference(const int16_t* coef, const int16_t* quant, uint8_t out[4]);
void Idct2x2Fast(const int16_t* coef, const int16_t* quant, uint8_t out[4]);
void Idct4x4Reference(const int16_t* coef, const int16_t* quant, uint8_t out[16]);
void Idct4x4Fast(const int16_t* coef, const int16_t* quant, uint8_t out[16]);

}  // namespace kagami::ingest::internal
