#include "kagami/ingest/image_decoder.h"

#include <dlfcn.h>

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

namespace kagami::ingest {
namespace {

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

Result<cv::Mat> DecodeWithOpenCv(const unsigned char* data, size_t size,
                                 const DecodeOptions& options, const IngestLimits& limits,
                                 std::string_view type) {
  cv::Mat pixels;
  if (options.mode == DecodeMode::kFast) {
    KAGAMI_ASSIGN_OR_RETURN(
        pixels, Imdecode(data, size, cv::IMREAD_GRAYSCALE | cv::IMREAD_IGNORE_ORIENTATION, type));
  } else {
    KAGAMI_ASSIGN_OR_RETURN(cv::Mat raw, Imdecode(data, size, cv::IMREAD_UNCHANGED, type));
    KAGAMI_ASSIGN_OR_RETURN(pixels, ToExactPixels(std::move(raw), type));
  }
  // The header said one size; the decoder is the authority (multi-image files).
  KAGAMI_RETURN_IF_ERROR(CheckImageSize(static_cast<uint64_t>(std::max(0, pixels.cols)),
                                        static_cast<uint64_t>(std::max(0, pixels.rows)), limits,
                                        type));
  return pixels;
}

// A PixelStore backed by a cv::Mat, so that DecodeImage returns the decoders'
// own buffer without a copy.
class MatPixelStore : public PixelStore {
 public:
  PixelView Allocate(int width, int height, int channels) override {
    mat_.create(height, width, CV_8UC(channels));
    return View();
  }
  void Adopt(cv::Mat mat) { mat_ = std::move(mat); }
  PixelView View() const {
    return PixelView{mat_.data, mat_.cols, mat_.rows, mat_.channels(), mat_.step[0]};
  }
  cv::Mat& mat() { return mat_; }

 private:
  cv::Mat mat_;
};

}  // namespace

Result<DecodedImage> DecodeImage(const unsigned char* data, size_t size,
                                 const DecodeOptions& options, const IngestLimits& limits) {
  MatPixelStore store;
  FallbackDecoder opencv = [&store](const unsigned char* bytes, size_t n, const DecodeOptions& o,
                                    const IngestLimits& l, std::string_view type,
                                    PixelStore&) -> Result<DecodeInfo> {
    KAGAMI_ASSIGN_OR_RETURN(cv::Mat pixels, DecodeWithOpenCv(bytes, n, o, l, type));
    DecodeInfo info;
    info.source_width = pixels.cols;
    info.source_height = pixels.rows;
    store.Adopt(std::move(pixels));
    return info;
  };
  KAGAMI_ASSIGN_OR_RETURN(DecodeInfo info,
                          DecodePixels(data, size, options, limits, store, opencv));
  DecodedImage decoded;
  decoded.pixels = std::move(store.mat());
  decoded.source_width = info.source_width;
  decoded.source_height = info.source_height;
  decoded.scale_denom = info.scale_denom;
  return decoded;
}

}  // namespace kagami::ingest
