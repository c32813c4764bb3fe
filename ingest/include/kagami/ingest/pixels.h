#pragma once

// OpenCV-free pixel buffers: what the image decoders write into and the PDQ
// hasher reads (kagami-hash, the lean `kagami hash`, links neither OpenCV nor
// anything that drags it in). kagami::ingest::DecodeImage wraps the same
// decoders with a cv::Mat-backed store (image_decoder.h).

#include <cstddef>
#include <cstdint>
#include <memory>

namespace kagami::ingest {

// A view of 8-bit interleaved pixels: `channels` is 1 (gray/luminance),
// 3 (R,G,B) or 4 (R,G,B,A); row y starts at data + y * stride. Does not own.
struct PixelView {
  uint8_t* data = nullptr;
  int width = 0;   // pixels
  int height = 0;  // pixels
  int channels = 0;
  size_t stride = 0;  // bytes between rows, >= width * channels

  bool empty() const { return data == nullptr || width <= 0 || height <= 0; }
  uint8_t* row(int y) const { return data + static_cast<size_t>(y) * stride; }
};

// Where a decoder puts its output image. A decoder may call Allocate() more
// than once; the last allocation is the result. Allocate() throws
// std::bad_alloc when memory runs out (the decoders turn that into a Status).
// Not thread-safe; one store per decode.
class PixelStore {
 public:
  virtual ~PixelStore() = default;
  // An uninitialised buffer of height rows of width * channels bytes.
  virtual PixelView Allocate(int width, int height, int channels) = 0;
};

// A PixelStore that owns its pixels (rows contiguous).
class VectorPixelStore : public PixelStore {
 public:
  PixelView Allocate(int width, int height, int channels) override {
    const size_t stride = static_cast<size_t>(width) * static_cast<size_t>(channels);
    buffer_.reset();
    buffer_ = std::make_unique_for_overwrite<uint8_t[]>(stride * static_cast<size_t>(height));
    view_ = PixelView{buffer_.get(), width, height, channels, stride};
    return view_;
  }
  const PixelView& view() const { return view_; }

 private:
  std::unique_ptr<uint8_t[]> buffer_;
  PixelView view_;
};

}  // namespace kagami::ingest
