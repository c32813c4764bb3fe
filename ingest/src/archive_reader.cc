#include "archive_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cassert>

#include "member_names.h"

namespace kagami::ingest::internal {
namespace {

constexpr size_t kReadChunkBytes = 64 << 10;
constexpr size_t kFileBlockBytes = 64 << 10;
// The ratio is only judged once a member is this large, and the compressed
// side is taken to be at least kRatioFloorBytes: libarchive reads ahead in
// blocks, so small members would otherwise show arbitrary ratios.
constexpr uint64_t kRatioMinBytes = 1 << 20;
constexpr uint64_t kRatioFloorBytes = 64 << 10;
constexpr size_t kMaxReserveBytes = 16 << 20;

std::string ArchiveError(archive* a) {
  const char* message = archive_error_string(a);
  return message != nullptr ? message : "unknown libarchive error";
}

std::string EntryName(archive_entry* entry) {
  const char* name = archive_entry_pathname_utf8(entry);
  if (name == nullptr) name = archive_entry_pathname(entry);
  return name != nullptr ? NormaliseMemberName(name) : std::string();
}

bool CheapSkip(archive* a) {
  int format = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
  bool seekable_format = format == ARCHIVE_FORMAT_ZIP || format == ARCHIVE_FORMAT_TAR;
  return seekable_format && archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE;
}

// Skips the current member of a stream where skipping means decompressing
// (solid 7z/RAR, compressed tars) by decompressing it here, counting the
// uncompressed bytes into *skipped: libarchive's own skip would do the same
// work unbounded. Fails with kResourceExhausted once *skipped passes
// max_total_bytes, kCorrupt on a stream error.
Status SkipMemberData(archive* a, archive_entry* entry, const std::string& where,
                      const IngestLimits& limits, uint64_t* skipped) {
  if (archive_entry_is_encrypted(entry))
    return Status::Ok();  // cannot be decoded; let
                          // libarchive skip it
  std::vector<unsigned char> sink(64 * 1024);
  for (;;) {
    la_ssize_t n = archive_read_data(a, sink.data(), sink.size());
    if (n == 0) return Status::Ok();
    if (n < 0) {
      if (n == ARCHIVE_WARN || n == ARCHIVE_RETRY) continue;
      return Status::Corrupt(where + ": stream error while skipping: " + ArchiveError(a));
    }
    *skipped += static_cast<uint64_t>(n);
    if (*skipped > limits.max_total_bytes) {
      return Status::ResourceExhausted(where +
                                       ": skipping members that are not pages expands to "
                                       "more than " +
                                       std::to_string(limits.max_total_bytes) +
                                       " bytes (max_total_bytes); stopped");
    }
  }
}

}  // namespace

void ArchiveReadFree::operator()(archive* a) const { archive_read_free(a); }

Result<ArchiveHandle> OpenArchive(const ArchiveOrigin& origin) {
  ArchiveHandle a(archive_read_new());
  if (!a) return Status::ResourceExhausted(origin.label + ": out of memory opening archive");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_all(a.get());
  int r;
  if (origin.memory != nullptr) {
    r = archive_read_open_memory(a.get(), origin.memory->data(), origin.memory->size());
  } else {
    r = archive_read_open_filename(a.get(), origin.path.c_str(), kFileBlockBytes);
  }
  if (r != ARCHIVE_OK) {
    return Status::Corrupt(origin.label + ": not a readable archive: " + ArchiveError(a.get()));
  }
  return a;
}

Result<ArchiveListing> ListArchive(const ArchiveOrigin& origin, const IngestLimits& limits,
                                   ByteBudget* budget, const CapturePredicate& capture) {
  KAGAMI_ASSIGN_OR_RETURN(ArchiveHandle a, OpenArchive(origin));
  ArchiveListing listing;
  uint64_t skipped = 0;  // uncompressed bytes decompressed only to be skipped
  for (size_t header = 0;; ++header) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {  // RETRY/FAILED end it too: no loops.
      listing.tail = Status::Corrupt(origin.label + ": archive is truncated or corrupt after " +
                                     std::to_string(header) + " members: " + ArchiveError(a.get()));
      break;
    }
    if (header >= limits.max_entries) {
      return Status::ResourceExhausted(origin.label + ": archive has more than " +
                                       std::to_string(limits.max_entries) +
                                       " members (max_entries)");
    }
    listing.cheap_skip = CheapSkip(a.get());
    // Skipping members of a compressed stream decompresses them: bound that
    // work. (Seekable formats are not checked: their position includes seeks.)
    if (!listing.cheap_skip &&
        static_cast<uint64_t>(archive_filter_bytes(a.get(), 0)) > limits.max_total_bytes) {
      listing.tail = Status::ResourceExhausted(origin.label + ": archive expands to more than " +
                                               std::to_string(limits.max_total_bytes) +
                                               " bytes (max_total_bytes); stopped listing");
      break;
    }
    // Members not read here are skipped; where that decompresses, bound it by
    // the uncompressed bytes (the compressed position above does not see the
    // work a solid 7z/RAR member costs).
    auto skip = [&]() {
      if (listing.cheap_skip) return true;
      Status s = SkipMemberData(a.get(), entry, origin.label, limits, &skipped);
      if (!s.ok()) listing.tail = s;
      return s.ok();
    };
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != nullptr) {
      if (!skip()) break;
      continue;
    }
    ArchiveEntry member;
    member.name = EntryName(entry);
    if (member.name.empty()) {
      if (!skip()) break;
      continue;
    }
    member.header_index = header;
    member.declared_size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : -1;
    member.encrypted = archive_entry_is_encrypted(entry) != 0;
    if (capture && capture(member.name, listing.cheap_skip)) {
      member.captured.emplace(
          ReadMemberData(a.get(), entry, origin.label + ": " + member.name, limits, budget));
      // A stream error (kCorrupt) ends the archive: report it once, as the tail.
      if (member.captured->status().code() == StatusCode::kCorrupt) {
        listing.tail = member.captured->status();
        break;
      }
    } else if (!skip()) {
      listing.entries.push_back(std::move(member));
      break;
    }
    listing.entries.push_back(std::move(member));
  }
  return listing;
}

Result<std::vector<unsigned char>> ReadMemberData(archive* a, archive_entry* entry,
                                                  const std::string& where,
                                                  const IngestLimits& limits, ByteBudget* budget) {
  if (archive_entry_is_encrypted(entry)) {
    return Status::Unsupported(where +
                               ": member is encrypted (password-protected archives "
                               "are not read)");
  }
  auto over_entry_limit = [&](uint64_t n, const char* how) {
    return Status::ResourceExhausted(
        where + ": member " + how + " " + std::to_string(n) + " bytes, over the limit of " +
        std::to_string(limits.max_entry_bytes) + " bytes (max_entry_bytes)");
  };
  auto over_total_limit = [&]() {
    return Status::ResourceExhausted(where + ": archive yields more than " +
                                     std::to_string(limits.max_total_bytes) +
                                     " bytes in all (max_total_bytes)");
  };
  uint64_t declared = 0;
  if (archive_entry_size_is_set(entry)) {
    declared = static_cast<uint64_t>(std::max<int64_t>(0, archive_entry_size(entry)));
    if (declared > limits.max_entry_bytes) return over_entry_limit(declared, "declares");
    if (budget->used + declared > limits.max_total_bytes) return over_total_limit();
  }
  std::vector<unsigned char> data;
  data.reserve(static_cast<size_t>(std::min<uint64_t>(declared, kMaxReserveBytes)));
  const int64_t raw_start = archive_filter_bytes(a, -1);
  for (;;) {
    size_t old_size = data.size();
    data.resize(old_size + kReadChunkBytes);
    la_ssize_t n = archive_read_data(a, data.data() + old_size, kReadChunkBytes);
    if (n < 0) {
      return Status::Corrupt(
          where + ": cannot read member (truncated or corrupt archive): " + ArchiveError(a));
    }
    data.resize(old_size + static_cast<size_t>(n));
    if (n == 0) break;
    if (data.size() > limits.max_entry_bytes) {
      return over_entry_limit(data.size(), "expands past");
    }
    if (budget->used + data.size() > limits.max_total_bytes) return over_total_limit();
    if (data.size() >= kRatioMinBytes) {
      uint64_t consumed =
          static_cast<uint64_t>(std::max<int64_t>(0, archive_filter_bytes(a, -1) - raw_start));
      double ratio = static_cast<double>(data.size()) /
                     static_cast<double>(std::max(consumed, kRatioFloorBytes));
      if (ratio > limits.max_compression_ratio) {
        return Status::ResourceExhausted(
            where + ": member expands more than " +
            std::to_string(static_cast<int>(limits.max_compression_ratio)) +
            ":1 (max_compression_ratio), a likely decompression bomb; not read");
      }
    }
  }
  budget->used += data.size();
  data.shrink_to_fit();
  return data;
}

MemberStream::MemberStream(ArchiveOrigin origin, std::set<size_t> wanted,
                           const IngestLimits& limits, ByteBudget* budget)
    : origin_(std::move(origin)), wanted_(std::move(wanted)), limits_(limits), budget_(budget) {}

Result<std::vector<unsigned char>> MemberStream::Read(size_t header_index,
                                                      const std::string& name) {
  auto held = buffered_.find(header_index);
  if (held != buffered_.end()) {
    Result<std::vector<unsigned char>> data = std::move(held->second);
    buffered_.erase(held);
    return data;
  }
  if (!broken_.ok()) return broken_;
  assert(wanted_.count(header_index) == 1 && header_index >= next_header_ &&
         "member not announced or asked twice");
  if (!archive_) {
    Result<ArchiveHandle> opened = OpenArchive(origin_);
    if (!opened.ok()) {
      broken_ = opened.status();
      return broken_;
    }
    archive_ = std::move(opened).value();
  }
  for (;;) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(archive_.get(), &entry);
    if (r == ARCHIVE_EOF) {
      broken_ = Status::Corrupt(origin_.label + ": " + name +
                                ": archive ended before this member (changed while read?)");
      return broken_;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      broken_ = Status::Corrupt(
          origin_.label + ": " + name +
          ": archive is truncated or corrupt before this member: " + ArchiveError(archive_.get()));
      return broken_;
    }
    size_t current = next_header_++;
    if (current != header_index && wanted_.count(current) == 0) {
      if (!CheapSkip(archive_.get())) {
        Status s = SkipMemberData(archive_.get(), entry, origin_.label, limits_, &skipped_);
        if (!s.ok()) {
          broken_ = s.WithContext(name);
          return broken_;
        }
      }
      continue;
    }
    // The name for messages is the stored one: the caller's name is for `header_index`.
    Result<std::vector<unsigned char>> data =
        ReadMemberData(archive_.get(), entry,
                       origin_.label + ": " + (current == header_index ? name : EntryName(entry)),
                       limits_, budget_);
    // kCorrupt from ReadMemberData is a stream error: nothing after it can be read.
    if (data.status().code() == StatusCode::kCorrupt) broken_ = data.status();
    if (current == header_index) return data;
    buffered_.emplace(current, std::move(data));
    if (!broken_.ok()) return broken_;
  }
}

}  // namespace kagami::ingest::internal
