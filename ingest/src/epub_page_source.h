#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive_reader.h"
#include "kagami/ingest/page_source.h"

namespace kagami::ingest::internal {

// Pages of an EPUB (EPUB 3.3 / OPF 2.0.1): META-INF/container.xml names the
// package document; its spine gives reading order. Each spine item that is an
// image is a page; each (X)HTML or SVG item contributes the images it
// references (<img src>, SVG <image href|xlink:href>) in document order. An
// image referenced twice is a page once, at its first place. When the spine
// yields no image, the EPUB's images in natural order are the pages.
//
// XML is parsed by libxml2 without network access, DTD loading or entity
// substitution, each document at most 16 MiB. A referenced image missing from
// the archive gives a kCorrupt page. Pages are named by their path in the ZIP.
class EpubPageSource : public PageSource {
 public:
  // Fails when the archive cannot be opened, or lists more than max_entries
  // members or more than max_pages pages.
  static Result<std::unique_ptr<EpubPageSource>> Open(const std::filesystem::path& path,
                                                      const IngestLimits& limits);

  std::optional<EncodedPage> Next() override;

 private:
  struct Page {
    std::string member;
    std::optional<size_t> entry;  // index into listing_.entries; none: missing from the ZIP
  };

  EpubPageSource() = default;
  std::optional<EncodedPage> NextUnguarded();

  std::string label_;
  ArchiveListing listing_;
  std::vector<Page> pages_;
  size_t next_ = 0;
  std::unique_ptr<ByteBudget> budget_;
  std::unique_ptr<MemberStream> stream_;
  bool done_ = false;
};

}  // namespace kagami::ingest::internal
