#include "kagami/ingest/page_source.h"

#include <algorithm>
#include <exception>
#include <new>

#include "archive_page_source.h"
#include "epub_page_source.h"
#include "file_util.h"
#include "pdf_page_source.h"

namespace kagami::ingest {
namespace {

// A plain image file: one page named "", read when asked for (bounded by
// max_file_bytes and max_entry_bytes).
class ImagePageSource : public PageSource {
 public:
  ImagePageSource(std::filesystem::path path, const IngestLimits& limits)
      : path_(std::move(path)), limits_(limits) {}

  std::optional<EncodedPage> Next() override {
    if (done_) return std::nullopt;
    done_ = true;
    EncodedPage page;
    try {
      Result<std::vector<unsigned char>> bytes =
          internal::ReadWholeFile(path_, std::min(limits_.max_file_bytes, limits_.max_entry_bytes));
      if (bytes.ok()) {
        page.bytes = std::move(bytes).value();
      } else {
        page.status = bytes.status();
      }
    } catch (const std::bad_alloc&) {
      page.status = Status::ResourceExhausted(path_.string() + ": out of memory reading");
    }
    return page;
  }

 private:
  std::filesystem::path path_;
  IngestLimits limits_;
  bool done_ = false;
};

Result<std::unique_ptr<PageSource>> OpenUnguarded(const AssetFile& asset,
                                                  const IngestLimits& limits) {
  const std::string label = asset.path.string();
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(asset.path, ec);
  if (ec) return ErrnoStatus(ec.value(), "open " + label);
  if (size > limits.max_file_bytes) {
    return Status::ResourceExhausted(
        label + ": file is " + std::to_string(size) +
        " bytes, over max_file_bytes=" + std::to_string(limits.max_file_bytes));
  }
  MediaKind kind = asset.kind;
  if (kind == MediaKind::kUnknown) {
    KAGAMI_ASSIGN_OR_RETURN(std::vector<unsigned char> head,
                            internal::ReadFileHead(asset.path, 4096));
    kind = SniffMediaKind(head.data(), head.size(), nullptr);
  }
  switch (kind) {
    case MediaKind::kImage:
      return std::unique_ptr<PageSource>(new ImagePageSource(asset.path, limits));
    case MediaKind::kArchive: {
      internal::ArchiveOrigin origin;
      origin.path = asset.path;
      origin.label = label;
      KAGAMI_ASSIGN_OR_RETURN(
          std::unique_ptr<internal::ArchivePageSource> source,
          internal::ArchivePageSource::Open(std::move(origin), "", 0, limits,
                                            std::make_shared<internal::ByteBudget>()));
      return std::unique_ptr<PageSource>(std::move(source));
    }
    case MediaKind::kEpub: {
      KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<internal::EpubPageSource> source,
                              internal::EpubPageSource::Open(asset.path, limits));
      return std::unique_ptr<PageSource>(std::move(source));
    }
    case MediaKind::kPdf: {
      KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<internal::PdfPageSource> source,
                              internal::PdfPageSource::Open(asset.path, limits));
      return std::unique_ptr<PageSource>(std::move(source));
    }
    case MediaKind::kUnknown:
      break;
  }
  return Status::Unsupported(label + ": not an image, archive, PDF or EPUB");
}

}  // namespace

Result<std::unique_ptr<PageSource>> OpenAsset(const AssetFile& asset, const IngestLimits& limits) {
  try {
    return OpenUnguarded(asset, limits);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(asset.path.string() + ": out of memory opening");
  } catch (const std::exception& e) {
    return Status::Internal(asset.path.string() + ": " + e.what());
  }
}

}  // namespace kagami::ingest
