#include "kagami/index/pdq_index.h"

#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexBinaryHash.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "scoped_single_threaded_omp.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>

namespace kagami::index {

namespace {

constexpr int kBits = 256;
constexpr size_t kCodeSize = 32;
constexpr int kTables = 16;
constexpr int kBitsPerTable = 16;
// With 16 tables of 16 bits, two codes within r bits differ by at most r / 16
// bits in at least one table, so probing each table with up to r / 16 flipped
// bits is exact. Two flips would probe 137 keys per table: a flat scan wins.
constexpr int kMaxMultiHashRadius = 2 * kTables - 1;
// FAISS's hash extraction reads 8 bytes at the start of the last 16-bit
// substring, i.e. 6 bytes past a 32-byte code: pad every buffer handed to it.
constexpr size_t kFaissReadPadding = 8;

// File format, all integers little-endian:
//   magic "KGMIDX1\0" | u32 version | u32 code size | u64 count | i64 max_unit_id
//   | i64 unit_id[count] | u8 code[count][32] | u64 FNV-1a-64 of everything before it
constexpr char kMagic[8] = {'K', 'G', 'M', 'I', 'D', 'X', '1', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8 + 8;
constexpr size_t kEntrySize = 8 + kCodeSize;
constexpr size_t kTrailerSize = 8;
constexpr uint64_t kMaxCount = uint64_t{1} << 32;

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t Fnv1a(uint64_t state, const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    state ^= data[i];
    state *= kFnvPrime;
  }
  return state;
}

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
    checksum_ = Fnv1a(checksum_, data, size);
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
  uint64_t checksum_ = kFnvOffset;
};

// FAISS only throws on programming errors (wrong dimension) or when out of
// memory; exceptions must not leave the library, so they become a Status.
Status FaissFailure(const char* operation, const std::exception& e) {
  return Status::Internal(std::string("FAISS failed in PdqIndex::") + operation + ": " + e.what());
}

}  // namespace

struct PdqIndex::Impl {
  // Holds every code: multi_hash->storage is the exhaustive (flat) index used
  // for radii above kMaxMultiHashRadius.
  std::unique_ptr<faiss::IndexBinaryMultiHash> multi_hash;
  std::vector<int64_t> unit_ids;  // FAISS position -> catalog unit id
  int64_t max_unit_id = 0;
  // Guards multi_hash->nflip, which each query sets for its radius, and
  // FAISS 1.7.3's global faiss::indexBinaryHash_stats, which
  // IndexBinaryMultiHash::range_search updates without synchronisation.
  mutable std::mutex multi_hash_mutex;

  Impl()
      : multi_hash(std::make_unique<faiss::IndexBinaryMultiHash>(kBits, kTables, kBitsPerTable)) {}

  // `codes` holds n codes followed by kFaissReadPadding bytes.
  Status AddCodes(const std::vector<uint8_t>& codes, size_t n) {
    assert(codes.size() >= n * kCodeSize + kFaissReadPadding);
    if (n == 0) return Status::Ok();
    try {
      multi_hash->add(static_cast<faiss::IndexBinary::idx_t>(n), codes.data());
    } catch (const std::exception& e) {
      return FaissFailure("Add", e);
    }
    return Status::Ok();
  }
};

PdqIndex::PdqIndex() : impl_(std::make_unique<Impl>()) {}
PdqIndex::~PdqIndex() = default;

Status PdqIndex::Add(int64_t unit_id, const fingerprint::Hash256& hash) {
  assert(unit_id > 0 && "unit ids are positive catalog row ids");
  std::vector<uint8_t> code(kCodeSize + kFaissReadPadding, 0);
  std::memcpy(code.data(), hash.bytes.data(), kCodeSize);
  try {
    impl_->unit_ids.reserve(impl_->unit_ids.size() + 1);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory adding to the PDQ index");
  }
  KAGAMI_RETURN_IF_ERROR(impl_->AddCodes(code, 1));
  impl_->unit_ids.push_back(unit_id);
  impl_->max_unit_id = std::max(impl_->max_unit_id, unit_id);
  return Status::Ok();
}

int64_t PdqIndex::size() const { return static_cast<int64_t>(impl_->unit_ids.size()); }

int64_t PdqIndex::max_unit_id() const { return impl_->max_unit_id; }

Result<std::vector<std::vector<IndexHit>>> PdqIndex::RangeSearch(
    const std::vector<fingerprint::Hash256>& queries, int radius) const {
  std::vector<std::vector<IndexHit>> out(queries.size());
  if (queries.empty() || radius < 0 || impl_->unit_ids.empty()) return out;
  radius = std::min(radius, kBits);

  std::vector<uint8_t> codes(queries.size() * kCodeSize + kFaissReadPadding, 0);
  for (size_t i = 0; i < queries.size(); ++i) {
    std::memcpy(codes.data() + i * kCodeSize, queries[i].bytes.data(), kCodeSize);
  }
  const auto n = static_cast<faiss::IndexBinary::idx_t>(queries.size());
  faiss::RangeSearchResult result(n);
  {
    internal::ScopedSingleThreadedOmp single_threaded;
    try {
      // FAISS range searches keep distances strictly below the radius it is given.
      if (radius <= kMaxMultiHashRadius) {
        std::lock_guard<std::mutex> lock(impl_->multi_hash_mutex);
        impl_->multi_hash->nflip = radius / kBitsPerTable;
        impl_->multi_hash->range_search(n, codes.data(), radius + 1, &result);
      } else {
        impl_->multi_hash->storage->range_search(n, codes.data(), radius + 1, &result);
      }
    } catch (const std::exception& e) {
      return FaissFailure("RangeSearch", e);
    }
  }

  for (size_t q = 0; q < queries.size(); ++q) {
    std::vector<IndexHit>& hits = out[q];
    for (size_t j = result.lims[q]; j < result.lims[q + 1]; ++j) {
      faiss::IndexBinary::idx_t position = result.labels[j];
      assert(position >= 0 && static_cast<size_t>(position) < impl_->unit_ids.size());
      hits.push_back(IndexHit{impl_->unit_ids[static_cast<size_t>(position)],
                              static_cast<int>(result.distances[j])});
    }
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

  const uint64_t count = impl_->unit_ids.size();
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
    PutU64(id, static_cast<uint64_t>(impl_->unit_ids[i]));
    status = writer.Append(id, sizeof(id));
  }
  const std::vector<uint8_t>& codes = impl_->multi_hash->storage->xb;
  assert(codes.size() == count * kCodeSize);
  if (status.ok()) status = writer.Append(codes.data(), codes.size());
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

  uint64_t checksum = Fnv1a(kFnvOffset, header, kHeaderSize);
  std::vector<uint8_t> id_bytes(count * 8);
  KAGAMI_RETURN_IF_ERROR(ReadAll(fd.get(), id_bytes.data(), id_bytes.size(), name));
  checksum = Fnv1a(checksum, id_bytes.data(), id_bytes.size());
  std::vector<uint8_t> codes(count * kCodeSize + kFaissReadPadding, 0);
  KAGAMI_RETURN_IF_ERROR(ReadAll(fd.get(), codes.data(), count * kCodeSize, name));
  checksum = Fnv1a(checksum, codes.data(), count * kCodeSize);
  uint8_t trailer[kTrailerSize];
  KAGAMI_RETURN_IF_ERROR(ReadAll(fd.get(), trailer, kTrailerSize, name));
  if (GetU64(trailer) != checksum) return corrupt("checksum mismatch");

  auto index = std::make_unique<PdqIndex>();
  Impl& impl = *index->impl_;
  impl.unit_ids.resize(count);
  int64_t actual_max = 0;
  for (uint64_t i = 0; i < count; ++i) {
    int64_t id = static_cast<int64_t>(GetU64(id_bytes.data() + 8 * i));
    if (id <= 0) return corrupt("unit id " + std::to_string(id) + " is not positive");
    impl.unit_ids[i] = id;
    actual_max = std::max(actual_max, id);
  }
  if (actual_max != max_unit_id) return corrupt("max_unit_id does not match the unit ids");
  impl.max_unit_id = max_unit_id;
  KAGAMI_RETURN_IF_ERROR(impl.AddCodes(codes, count));
  return index;
}

}  // namespace kagami::index
