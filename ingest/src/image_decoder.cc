#include "kagami/ingest/image_decoder.h"

#include <dlfcn.h>
#include <turbojpeg.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "codec_decoders.h"
#include "jpeg_luma_decoder.h"
#include "kagami/ingest/volume.h"

namespace kagami::ingest {
namespace {

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

Status CheckSize(const ImageSize& size, const IngestLimits& limits, std::string_view type) {
  std::string dims = std::to_string(size.width) + "x" + std::to_string(size.height);
  if (size.width == 0 || size.height == 0) {
    return Status::Corrupt(std::string(type) + " header declares an empty image (" + dims + ")");
  }
  if (size.width > limits.max_dimension || size.height > limits.max_dimension) {
    return Status::ResourceExhausted(
        std::string(type) + " image is " + dims +
        ", a side over max_dimension=" + std::to_string(limits.max_dimension) + "; not decoded");
  }
  if (size.width * size.height > limits.max_pixels) {
    return Status::ResourceExhausted(std::string(type) + " image is " + dims +
                                     ", more than max_pixels=" + std::to_string(limits.max_pixels) +
                                     "; not decoded");
  }
  return Status::Ok();
}

// libjpeg warnings that mean pixels were lost (truncated or damaged entropy
// data; libjpeg fills the rest with grey). Other warnings (extraneous bytes
// before a marker, a bad ICC marker) leave the image intact and are accepted.
bool IsDataLossWarning(std::string_view message) {
  static constexpr std::array<std::string_view, 4> kLoss = {"Premature end", "premature end",
                                                            "Huffman", "instead of RST"};
  return std::any_of(kLoss.begin(), kLoss.end(),
                     [&](std::string_view s) { return message.find(s) != std::string_view::npos; });
}

// OpenCV imgcodecs (WebP, BMP, TIFF, CMYK JPEG) is loaded on first use rather
// than linked: its dependencies (GDAL and some 120 other shared libraries)
// would otherwise load and relocate at every start of every Kagami process,
// several times the cost of hashing a page. cv::imdecode is looked up by its
// mangled name in the imgcodecs library of the OpenCV version Kagami was built
// against (the soname pins the ABI). The handle is never closed; the lookup
// runs once per process (a function-local static, thread-safe).
using ImdecodeFn = cv::Mat (*)(const cv::_InputArray&, int);

Result<ImdecodeFn> LoadImdecode() {
  static const Result<ImdecodeFn> loaded = []() -> Result<ImdecodeFn> {
    void* handle = ::dlopen(KAGAMI_OPENCV_IMGCODECS_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (handle == nullptr) {
      const char* error = ::dlerror();
      return Status::Unsupported(std::string("OpenCV imgcodecs cannot be loaded: ") +
                                 (error != nullptr ? error : KAGAMI_OPENCV_IMGCODECS_SONAME));
    }
    void* symbol = ::dlsym(handle, "_ZN2cv8imdecodeERKNS_11_InputArrayEi");
    if (symbol == nullptr) {
      return Status::Unsupported(std::string("cv::imdecode not found in ") +
                                 KAGAMI_OPENCV_IMGCODECS_SONAME);
    }
    return reinterpret_cast<ImdecodeFn>(symbol);
  }();
  return loaded;
}

// EXIF orientation is never applied: the PDQ reference hashes stored pixels.
Result<cv::Mat> Imdecode(const unsigned char* data, size_t size, int flags, std::string_view type) {
  if (size > INT_MAX) return Status::ResourceExhausted(std::string(type) + " data is too large");
  cv::Mat encoded(1, static_cast<int>(size), CV_8UC1, const_cast<unsigned char*>(data));
  KAGAMI_ASSIGN_OR_RETURN(ImdecodeFn imdecode, LoadImdecode());
  cv::Mat image;
  try {
    image = imdecode(encoded, flags);
  } catch (const cv::Exception& e) {
    return Status::Corrupt(std::string(type) + " cannot be decoded: " + e.err);
  }
  if (image.empty()) {
    return Status::Corrupt(std::string(type) +
                           " cannot be decoded (corrupt, truncated or an unsupported variant)");
  }
  return image;
}

// R,G,B (or gray) 8-bit from whatever IMREAD_UNCHANGED produced: 16-bit
// samples keep their high byte, alpha is dropped.
Result<cv::Mat> ToExactPixels(cv::Mat image, std::string_view type) {
  if (image.depth() == CV_16U) {
    cv::Mat narrowed(image.size(), CV_MAKETYPE(CV_8U, image.channels()));
    const size_t values = static_cast<size_t>(image.cols) * image.channels();
    for (int y = 0; y < image.rows; ++y) {
      const uint16_t* src = image.ptr<uint16_t>(y);
      uint8_t* dst = narrowed.ptr<uint8_t>(y);
      for (size_t i = 0; i < values; ++i) dst[i] = static_cast<uint8_t>(src[i] >> 8);
    }
    image = narrowed;
  } else if (image.depth() != CV_8U) {
    return Status::Unsupported(std::string(type) + " with non-integer or 32-bit samples");
  }
  cv::Mat out;
  switch (image.channels()) {
    case 1:
      return image;
    case 2:
      cv::extractChannel(image, out, 0);
      return out;
    case 3:
      cv::cvtColor(image, out, cv::COLOR_BGR2RGB);
      return out;
    case 4:
      cv::cvtColor(image, out, cv::COLOR_BGRA2RGB);
      return out;
    default:
      return Status::Unsupported(std::string(type) + " with " + std::to_string(image.channels()) +
                                 " channels");
  }
}

Result<DecodedImage> DecodeWithOpenCv(const unsigned char* data, size_t size,
                                      const DecodeOptions& options, const IngestLimits& limits,
                                      const ImageSize& header, std::string_view type) {
  DecodedImage decoded;
  decoded.source_width = static_cast<int>(header.width);
  decoded.source_height = static_cast<int>(header.height);
  if (options.mode == DecodeMode::kFast) {
    KAGAMI_ASSIGN_OR_RETURN(
        decoded.pixels,
        Imdecode(data, size, cv::IMREAD_GRAYSCALE | cv::IMREAD_IGNORE_ORIENTATION, type));
  } else {
    KAGAMI_ASSIGN_OR_RETURN(cv::Mat raw, Imdecode(data, size, cv::IMREAD_UNCHANGED, type));
    KAGAMI_ASSIGN_OR_RETURN(decoded.pixels, ToExactPixels(std::move(raw), type));
  }
  // The header said one size; the decoder is the authority (multi-image files).
  ImageSize actual{static_cast<uint64_t>(decoded.pixels.cols),
                   static_cast<uint64_t>(decoded.pixels.rows)};
  KAGAMI_RETURN_IF_ERROR(CheckSize(actual, limits, type));
  decoded.source_width = decoded.pixels.cols;
  decoded.source_height = decoded.pixels.rows;
  return decoded;
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
std::optional<Result<DecodedImage>> DecodeJpegLuma(const unsigned char* data, size_t size,
                                                   const DecodeOptions& options,
                                                   const IngestLimits& limits) {
  internal::JpegLumaDecoder luma;
  if (!luma.ReadHeader(data, size).ok()) return std::nullopt;
  ImageSize header{static_cast<uint64_t>(luma.width()), static_cast<uint64_t>(luma.height())};
  Status size_ok = CheckSize(header, limits, "image/jpeg");
  if (!size_ok.ok()) return Result<DecodedImage>(size_ok);
  int denom = PickScaleDenominator(luma.width(), luma.height(), options.min_short_side);
  if (denom == 1) return std::nullopt;
  Result<cv::Mat> pixels = luma.DecodeLuma(denom, limits);
  if (!pixels.ok()) {
    if (pixels.status().code() == StatusCode::kUnsupported) return std::nullopt;
    return Result<DecodedImage>(pixels.status());
  }
  DecodedImage decoded;
  decoded.pixels = std::move(pixels).value();
  decoded.source_width = luma.width();
  decoded.source_height = luma.height();
  decoded.scale_denom = denom;
  return Result<DecodedImage>(std::move(decoded));
}

Result<DecodedImage> DecodeJpeg(const unsigned char* data, size_t size,
                                const DecodeOptions& options, const IngestLimits& limits) {
  constexpr std::string_view kType = "image/jpeg";
  if (options.mode == DecodeMode::kFast && !TurboJpegForced()) {
    std::optional<Result<DecodedImage>> luma = DecodeJpegLuma(data, size, options, limits);
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
    KAGAMI_RETURN_IF_ERROR(CheckSize(*header, limits, kType));
    return DecodeWithOpenCv(data, size, options, limits, *header, kType);
  }
  ImageSize header{static_cast<uint64_t>(width), static_cast<uint64_t>(height)};
  KAGAMI_RETURN_IF_ERROR(CheckSize(header, limits, kType));
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    return DecodeWithOpenCv(data, size, options, limits, header, kType);
  }

  DecodedImage decoded;
  decoded.source_width = width;
  decoded.source_height = height;
  int pixel_format;
  if (options.mode == DecodeMode::kFast) {
    // Gray output: libjpeg-turbo decodes only the Y component.
    decoded.scale_denom = PickScaleDenominator(width, height, options.min_short_side);
    pixel_format = TJPF_GRAY;
  } else {
    pixel_format = colorspace == TJCS_GRAY ? TJPF_GRAY : TJPF_RGB;
  }
  tjscalingfactor factor{1, decoded.scale_denom};
  int out_width = TJSCALED(width, factor);
  int out_height = TJSCALED(height, factor);
  decoded.pixels.create(out_height, out_width, pixel_format == TJPF_GRAY ? CV_8UC1 : CV_8UC3);
  // Flags 0: accurate integer IDCT and fancy upsampling, libjpeg's defaults.
  if (tjDecompress2(tj.get(), data, size, decoded.pixels.data, out_width,
                    static_cast<int>(decoded.pixels.step), out_height, pixel_format, 0) != 0) {
    std::string message = tjGetErrorStr2(tj.get());
    if (tjGetErrorCode(tj.get()) == TJERR_FATAL) {
      return Status::Corrupt("JPEG cannot be decoded: " + message);
    }
    if (IsDataLossWarning(message)) {
      return Status::Corrupt("JPEG is truncated or damaged: " + message);
    }
  }
  return decoded;
}

// PNG, GIF and AVIF: Kagami's own drivers of libpng, giflib and libavif
// (codec_decoders.h), which keep every library message out of stderr.
Result<DecodedImage> DecodeDirect(const unsigned char* data, size_t size,
                                  const DecodeOptions& options, const IngestLimits& limits,
                                  const std::string& type) {
  const bool gray = options.mode == DecodeMode::kFast;
  Result<cv::Mat> pixels = type == "image/png"   ? internal::DecodePng(data, size, gray, limits)
                           : type == "image/gif" ? internal::DecodeGif(data, size, gray, limits)
                                                 : internal::DecodeAvif(data, size, gray, limits);
  if (!pixels.ok()) return pixels.status();
  DecodedImage decoded;
  decoded.pixels = std::move(pixels).value();
  decoded.source_width = decoded.pixels.cols;
  decoded.source_height = decoded.pixels.rows;
  return decoded;
}

}  // namespace

Result<DecodedImage> DecodeImage(const unsigned char* data, size_t size,
                                 const DecodeOptions& options, const IngestLimits& limits) {
  if (data == nullptr || size == 0) return Status::Corrupt("image data is empty");
  std::string type;
  if (SniffMediaKind(data, size, &type) != MediaKind::kImage) {
    return Status::Unsupported(
        "not an image in a supported format (JPEG, PNG, WebP, AVIF, GIF, BMP, "
        "TIFF): unrecognised leading bytes");
  }
  try {
    if (type == "image/jpeg") return DecodeJpeg(data, size, options, limits);
    std::optional<ImageSize> header;
    if (type == "image/png") header = PngSize(data, size);
    if (type == "image/gif") header = GifSize(data, size);
    if (type == "image/avif") return DecodeDirect(data, size, options, limits, type);
    if (type == "image/bmp") header = BmpSize(data, size);
    if (type == "image/webp") header = WebpSize(data, size);
    if (type == "image/tiff") {
      if (data[2] == 43 || data[3] == 43) {
        return Status::Unsupported("BigTIFF images are not read");
      }
      header = TiffSize(data, size);
    }
    if (!header) return Status::Corrupt(type + " header is truncated or invalid");
    KAGAMI_RETURN_IF_ERROR(CheckSize(*header, limits, type));
    if (type == "image/png" || type == "image/gif") {
      return DecodeDirect(data, size, options, limits, type);
    }
    return DecodeWithOpenCv(data, size, options, limits, *header, type);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory decoding " + type);
  } catch (const std::exception& e) {
    return Status::Internal("decoding " + type + ": " + e.what());
  }
}

}  // namespace kagami::ingest
