#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/hash256.h"

namespace kagami::index {

struct IndexHit {
  int64_t unit_id = 0;
  int distance = 0;  // Hamming bits
};

// Exact Hamming range search over 256-bit PDQ hashes, keyed by catalog unit id.
//
// Multi-index hashing (Norouzi, Punjani & Fleet, "Fast Exact Search in Hamming
// Space with Multi-Index Hashing", IEEE TPAMI 36(6), 2014): the codes are
// split into 16 substrings of 16 bits, and each substring has a table (a
// counting-sorted array of code positions with 65,537 bucket offsets). By the
// pigeonhole principle two hashes within r <= 31 bits differ in at most
// r / 16 bits in at least one substring, so probing each table's bucket for
// the query's substring and, for r >= 16, its 16 one-bit neighbours, then
// verifying the candidates' full distance, is exact. Larger radii scan every
// code (AVX2 popcount, fingerprint/hamming.h), which is exact for any radius.
// Codes added since the tables were last built (at most max(4096, n / 16))
// are scanned exhaustively; Add rebuilds the tables past that.
//
// Memory: 32 bytes per code, 4 per unit id (8 once an id exceeds 2^32 - 1),
// 60 for the tables (the codes are kept ordered by their first substring, so
// table 0 is the code array itself; 15 x uint32 for the others), plus 4 MiB
// of bucket offsets: 96 bytes per hash, 96.4 at 10 million (FAISS's
// IndexBinaryMultiHash took about 850). A table rebuild briefly holds a second
// copy of the codes and ids. Measured query times in bench/RESULTS.md
// (bench/e2e/scale.cc).
//
// Thread-safety: const methods may run concurrently with each other (they
// only read); Add and Save need exclusive access.
class PdqIndex {
 public:
  PdqIndex();
  ~PdqIndex();

  // unit_id must be positive (a catalog row id); ids need not be added in order.
  // Out of memory is returned as kResourceExhausted, never thrown or aborted on.
  Status Add(int64_t unit_id, const fingerprint::Hash256& hash);
  int64_t size() const;
  int64_t max_unit_id() const;  // 0 when empty
  size_t MemoryBytes() const;   // heap bytes held by the index

  // Caps the heap bytes the index may hold (as MemoryBytes() counts them). A
  // growth step that would pass the cap fails exactly as a failed allocation
  // does: Add returns kResourceExhausted, nothing is thrown or aborted on, and
  // the index stays usable (a failed table rebuild leaves the code in the
  // exhaustively scanned tail). Default: no cap. Tests use it to make index
  // growth fail on demand.
  void SetMemoryLimit(size_t bytes);

  // For each query, every indexed hash within `radius` bits (inclusive),
  // nearest first, ties by unit id. A negative radius finds nothing. Out of
  // memory is returned as kResourceExhausted.
  Result<std::vector<std::vector<IndexHit>>> RangeSearch(
      const std::vector<fingerprint::Hash256>& queries, int radius) const;

  // Atomic save: writes a uniquely named path + ".tmp.XXXXXX", fsyncs it, renames it over `path`
  // and fsyncs the directory. The format is Kagami's own (magic "KGMIDX1\0", version, count, max
  // unit id, unit ids, codes, FNV-1a-64 checksum); Load rebuilds the hash tables from the codes.
  // Load gives kNotFound for a missing file, kCorrupt for a truncated or damaged one, kUnsupported
  // for another format version.
  Status Save(const std::filesystem::path& path) const;
  static Result<std::unique_ptr<PdqIndex>> Load(const std::filesystem::path& path);

 private:
  std::vector<std::vector<IndexHit>> RangeSearchOrThrow(
      const std::vector<fingerprint::Hash256>& queries, int radius) const;  // throws bad_alloc
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kagami::index
