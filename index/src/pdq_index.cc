#include "kagami/index/pdq_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <string>

#include "kagami/base/fnv.h"
#include "kagami/fingerprint/hamming.h"

namespace kagami::index {

namespace {

constexpr int kBits = 256;
constexpr size_t kCodeSize = 32;
constexpr int kTables = 16;
constexpr int kBitsPerTable = 16;
constexpr size_t kBuckets = size_t{1} << kBitsPerTable;
// With 16 tables of 16 bits, two codes within r bits differ by at most r / 16
// bits in at least one table, so probing each table with up to r / 16 flipped
// bits is exact. Two flips would probe 137 keys per table: a flat scan wins.
constexpr int kMaxMultiHashRadius = 2 * kTables - 1;
// Codes added after the last (re)build of the tables are scanned exhaustively
// until there are more than max(kMinTail, indexed / kTailDivisor) of them.
constexpr size_t kMinTail = 4096;
constexpr size_t kTailDivisor = 16;

uint32_t Chunk(const fingerprint::Hash256& h, int table) {
  return static_cast<uint32_t>(h.bytes[2 * table]) |
         (static_cast<uint32_t>(h.bytes[2 * table + 1]) << 8);
}

int Distance(const fingerprint::Hash256& a, const fingerprint::Hash256& b) {
  uint64_t x[4], y[4];
  std::memcpy(x, a.bytes.data(), kCodeSize);
  std::memcpy(y, b.bytes.data(), kCodeSize);
  return __builtin_popcountll(x[0] ^ y[0]) + __builtin_popcountll(x[1] ^ y[1]) +
         __builtin_popcountll(x[2] ^ y[2]) + __builtin_popcountll(x[3] ^ y[3]);
}

// File format, all integers little-endian:
//   magic "KGMIDX1\0" | u32 version | u32 code size | u64 count | i64 max_unit_id
//   | i64 unit_id[count] | u8 code[count][32] | u64 FNV-1a-64 of everything before it
constexpr char kMagic[8] = {'K', 'G', 'M', 'I', 'D', 'X', '1', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8 + 8;
constexpr size_t kEntrySize = 8 + kCodeSize;
constexpr size_t kTrailerSize = 8;
constexpr uint64_t kMaxCount = uint64_t{1} << 32;

void PutU32(uint8_t* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const uint8_t* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(in[i]) << (8 * i);
  return v;
}
uint64_t GetU64(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(in[i]) << (8 * i);
  return v;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error (close can report a failed deferred write).
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, const uint8_t* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "writing " + path);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Reads exactly `size` bytes; kCorrupt if the file ends first.
Status ReadAll(int fd, uint8_t* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::read(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "reading " + path);
    }
    if (n == 0) return Status::Corrupt(path + ": PDQ index file is truncated");
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Buffers writes and keeps the running checksum.
class ChecksumWriter {
 public:
  ChecksumWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    buffer_.reserve(kBufferSize);
  }
  Status Append(const uint8_t* data, size_t size) {
    checksum_ = Fnv1a64(checksum_, data, size);
    while (size > 0) {
      size_t n = std::min(size, kBufferSize - buffer_.size());
      buffer_.insert(buffer_.end(), data, data + n);
      data += n;
      size -= n;
      if (buffer_.size() == kBufferSize) KAGAMI_RETURN_IF_ERROR(Flush());
    }
    return Status::Ok();
  }
  Status Flush() {
    KAGAMI_RETURN_IF_ERROR(WriteAll(fd_, buffer_.data(), buffer_.size(), path_));
    buffer_.clear();
    return Status::Ok();
  }
  uint64_t checksum() const { return checksum_; }

 private:
  static constexpr size_t kBufferSize = 1 << 20;
  int fd_;
  std::string path_;
  std::vector<uint8_t> buffer_;
  uint64_t checksum_ = kFnv1a64Offset;
};

}  // namespace

struct PdqIndex::Impl {
  std::vector<fingerprint::Hash256> codes;  // position -> code
  // position -> unit id: 32-bit while every id fits, 64-bit from the first
  // one that does not (then ids32 is empty).
  std::vector<uint32_t> ids32;
  std::vector<int64_t> ids64;
  int64_t max_unit_id = 0;
  // Multi-index tables over codes[0, indexed), which Reindex orders by their
  // first substring (stable), so table 0 needs no postings: its bucket k is
  // the positions [offsets[k], offsets[k + 1]) themselves. Table t >= 1's
  // bucket k holds the positions postings[(t - 1) * indexed +
  // offsets[t * (kBuckets + 1) + k] ... + offsets[t * (kBuckets + 1) + k + 1]),
  // ascending. Positions therefore change at every Reindex; unit ids move
  // with their codes.
  size_t indexed = 0;
  std::vector<uint32_t> offsets;
  std::vector<uint32_t> postings;
  size_t memory_limit = std::numeric_limits<size_t>::max();  // SetMemoryLimit

  size_t Bytes() const {
    return codes.capacity() * sizeof(fingerprint::Hash256) + ids32.capacity() * 4 +
           ids64.capacity() * 8 + offsets.capacity() * 4 + postings.capacity() * 4;
  }

  // Throws std::bad_alloc, as a failed allocation would, when holding `bytes`
  // more than `released` less than now would pass memory_limit.
  void Charge(size_t bytes, size_t released = 0) const {
    if (Bytes() - released + bytes > memory_limit) throw std::bad_alloc();
  }

  // Reserves room for one more element, charging the growth to the limit first.
  template <typename T>
  void ReserveOneMore(std::vector<T>& v) {
    if (v.size() < v.capacity()) return;
    const size_t grown = std::max<size_t>(1, 2 * v.capacity());
    Charge((grown - v.capacity()) * sizeof(T));
    v.reserve(grown);
  }

  int64_t unit(size_t pos) const {
    return ids64.empty() ? static_cast<int64_t>(ids32[pos]) : ids64[pos];
  }

  void Push(int64_t unit_id, const fingerprint::Hash256& hash) {
    if (ids64.empty() && unit_id > std::numeric_limits<uint32_t>::max()) {
      ids64.assign(ids32.begin(), ids32.end());
      ids32.clear();
      ids32.shrink_to_fit();
    }
    if (ids64.empty()) {
      ids32.push_back(static_cast<uint32_t>(unit_id));
    } else {
      ids64.push_back(unit_id);
    }
    codes.push_back(hash);
    max_unit_id = std::max(max_unit_id, unit_id);
  }

  // Orders every code by its first substring (a stable counting sort, ids
  // moving with their codes), then counting-sorts positions into tables 1-15.
  // Everything is built aside and swapped in at the end, so a failed
  // allocation leaves the index as it was.
  void Reindex() {
    const size_t n = codes.size();
    assert(n < std::numeric_limits<uint32_t>::max());
    const size_t id_size = ids64.empty() ? 4 : 8;
    Charge(kTables * (kBuckets + 1) * 4 + (kTables - 1) * n * 4 + n * (kCodeSize + id_size));
    std::vector<uint32_t> new_offsets(kTables * (kBuckets + 1), 0);
    std::vector<fingerprint::Hash256> sorted_codes(n);
    std::vector<uint32_t> sorted_ids32(ids64.empty() ? n : 0);
    std::vector<int64_t> sorted_ids64(ids64.empty() ? 0 : n);
    std::vector<uint32_t> new_postings((kTables - 1) * n);
    {
      uint32_t* off = new_offsets.data();
      for (size_t i = 0; i < n; ++i) ++off[Chunk(codes[i], 0) + 1];
      for (size_t k = 0; k < kBuckets; ++k) off[k + 1] += off[k];
      std::vector<uint32_t> fill(off, off + kBuckets);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t to = fill[Chunk(codes[i], 0)]++;
        sorted_codes[to] = codes[i];
        if (ids64.empty()) {
          sorted_ids32[to] = ids32[i];
        } else {
          sorted_ids64[to] = ids64[i];
        }
      }
    }
    std::vector<uint32_t> fill(kBuckets);
    for (int t = 1; t < kTables; ++t) {
      uint32_t* off = new_offsets.data() + t * (kBuckets + 1);
      for (size_t i = 0; i < n; ++i) ++off[Chunk(sorted_codes[i], t) + 1];
      for (size_t k = 0; k < kBuckets; ++k) off[k + 1] += off[k];
      std::copy(off, off + kBuckets, fill.begin());
      uint32_t* post = new_postings.data() + (t - 1) * n;
      for (size_t i = 0; i < n; ++i) {
        post[fill[Chunk(sorted_codes[i], t)]++] = static_cast<uint32_t>(i);
      }
    }
    // Nothing below allocates: the sorted arrays replace the old ones whole.
    codes.swap(sorted_codes);
    ids32.swap(sorted_ids32);
    ids64.swap(sorted_ids64);
    offsets.swap(new_offsets);
    postings.swap(new_postings);
    indexed = n;
  }

  void MaybeReindex() {
    if (codes.size() - indexed > std::max(kMinTail, indexed / kTailDivisor)) Reindex();
  }

  // Positions of every code within `radius` (<= kMaxMultiHashRadius) of q,
  // with their distances, unsorted and without duplicates.
  void SearchTables(const fingerprint::Hash256& q, int radius,
                    std::vector<std::pair<int, uint32_t>>& out) const {
    if (indexed == 0) return;
    const int nflip = radius / kBitsPerTable;
    std::vector<uint32_t> seen;
    for (int t = 0; t < kTables; ++t) {
      const uint32_t* off = offsets.data() + t * (kBuckets + 1);
      const uint32_t* post = t == 0 ? nullptr : postings.data() + (t - 1) * indexed;
      const uint32_t key = Chunk(q, t);
      for (int flip = -1; flip < (nflip > 0 ? kBitsPerTable : 0); ++flip) {
        const uint32_t k = flip < 0 ? key : key ^ (1u << flip);
        const uint32_t begin = off[k], end = off[k + 1];
        if (post == nullptr) {  // table 0: the bucket is a run of positions
          for (uint32_t pos = begin; pos < end; ++pos) {
            if (Distance(q, codes[pos]) <= radius) seen.push_back(pos);
          }
          continue;
        }
        for (uint32_t j = begin; j < end; ++j) {
          if (j + 8 < end) __builtin_prefetch(&codes[post[j + 8]]);
          const uint32_t pos = post[j];
          const int d = Distance(q, codes[pos]);
          if (d <= radius) seen.push_back(pos);
        }
      }
    }
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (uint32_t pos : seen) out.emplace_back(Distance(q, codes[pos]), pos);
  }

  // Exhaustive scan of codes[begin, end).
  void SearchFlat(const fingerprint::Hash256& q, int radius, size_t begin, size_t end,
                  std::vector<std::pair<int, uint32_t>>& out) const {
    constexpr size_t kBlock = 4096;
    int dist[kBlock];
    for (size_t b = begin; b < end; b += kBlock) {
      const size_t m = std::min(kBlock, end - b);
      fingerprint::HammingDistances(q, codes.data() + b, m, dist);
      for (size_t i = 0; i < m; ++i) {
        if (dist[i] <= radius) out.emplace_back(dist[i], static_cast<uint32_t>(b + i));
      }
    }
  }
};

PdqIndex::PdqIndex() : impl_(std::make_unique<Impl>()) {}
PdqIndex::~PdqIndex() = default;

Status PdqIndex::Add(int64_t unit_id, const fingerprint::Hash256& hash) {
  assert(unit_id > 0 && "unit ids are positive catalog row ids");
  try {
    // Reserve first so that a failed allocation leaves the index unchanged.
    impl_->ReserveOneMore(impl_->codes);
    if (impl_->ids64.empty()) {
      impl_->ReserveOneMore(impl_->ids32);
    } else {
      impl_->ReserveOneMore(impl_->ids64);
    }
    impl_->Push(unit_id, hash);
    impl_->MaybeReindex();
  } catch (const std::bad_alloc&) {
    // A failed table rebuild leaves the new code in the exhaustively scanned
    // tail, where queries still find it.
    return Status::ResourceExhausted("out of memory adding to the PDQ index");
  }
  return Status::Ok();
}

int64_t PdqIndex::size() const { return static_cast<int64_t>(impl_->codes.size()); }

int64_t PdqIndex::max_unit_id() const { return impl_->max_unit_id; }

size_t PdqIndex::MemoryBytes() const { return impl_->Bytes(); }

void PdqIndex::SetMemoryLimit(size_t bytes) { impl_->memory_limit = bytes; }

Result<std::vector<std::vector<IndexHit>>> PdqIndex::RangeSearch(
    const std::vector<fingerprint::Hash256>& queries, int radius) const {
  try {
    return RangeSearchOrThrow(queries, radius);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory searching the PDQ index");
  }
}

std::vector<std::vector<IndexHit>> PdqIndex::RangeSearchOrThrow(
    const std::vector<fingerprint::Hash256>& queries, int radius) const {
  std::vector<std::vector<IndexHit>> out(queries.size());
  if (queries.empty() || radius < 0 || impl_->codes.empty()) return out;
  radius = std::min(radius, kBits);
  std::vector<std::pair<int, uint32_t>> found;
  for (size_t q = 0; q < queries.size(); ++q) {
    found.clear();
    if (radius <= kMaxMultiHashRadius) {
      impl_->SearchTables(queries[q], radius, found);
      impl_->SearchFlat(queries[q], radius, impl_->indexed, impl_->codes.size(), found);
    } else {
      impl_->SearchFlat(queries[q], radius, 0, impl_->codes.size(), found);
    }
    std::vector<IndexHit>& hits = out[q];
    hits.reserve(found.size());
    for (const auto& [d, pos] : found) hits.push_back(IndexHit{impl_->unit(pos), d});
    std::sort(hits.begin(), hits.end(), [](const IndexHit& a, const IndexHit& b) {
      return a.distance != b.distance ? a.distance < b.distance : a.unit_id < b.unit_id;
    });
  }
  return out;
}

Status PdqIndex::Save(const std::filesystem::path& path) const {
  const std::string final_path = path.string();
  // A unique temporary name: two processes saving at once never share a file.
  std::string tmp_template = final_path + ".tmp.XXXXXX";
  Fd fd(::mkostemp(tmp_template.data(), O_CLOEXEC));
  const std::string tmp_path = tmp_template;
  if (fd.get() < 0) return ErrnoStatus(errno, "creating " + tmp_path);
  auto fail = [&](Status status) {
    ::unlink(tmp_path.c_str());
    return status;
  };
  if (::fchmod(fd.get(), 0644) != 0) return fail(ErrnoStatus(errno, "chmod " + tmp_path));

  const uint64_t count = impl_->codes.size();
  ChecksumWriter writer(fd.get(), tmp_path);
  uint8_t header[kHeaderSize];
  std::memcpy(header, kMagic, 8);
  PutU32(header + 8, kFormatVersion);
  PutU32(header + 12, static_cast<uint32_t>(kCodeSize));
  PutU64(header + 16, count);
  PutU64(header + 24, static_cast<uint64_t>(impl_->max_unit_id));
  Status status = writer.Append(header, kHeaderSize);
  for (uint64_t i = 0; i < count && status.ok(); ++i) {
    uint8_t id[8];
    PutU64(id, static_cast<uint64_t>(impl_->unit(i)));
    status = writer.Append(id, sizeof(id));
  }
  if (status.ok() && count > 0) {
    status = writer.Append(impl_->codes.front().bytes.data(), count * kCodeSize);
  }
  if (status.ok()) status = writer.Flush();
  if (!status.ok()) return fail(status);
  uint8_t trailer[kTrailerSize];
  PutU64(trailer, writer.checksum());
  status = WriteAll(fd.get(), trailer, kTrailerSize, tmp_path);
  if (!status.ok()) return fail(status);

  if (::fsync(fd.get()) != 0) return fail(ErrnoStatus(errno, "syncing " + tmp_path));
  if (fd.Close() != 0) return fail(ErrnoStatus(errno, "closing " + tmp_path));
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    return fail(ErrnoStatus(errno, "renaming " + tmp_path + " to " + final_path));
  }
  // Make the rename itself durable.
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return ErrnoStatus(errno, "opening directory " + dir.string());
  if (::fsync(dir_fd.get()) != 0) return ErrnoStatus(errno, "syncing directory " + dir.string());
  return Status::Ok();
}

Result<std::unique_ptr<PdqIndex>> PdqIndex::Load(const std::filesystem::path& path) {
  const std::string name = path.string();
  Fd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, "opening PDQ index " + name);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "reading PDQ index " + name);
  if (!S_ISREG(st.st_mode)) return Status::IoError(name + ": PDQ index is not a regular file");
  const auto file_size = static_cast<uint64_t>(st.st_size);
  auto corrupt = [&](const std::string& why) {
    return Status::Corrupt(name + ": PDQ index file is damaged (" + why + ")");
  };

  if (file_size < kHeaderSize + kTrailerSize) return corrupt("truncated header");
  uint8_t header[kHeaderSize];
  KAGAMI_RETURN_IF_ERROR(ReadAll(fd.get(), header, kHeaderSize, name));
  if (std::memcmp(header, kMagic, 8) != 0) return corrupt("bad magic");
  uint32_t version = GetU32(header + 8);
  if (version != kFormatVersion) {
    return Status::Unsupported(name + ": PDQ index format version " + std::to_string(version) +
                               " is not supported (expected " + std::to_string(kFormatVersion) +
                               ")");
  }
  if (GetU32(header + 12) != kCodeSize) return corrupt("bad code size");
  const uint64_t count = GetU64(header + 16);
  const auto max_unit_id = static_cast<int64_t>(GetU64(header + 24));
  if (count > kMaxCount) return corrupt("implausible count " + std::to_string(count));
  if (file_size != kHeaderSize + count * kEntrySize + kTrailerSize) {
    return corrupt("size " + std::to_string(file_size) + " does not match " +
                   std::to_string(count) + " entries");
  }

  uint64_t checksum = Fnv1a64(kFnv1a64Offset, header, kHeaderSize);
  std::vector<uint8_t> id_bytes(count * 8);
  KAGAMI_RETURN_IF_ERROR(ReadAll(fd.get(), id_bytes.data(), id_bytes.size(), name));
  checksum = Fnv1a64(checksum, id_bytes.data(), id_bytes.size());
  auto index = std::make_unique<PdqIndex>();
  Impl& impl = *index->impl_;
  impl.codes.resize(count);
  uint8_t* code_bytes = count > 0 ? impl.codes.front().bytes.data() : nullptr;
  KAGAMI_RETURN_IF_ERROR(ReadAll(fd.get(), code_bytes, count * kCodeSize, name));
  checksum = Fnv1a64(checksum, code_bytes, count * kCodeSize);
  uint8_t trailer[kTrailerSize];
  KAGAMI_RETURN_IF_ERROR(ReadAll(fd.get(), trailer, kTrailerSize, name));
  if (GetU64(trailer) != checksum) return corrupt("checksum mismatch");

  int64_t actual_max = 0;
  for (uint64_t i = 0; i < count; ++i) {
    int64_t id = static_cast<int64_t>(GetU64(id_bytes.data() + 8 * i));
    if (id <= 0) return corrupt("unit id " + std::to_string(id) + " is not positive");
    actual_max = std::max(actual_max, id);
  }
  if (actual_max != max_unit_id) return corrupt("max_unit_id does not match the unit ids");
  const bool wide = max_unit_id > static_cast<int64_t>(std::numeric_limits<uint32_t>::max());
  (wide ? impl.ids64.reserve(count) : impl.ids32.reserve(count));
  for (uint64_t i = 0; i < count; ++i) {
    const int64_t id = static_cast<int64_t>(GetU64(id_bytes.data() + 8 * i));
    if (wide) {
      impl.ids64.push_back(id);
    } else {
      impl.ids32.push_back(static_cast<uint32_t>(id));
    }
  }
  impl.max_unit_id = max_unit_id;
  try {
    impl.Reindex();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(name + ": out of memory building the PDQ index tables");
  }
  return index;
}

}  // namespace kagami::index
