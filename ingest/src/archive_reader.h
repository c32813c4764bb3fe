#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"

struct archive;
struct archive_entry;

namespace kagami::ingest::internal {

// libarchive read handle; archive_read_free on destruction.
struct ArchiveReadFree {
  void operator()(archive* a) const;
};
using ArchiveHandle = std::unique_ptr<archive, ArchiveReadFree>;

// Where an archive's bytes live: a file on disk, or a buffer (an archive nested
// in another one, already read into memory).
struct ArchiveOrigin {
  std::filesystem::path path;                                // used when `memory` is null
  std::shared_ptr<const std::vector<unsigned char>> memory;  // shared: the listing and
                                                             // reading passes both use it
  std::string label;  // names the archive in messages: "vol.cbz", "vol.cbz: inner.cbz"
};

// Uncompressed bytes taken out of one top-level asset, shared with the archives
// nested in it; checked against IngestLimits::max_total_bytes.
struct ByteBudget {
  uint64_t used = 0;
};

// One regular-file member.
struct ArchiveEntry {
  std::string name;            // NormaliseMemberName of the stored path
  size_t header_index = 0;     // position among all headers, in stream order
  int64_t declared_size = -1;  // uncompressed size the header claims; -1 when absent
  bool encrypted = false;
  // Set when the listing pass read the member (see ListArchive's `capture`).
  std::optional<Result<std::vector<unsigned char>>> captured;
};

struct ArchiveListing {
  std::vector<ArchiveEntry> entries;  // regular files only (no dirs, links), stream order
  // Non-ok: listing stopped early (truncated or corrupt archive); members after
  // that point are unknown. The entries before it are usable.
  Status tail;
  // True when skipping a member costs no decompression (ZIP, uncompressed TAR):
  // a second, reading pass is cheap. False for solid 7z/RAR and compressed tars.
  bool cheap_skip = false;
};

// Decides, per member, whether the listing pass reads its data now.
using CapturePredicate = std::function<bool(const std::string& name, bool cheap_skip)>;

// Opens `origin` for reading with every filter and format libarchive knows.
// Fails with kCorrupt (naming the archive) when no format recognises it.
Result<ArchiveHandle> OpenArchive(const ArchiveOrigin& origin);

// Listing pass over every header. Fails when the archive cannot be opened or
// has more than limits.max_entries headers (kResourceExhausted); a failure
// part-way is reported in `tail`. Members for which `capture` returns true are
// read now, bounded like ReadMemberData, and charged to `budget`; a stream error
// while capturing ends the listing (that member is dropped, the error is `tail`).
// For compressed streams the decompressed position is also bounded by
// max_total_bytes, since skipping members there means decompressing them; for
// formats that compress inside the archive (solid 7z, RAR), members that are
// not captured are decompressed into a discard buffer and the uncompressed
// bytes skipped are bounded by max_total_bytes (kResourceExhausted as `tail`).
Result<ArchiveListing> ListArchive(const ArchiveOrigin& origin, const IngestLimits& limits,
                                   ByteBudget* budget, const CapturePredicate& capture);

// Reads the current member's data. Bounds: the header's claimed size and the
// bytes actually produced against max_entry_bytes (headers lie: reading stops as
// soon as the limit is passed), the running total against max_total_bytes, and
// the compression ratio (bytes produced / compressed bytes consumed, measured on
// the raw stream, checked once a member passes 1 MiB) against
// max_compression_ratio. Encrypted members give kUnsupported. `where` names the
// member in messages.
Result<std::vector<unsigned char>> ReadMemberData(archive* a, archive_entry* entry,
                                                  const std::string& where,
                                                  const IngestLimits& limits, ByteBudget* budget);

// Reading pass: hands out members in any order the caller likes while reading
// the archive once, front to back. A member wanted later but met earlier in the
// stream is held in memory until asked for (bounded by max_total_bytes through
// the budget); archives already in reading order need no buffering.
// Not thread-safe.
class MemberStream {
 public:
  // `wanted`: header indices that Read will be asked for, each at most once.
  MemberStream(ArchiveOrigin origin, std::set<size_t> wanted, const IngestLimits& limits,
               ByteBudget* budget);

  // Data of the member at `header_index` (must be in `wanted`, asked once).
  // `name` is used in messages.
  Result<std::vector<unsigned char>> Read(size_t header_index, const std::string& name);

  // True once the stream failed (truncated, changed since listing): no member
  // not already buffered can be read any more.
  bool broken() const { return !broken_.ok(); }

 private:
  ArchiveOrigin origin_;
  std::set<size_t> wanted_;
  IngestLimits limits_;
  ByteBudget* budget_;  // not owned; outlives this
  ArchiveHandle archive_;
  size_t next_header_ = 0;
  std::map<size_t, Result<std::vector<unsigned char>>> buffered_;
  uint64_t skipped_ = 0;  // uncompressed bytes decompressed only to skip members
  Status broken_;
};

}  // namespace kagami::ingest::internal
