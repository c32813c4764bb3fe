#include "codec_decoders.h"

#include "kagami/ingest/pixel_decoder.h"

#include <avif/avif.h>
#include <dlfcn.h>
#include <gif_lib.h>
#include <png.h>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <cstdio>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstring>
#include <memory>
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

// Converts `rgb` (a 3-channel view owned by the caller) into a fresh gray
// allocation of `out`.
void ToGray(const PixelView& rgb, PixelStore& out) {
  PixelView gray = out.Allocate(rgb.width, rgb.height, 1);
  RgbToGray(rgb, gray);
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

// ---------------------------------------------------------------- JPEG (libjpeg)

struct JpegErrors {
  jpeg_error_mgr mgr;  // first member: libjpeg passes &mgr as the cinfo's err
  jmp_buf jump;
  char last_warning[JMSG_LENGTH_MAX] = {};
  char error[JMSG_LENGTH_MAX] = {};
};

void JpegErrorExit(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->error);
  std::longjmp(errors->jump, 1);
}

void JpegOutputMessage(j_common_ptr cinfo) {  // never stderr
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->last_warning);
}

void JpegEmitMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  ++cinfo->err->num_warnings;
  JpegOutputMessage(cinfo);
}

struct JpegDestroy {
  jpeg_decompress_struct* cinfo = nullptr;
  ~JpegDestroy() {
    if (cinfo != nullptr) jpeg_destroy_decompress(cinfo);
  }
};

// setjmp lives in functions that own no C++ object with a destructor.
bool JpegReadHeader(jpeg_decompress_struct* cinfo, JpegErrors* errors, const unsigned char* data,
                    size_t size, bool gray) {
  if (setjmp(errors->jump)) return false;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  const bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  cinfo->out_color_space = cmyk                                 ? JCS_CMYK
                           : gray || cinfo->num_components == 1 ? JCS_GRAYSCALE
                                                                : JCS_RGB;
  jpeg_start_decompress(cinfo);
  return true;
}

bool JpegReadRows(jpeg_decompress_struct* cinfo, JpegErrors* errors, unsigned char* first_row,
                  size_t stride) {
  if (setjmp(errors->jump)) return false;
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = first_row + cinfo->output_scanline * stride;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
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

Status DecodePng(const unsigned char* data, size_t size, bool gray, const IngestLimits& limits,
                 PixelStore& out) {
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
  // libpng converts colour to gray itself when asked (PngReadHeader), so
  // `gray` leaves one channel here.
  VectorPixelStore color;
  PixelStore& target = channels == 3 && gray ? static_cast<PixelStore&>(color) : out;
  PixelView pixels = target.Allocate(static_cast<int>(width), static_cast<int>(height), channels);
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = pixels.row(static_cast<int>(y));
  if (!PngReadRows(handles.png, handles.info, rows.data())) {
    return Status::Corrupt(std::string(kType) + " is truncated or damaged: " + context.error);
  }
  if (&target == &color) ToGray(pixels, out);
  return Status::Ok();
}

Status DecodeGif(const unsigned char* data, size_t size, bool gray, const IngestLimits& limits,
                 PixelStore& out) {
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
    VectorPixelStore color;
    PixelStore& target = gray ? static_cast<PixelStore&>(color) : out;
    PixelView canvas = target.Allocate(gif->SWidth, gif->SHeight, 3);
    for (int y = 0; y < canvas.height; ++y) {
      std::memset(canvas.row(y), 255, static_cast<size_t>(canvas.width) * 3);
    }
    for (int y = 0; y < desc.Height; ++y) {
      const int cy = desc.Top + y;
      if (cy < 0 || cy >= canvas.height) continue;
      uint8_t* row = canvas.row(cy);
      for (int x = 0; x < desc.Width; ++x) {
        const int cx = desc.Left + x;
        if (cx < 0 || cx >= canvas.width) continue;
        const int index = indices[static_cast<size_t>(y) * desc.Width + x];
        if (index == transparent || index >= map->ColorCount) continue;
        const GifColorType& c = map->Colors[index];
        row[3 * cx] = c.Red;
        row[3 * cx + 1] = c.Green;
        row[3 * cx + 2] = c.Blue;
      }
    }
    if (gray) ToGray(canvas, out);
    return Status::Ok();
  }
}

Status DecodeAvif(const unsigned char* data, size_t size, bool gray, const IngestLimits& limits,
                  PixelStore& out) {
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

  VectorPixelStore color;
  PixelStore& target = gray ? static_cast<PixelStore&>(color) : out;
  PixelView pixels =
      target.Allocate(static_cast<int>(image->width), static_cast<int>(image->height), 3);
  avifRGBImage rgb;
  avif->rgb_set_defaults(&rgb, image);
  rgb.format = AVIF_RGB_FORMAT_RGB;
  rgb.depth = 8;
  rgb.pixels = pixels.data;
  rgb.rowBytes = static_cast<uint32_t>(pixels.stride);
  result = avif->yuv_to_rgb(image, &rgb);
  if (result != AVIF_RESULT_OK) return fail("colour conversion failed", result);
  if (gray) ToGray(pixels, out);
  return Status::Ok();
}

bool IsJpegDataLossWarning(std::string_view message) {
  static constexpr std::array<std::string_view, 4> kLoss = {"Premature end", "premature end",
                                                            "Huffman", "instead of RST"};
  return std::any_of(kLoss.begin(), kLoss.end(),
                     [&](std::string_view s) { return message.find(s) != std::string_view::npos; });
}

Status DecodeJpegLibjpeg(const unsigned char* data, size_t size, bool gray,
                         const IngestLimits& limits, PixelStore& out) {
  constexpr const char* kType = "image/jpeg";
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = JpegErrorExit;
  errors.mgr.output_message = JpegOutputMessage;
  errors.mgr.emit_message = JpegEmitMessage;
  jpeg_create_decompress(&cinfo);
  JpegDestroy destroy{&cinfo};
  if (!JpegReadHeader(&cinfo, &errors, data, size, gray)) {
    return Status::Corrupt(std::string(kType) + " cannot be decoded: " + errors.error);
  }
  KAGAMI_RETURN_IF_ERROR(CheckDimensions(cinfo.output_width, cinfo.output_height, limits, kType));
  const int width = static_cast<int>(cinfo.output_width);
  const int height = static_cast<int>(cinfo.output_height);
  const int components = cinfo.output_components;
  if (components != 1 && components != 3 && components != 4) {
    return Status::Unsupported(std::string(kType) + " with " + std::to_string(components) +
                               " components");
  }
  VectorPixelStore cmyk;
  PixelStore& target = components == 4 ? static_cast<PixelStore&>(cmyk) : out;
  PixelView pixels = target.Allocate(width, height, components);
  if (!JpegReadRows(&cinfo, &errors, pixels.data, pixels.stride)) {
    return Status::Corrupt(std::string(kType) + " is truncated or damaged: " + errors.error);
  }
  if (errors.mgr.num_warnings > 0 && IsJpegDataLossWarning(errors.last_warning)) {
    return Status::Corrupt(std::string(kType) + " is truncated or damaged: " + errors.last_warning);
  }
  if (components != 4) return Status::Ok();
  // Adobe CMYK (stored inverted) to R,G,B, as OpenCV's JPEG reader converts it.
  VectorPixelStore rgb_store;
  PixelStore& rgb_target = gray ? static_cast<PixelStore&>(rgb_store) : out;
  PixelView rgb = rgb_target.Allocate(width, height, 3);
  for (int y = 0; y < height; ++y) {
    const uint8_t* in = pixels.row(y);
    uint8_t* o = rgb.row(y);
    for (int x = 0; x < width; ++x, in += 4, o += 3) {
      const int k = in[3];
      for (int c = 0; c < 3; ++c) o[c] = static_cast<uint8_t>(k - (((255 - in[c]) * k) >> 8));
    }
  }
  if (gray) ToGray(rgb, out);
  return Status::Ok();
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
