// libFuzzer entry points for the ingest readers that take hostile bytes
// (issue 6): built only in the sanitizer build (scripts/sanitize,
// -DKAGAMI_BUILD_FUZZERS=ON with clang), once per target:
//   KAGAMI_FUZZ_JPEG     DecodeImage on the bytes, fast and exact modes
//   KAGAMI_FUZZ_GIF      the same, seeded with GIFs (giflib driver)
//   KAGAMI_FUZZ_AVIF     the same, seeded with AVIFs (libavif driver)
//   KAGAMI_FUZZ_ARCHIVE  the bytes as a ZIP/7z/RAR/TAR volume, every page drained and decoded
//   KAGAMI_FUZZ_EPUB     the bytes as an EPUB, likewise
//   KAGAMI_FUZZ_PDF      the bytes as a PDF, every page rendered (low DPI)
// A crash, sanitizer report, hang (-timeout) or runaway memory (-rss_limit_mb)
// is a finding; error statuses are the expected outcome for most inputs.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/page_source.h"
#include "kagami/ingest/volume.h"

namespace {

using kagami::ingest::DecodeImage;
using kagami::ingest::DecodeMode;
using kagami::ingest::DecodeOptions;
using kagami::ingest::IngestLimits;

IngestLimits Limits() {
  IngestLimits limits;
  limits.max_pixels = 4'000'000;  // keeps a single iteration cheap
  limits.max_entry_bytes = 16ull << 20;
  limits.max_total_bytes = 64ull << 20;
  limits.max_pages = 64;
  limits.pdf_render_dpi = 36;
  limits.pdf_max_side = 1024;
  limits.pdf_page_deadline_s = 5;
  return limits;
}

void DecodeBoth(const unsigned char* data, size_t size, const IngestLimits& limits) {
  for (DecodeMode mode : {DecodeMode::kFast, DecodeMode::kExact}) {
    DecodeOptions options;
    options.mode = mode;
    (void)DecodeImage(data, size, options, limits).ok();
  }
}

// Writes the input to a per-process file and drains it as `kind`.
void DrainAsFile(const uint8_t* data, size_t size, kagami::ingest::MediaKind kind,
                 const char* extension) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("kagami-fuzz-" + std::to_string(::getpid()) + extension);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const IngestLimits limits = Limits();
  kagami::ingest::AssetFile asset;
  asset.path = path;
  asset.kind = kind;
  asset.size_bytes = size;
  auto source = kagami::ingest::OpenAsset(asset, limits);
  if (!source.ok()) return;
  for (int pages = 0; pages < 200; ++pages) {
    std::optional<kagami::ingest::EncodedPage> page = (*source)->Next();
    if (!page) break;
    if (page->status.ok() && !page->bytes.empty()) {
      DecodeBoth(page->bytes.data(), page->bytes.size(), limits);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
#if defined(KAGAMI_FUZZ_JPEG) || defined(KAGAMI_FUZZ_GIF) || defined(KAGAMI_FUZZ_AVIF)
  DecodeBoth(data, size, Limits());
#elif defined(KAGAMI_FUZZ_ARCHIVE)
  DrainAsFile(data, size, kagami::ingest::MediaKind::kArchive, ".cbz");
#elif defined(KAGAMI_FUZZ_EPUB)
  DrainAsFile(data, size, kagami::ingest::MediaKind::kEpub, ".epub");
#elif defined(KAGAMI_FUZZ_PDF)
  DrainAsFile(data, size, kagami::ingest::MediaKind::kPdf, ".pdf");
#else
#error "define one KAGAMI_FUZZ_* target"
#endif
  return 0;
}
