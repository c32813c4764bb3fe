#include "codec_decoders.h"

#include <avif/avif.h>
#include <dlfcn.h>
#include <gif_lib.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <string>
#include <type_traits>
#include <vector>

namespace kagami::ingest::internal {
namespace {

Status CheckDimensions(uint64_t width, uint64_t height, const IngestLimits& limits,
                       const std::string& type) {
  std::string dims = std::to_string(width) + "x" + std::to_string(height);
  if (width == 0 || height == 0) {
    return Status::Corrupt(type + " declares an empty image (" + dims + ")");
  }
  if (width > limits.max_dimension || height > limits.max_dimension) {
    return Status::ResourceExhausted(type + " image is " + dims + ", a side over max_dimension=" +
                                     std::to_string(limits.max_dimension) + "; not decoded");
  }
  if (width * height > limits.max_pixels) {
    return Status::ResourceExhausted(type + " image is " + dims + ", more than max_pixels=" +
                                     std::to_string(limits.max_pixels) + "; not decoded");
  }
  return Status::Ok();
}

cv::Mat ToGray(const cv::Mat& rgb) {
  cv::Mat gray;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  return gray;
}

// ---------------------------------------------------------------- PNG

struct PngContext {
  const unsigned char* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  std::string error;  // libpng's message when it failed
};

void PngError(png_structp png, png_const_charp message) {
  auto* context = static_cast<PngContext*>(png_get_error_ptr(png));
  context->error = message != nullptr ? message : "unknown libpng error";
  png_longjmp(png, 1);
}

void PngWarning(png_structp, png_const_charp) {
  // Benign by definition (libpng reports data loss as an error); not printed.
}

void PngRead(png_structp png, png_bytep out, png_size_t length) {
  auto* context = static_cast<PngContext*>(png_get_io_ptr(png));
  if (length > context->size - context->pos) png_error(png, "PNG data is truncated");
  std::memcpy(out, context->data + context->pos, length);
  context->pos += length;
}

struct PngReadDestroy {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadDestroy() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
  }
};

// Each setjmp lives in a function that owns no C++ object with a destructor,
// so a longjmp out of libpng skips nothing.
bool PngReadHeader(png_structp png, png_infop info, bool gray, png_uint_32* width,
                   png_uint_32* height, int* channels) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  *width = png_get_image_width(png, info);
  *height = png_get_image_height(png, info);
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (bit_depth > 8) png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) {
    png_set_expand_gray_1_2_4_to_8(png);
  }
  if (gray) png_set_rgb_to_gray(png, 1, 0.299, 0.587);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *channels = png_get_channels(png, info);
  return true;
}

bool PngReadRows(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

// ---------------------------------------------------------------- GIF

struct GifInput {
  const unsigned char* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
};

int GifRead(GifFileType* gif, GifByteType* out, int length) {
  auto* input = static_cast<GifInput*>(gif->UserData);
  if (length <= 0) return 0;
  size_t n = std::min(static_cast<size_t>(length), input->size - input->pos);
  std::memcpy(out, input->data + input->pos, n);
  input->pos += n;
  return static_cast<int>(n);
}

struct GifClose {
  void operator()(GifFileType* gif) const {
    int error = 0;
    DGifCloseFile(gif, &error);
  }
};

std::string GifError(int code) {
  const char* message = GifErrorString(code);
  return message != nullptr ? message : "unknown giflib error " + std::to_string(code);
}

// ---------------------------------------------------------------- AVIF

// libavif is loaded on first use: its AV1 codecs (aom, rav1e, SVT-AV1, dav1d,
// libgav1, abseil: some 30 shared libraries) would otherwise load at every
// process start. The C API is looked up by name in the library of the soname
// Kagami was built against; the handle is never closed.
struct AvifApi {
  decltype(&avifDecoderCreate) decoder_create = nullptr;
  decltype(&avifDecoderDestroy) decoder_destroy = nullptr;
  decltype(&avifDecoderSetIOMemory) set_io_memory = nullptr;
  decltype(&avifDecoderParse) parse = nullptr;
  decltype(&avifDecoderNextImage) next_image = nullptr;
  decltype(&avifRGBImageSetDefaults) rgb_set_defaults = nullptr;
  decltype(&avifImageYUVToRGB) yuv_to_rgb = nullptr;
  decltype(&avifResultToString) result_to_string = nullptr;
};

Result<const AvifApi*> LoadAvif() {
  static const Result<AvifApi> loaded = []() -> Result<AvifApi> {
    void* handle = ::dlopen(KAGAMI_AVIF_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (handle == nullptr) {
      const char* error = ::dlerror();
      return Status::Unsupported(std::string("AVIF decoding is not available: ") +
                                 (error != nullptr ? error : KAGAMI_AVIF_SONAME));
    }
    AvifApi api;
    bool ok = true;
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(handle, name));
      ok &= fn != nullptr;
    };
    get(api.decoder_create, "avifDecoderCreate");
    get(api.decoder_destroy, "avifDecoderDestroy");
    get(api.set_io_memory, "avifDecoderSetIOMemory");
    get(api.parse, "avifDecoderParse");
    get(api.next_image, "avifDecoderNextImage");
    get(api.rgb_set_defaults, "avifRGBImageSetDefaults");
    get(api.yuv_to_rgb, "avifImageYUVToRGB");
    get(api.result_to_string, "avifResultToString");
    if (!ok)
      return Status::Unsupported(std::string("libavif symbols missing in ") + KAGAMI_AVIF_SONAME);
    return api;
  }();
  if (!loaded.ok()) return loaded.status();
  return &*loaded;
}

}  // namespace

Result<cv::Mat> DecodePng(const unsigned char* data, size_t size, bool gray,
                          const IngestLimits& limits) {
  constexpr const char* kType = "image/png";
  PngContext context{data, size, 0, {}};
  PngReadDestroy handles;
  handles.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, PngError, PngWarning);
  if (handles.png == nullptr) return Status::ResourceExhausted("libpng could not start");
  handles.info = png_create_info_struct(handles.png);
  if (handles.info == nullptr) return Status::ResourceExhausted("libpng could not start");
  png_set_read_fn(handles.png, &context, PngRead);
  png_set_user_limits(handles.png, limits.max_dimension, limits.max_dimension);

  png_uint_32 width = 0, height = 0;
  int channels = 0;
  if (!PngReadHeader(handles.png, handles.info, gray, &width, &height, &channels)) {
    return Status::Corrupt(std::string(kType) + " cannot be decoded: " + context.error);
  }
  KAGAMI_RETURN_IF_ERROR(CheckDimensions(width, height, limits, kType));
  if (channels != 1 && channels != 3) {
    return Status::Unsupported(std::string(kType) + " with " + std::to_string(channels) +
                               " channels after conversion");
  }
  cv::Mat pixels(static_cast<int>(height), static_cast<int>(width), CV_8UC(channels));
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = pixels.ptr<png_byte>(static_cast<int>(y));
  if (!PngReadRows(handles.png, handles.info, rows.data())) {
    return Status::Corrupt(std::string(kType) + " is truncated or damaged: " + context.error);
  }
  if (gray && pixels.channels() == 3) return ToGray(pixels);
  return pixels;
}

Result<cv::Mat> DecodeGif(const unsigned char* data, size_t size, bool gray,
                          const IngestLimits& limits) {
  constexpr const char* kType = "image/gif";
  GifInput input{data, size, 0};
  int error = 0;
  std::unique_ptr<GifFileType, GifClose> gif(DGifOpen(&input, GifRead, &error));
  if (!gif) return Status::Corrupt(std::string(kType) + " cannot be opened: " + GifError(error));
  KAGAMI_RETURN_IF_ERROR(CheckDimensions(static_cast<uint64_t>(std::max(0, gif->SWidth)),
                                         static_cast<uint64_t>(std::max(0, gif->SHeight)), limits,
                                         kType));
  int transparent = NO_TRANSPARENT_COLOR;
  for (;;) {
    GifRecordType record = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif.get(), &record) == GIF_ERROR) {
      return Status::Corrupt(std::string(kType) + " is damaged: " + GifError(gif->Error));
    }
    if (record == TERMINATE_RECORD_TYPE) {
      return Status::Corrupt(std::string(kType) + " contains no image");
    }
    if (record == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* block = nullptr;
      if (DGifGetExtension(gif.get(), &code, &block) == GIF_ERROR) {
        return Status::Corrupt(std::string(kType) + " is damaged: " + GifError(gif->Error));
      }
      if (code == GRAPHICS_EXT_FUNC_CODE && block != nullptr && block[0] >= 4) {
        GraphicsControlBlock gcb;
        if (DGifExtensionToGCB(block[0], block + 1, &gcb) == GIF_OK) {
          transparent = gcb.TransparentColor;
        }
      }
      while (block != nullptr) {
        if (DGifGetExtensionNext(gif.get(), &block) == GIF_ERROR) {
          return Status::Corrupt(std::string(kType) + " is damaged: " + GifError(gif->Error));
        }
      }
      continue;
    }
    if (record != IMAGE_DESC_RECORD_TYPE) continue;
    if (DGifGetImageDesc(gif.get()) == GIF_ERROR) {
      return Status::Corrupt(std::string(kType) + " is damaged: " + GifError(gif->Error));
    }
    const GifImageDesc& desc = gif->Image;
    KAGAMI_RETURN_IF_ERROR(CheckDimensions(static_cast<uint64_t>(std::max(0, desc.Width)),
                                           static_cast<uint64_t>(std::max(0, desc.Height)), limits,
                                           kType));
    const ColorMapObject* map = desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap;
    if (map == nullptr || map->Colors == nullptr || map->ColorCount <= 0) {
      return Status::Corrupt(std::string(kType) + " has no colour table");
    }
    // The frame's indices, row by row (interlaced frames store rows in four passes).
    std::vector<GifPixelType> indices(static_cast<size_t>(desc.Width) * desc.Height);
    auto read_row = [&](int y) {
      return DGifGetLine(gif.get(), indices.data() + static_cast<size_t>(y) * desc.Width,
                         desc.Width) != GIF_ERROR;
    };
    bool ok = true;
    if (desc.Interlace) {
      static constexpr int kStart[] = {0, 4, 2, 1};
      static constexpr int kStep[] = {8, 8, 4, 2};
      for (int pass = 0; pass < 4 && ok; ++pass) {
        for (int y = kStart[pass]; y < desc.Height && ok; y += kStep[pass]) ok = read_row(y);
      }
    } else {
      for (int y = 0; y < desc.Height && ok; ++y) ok = read_row(y);
    }
    if (!ok) {
      return Status::Corrupt(std::string(kType) +
                             " is truncated or damaged: " + GifError(gif->Error));
    }
    cv::Mat canvas(gif->SHeight, gif->SWidth, CV_8UC3, cv::Scalar(255, 255, 255));
    for (int y = 0; y < desc.Height; ++y) {
      const int cy = desc.Top + y;
      if (cy < 0 || cy >= canvas.rows) continue;
      auto* out = canvas.ptr<uint8_t>(cy);
      for (int x = 0; x < desc.Width; ++x) {
        const int cx = desc.Left + x;
        if (cx < 0 || cx >= canvas.cols) continue;
        const int index = indices[static_cast<size_t>(y) * desc.Width + x];
        if (index == transparent || index >= map->ColorCount) continue;
        const GifColorType& c = map->Colors[index];
        out[3 * cx] = c.Red;
        out[3 * cx + 1] = c.Green;
        out[3 * cx + 2] = c.Blue;
      }
    }
    return gray ? ToGray(canvas) : canvas;
  }
}

Result<cv::Mat> DecodeAvif(const unsigned char* data, size_t size, bool gray,
                           const IngestLimits& limits) {
  constexpr const char* kType = "image/avif";
  KAGAMI_ASSIGN_OR_RETURN(const AvifApi* avif, LoadAvif());
  auto destroy = [avif](avifDecoder* d) { avif->decoder_destroy(d); };
  std::unique_ptr<avifDecoder, decltype(destroy)> decoder(avif->decoder_create(), destroy);
  if (!decoder) return Status::ResourceExhausted("libavif could not start");
  decoder->maxThreads = 1;  // the pipeline parallelises across pages
  decoder->ignoreExif = AVIF_TRUE;
  decoder->ignoreXMP = AVIF_TRUE;
  decoder->strictFlags = AVIF_STRICT_DISABLED;  // files from the web often lack 'pixi' etc.
  // libavif's own limits (imageSizeLimit, imageDimensionLimit) stay at their
  // defaults; Kagami's, usually tighter, are checked right after parsing.
  auto fail = [&](const char* what, avifResult result) {
    std::string message = std::string(kType) + " " + what + ": " + avif->result_to_string(result);
    if (decoder->diag.error[0] != '\0') message += " (" + std::string(decoder->diag.error) + ")";
    if (result == AVIF_RESULT_NOT_IMPLEMENTED) return Status::Unsupported(message);
    return Status::Corrupt(message);
  };
  avifResult result = avif->set_io_memory(decoder.get(), data, size);
  if (result != AVIF_RESULT_OK) return fail("cannot be read", result);
  result = avif->parse(decoder.get());
  if (result != AVIF_RESULT_OK) return fail("cannot be parsed", result);
  const avifImage* header = decoder->image;
  KAGAMI_RETURN_IF_ERROR(CheckDimensions(header->width, header->height, limits, kType));
  result = avif->next_image(decoder.get());  // the first frame only
  if (result != AVIF_RESULT_OK) return fail("cannot be decoded", result);
  const avifImage* image = decoder->image;
  KAGAMI_RETURN_IF_ERROR(CheckDimensions(image->width, image->height, limits, kType));

  cv::Mat pixels(static_cast<int>(image->height), static_cast<int>(image->width), CV_8UC3);
  avifRGBImage rgb;
  avif->rgb_set_defaults(&rgb, image);
  rgb.format = AVIF_RGB_FORMAT_RGB;
  rgb.depth = 8;
  rgb.pixels = pixels.data;
  rgb.rowBytes = static_cast<uint32_t>(pixels.step);
  result = avif->yuv_to_rgb(image, &rgb);
  if (result != AVIF_RESULT_OK) return fail("colour conversion failed", result);
  return gray ? ToGray(pixels) : pixels;
}

bool LooksLikeAvif(const unsigned char* data, size_t size) {
  if (size < 16 || std::memcmp(data + 4, "ftyp", 4) != 0) return false;
  auto is_avif_brand = [&](size_t at) {
    return std::memcmp(data + at, "avif", 4) == 0 || std::memcmp(data + at, "avis", 4) == 0;
  };
  if (is_avif_brand(8)) return true;
  uint64_t box =
      (uint64_t{data[0]} << 24) | (uint64_t{data[1]} << 16) | (uint64_t{data[2]} << 8) | data[3];
  size_t end = static_cast<size_t>(std::min<uint64_t>({box, size, 4096}));
  for (size_t at = 16; at + 4 <= end; at += 4) {  // compatible brands
    if (is_avif_brand(at)) return true;
  }
  return false;
}

}  // namespace kagami::ingest::internal
