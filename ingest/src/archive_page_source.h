#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive_reader.h"
#include "kagami/ingest/page_source.h"

namespace kagami::ingest::internal {

// Pages of a comic archive (CBZ/ZIP, CBR/RAR, CB7/7z, TAR, compressed tars).
//
// Members are pages when their name has an image extension, or nested
// archives when it has an archive extension; hidden paths, __MACOSX,
// directories, links and other files are ignored. What a member really is gets
// decided from its magic bytes once read: a ".jpg" holding a ZIP is expanded as
// an archive, one holding neither gives a kCorrupt page.
//
// Reading order is the natural order (NaturalLess) of member paths, found by a
// listing pass. Then:
//  - ZIP and plain TAR (skipping is a seek): a second pass streams the archive
//    once, holding in memory only members met before their turn (none for an
//    archive stored in order).
//  - compressed tars, 7z, RAR (skipping means decompressing): the listing pass
//    reads every page candidate into memory, so the archive is decompressed
//    once; memory is bounded by max_total_bytes.
// A nested archive (member that is an archive, at most limits.max_nesting levels
// below the asset) is read into memory and its pages are emitted in its own
// natural order at its place in the outer order, named "inner.cbz/p01.jpg";
// deeper ones give a kResourceExhausted page. A truncated archive yields the
// pages listed before the damage, then one error page, then the end.
class ArchivePageSource : public PageSource {
 public:
  // Lists `origin`. `member_prefix` is prepended to member names ("" at top
  // level); `nesting_level` is 0 for the asset itself. `budget` is shared with
  // nested archives. Fails when the archive cannot be opened or has too many
  // members.
  static Result<std::unique_ptr<ArchivePageSource>> Open(ArchiveOrigin origin,
                                                         std::string member_prefix,
                                                         int nesting_level,
                                                         const IngestLimits& limits,
                                                         std::shared_ptr<ByteBudget> budget);

  std::optional<EncodedPage> Next() override;

 private:
  ArchivePageSource() = default;
  std::optional<EncodedPage> NextUnguarded();
  EncodedPage ErrorPage(std::string member, Status status) const;

  ArchiveOrigin origin_;
  std::string prefix_;
  int nesting_level_ = 0;
  IngestLimits limits_;
  std::shared_ptr<ByteBudget> budget_;
  ArchiveListing listing_;
  std::vector<size_t> order_;  // indices into listing_.entries, reading order
  size_t next_ = 0;
  std::unique_ptr<MemberStream> stream_;  // null when every candidate was captured
  std::unique_ptr<PageSource> child_;     // nested archive being expanded
  bool done_ = false;
};

}  // namespace kagami::ingest::internal
