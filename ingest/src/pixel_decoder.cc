#include "kagami/ingest/pixel_decoder.h"

#include <turbojpeg.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "codec_decoders.h"
#include "jpeg_luma_decoder.h"

namespace kagami::ingest {
namespace {

using namespace std::string_view_literals;

struct TjDestroy {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDestroy>;

struct ImageSize {
  uint64_t width = 0;
  uint64_t height = 0;
};

uint32_t Be16(const unsigned char* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t Be32(const unsigned char* p) { return (Be16(p) << 16) | Be16(p + 2); }
uint32_t Le16(const unsigned char* p) { return uint32_t{p[0]} | (uint32_t{p[1]} << 8); }
uint32_t Le24(const unsigned char* p) { return Le16(p) | (uint32_t{p[2]} << 16); }
uint32_t Le32(const unsigned char* p) { return Le16(p) | (Le16(p + 2) << 16); }

// ISO/IEC 10918-1 B.2: the first SOFn segment's Y (height) and X (width).
std::optional<ImageSize> JpegSize(const unsigned char* d, size_t n) {
  size_t pos = 2;
  while (pos + 4 <= n) {
    if (d[pos] != 0xFF) return std::nullopt;
    unsigned char marker = d[pos + 1];
    if (marker == 0xFF) {  // Fill byte.
      ++pos;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // No length field.
      pos += 2;
      continue;
    }
    uint32_t length = Be16(d + pos + 2);
    if (length < 2) return std::nullopt;
    bool is_sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_sof) {
      if (pos + 9 > n) return std::nullopt;
      return ImageSize{Be16(d + pos + 7), Be16(d + pos + 5)};
    }
    if (marker == 0xDA || marker == 0xD9) return std::nullopt;  // Scan or end before SOF.
    pos += 2 + length;
  }
  return std::nullopt;
}

// PNG spec 11.2.2: IHDR is the first chunk.
std::optional<ImageSize> PngSize(const unsigned char* d, size_t n) {
  if (n < 24 || std::memcmp(d + 12, "IHDR", 4) != 0) return std::nullopt;
  return ImageSize{Be32(d + 16), Be32(d + 20)};
}

// GIF89a section 18: logical screen descriptor.
std::optional<ImageSize> GifSize(const unsigned char* d, size_t n) {
  if (n < 10) return std::nullopt;
  return ImageSize{Le16(d + 6), Le16(d + 8)};
}

// BITMAPCOREHEADER (12 bytes, 16-bit sizes) or BITMAPINFOHEADER and later.
std::optional<ImageSize> BmpSize(const unsigned char* d, size_t n) {
  if (n < 26) return std::nullopt;
  if (Le32(d + 14) == 12) return ImageSize{Le16(d + 18), Le16(d + 20)};
  int64_t width = static_cast<int32_t>(Le32(d + 18));
  int64_t height = static_cast<int32_t>(Le32(d + 22));  // Negative: top-down rows.
  return ImageSize{static_cast<uint64_t>(width < 0 ? -width : width),
                   static_cast<uint64_t>(height < 0 ? -height : height)};
}

// An uncompressed BMP (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS) shorter than
// its declared pixel array is truncated: kCorrupt here, before OpenCV, whose
// reader would print its exception to stderr. RLE data is not checked.
Status CheckBmpComplete(const unsigned char* d, size_t n, const ImageSize& size) {
  const uint32_t dib = Le32(d + 14);
  uint32_t bpp = 0, compression = 0;
  if (dib == 12) {
    if (n < 26) return Status::Corrupt("image/bmp header is truncated");
    bpp = Le16(d + 24);
  } else {
    if (n < 34) return Status::Corrupt("image/bmp header is truncated");
    bpp = Le16(d + 28);
    compression = Le32(d + 30);
  }
  if (compression != 0 && compression != 3 && compression != 6) return Status::Ok();
  const uint64_t row = (size.width * bpp + 31) / 32 * 4;
  const uint64_t need = uint64_t{Le32(d + 10)} + row * size.height;
  if (n < need) {
    return Status::Corrupt("image/bmp is truncated: " + std::to_string(n) + " bytes, its pixel " +
                           "array ends at byte " + std::to_string(need));
  }
  return Status::Ok();
}

// WebP container spec (RFC 9649): VP8X canvas, VP8L header, or VP8 key frame.
std::optional<ImageSize> WebpSize(const unsigned char* d, size_t n) {
  if (n < 30) return std::nullopt;
  if (std::memcmp(d + 12, "VP8X", 4) == 0) {
    return ImageSize{Le24(d + 24) + 1ull, Le24(d + 27) + 1ull};
  }
  if (std::memcmp(d + 12, "VP8L", 4) == 0) {
    if (d[20] != 0x2F) return std::nullopt;
    uint32_t bits = Le32(d + 21);
    return ImageSize{(bits & 0x3FFF) + 1ull, ((bits >> 14) & 0x3FFF) + 1ull};
  }
  if (std::memcmp(d + 12, "VP8 ", 4) == 0) {
    if (d[23] != 0x9D || d[24] != 0x01 || d[25] != 0x2A) return std::nullopt;
    return ImageSize{Le16(d + 26) & 0x3FFF, Le16(d + 28) & 0x3FFF};
  }
  return std::nullopt;
}

// TIFF 6.0 section 2: ImageWidth (256) and ImageLength (257) of the first IFD.
std::optional<ImageSize> TiffSize(const unsigned char* d, size_t n) {
  if (n < 8) return std::nullopt;
  bool little = d[0] == 'I';
  auto u16 = [&](size_t at) { return little ? Le16(d + at) : Be16(d + at); };
  auto u32 = [&](size_t at) { return little ? Le32(d + at) : Be32(d + at); };
  if (u16(2) != 42) return std::nullopt;  // BigTIFF (43) is not parsed.
  uint64_t ifd = u32(4);
  if (ifd + 2 > n) return std::nullopt;
  uint32_t count = u16(ifd);
  ImageSize size;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t entry = ifd + 2 + 12ull * i;
    if (entry + 12 > n) return std::nullopt;
    uint32_t tag = u16(entry), type = u16(entry + 2);
    uint64_t value = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : 0;
    if (tag == 256) size.width = value;
    if (tag == 257) size.height = value;
  }
  if (size.width == 0 || size.height == 0) return std::nullopt;
  return size;
}

Result<DecodeInfo> Fallback(const unsigned char* data, size_t size, const DecodeOptions& options,
                            const IngestLimits& limits, std::string_view type, PixelStore& out,
                            const FallbackDecoder& fallback) {
  if (!fallback) {
    return Status::Unsupported(
        std::string(type) +
        " of this kind needs OpenCV imgcodecs, which this program does not load");
  }
  return fallback(data, size, options, limits, type, out);
}

int PickScaleDenominator(int width, int height, int min_short_side) {
  int short_side = std::min(width, height);
  for (int denom : {8, 4, 2}) {
    tjscalingfactor factor{1, denom};
    if (TJSCALED(short_side, factor) >= min_short_side) return denom;
  }
  return 1;
}

// KAGAMI_JPEG=turbo sends every JPEG through TurboJPEG (benchmarks, debugging).
bool TurboJpegForced() {
  const char* value = std::getenv("KAGAMI_JPEG");
  return value != nullptr && std::string_view(value) == "turbo";
}

// kFast at 1/2, 1/4 or 1/8: the luminance decoder, whose pixels equal
// TurboJPEG's TJPF_GRAY decode at that scale. nullopt: not handled, use
// TurboJPEG.
std::optional<Result<DecodeInfo>> DecodeJpegLuma(const unsigned char* data, size_t size,
                                                 const DecodeOptions& options,
                                                 const IngestLimits& limits, PixelStore& out) {
  internal::JpegLumaDecoder luma;
  if (!luma.ReadHeader(data, size).ok()) return std::nullopt;
  ImageSize header{static_cast<uint64_t>(luma.width()), static_cast<uint64_t>(luma.height())};
  Status size_ok = CheckImageSize(header.width, header.height, limits, "image/jpeg");
  if (!size_ok.ok()) return Result<DecodeInfo>(size_ok);
  int denom = PickScaleDenominator(luma.width(), luma.height(), options.min_short_side);
  if (denom == 1) return std::nullopt;
  Status decoded_ok = luma.DecodeLuma(denom, limits, out);
  if (!decoded_ok.ok()) {
    if (decoded_ok.code() == StatusCode::kUnsupported) return std::nullopt;
    return Result<DecodeInfo>(decoded_ok);
  }
  DecodeInfo decoded;
  decoded.source_width = luma.width();
  decoded.source_height = luma.height();
  decoded.scale_denom = denom;
  return Result<DecodeInfo>(decoded);
}

// A PixelStore that forwards to another and remembers the last allocation
// (the image), so that its size can be reported.
class TrackingStore : public PixelStore {
 public:
  explicit TrackingStore(PixelStore& inner) : inner_(inner) {}
  PixelView Allocate(int width, int height, int channels) override {
    last_ = inner_.Allocate(width, height, channels);
    return last_;
  }
  DecodeInfo Info() const {
    DecodeInfo info;
    info.source_width = last_.width;
    info.source_height = last_.height;
    return info;
  }

 private:
  PixelStore& inner_;
  PixelView last_;
};

// CMYK/YCCK and unusual sampling: libjpeg directly (codec_decoders.h), full size.
Result<DecodeInfo> DecodeJpegLibjpeg(const unsigned char* data, size_t size,
                                     const DecodeOptions& options, const IngestLimits& limits,
                                     PixelStore& out) {
  TrackingStore tracking(out);
  KAGAMI_RETURN_IF_ERROR(
      internal::DecodeJpegLibjpeg(data, size, options.mode == DecodeMode::kFast, limits, tracking));
  return tracking.Info();
}

Result<DecodeInfo> DecodeJpeg(const unsigned char* data, size_t size, const DecodeOptions& options,
                              const IngestLimits& limits, PixelStore& out) {
  constexpr std::string_view kType = "image/jpeg";
  if (options.mode == DecodeMode::kFast && !TurboJpegForced()) {
    std::optional<Result<DecodeInfo>> luma = DecodeJpegLuma(data, size, options, limits, out);
    if (luma) return std::move(*luma);
  }
  TjHandle tj(tjInitDecompress());
  if (!tj) return Status::Internal("TurboJPEG decompressor could not be created");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), data, size, &width, &height, &subsampling, &colorspace) != 0) {
    // TurboJPEG 2.x refuses valid files with unusual sampling factors: let
    // libjpeg through OpenCV decode those, after the same size check.
    std::string message = tjGetErrorStr2(tj.get());
    std::optional<ImageSize> header = JpegSize(data, size);
    if (message.find("subsampling") == std::string::npos || !header) {
      return Status::Corrupt("invalid JPEG header: " + message);
    }
    KAGAMI_RETURN_IF_ERROR(CheckImageSize(header->width, header->height, limits, kType));
    return DecodeJpegLibjpeg(data, size, options, limits, out);
  }
  ImageSize header{static_cast<uint64_t>(width), static_cast<uint64_t>(height)};
  KAGAMI_RETURN_IF_ERROR(CheckImageSize(header.width, header.height, limits, kType));
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    return DecodeJpegLibjpeg(data, size, options, limits, out);
  }

  DecodeInfo decoded;
  decoded.source_width = width;
  decoded.source_height = height;
  int pixel_format;
  if (options.mode == DecodeMode::kFast) {
    // Gray output: libjpeg-turbo decodes only the Y component.
    decoded.scale_denom = PickScaleDenominator(width, height, options.min_short_side);
    pixel_format = TJPF_GRAY;
  } else {
    pixel_format = colorspace == TJCS_GRAY ? TJPF_GRAY : TJPF_RGB;
    if (options.mode == DecodeMode::kFastColour)
      decoded.scale_denom = PickScaleDenominator(width, height, options.min_short_side);
  }
  tjscalingfactor factor{1, decoded.scale_denom};
  int out_width = TJSCALED(width, factor);
  int out_height = TJSCALED(height, factor);
  PixelView pixels = out.Allocate(out_width, out_height, pixel_format == TJPF_GRAY ? 1 : 3);
  // Flags 0: accurate integer IDCT and fancy upsampling, libjpeg's defaults.
  if (tjDecompress2(tj.get(), data, size, pixels.data, out_width, static_cast<int>(pixels.stride),
                    out_height, pixel_format, 0) != 0) {
    std::string message = tjGetErrorStr2(tj.get());
    if (tjGetErrorCode(tj.get()) == TJERR_FATAL) {
      return Status::Corrupt("JPEG cannot be decoded: " + message);
    }
    if (internal::IsJpegDataLossWarning(message)) {
      return Status::Corrupt("JPEG is truncated or damaged: " + message);
    }
  }
  return decoded;
}

// PNG, GIF and AVIF: Kagami's own drivers of libpng, giflib and libavif
// (codec_decoders.h), which keep every library message out of stderr.
Result<DecodeInfo> DecodeDirect(const unsigned char* data, size_t size,
                                const DecodeOptions& options, const IngestLimits& limits,
                                std::string_view type, PixelStore& out) {
  const bool gray = options.mode == DecodeMode::kFast;
  TrackingStore tracking(out);
  Status status = type == "image/png"   ? internal::DecodePng(data, size, gray, limits, tracking)
                  : type == "image/gif" ? internal::DecodeGif(data, size, gray, limits, tracking)
                                        : internal::DecodeAvif(data, size, gray, limits, tracking);
  KAGAMI_RETURN_IF_ERROR(status);
  return tracking.Info();
}

bool LooksLikeBmp(const unsigned char* head, size_t n) {
  if (n < 18 || head[0] != 'B' || head[1] != 'M') return false;
  switch (Le32(head + 14)) {  // the DIB header's size names its version
    case 12:
    case 40:
    case 52:
    case 56:
    case 64:
    case 108:
    case 124:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string_view SniffImageType(const unsigned char* head, size_t n) {
  auto at = [&](size_t offset, std::string_view magic) {
    return n >= offset + magic.size() &&
           std::memcmp(head + offset, magic.data(), magic.size()) == 0;
  };
  if (at(0, "\xFF\xD8\xFF"sv)) return "image/jpeg";
  if (at(0, "\x89PNG\r\n\x1A\n"sv)) return "image/png";
  if (at(0, "GIF87a"sv) || at(0, "GIF89a"sv)) return "image/gif";
  if (at(0, "RIFF"sv) && at(8, "WEBP"sv)) return "image/webp";
  if (internal::LooksLikeAvif(head, n)) return "image/avif";
  if (at(0, "II*\0"sv) || at(0, "MM\0*"sv) || at(0, "II+\0"sv) || at(0, "MM\0+"sv)) {
    return "image/tiff";
  }
  if (LooksLikeBmp(head, n)) return "image/bmp";
  return {};
}

Status CheckImageSize(uint64_t width, uint64_t height, const IngestLimits& limits,
                      std::string_view type) {
  std::string dims = std::to_string(width) + "x" + std::to_string(height);
  if (width == 0 || height == 0) {
    return Status::Corrupt(std::string(type) + " header declares an empty image (" + dims + ")");
  }
  if (width > limits.max_dimension || height > limits.max_dimension) {
    return Status::ResourceExhausted(
        std::string(type) + " image is " + dims +
        ", a side over max_dimension=" + std::to_string(limits.max_dimension) + "; not decoded");
  }
  if (width * height > limits.max_pixels) {
    return Status::ResourceExhausted(std::string(type) + " image is " + dims +
                                     ", more than max_pixels=" + std::to_string(limits.max_pixels) +
                                     "; not decoded");
  }
  return Status::Ok();
}

void RgbToGray(const PixelView& rgb, const PixelView& gray) {
  for (int y = 0; y < rgb.height; ++y) {
    const uint8_t* in = rgb.row(y);
    uint8_t* out = gray.row(y);
    for (int x = 0; x < rgb.width; ++x, in += 3) {
      out[x] = static_cast<uint8_t>((9798 * in[0] + 19235 * in[1] + 3735 * in[2] + 16384) >> 15);
    }
  }
}

Result<DecodeInfo> DecodePixels(const unsigned char* data, size_t size,
                                const DecodeOptions& options, const IngestLimits& limits,
                                PixelStore& out, const FallbackDecoder& fallback) {
  if (data == nullptr || size == 0) return Status::Corrupt("image data is empty");
  const std::string type(SniffImageType(data, size));
  if (type.empty()) {
    return Status::Unsupported(
        "not an image in a supported format (JPEG, PNG, WebP, AVIF, GIF, BMP, "
        "TIFF): unrecognised leading bytes");
  }
  try {
    if (type == "image/jpeg") return DecodeJpeg(data, size, options, limits, out);
    std::optional<ImageSize> header;
    if (type == "image/png") header = PngSize(data, size);
    if (type == "image/gif") header = GifSize(data, size);
    if (type == "image/avif") return DecodeDirect(data, size, options, limits, type, out);
    if (type == "image/bmp") header = BmpSize(data, size);
    if (type == "image/webp") header = WebpSize(data, size);
    if (type == "image/tiff") {
      if (data[2] == 43 || data[3] == 43) {
        return Status::Unsupported("BigTIFF images are not read");
      }
      header = TiffSize(data, size);
    }
    if (!header) return Status::Corrupt(type + " header is truncated or invalid");
    KAGAMI_RETURN_IF_ERROR(CheckImageSize(header->width, header->height, limits, type));
    if (type == "image/png" || type == "image/gif") {
      return DecodeDirect(data, size, options, limits, type, out);
    }
    if (type == "image/bmp") KAGAMI_RETURN_IF_ERROR(CheckBmpComplete(data, size, *header));
    return Fallback(data, size, options, limits, type, out, fallback);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory decoding " + type);
  } catch (const std::exception& e) {
    return Status::Internal("decoding " + type + ": " + e.what());
  }
}

}  // namespace kagami::ingest
