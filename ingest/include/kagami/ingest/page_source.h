#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/volume.h"

namespace kagami::ingest {

// One page as it comes out of its container, not yet decoded.
struct EncodedPage {
  std::string member;                // path inside the container ("" for a plain image file)
  std::vector<unsigned char> bytes;  // encoded image bytes (JPEG, PNG, WebP, BMP, TIFF, ...)
  cv::Mat rendered;                  // set instead of `bytes` for PDF pages: 8-bit gray or RGB
  Status status;                     // non-ok: this page (or the rest of the asset) failed
};

// The pages of one asset in reading order: natural sort of member names for
// archives (nested archives one level deep are expanded in place), spine order
// for EPUB, page order for PDF. Not thread-safe: drive it from one thread.
class PageSource {
 public:
  virtual ~PageSource() = default;
  // The next page, or std::nullopt at the end. A page whose status is not ok
  // reports an error for that member; reading continues after it unless the
  // container itself is broken, in which case the next call returns nullopt.
  virtual std::optional<EncodedPage> Next() = 0;
};

// Opens an asset. Fails (clear message naming the file) if it cannot be opened,
// is of an unsupported type, or exceeds `limits` before any page is read.
Result<std::unique_ptr<PageSource>> OpenAsset(const AssetFile& asset, const IngestLimits& limits);

}  // namespace kagami::ingest
