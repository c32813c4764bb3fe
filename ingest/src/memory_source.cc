#include "kagami/ingest/memory_source.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <new>

#include "archive_page_source.h"
#include "epub_page_source.h"
#include "kagami/base/sha256.h"
#include "pdf_page_source.h"

namespace kagami::ingest {
namespace {

class MemoryImageSource : public PageSource {
 public:
  explicit MemoryImageSource(std::shared_ptr<const std::vector<unsigned char>> bytes)
      : bytes_(std::move(bytes)) {}
  std::optional<EncodedPage> Next() override {
    if (done_) return std::nullopt;
    done_ = true;
    EncodedPage page;
    page.bytes = *bytes_;
    return page;
  }

 private:
  std::shared_ptr<const std::vector<unsigned char>> bytes_;
  bool done_ = false;
};

// A temporary file that lives as long as the source reading it.
class SpilledSource : public PageSource {
 public:
  SpilledSource(std::filesystem::path path, std::unique_ptr<PageSource> inner)
      : path_(std::move(path)), inner_(std::move(inner)) {}
  ~SpilledSource() override {
    inner_.reset();
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  std::optional<EncodedPage> Next() override { return inner_->Next(); }

 private:
  std::filesystem::path path_;
  std::unique_ptr<PageSource> inner_;
};

Result<std::filesystem::path> Spill(const std::vector<unsigned char>& bytes,
                                    const std::string& label) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string templ = (dir / "kagami-spill-XXXXXX").string();
  std::vector<char> name(templ.begin(), templ.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) return ErrnoStatus(errno, label + ": temporary file");
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) {
      int err = errno;
      close(fd);
      std::filesystem::remove(name.data(), ec);
      return ErrnoStatus(err, label + ": writing temporary file");
    }
    off += static_cast<size_t>(n);
  }
  close(fd);
  return std::filesystem::path(name.data());
}

Result<std::unique_ptr<PageSource>> OpenUnguarded(
    std::shared_ptr<const std::vector<unsigned char>> bytes, const std::string& label,
    const IngestLimits& limits) {
  if (!bytes) return Status::InvalidArgument(label + ": no bytes");
  if (bytes->size() > limits.max_file_bytes) {
    return Status::ResourceExhausted(
        label + ": " + std::to_string(bytes->size()) +
        " bytes, over max_file_bytes=" + std::to_string(limits.max_file_bytes));
  }
  MediaKind kind = SniffMediaKind(bytes->data(), std::min<size_t>(bytes->size(), 4096), nullptr);
  switch (kind) {
    case MediaKind::kImage:
      if (bytes->size() > limits.max_entry_bytes) {
        return Status::ResourceExhausted(label + ": image over max_entry_bytes");
      }
      return std::unique_ptr<PageSource>(new MemoryImageSource(std::move(bytes)));
    case MediaKind::kArchive: {
      internal::ArchiveOrigin origin;
      origin.memory = std::move(bytes);
      origin.label = label;
      KAGAMI_ASSIGN_OR_RETURN(
          std::unique_ptr<internal::ArchivePageSource> source,
          internal::ArchivePageSource::Open(std::move(origin), "", 0, limits,
                                            std::make_shared<internal::ByteBudget>()));
      return std::unique_ptr<PageSource>(std::move(source));
    }
    case MediaKind::kEpub:
    case MediaKind::kPdf: {
      KAGAMI_ASSIGN_OR_RETURN(std::filesystem::path path, Spill(*bytes, label));
      Result<std::unique_ptr<PageSource>> inner = Status::Internal("unreachable");
      if (kind == MediaKind::kPdf) {
        auto pdf = internal::PdfPageSource::Open(path, limits);
        if (pdf.ok())
          inner = std::unique_ptr<PageSource>(std::move(pdf).value());
        else
          inner = pdf.status();
      } else {
        auto epub = internal::EpubPageSource::Open(path, limits);
        if (epub.ok())
          inner = std::unique_ptr<PageSource>(std::move(epub).value());
        else
          inner = epub.status();
      }
      if (!inner.ok()) {
        std::error_code ec;
        std::filesystem::remove(path, ec);
        return Status(inner.status().code(), label + ": " + inner.status().message());
      }
      return std::unique_ptr<PageSource>(new SpilledSource(path, std::move(inner).value()));
    }
    case MediaKind::kUnknown:
      break;
  }
  return Status::Unsupported(label + ": not an image, archive, PDF or EPUB");
}

}  // namespace

MemoryAsset MakeMemoryAsset(std::vector<unsigned char> bytes, std::string url,
                            int64_t fetched_unix_ms) {
  MemoryAsset asset;
  asset.provenance.sha256_hex = kagami::Sha256Hex(bytes.data(), bytes.size());
  asset.provenance.url = std::move(url);
  asset.provenance.fetched_unix_ms = fetched_unix_ms;
  asset.bytes = std::make_shared<const std::vector<unsigned char>>(std::move(bytes));
  return asset;
}

AssetFile MemoryAssetFile(const MemoryAsset& asset) {
  AssetFile file;
  file.path = asset.provenance.url;
  file.memory = asset.bytes;
  if (asset.bytes) {
    file.size_bytes = asset.bytes->size();
    file.kind = SniffMediaKind(asset.bytes->data(), std::min<size_t>(asset.bytes->size(), 4096),
                               &file.media_type);
  }
  return file;
}

Result<std::unique_ptr<PageSource>> OpenBytes(
    std::shared_ptr<const std::vector<unsigned char>> bytes, const std::string& label,
    const IngestLimits& limits) {
  try {
    return OpenUnguarded(std::move(bytes), label, limits);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(label + ": out of memory opening");
  } catch (const std::exception& e) {
    return Status::Internal(label + ": " + e.what());
  }
}

}  // namespace kagami::ingest
